"""The kessai command in-process (Typer's CliRunner) against a fresh database per test:
SQLite always, PostgreSQL when the server is reachable."""

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from click.testing import Result
from sqlalchemy import func, inspect, select
from typer.testing import CliRunner

from kessai.accounts.models import PaymentMethod, ProviderAccount
from kessai.apikeys.models import ApiKey
from kessai.cli import app
from kessai.core.settings import Settings
from kessai.orders.models import Order
from kessai.payments import capabilities as caps
from kessai.providers.installed import PROVIDERS
from kessai.services import build_services
from kessai.web.app import create_app
from kessai.welcome import display_url
from tests.conftest import new_pg_database

runner = CliRunner()


def kessai(url: str, *args: str, env: str = "sandbox") -> Result:
    return runner.invoke(app, list(args), env={"KESSAI_DATABASE_URL": url, "KESSAI_ENV": env})


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'kessai.db'}"  # the plain form a user would write


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database that exists but was never upgraded."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'kessai.db'}"
        return
    with new_pg_database("kessai_cli") as url:
        yield url


def settings_for(url: str) -> Settings:
    return Settings.from_env({"KESSAI_DATABASE_URL": url})


async def _query(url: str, fn: Any) -> Any:
    services = build_services(settings_for(url))
    try:
        async with services.sessions() as s:
            return await fn(s)
    finally:
        await services.close()


def count(url: str, model: Any) -> int:
    async def fn(s: Any) -> int:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)

    return int(asyncio.run(_query(url, fn)))


def fetch(url: str, statement: Any) -> list[Any]:
    async def fn(s: Any) -> list[Any]:
        return list((await s.execute(statement)).all())

    return list(asyncio.run(_query(url, fn)))


def get_as(url: str, key: str, path: str) -> httpx.Response:
    """A request to the app on `url`'s database, through ASGI, with `key` as Bearer."""

    async def run() -> httpx.Response:
        services = build_services(settings_for(url))
        transport = httpx.ASGITransport(app=create_app(services))
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://kessai.test") as c:
                return await c.get(path, headers={"Authorization": f"Bearer {key}"})
        finally:
            await services.close()

    return asyncio.run(run())


def upgraded(url: str) -> str:
    result = kessai(url, "db", "upgrade")
    assert result.exit_code == 0, result.output
    return url


# --- db upgrade -----------------------------------------------------------------------


def test_db_upgrade_creates_the_tables(db_url: str) -> None:
    result = kessai(db_url, "db", "upgrade")
    assert result.exit_code == 0, result.output
    assert "最新のスキーマにしました" in result.stdout

    async def tables(s: Any) -> set[str]:
        conn = await s.connection()
        return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))

    names = asyncio.run(_query(db_url, tables))
    assert {"orders", "payment_methods", "payment_attempts", "api_keys", "alembic_version"} <= names
    assert kessai(db_url, "db", "upgrade").exit_code == 0  # again: nothing to do, no error


def test_printed_database_urls_hide_the_password() -> None:
    shown = display_url("postgresql+asyncpg://kessai:hunter2@db.local:5432/kessai")
    assert "hunter2" not in shown
    assert "kessai@db.local:5432/kessai" in shown.replace(":***@", "@")


def test_a_bad_kessai_env_is_one_clear_line(sqlite_url: str) -> None:
    result = kessai(sqlite_url, "db", "upgrade", env="staging")
    assert result.exit_code != 0
    assert "KESSAI_ENV は sandbox か production を指定してください" in result.stderr
    assert "Traceback" not in result.output


# --- apikey create ----------------------------------------------------------------------


def test_apikey_create_prints_a_key_that_authenticates_and_is_stored_hashed(db_url: str) -> None:
    result = kessai(upgraded(db_url), "apikey", "create", "storefront")
    assert result.exit_code == 0, result.output
    key = result.stdout.strip()
    assert len(result.stdout.splitlines()) == 1  # the key alone on stdout
    assert key.startswith("ks_")
    assert "再表示できません" in result.stderr

    assert get_as(db_url, key, "/api/v1/payment-methods").status_code == 200
    assert get_as(db_url, key + "x", "/api/v1/payment-methods").status_code == 401

    ((stored,),) = fetch(db_url, select(ApiKey))
    assert stored.name == "storefront"
    secret = key.split("_", 2)[2]
    for column in ApiKey.__table__.columns:
        assert secret not in str(getattr(stored, column.key)), column.key


