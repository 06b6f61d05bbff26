"""An API client for the bulk and import tests (the same as tests/web's)."""

from collections.abc import AsyncIterator

import httpx
import pytest

from kessai.services import Services
from tests.web.conftest import client_for, new_key


@pytest.fixture
async def api(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(services, await new_key(services)) as client:
        yield client
