"""Schema upgrades: every migration says whether the previous kessai may keep serving while
it runs; `kessai db upgrade` says what it applies and refuses what would break a running
version; a database filled at the first migration is upgraded to head and keeps working."""

import asyncio
import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from kessai.cli import app
from kessai.core.db import create_engine
from kessai.core.errors import ConfigurationError
from kessai.core.migrate import upgrade
from kessai.core.settings import Settings, normalize_database_url
from kessai.ops.upgrades import Step, refuse_unsafe, steps
from kessai.services import build_services
from kessai.web.app import create_app
from tests.conftest import TEST_SECRET_KEY, new_pg_database

runner = CliRunner()
NOW = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)
KEY_PREFIX, KEY_SECRET = "a1b2c3d4e5f6", "old-version-secret-0001"
OLD_KEY = f"ks_{KEY_PREFIX}_{KEY_SECRET}"


def test_every_migration_says_whether_it_is_safe_while_the_old_version_serves() -> None:
    found = steps("sqlite+aiosqlite:///unused.db", set())
    assert [s.revision for s in found][:2] == ["0001", "0002"]
    assert all(isinstance(s.online_safe, bool) for s in found)  # steps() refuses a missing flag
    assert all(s.title for s in found)


def test_an_unsafe_migration_is_refused_on_a_database_in_use_until_offline() -> None:
    pending = [Step("0042", "rename orders.number", online_safe=False)]
    with pytest.raises(ConfigurationError, match=r"0042 \(rename orders.number\).*--offline"):
        refuse_unsafe(pending, in_use=True, offline=False)
    refuse_unsafe(pending, in_use=True, offline=True)  # the operator stopped everything
    refuse_unsafe(pending, in_use=False, offline=False)  # a new database: nothing serves it
    refuse_unsafe([Step("0043", "add a table", online_safe=True)], in_use=True, offline=False)


@pytest.fixture(params=["sqlite", "postgres"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'kessai.db'}"
        return
    with new_pg_database("kessai_upgrade") as url:
        yield url


ORDERS = [  # number, 決済状況, amount: what a shop holds after its first weeks
    ("DEMO-0001", "authorized", 5500),
    ("DEMO-0002", "captured", 3300),
    ("DEMO-0003", "authorize_failed", 9001),
    ("DEMO-0004", "pending", 1200),
]


async def fill_first_schema(url: str) -> None:
    """Rows as the first version wrote them, through that version's tables (reflected)."""
    engine = create_engine(normalize_database_url(url))
    try:
        async with engine.begin() as conn:
            meta = sa.MetaData()
            await conn.run_sync(meta.reflect)
            t = meta.tables

            async def add(table: str, **values: Any) -> int:
                result = await conn.execute(t[table].insert().values(**values))
                return int(result.inserted_primary_key[0])

            stamp = {"created_at": NOW}
            account = await add(
                "provider_accounts",
                provider="gmo_pg",
                name="GMO (旧バージョン)",
                connector="fake",
                settings={},
                updated_at=NOW,
                **stamp,
            )
            flags = {
                c.name: False for c in t["payment_methods"].c if isinstance(c.type, sa.Boolean)
            }
            method = await add(
                "payment_methods",
                **{**flags, "enabled": True, "cancel_api_link": True},
                code="old-card",
                name="クレジットカード",
                provider="gmo_pg",
                method_type="credit_card",
                account_id=account,
                min_amount=1,
                max_amount=999_999,
                updated_at=NOW,
                **stamp,
            )
            customer = await add("customers", name="山田 花子", email="hanako@example.jp", **stamp)
            for number, status, amount in ORDERS:
                order = await add(
                    "orders",
                    number=number,
                    customer_id=customer,
                    payment_method_id=method,
                    amount=amount,
                    tax=amount // 11,
                    payment_status=status,
                    handling_status="new",
                    ordered_at=NOW,
                    shipment_count=0,
                    payment_source={"token": "tok_demo"},
                    tracking_reported=False,
                    three_d_secure=False,
                    authorization_count=1,
                    version=1,
                    updated_at=NOW,
                    **stamp,
                )
                await add(
                    "payment_attempts",
                    order_id=order,
                    operation="authorize",
                    amount=amount,
                    reference=f"ref-{number}",
                    outcome="declined" if status == "authorize_failed" else "succeeded",
                    request={},
                    actor="api:storefront",
                    completed_at=NOW,
                    **stamp,
                )
            await add(
                "api_keys",
                name="storefront",
                prefix=KEY_PREFIX,
                secret_hash=hashlib.sha256(KEY_SECRET.encode()).hexdigest(),
                **stamp,
            )
    finally:
        await engine.dispose()


async def use_upgraded(url: str) -> None:
    settings = Settings.from_env({"KESSAI_DATABASE_URL": url, "KESSAI_SECRET_KEY": TEST_SECRET_KEY})
    services = build_services(settings)
    transport = httpx.ASGITransport(app=create_app(services))
    headers = {"Authorization": f"Bearer {OLD_KEY}"}
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://kessai.test", headers=headers
        ) as api:
            assert (await api.get("/readyz")).status_code == 200
            listed = await api.get("/api/v1/orders", params={"limit": 50})
            assert listed.status_code == 200, listed.text
            shown = {o["number"]: o for o in listed.json()["items"]}
            for number, status, amount in ORDERS:
                assert shown[number]["payment_status"] == status
                assert shown[number]["amount"] == amount
            first = shown["DEMO-0001"]["id"]
            history = await api.get(f"/api/v1/orders/{first}/payment-history")
            assert [h["operation"] for h in history.json()] == ["authorize"]
            # The old account and method take new payments on the new schema.
            created = await api.post(
                "/api/v1/orders",
                json={"payment_method": "old-card", "amount": 2000, "customer": {"name": "佐藤"}},
            )
            assert created.status_code == 201, created.text
            new = created.json()["id"]
            authorized = await api.post(f"/api/v1/orders/{new}/payment/authorize", json={})
            assert authorized.json()["order"]["payment_status"] == "authorized"
            captured = await api.post(f"/api/v1/orders/{new}/payment/capture", json={})
            assert captured.json()["order"]["payment_status"] == "captured"
    finally:
        await services.close()


def test_a_database_filled_at_the_first_migration_upgrades_to_head(empty_url: str) -> None:
    upgrade(normalize_database_url(empty_url), "0001")
    asyncio.run(fill_first_schema(empty_url))

    result = runner.invoke(app, ["db", "upgrade"], env={"KESSAI_DATABASE_URL": empty_url})

    assert result.exit_code == 0, result.output
    applied = [line for line in result.output.splitlines() if line.startswith("適用: ")]
    assert applied[0].startswith("適用: 0002 ")
    assert all(line.endswith("(稼働中でも安全)") for line in applied)
    assert len(applied) == len(steps(normalize_database_url(empty_url), {"0001"}))
    asyncio.run(use_upgraded(empty_url))
    again = runner.invoke(app, ["db", "upgrade"], env={"KESSAI_DATABASE_URL": empty_url})
    assert again.exit_code == 0
    assert "適用: " not in again.output  # nothing left to apply
