"""Each declared provider that has a sandbox, under test (see harness.py), on SQLite and on
PostgreSQL (tests/conftest.py's backends): the simulator keeps its records in that database."""

from collections.abc import AsyncIterator

import pytest

from kessai.providers.installed import PROVIDERS
from kessai.providers.kit import Provider
from kessai.services import Services
from tests.providers.conformance.harness import Harness, harness_on

UNDER_TEST = [p for p in PROVIDERS if p.sandbox is not None]


@pytest.fixture(params=UNDER_TEST, ids=lambda p: p.name)
def provider(request: pytest.FixtureRequest) -> Provider:
    declared: Provider = request.param
    return declared


@pytest.fixture
async def harness(provider: Provider, live_services: Services) -> AsyncIterator[Harness]:
    async with harness_on(provider, live_services) as h:
        yield h