def test_the_raw_key_is_nowhere_in_the_sqlite_files(sqlite_url: str, tmp_path: Path) -> None:
    key = kessai(upgraded(sqlite_url), "apikey", "create", "storefront").stdout.strip()
    secret = key.split("_", 2)[2].encode()
    files = list(tmp_path.glob("kessai.db*"))  # the database and its WAL
    assert files
    assert all(secret not in f.read_bytes() for f in files)


@pytest.mark.parametrize("name", ["", "   ", "x" * 200])
def test_apikey_create_refuses_a_bad_name(sqlite_url: str, name: str) -> None:
    result = kessai(upgraded(sqlite_url), "apikey", "create", name)
    assert result.exit_code != 0
    assert re.search(r"APIキーの名前は1〜\d+文字で指定してください", result.stderr), result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""
    assert count(sqlite_url, ApiKey) == 0


def test_apikey_create_before_db_upgrade_says_what_to_do(sqlite_url: str) -> None:
    result = kessai(sqlite_url, "apikey", "create", "storefront")
    assert result.exit_code != 0
    assert "kessai db upgrade" in result.stderr
    assert "Traceback" not in result.output


# --- demo -------------------------------------------------------------------------------


def test_demo_seeds_every_seed_003_method_on_the_simulator_and_a_spread_of_statuses(
    db_url: str,
) -> None:
    result = kessai(upgraded(db_url), "demo")
    assert result.exit_code == 0, result.output
    assert "http://127.0.0.1:8000/docs" in result.stdout
    curls = [line.strip() for line in result.stdout.splitlines() if line.startswith("  curl ")]
    assert [c.rsplit("/", 1)[1] for c in curls] == ["authorize", "capture", "payment-history"]

    methods = fetch(
        db_url,
        select(
            PaymentMethod.provider, PaymentMethod.method_type, ProviderAccount.connector
        ).outerjoin(ProviderAccount, ProviderAccount.id == PaymentMethod.account_id),
    )
    rows = {(r.provider, r.method_type) for r in caps.ROWS}
    assert {(p, m) for p, m, _ in methods} == rows
    # A method runs on its provider's own simulator where one serves it, else on the
    # simulated connector; 銀行振込・代金引換 have no provider at all.
    own = {p.name: p for p in PROVIDERS if not p.sandbox_only}
    for p, m, c in methods:
        if p == "offline":
            assert c is None
        elif c != "fake":
            assert c in own, (p, m, c)
            assert own[c].serves(p, m), (p, m, c)
    connectors = {c for _, _, c in methods}
    assert {"gmo_pg", "paypay", "amazon_pay", "komoju", "np_atobarai", "sbps", "fake"} <= connectors

    listed = get_as(db_url, printed_key(result), "/api/v1/payment-methods").json()
    on_fake = [m for m in listed if m["simulated"]]
    assert len(listed) - len(on_fake) >= 15  # GMO PG's methods, PayPay, Amazon Pay, KOMOJU …
    # The 擬似決済 twins carry the demo orders a simulator cannot make (a refused 売上 …).
    assert all(m["simulated"] for m in listed if m["code"].endswith("-fake"))

    statuses = {status for (status,) in fetch(db_url, select(Order.payment_status))}
    assert {
        "pending",
        "authorized",
        "captured",
        "authorize_failed",
        "canceled",
        "credit_check_pending",
        "credit_check_passed",
    } <= statuses
    held = fetch(db_url, select(Order.id).where(Order.in_flight_attempt_id.is_not(None)))
    assert held, "one demo order holds an unknown outcome"


