"""kessai killed between a change and its webhook: `kessai serve` takes an order, starts
sending its event to a receiver that never answers, and is SIGKILLed mid-send. The next
`kessai serve`, once the claim's lease has passed, sends the same event (same webhook-id,
valid signature) and the delivery log says 送信成功."""

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import httpx

from kessai.services import Services
from kessai.webhooks.delivery import LEASE
from tests.factories import make_method
from tests.jobs.brokers import worker_env
from tests.smtp_server import free_port
from tests.web.conftest import new_key, order_body
from tests.webhooks.receiver import Receiver, verify
from tests.webhooks.test_webhooks import add_endpoint, deliveries


@asynccontextmanager
async def kessai_serve(
    services: Services, log: Path
) -> AsyncIterator[tuple[str, asyncio.subprocess.Process]]:
    env = worker_env(services.settings.database_url, "", "")
    del env["KESSAI_BROKER_URL"], env["KESSAI_BROKER_QUEUE"]
    port = free_port()
    with log.open("ab") as out:
        proc = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).parent / "kessai"),
            "serve",
            "--port",
            str(port),
            env=env,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as probe:
            for _ in range(300):
                try:
                    if (await probe.get(f"{base}/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert proc.returncode is None, "kessai serve exited: see its log"
                await asyncio.sleep(0.1)
        yield base, proc
    finally:
        if proc.returncode is None:
            os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()


async def until(condition: Callable[[], bool], what: str, within: float = 60) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        assert loop.time() < deadline, what
        await asyncio.sleep(0.05)


async def test_killed_mid_send_delivers_after_restart(
    services: Services, api: httpx.AsyncClient, hooks: Receiver, tmp_path: Path
) -> None:
    endpoint = await add_endpoint(api, hooks.url(), event_types=["order.created"])
    method = await make_method(services)
    key = await new_key(services)
    hooks.script["/hook"] = ["hang"]  # the first try never gets an answer
    log = tmp_path / "serve.log"
    async with kessai_serve(services, log) as (base, proc):
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {key}"}) as shop:
            r = await shop.post(f"{base}/api/v1/orders", json=order_body(method.code))
        assert r.status_code == 201, r.text
        await until(lambda: len(hooks.at()) == 1, "the first try never arrived")
        os.killpg(proc.pid, signal.SIGKILL)  # kessai dies while the receiver holds the try
        await proc.wait()
    [held] = await deliveries(api)
    assert held["status"] == "sending"

    services.clock.advance(LEASE + timedelta(seconds=1))
    await services.save_clock()  # the next process starts on the moved sandbox clock
    async with kessai_serve(services, log):
        await until(lambda: len(hooks.at()) == 2, "not delivered after the restart")
        first, second = hooks.at()
        assert first.id == second.id
        assert verify(endpoint["secret"], second.headers, second.body)
        assert second.payload["data"]["order"]["id"] == r.json()["id"]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while (done := (await deliveries(api))[0])["status"] != "succeeded":
            assert loop.time() < deadline, done
            await asyncio.sleep(0.1)
    # The killed try never got an answer: only the restart's try is in the log.
    assert [a["status_code"] for a in done["log"]] == [200]
    assert done["attempts"] == 2
