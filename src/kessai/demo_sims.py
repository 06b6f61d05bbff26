"""The demo's provider simulators: which seed-003 rows run on a provider's own simulator,
the accounts that point at it (at /sim/<path> of the sandbox the demo prints), and how a
demo scenario is made there — only from what the provider declares (its sandbox inputs and
fault switches, kessai.providers.kit.Sandbox), never from its internals.

A row no simulator serves, or a demo order whose scenario its simulator cannot make, stays
on the simulated connector (擬似決済), and its account or method says so.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from kessai.payments import capabilities as caps
from kessai.providers.installed import PROVIDERS
from kessai.providers.kit import Provider, SandboxInput, SimulatorContext
from kessai.providers.sandboxes import amount_for, sim_url, source_for

__all__ = ["amount_for", "sim_url", "source_for"]
from kessai.services import Services

FAKE_SUFFIX = "-fake"  # the 擬似決済 twin of a method whose simulator cannot make a scenario
FAKE_NOTE = "擬似決済"


@dataclass(frozen=True)
class Made:
    """A demo scenario as the provider's simulator makes it: the order's amount and
    payment source, and the fault switch (/_control) set just before the call."""

    given: SandboxInput
    fault: Mapping[str, Any] | None = None


def simulator_of(row: caps.CapabilityRow) -> Provider | None:
    """The provider whose own connector and simulator serve this seed-003 row, if any."""
    for p in PROVIDERS:
        if p.sandbox_only or p.simulator is None or not p.sim_path or p.sandbox is None:
            continue
        if p.provider_codes and p.serves(row.provider, row.method_type):
            return p
    return None


def make(
    provider: Provider, row: caps.CapabilityRow, steps: tuple[tuple[str, str | None], ...]
) -> list[Made | None] | None:
    """Each step as the simulator makes it (None: a plain call), or None when one cannot be
    made: the declared test inputs are for the declared sandbox method only, and a scenario
    needs a declared input (成功・拒否・保留) or fault switch (応答不明)."""
    sandbox = provider.sandbox
    if sandbox is None or sandbox.method != (row.provider, row.method_type):
        return None
    made: list[Made | None] = []
    for action, scenario in steps:
        if action != "authorize":
            if scenario is not None:
                return None  # a refused capture or cancel: no declared way to make one
            made.append(None)
            continue
        if scenario is None:
            made.append(Made(sandbox.succeed))
        elif scenario == "decline":
            made.append(Made(sandbox.decline))
        elif scenario == "pending" and sandbox.pending is not None:
            made.append(Made(sandbox.pending))
        elif scenario == "unknown" and sandbox.fault_calls and "authorize" in sandbox.fault_calls:
            api = sandbox.fault_calls["authorize"]
            lose = {"count": 1, "api": api, "mode": "close", "commit": True}
            made.append(Made(sandbox.succeed, {"lose_response": lose}))
        else:
            return None
    return made


async def set_fault(provider: Provider, base: str, fault: Mapping[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=sim_url(base, provider), timeout=30) as client:
        reply = await client.post("/_control", json=dict(fault))
    reply.raise_for_status()


@contextlib.asynccontextmanager
async def simulators_served(services: Services) -> AsyncIterator[str]:
    """The simulators on a free loopback port while the demo seeds through them (so the
    port the demo prints is left to `kessai serve`), on kessai's database and clock as
    `kessai serve` mounts them: what they record there is what the server finds."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.routing import Mount

    context = SimulatorContext(services.clock.now, services.sessions)
    routes = [
        Mount(f"/sim/{p.sim_path}", app=p.simulator(context))
        for p in PROVIDERS
        if p.simulator is not None and p.sim_path
    ]
    server = uvicorn.Server(
        uvicorn.Config(
            Starlette(routes=routes), host="127.0.0.1", port=0, log_level="critical", lifespan="off"
        )
    )
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(1000):
            if server.started or task.done():
                break
            await asyncio.sleep(0.01)
        if not server.started:
            raise RuntimeError("デモデータ用のシミュレーターを起動できませんでした")
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