def test_demo_twice_adds_nothing_and_prints_a_working_key_each_time(db_url: str) -> None:
    first = kessai(upgraded(db_url), "demo")
    assert first.exit_code == 0, first.output
    before = [count(db_url, m) for m in (Order, PaymentMethod, ProviderAccount)]
    second = kessai(db_url, "demo")
    assert second.exit_code == 0, second.output
    assert [count(db_url, m) for m in (Order, PaymentMethod, ProviderAccount)] == before

    # The untouched tour order is offered again, with a new key that works.
    assert tour_order(second) == tour_order(first)
    for result in (first, second):
        assert get_as(db_url, printed_key(result), "/api/v1/orders").status_code == 200


def printed_key(result: Result) -> str:
    return next(w for w in result.stdout.split() if w.startswith("KESSAI_KEY=")).split("=", 1)[1]


def tour_order(result: Result) -> str:
    found = re.search(r"/orders/(\d+)/payment/authorize", result.stdout)
    assert found, result.stdout
    return found.group(1)


def test_demo_is_refused_in_production(sqlite_url: str) -> None:
    result = kessai(upgraded(sqlite_url), "demo", env="production")
    assert result.exit_code != 0
    assert "デモデータはサンドボックス環境でのみ登録できます" in result.stderr
    assert "Traceback" not in result.output
    assert [count(sqlite_url, m) for m in (Order, PaymentMethod, ApiKey)] == [0, 0, 0]


# --- serve (uvicorn.run replaced: these tests check what happens before it) -------------


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append(kw))
    return calls


def test_serve_starts_on_the_given_address(sqlite_url: str, served: list[dict[str, Any]]) -> None:
    result = kessai(upgraded(sqlite_url), "serve", "--host", "127.0.0.1", "--port", "8123")
    assert result.exit_code == 0, result.output
    assert [(c["host"], c["port"]) for c in served] == [("127.0.0.1", 8123)]


def test_serve_refuses_a_database_that_was_not_upgraded(
    sqlite_url: str, served: list[dict[str, Any]]
) -> None:
    result = kessai(sqlite_url, "serve")
    assert result.exit_code != 0
    assert "kessai db upgrade" in result.stderr
    assert served == []


def test_serve_in_production_refuses_accounts_on_the_simulator(
    sqlite_url: str, served: list[dict[str, Any]]
) -> None:
    assert kessai(upgraded(sqlite_url), "serve", env="production").exit_code == 0  # no accounts
    assert kessai(sqlite_url, "demo").exit_code == 0
    result = kessai(sqlite_url, "serve", env="production")
    assert result.exit_code != 0
    assert "本番環境(KESSAI_ENV=production)では起動できません" in result.stderr
    assert "擬似決済(シミュレーター)" in result.stderr
    assert len(served) == 1  # only the first, before the demo accounts existed


def test_worker_without_a_broker_says_what_to_set(sqlite_url: str) -> None:
    result = kessai(sqlite_url, "worker")
    assert result.exit_code == 2
    assert "KESSAI_BROKER_URL が設定されていません" in result.output
    assert "kessai serve の中で実行されます" in result.output


def test_apikey_list_and_revoke_take_effect_at_once(db_url: str) -> None:
    created = kessai(upgraded(db_url), "apikey", "create", "till", "--scope", "storefront")
    assert created.exit_code == 0, created.output
    key = created.stdout.strip()
    assert get_as(db_url, key, "/api/v1/payment-methods").status_code == 200
    assert get_as(db_url, key, "/api/v1/jobs").status_code == 403  # storefront only

    listed = kessai(db_url, "apikey", "list")
    assert listed.exit_code == 0, listed.output
    (row,) = [line.split("\t") for line in listed.stdout.splitlines()[1:]]
    assert row[1:3] == ["till", "ストアフロント"]
    assert row[5] != "-"  # last used: just now
    assert key.split("_", 2)[2] not in listed.stdout

    revoked = kessai(db_url, "apikey", "revoke", row[0])
    assert revoked.exit_code == 0, revoked.output
    assert get_as(db_url, key, "/api/v1/payment-methods").status_code == 401
    assert kessai(db_url, "apikey", "revoke", "till").exit_code == 2  # none left to revoke
    bad = kessai(db_url, "apikey", "create", "x", "--scope", "root")
    assert bad.exit_code == 2
    assert "storefront" in bad.stderr
