"""The conformance suite: every declared connector, against its own simulator over loopback
HTTP, keeps the promises the payment core relies on (checks.py). A new connector passes it
before it counts as done: `pytest tests/providers/conformance -k <name>`."""

from collections.abc import Awaitable, Callable

import pytest

from kessai.providers.installed import PROVIDERS
from tests.providers.conformance import checks
from tests.providers.conformance.harness import Harness


def test_every_provider_with_a_connector_is_under_test() -> None:
    assert [p.name for p in PROVIDERS if p.sandbox is None] == []


@pytest.mark.parametrize("check", checks.CHECKS, ids=lambda f: f.__name__.removeprefix("check_"))
async def test_promise(harness: Harness, check: Callable[[Harness], Awaitable[None]]) -> None:
    await check(harness)


async def test_no_card_data_or_secret_in_logs_or_database(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    await checks.check_no_card_data_or_secret_in_logs_or_database(harness, caplog)
