"""End to end over real HTTP, as `make run` does it: `kessai db upgrade` and `kessai demo` into
a temporary SQLite database, then `kessai serve` as a subprocess on a free loopback port."""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from kessai.core.clock import TOKYO

ROOT = Path(__file__).resolve().parents[1]
KEY = re.compile(r"KESSAI_KEY=(ks_\S+)")
STARTUP_SECONDS = 60  # a bound on waiting, not a speed check
CALL_SECONDS = 120


@dataclass(frozen=True)
class Server:
    base: str
    key: str
    banner: str

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=f"{self.base}/api/v1",
            headers={"Authorization": f"Bearer {self.key}"},
            timeout=30,
        )


def kessai(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "kessai.cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=CALL_SECONDS,
        check=False,
    )
    assert done.returncode == 0, f"kessai {' '.join(args)}: {done.stdout}\n{done.stderr}"
    return done.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the module: every test makes its own orders (the banner's tour order
    is used by one test only; the README tour puts the sandbox clock back)."""
    tmp_path = tmp_path_factory.mktemp("run")
    port = free_port()
    env = {
        **os.environ,
        "KESSAI_DATABASE_URL": f"sqlite:///{tmp_path / 'kessai.db'}",
        "KESSAI_ENV": "sandbox",
        "KESSAI_SIM_SFTP_PORT": str(free_port()),  # the GMO PG simulator's SFTP side
    }
    kessai("db", "upgrade", env=env)
    banner = kessai("demo", "--port", str(port), env=env)
    found = KEY.search(banner)
    assert found, banner
    with serving(env, port, tmp_path / "serve.log") as base:
        yield Server(base, found.group(1), banner)


@contextmanager
def serving(env: dict[str, str], port: int, log: Path) -> Iterator[str]:
    """`kessai serve` on `port` as a subprocess, until it answers /healthz; its base URL."""
    with log.open("w") as out:
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "kessai.cli", "serve", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if proc.poll() is not None:
                pytest.fail(f"kessai serve exited ({proc.returncode}):\n{log.read_text()}")
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"kessai serve did not answer in {STARTUP_SECONDS} s:\n{log.read_text()}"
                )
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def test_serves_the_docs_and_a_sandbox(server: Server) -> None:
    assert httpx.get(f"{server.base}/healthz").json() == {"status": "ok", "env": "sandbox"}
    assert httpx.get(f"{server.base}/docs").status_code == 200
    assert "/api/v1/orders" in httpx.get(f"{server.base}/openapi.json").json()["paths"]


def card_token(server: Server, card: str) -> str:
    """A one-time token of a test card from GMO PG's simulator, as the browser's token.js
    gets it (the card number never reaches kessai)."""
    reply = httpx.post(
        f"{server.base}/sim/gmo-pg/token", json={"cardno": card, "expire": "3012"}, timeout=30
    )
    assert reply.status_code == 200, reply.text
    token: str = reply.json()["tokenObject"]["token"][0]
    return token


def test_readme_first_steps_authorize_then_capture_over_http(server: Server) -> None:
    with server.client() as api:
        created = api.post(
            "/orders",
            json={
                "payment_method": "gmo-pg-credit-card",
                "amount": 5500,
                "tax": 500,
                "customer": {"name": "山田 花子"},
                "payment_source": {"token": card_token(server, "4111111111111111")},
            },
        )
        assert created.status_code == 201, created.text
        order = created.json()
        assert order["payment_status_label"] == "決済準備中"

        authorized = api.post(f"/orders/{order['id']}/payment/authorize")
        assert authorized.status_code == 200, authorized.text
        assert authorized.json()["order"]["payment_status_label"] == "仮売上完了"

        captured = api.post(f"/orders/{order['id']}/payment/capture")
        assert captured.status_code == 200, captured.text
        assert captured.json()["order"]["payment_status_label"] == "売上完了"

        history = api.get(f"/orders/{order['id']}/payment-history").json()
    assert [(h["operation"], h["outcome"], h["amount"]) for h in history] == [
        ("authorize", "succeeded", 5500),
        ("capture", "succeeded", 5500),
    ]


def run_bash(script: str, server: Server) -> str:
    bash = shutil.which("bash")
    assert bash
    done = subprocess.run(  # noqa: S603 - the README's and the banner's own commands
        [bash, "-euo", "pipefail", "-c", script],
        env={**os.environ, "KESSAI_KEY": server.key},
        capture_output=True,
        text=True,
        timeout=CALL_SECONDS,
        check=False,
    )
    assert done.returncode == 0, f"{script}\n---\n{done.stdout}\n{done.stderr}"
    return done.stdout


needs_curl = pytest.mark.skipif(
    not (shutil.which("curl") and shutil.which("bash") and shutil.which("python3")),
    reason="needs bash, curl and python3 on PATH (the README's commands use them)",
)


@needs_curl
def test_the_banner_curl_lines_work_as_printed(server: Server) -> None:
    lines = [line.strip() for line in server.banner.splitlines() if line.startswith("  curl ")]
    assert len(lines) == 3, server.banner
    authorized, captured, history = (json.loads(run_bash(line, server)) for line in lines)
    assert authorized["order"]["payment_status_label"] == "仮売上完了"
    assert captured["order"]["payment_status_label"] == "売上完了"
    assert [h["operation"] for h in history] == ["authorize", "capture"]


def readme_tour() -> str:
    """The README's tour: its sh blocks between <!-- tour --> and <!-- /tour -->."""
    text = (ROOT / "README.md").read_text()
    tour = text.split("<!-- tour -->", 1)[1].split("<!-- /tour -->", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", tour, flags=re.S)
    assert len(blocks) >= 6, "the tour's sh blocks"
    return "\n".join(blocks)


@needs_curl
def test_every_readme_tour_command_works(server: Server) -> None:
    script = "\n".join(
        line.replace("http://127.0.0.1:8000", server.base)
        for line in readme_tour().splitlines()
        if not line.startswith("export KESSAI_KEY=")  # the test passes its own key
    )
    out = run_bash(script, server)
    for seen in (
        '"payment_status_label":"売上完了"',
        # GMO PG's simulator declines the test card, in GMO's code and words (決済履歴 too).
        '"provider_code":"42G020000"',
        '"provider_message":"カード残高が不足しているために、決済を完了する事が出来ませんでした。"',
        '"payment_status_label":"仮売上失敗"',
        # NP後払い's simulator holds the credit check (10) with its reasons, then passes it.
        '"provider_code":"10"',
        "RE009 住所不備",
        '"payment_status_label":"与信審査中"',
        '"payment_status_label":"与信審査完了"',
        '"code":"shipment_required"',
        '"outcome":"unknown"',
        '"outcome":"local"',
        '"code":"authorization_expired"',
        "idempotent-replayed: true",
        '"code":"idempotency_key_reused"',
    ):
        assert seen in out, seen
    for wrong in ("invalid_input", "malformed_json", "not_found", "unauthorized"):
        assert f'"code":"{wrong}"' not in out, wrong
    # The unknown outcome was reconciled, then captured once: one capture reached the provider.
    lists = [json.loads(line) for line in out.splitlines() if line.startswith("[")]
    (declined,) = [h for h in lists if any(e.get("provider_code") == "42G020000" for e in h)]
    assert [(e["operation"], e["outcome"]) for e in declined] == [
        ("authorize", "declined"),
        ("authorize", "succeeded"),  # 再オーソリ with another card
    ]
    (unknown,) = [h for h in lists if any(e.get("operation") == "lookup" for e in h)]
    # 決済履歴: one row per provider call; the second capture changed nothing, so none.
    assert [h["outcome"] for h in unknown if h["operation"] == "capture"] == ["succeeded"]


SIMULATED_DEMO_METHODS = (
    "gmo-pg-credit-card",
    "gmo-pg-paypay",
    "paypay-paypay",
    "amazon-amazon-pay-v2",
    "komoju-wechat-pay",
    "net-protections-np-atobarai-instant-common",
    "sbps-credit-card",
)


def test_demo_methods_run_on_their_providers_simulators(server: Server) -> None:
    with server.client() as api:
        methods = {m["code"]: m for m in api.get("/payment-methods").json()}
        for code in SIMULATED_DEMO_METHODS:
            assert methods[code]["simulated"] is False, code
        # What a simulator cannot be asked for (a refused 売上) stays on the fake, and says so.
        twin = methods["gmo-pg-credit-card-fake"]
        assert twin["simulated"] is True
        assert "擬似決済" in twin["name"]
        (declined,) = api.get("/orders", params={"number": "DEMO-0004"}).json()["items"]
        history = api.get(f"/orders/{declined['id']}/payment-history").json()
        (paypay,) = api.get("/orders", params={"number": "DEMO-0020"}).json()["items"]
        captured = api.post(f"/orders/{paypay['id']}/payment/capture").json()
    # (the README tour's clock jump may have run the 再オーソリ batch on it since)
    first = history[0]
    assert (first["operation"], first["outcome"]) == ("authorize", "declined")
    assert (first["provider_code"], first["provider_message"]) == (
        "42G020000",
        "カード残高が不足しているために、決済を完了する事が出来ませんでした。",
    )
    assert captured["order"]["payment_status_label"] == "売上完了"


def test_a_seeded_authorized_demo_order_can_be_captured(server: Server) -> None:
    with server.client() as api:
        (order,) = api.get("/orders", params={"number": "DEMO-0002"}).json()["items"]
        assert order["payment_status_label"] == "仮売上完了"
        captured = api.post(f"/orders/{order['id']}/payment/capture").json()
    assert captured["order"]["payment_status_label"] == "売上完了"


def _finished_job(api: httpx.Client, name: str, month: str, since: datetime) -> dict[str, object]:
    """The finished job of this name for this month that the scheduler submitted at or after
    `since` (sandbox time): not an earlier month's, nor the 1st's 「GMO 洗替結果取得」 that
    closes earlier months."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for job in api.get("/jobs", params={"limit": 50}).json():
            done = job["status"] not in ("queued", "running")
            if (
                job["name"] == name
                and job["params"].get("month") == month
                and datetime.fromisoformat(job["created_at"]) >= since
                and done
            ):
                return dict(job)
        time.sleep(0.2)
    pytest.fail(f"no finished 「{name}」 job for {month} since {since.isoformat()}")


def test_a_card_updater_round_trip_by_moving_the_sandbox_clock(server: Server) -> None:
    """自動洗替 in the sandbox: the demo account sends its request to the simulator's SFTP
    server on the 1st; on the 27th the answer comes back and is applied."""
    now = datetime.now(TOKYO)
    year, month = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
    first = datetime(year, month, 1, 1, 30, tzinfo=TOKYO)
    twenty_seventh = datetime(year, month, 27, 0, 30, tzinfo=TOKYO)
    key = f"{year}-{month:02d}"
    with server.client() as api:
        try:
            api.post("/sandbox/clock", json={"set": first.isoformat()})
            sent = _finished_job(api, "GMO 洗替依頼", key, first)
            assert sent["status"] == "succeeded", sent
            api.post("/sandbox/clock", json={"set": twenty_seventh.isoformat()})
            got = _finished_job(api, "GMO 洗替結果取得", key, twenty_seventh)
            assert got["status"] == "succeeded", got
            text = api.get(f"/jobs/{got['id']}/items.csv").content.decode("utf-8-sig")
        finally:
            api.post("/sandbox/clock", json={"reset": True})
    lines = text.splitlines()
    assert lines[0].startswith("顧客ID,顧客名,会員ID,カード登録連番")
    assert any("0:有効性OK" in line for line in lines)
    assert any("1:有効性NG" in line for line in lines)
    assert any("2:照合エラー" in line for line in lines)
