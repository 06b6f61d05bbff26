"""The scale-out recipe, run as written: the commands of deploy/systemd's ExecStart lines
(migrate, two API processes, two workers, the scheduler) on loopback with PostgreSQL and
RabbitMQ. The scheduler starts the day's billing run, which two workers charge through
the GMO PG simulator while REST traffic goes through both API processes. One API process
and one worker are killed (SIGKILL) mid-way and started again, as systemd would. Then:
every subscription charged once at the provider, every REST order created, authorized and
captured once, and /metrics of each API process says the same.
"""

import asyncio
import contextlib
import os
import shlex
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from starlette.applications import Starlette

from kessai.accounts.models import ProviderAccount
from kessai.core.clock import tokyo_date
from kessai.core.db import transaction
from kessai.core.settings import Settings
from kessai.orders.models import Order
from kessai.providers.gmo_pg.simulator import SimulatorConfig, create_simulator
from kessai.services import Services, build_services
from kessai.web.app import create_app
from tests.conftest import TEST_SECRET_KEY, new_pg_database
from tests.factories import make_method
from tests.jobs.brokers import broker_url, delete_queue, kill_worker, queue_name
from tests.loopback import serve
from tests.ops.scrape import samples, value
from tests.subscriptions.gmo_shop import exec_tran_results, seed_subscriptions
from tests.web.conftest import new_key

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "deploy" / "systemd"
INSTALLED = "/opt/kessai/.venv/bin/"  # where the units expect kessai; here: this venv
SUBSCRIPTIONS = 300
ORDERS = 40
LATENCY = 0.05  # the REST orders' (simulated) provider
SIMULATOR_LATENCY = 0.2  # GMO PG's, slow enough for the kills to land mid-run


