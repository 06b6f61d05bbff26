"""Each declared provider that has a sandbox, under test (see harness.py)."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kessai.providers.installed import PROVIDERS
from kessai.providers.kit import Provider
from tests.providers.conformance.harness import Harness, harness_for

UNDER_TEST = [p for p in PROVIDERS if p.sandbox is not None]


@pytest.fixture(params=UNDER_TEST, ids=lambda p: p.name)
def provider(request: pytest.FixtureRequest) -> Provider:
    declared: Provider = request.param
    return declared


@pytest.fixture
async def harness(
    provider: Provider, sqlite_template: Path, tmp_path: Path
) -> AsyncIterator[Harness]:
    async with harness_for(provider, sqlite_template, tmp_path) as h:
        yield h
