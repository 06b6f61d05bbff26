"""A provider's room end to end: kessai served over loopback with an account on the
provider's simulator (also over loopback), an API client carrying an admin key, and a
client of the simulator itself (its /_control and /_calls)."""

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from kessai.providers.kit import Provider
from kessai.web.app import create_app
from tests.loopback import serve
from tests.providers.conformance.harness import Harness, harness_for
from tests.web.conftest import new_key

TIMEOUT = 120.0


@contextlib.asynccontextmanager
async def served(
    provider: Provider, sqlite_template: Path, tmp_path: Path
) -> AsyncIterator[tuple[Harness, httpx.AsyncClient, httpx.AsyncClient]]:
    async with harness_for(provider, sqlite_template, tmp_path) as h:
        key = await new_key(h.services)
        async with (
            serve(create_app(h.services)) as base,
            # Generous timeouts: a loaded machine is slow, and a slow answer is not a failure.
            httpx.AsyncClient(
                base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=TIMEOUT
            ) as api,
            httpx.AsyncClient(base_url=h.sim_url, timeout=TIMEOUT) as sim,
        ):
            yield h, api, sim