def exec_start(unit: str, instance: str = "") -> list[str]:
    """The unit's ExecStart line as argv, %i filled in, run from this checkout's venv."""
    lines = (UNITS / unit).read_text(encoding="utf-8").splitlines()
    (line,) = [x for x in lines if x.startswith("ExecStart=")]
    argv = shlex.split(line.removeprefix("ExecStart=").replace("%i", instance))
    assert argv[0].startswith(INSTALLED), argv
    return [str(Path(sys.executable).parent / argv[0].removeprefix(INSTALLED)), *argv[1:]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Machine:
    """The processes systemd would run, each in a session of its own (killed as a group)."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, argv: list[str]) -> None:
        out = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115  (the process writes it)
        self.procs[name] = subprocess.Popen(  # noqa: S603
            argv,
            env=self.env,
            cwd=self.logs,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self, name: str) -> None:
        kill_worker(self.procs[name])  # SIGKILL to the whole group: the machine's view

    def stop_all(self) -> None:
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                kill_worker(proc)

    def tail(self) -> str:
        return "\n".join(
            f"--- {p.name}\n" + p.read_text(errors="replace")[-3000:]
            for p in sorted(self.logs.glob("*.log"))
        )


@pytest.fixture
def pg_url() -> Iterator[str]:
    with new_pg_database("kessai_scale") as url:
        yield url


@pytest.fixture
async def simulator() -> AsyncIterator[tuple[Starlette, str]]:
    app = create_simulator(SimulatorConfig(latency_seconds=SIMULATOR_LATENCY))
    async with serve(app) as url:
        yield app, url


class Shop:
    """A storefront's client: each step goes to one API process and, when that process is
    gone, to the other with the same Idempotency-Key."""

    def __init__(self, bases: list[str], key: str) -> None:
        self.bases = bases
        self.headers = {"Authorization": f"Bearer {key}"}
        self.down: set[str] = set()
        self.answered: dict[str, int] = {}  # POST /api/v1/orders answers, by process

    async def call(
        self, http: httpx.AsyncClient, i: int, method: str, path: str, **kw: Any
    ) -> httpx.Response:
        for attempt in range(200):
            live = [b for b in self.bases if b not in self.down] or self.bases
            base = live[(i + attempt) % len(live)]
            try:
                response = await http.request(
                    method, base + path, headers={**self.headers, **kw.pop("headers", {})}, **kw
                )
            except httpx.TransportError:
                self.down.add(base)
                await asyncio.sleep(0.2)
                continue
            if method == "POST" and path == "/api/v1/orders":
                self.answered[base] = self.answered.get(base, 0) + 1
            code = response.json().get("code") if response.status_code == 409 else None
            if code is not None and code.endswith("in_progress"):
                await asyncio.sleep(0.5)  # another process holds it until its lease ends
                continue
            return response
        raise AssertionError(f"{method} {path}: no answer")

    async def order(self, http: httpx.AsyncClient, method: str, i: int) -> int:
        number = f"SCALE-{i:04d}"
        body = {
            "number": number,
            "payment_method": method,
            "amount": 1000 + i,
            "customer": {"name": "山田"},
        }
        r = await self.call(
            http,
            i,
            "POST",
            "/api/v1/orders",
            json=body,
            headers={"Idempotency-Key": f"{number}-create"},
        )
        if r.status_code == 409:  # created by a process that died before answering
            assert r.json()["code"] == "duplicate_order_number", r.text
            found = await self.call(http, i, "GET", "/api/v1/orders", params={"number": number})
            order_id = int(found.json()["items"][0]["id"])
        else:
            assert r.status_code in (200, 201), r.text
            order_id = int(r.json()["id"])
        for action, status in (("authorize", "authorized"), ("capture", "captured")):
            r = await self.call(
                http,
                i,
                "POST",
                f"/api/v1/orders/{order_id}/payment/{action}",
                json={},
                headers={"Idempotency-Key": f"{number}-{action}"},
            )
            if r.status_code != 200:  # done already by the process that died: say so
                shown = await self.call(http, i, "GET", f"/api/v1/orders/{order_id}")
                assert shown.json()["payment_status"] == status, (r.text, shown.text)
        return order_id


async def wait_until(check: Any, within: float, what: str, machine: Machine) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        found = await check()
        if found:
            return found
        assert loop.time() < deadline, f"{what}\n{machine.tail()}"
        await asyncio.sleep(0.2)


async def test_the_deploy_recipe_survives_losing_an_api_process_and_a_worker(
    pg_url: str, simulator: tuple[Starlette, str], tmp_path: Path
) -> None:
    app, sim_url = simulator
    amqp, queue = broker_url("rabbitmq"), queue_name()
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "KESSAI_ENV": "sandbox",  # the simulators stand in for the providers
        "KESSAI_DATABASE_URL": pg_url,
        "KESSAI_DB_POOL_SIZE": "8",
        "KESSAI_BROKER_URL": amqp,
        "KESSAI_BROKER_QUEUE": queue,
        "KESSAI_SECRET_KEY": TEST_SECRET_KEY,
        "KESSAI_ATTEMPT_LEASE_SECONDS": "3",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "KESSAI_SIM_SFTP_PORT": "0",  # no sandbox SFTP simulator: two API processes, one port
    }
    machine = Machine(env, tmp_path)
    migrated = await asyncio.to_thread(
        subprocess.run,
        exec_start("kessai-migrate.service"),
        env=env,
        cwd=tmp_path,
        capture_output=True,
        check=False,
    )
    assert migrated.returncode == 0, migrated.stderr.decode()

    services = build_services(Settings.from_env({**env, "KESSAI_BROKER_URL": ""}))
    orders_task: asyncio.Task[list[int]] | None = None
    try:
        now = services.clock.now()
        today = tokyo_date(now)
        sub_ids = await seed_subscriptions(services, sim_url, SUBSCRIPTIONS, today, now)
        method = await make_method(services, code="scale-card")
        async with transaction(services.sessions) as s:
            await s.execute(
                update(ProviderAccount)
                .where(ProviderAccount.id == method.account_id)
                .values(settings={"latency_seconds": LATENCY})
            )
        key = await new_key(services)

        ports = [free_port(), free_port()]
        bases = [f"http://127.0.0.1:{p}" for p in ports]
        for n, port in enumerate(ports):
            machine.start(f"api{n}", exec_start("kessai-api@.service", str(port)))
        for n in (1, 2):
            machine.start(f"worker{n}", exec_start("kessai-worker@.service", str(n)))
        machine.start("scheduler", exec_start("kessai-scheduler.service"))
        shop = Shop(bases, key)
        async with httpx.AsyncClient(timeout=30) as http:

            async def ready() -> bool:
                for base in bases:
                    with contextlib.suppress(httpx.TransportError):
                        if (await http.get(f"{base}/readyz")).status_code != 200:
                            return False
                        continue
                    return False
                return True

            await wait_until(ready, 90, "API processes not ready", machine)

            async def billing_job() -> dict[str, Any] | None:
                r = await http.get(f"{bases[1]}/api/v1/jobs", headers=shop.headers)
                jobs = [
                    j for j in r.json() if j["kind"] == "billing" and j["total"] == SUBSCRIPTIONS
                ]
                return jobs[0] if jobs else None

            async def traffic() -> list[int]:
                sem = asyncio.Semaphore(4)

                async def one(i: int) -> int:
                    async with sem:
                        return await shop.order(http, method.code, i)

                return list(await asyncio.gather(*(one(i) for i in range(ORDERS))))

            orders_task = asyncio.create_task(traffic())
            job = await wait_until(billing_job, 90, "the scheduler made no billing run", machine)

            def charged() -> int:
                return sum(n for (_, r), n in exec_tran_results(app).items() if r == "ok")

            async def mid_run() -> bool:
                return charged() >= SUBSCRIPTIONS // 6 and len(shop.answered) > 0

            await wait_until(mid_run, 120, "the run did not start", machine)
            machine.kill("api0")
            machine.kill("worker1")
            assert charged() < SUBSCRIPTIONS, "the run ended before the kill"
            machine.start(
                "api0", exec_start("kessai-api@.service", str(ports[0]))
            )  # Restart=always
            machine.start("worker1", exec_start("kessai-worker@.service", "1"))
            order_ids = await asyncio.wait_for(orders_task, 240)

            async def finished() -> dict[str, Any] | None:
                r = await http.get(f"{bases[1]}/api/v1/jobs/{job['id']}", headers=shop.headers)
                return r.json() if r.json()["status"] not in ("queued", "running") else None

            done = await wait_until(finished, 240, "the billing run did not finish", machine)
            await wait_until(ready, 90, "the restarted API process is not ready", machine)
            scraped = [(await http.get(f"{base}/metrics")).text for base in bases]
    finally:
        if orders_task is not None and not orders_task.done():
            orders_task.cancel()
        machine.stop_all()
        delete_queue(amqp, queue)

    try:
        # The billing run: every subscription charged, once, and counted once.
        assert (done["status"], done["succeeded"], done["failed"]) == (
            "succeeded",
            SUBSCRIPTIONS,
            0,
        )
        ok = {o: n for (o, r), n in exec_tran_results(app).items() if r == "ok"}
        assert len(ok) == SUBSCRIPTIONS
        assert max(ok.values()) == 1, "a subscription was charged twice"
        async with transaction(services.sessions) as s:
            children = (
                (
                    await s.execute(
                        select(Order.subscription_id).where(Order.subscription_id.isnot(None))
                    )
                )
                .scalars()
                .all()
            )
        assert sorted(children) == sorted(sub_ids)
        # The REST orders: each once, captured, one authorization and one capture each.
        assert len(set(order_ids)) == ORDERS
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_app(services))) as local:
            for order_id in order_ids:
                shown = (
                    await local.get(f"http://k/api/v1/orders/{order_id}", headers=shop.headers)
                ).json()
                assert shown["payment_status"] == "captured"
                history = (
                    await local.get(
                        f"http://k/api/v1/orders/{order_id}/payment-history", headers=shop.headers
                    )
                ).json()
                # One success at the provider each. A step retried after its process died
                # adds a lookup, and a row that made no call ("local": done already) or
                # one the lookup found never made.
                done = [h["operation"] for h in history if h["outcome"] == "succeeded"]
                assert done.count("authorize") == 1, history
                assert done.count("capture") == 1, history
    finally:
        await services.close()

    # /metrics of each API process tells the same story: the machine's processes, the
    # killed ones included, share their counts.
    for text in scraped:
        assert value(text, "kessai_jobs", kind="billing", status="succeeded") >= 1
        assert value(text, "kessai_job_items", kind="billing", result="succeeded") == SUBSCRIPTIONS
        assert (
            value(text, "kessai_job_items_total", kind="billing", result="succeeded")
            == SUBSCRIPTIONS
        )
        assert value(text, "kessai_job_items_total", kind="billing", result="failed") == 0
        # Each subscription's authorization counted by the process that made it, or, when
        # that worker died before it could, by the one that looked it up afterwards.
        gmo = {"provider": "gmo_pg", "outcome": "succeeded"}
        authorized = value(text, "kessai_provider_calls_total", operation="authorize", **gmo)
        looked_up = value(text, "kessai_provider_calls_total", operation="lookup", **gmo)
        assert authorized + looked_up >= SUBSCRIPTIONS + ORDERS
        posted = sum(
            v
            for (name, labels), v in samples(text).items()
            if name == "kessai_http_requests_total"
            and dict(labels).get("route") == "/api/v1/orders"
            and dict(labels).get("method") == "POST"
        )
        assert posted == sum(shop.answered.values())
        assert value(text, "kessai_orders_held") == 0
        assert value(text, "kessai_broker_up") == 1
    keys = ("kessai_job_items_total", "kessai_provider_calls_total", "kessai_http_requests_total")
    first, second = (  # the first scrape is itself a request the second one counts
        {k: v for k, v in samples(t).items() if k[0] in keys and ("route", "/metrics") not in k[1]}
        for t in scraped
    )
    assert first == second


def _app(services: Services) -> Any:
    return create_app(services)
