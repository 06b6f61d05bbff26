from collections.abc import AsyncIterator

import httpx
import pytest

from kessai.services import Services
from tests.web.conftest import client_for, new_key
from tests.webhooks.receiver import Receiver, receiver


@pytest.fixture
async def api(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(services, await new_key(services)) as client:
        yield client


@pytest.fixture
async def hooks() -> AsyncIterator[Receiver]:
    async with receiver() as running:
        yield running
