from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from kessai.services import Services
from tests.smtp_server import Inbox, smtp_server
from tests.web.conftest import client_for, new_key


@pytest.fixture
async def api(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(services, await new_key(services)) as client:
        yield client


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, str]]:
    with smtp_server() as running:
        yield running
