"""Secrets saved in plain settings before their field became secret (an SBPS account with its
3DES key and IV in `settings`, as kessai wrote it before they were SECRET): the upgrade step
seals them, the API and admin never show them, the connector still encrypts with them."""

import asyncio
import contextlib
import json
import logging
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event, select, text
from sqlalchemy.pool import Pool
from typer.testing import CliRunner

from kessai.accounts.models import ProviderAccount
from kessai.accounts.plain_secrets import ACTOR, Moved, seal_plain_secrets
from kessai.accounts.secrets import connector_settings, decrypted_secrets, seal, write_values
from kessai.cli import app
from kessai.core.crypto import Keyring
from kessai.core.db import transaction
from kessai.core.settings import Settings, normalize_database_url, sqlite_path
from kessai.history.models import ChangeRecord
from kessai.providers.sbps.provider import PROVIDER
from kessai.providers.sbps.sandbox import TEST_ENCRYPTION_IV, TEST_ENCRYPTION_KEY
from kessai.services import Services, build_services
from tests.admin.conftest import BASE_URL, add_user, admin_app, login
from tests.conftest import TEST_SECRET_KEY, new_pg_database
from tests.providers.sbps.conftest import Sbps
from tests.providers.served import served_on

KEYS = {"encryption_key": TEST_ENCRYPTION_KEY, "encryption_iv": TEST_ENCRYPTION_IV}
WRONG_KEY = "a-wrong-3des-key-24-char"


@pytest.fixture
async def sbps(live_services: Services) -> AsyncIterator[Sbps]:
    """SBPS on the test's database (SQLite or PostgreSQL), its simulator on loopback."""
    async with served_on(PROVIDER, live_services) as shop:
        yield Sbps(shop.harness, shop.api, shop.sim, shop.api_url)


async def write_the_old_way(
    services: Services, account_id: int, plain: dict[str, str], sealed: dict[str, str]
) -> None:
    """The 3DES fields as an older kessai left them: `plain` in settings, `sealed` in secrets."""
    async with transaction(services.sessions) as s:
        account = await s.get(ProviderAccount, account_id)
        assert account is not None
        secrets = {k: v for k, v in account.secrets.items() if k not in KEYS}
        for name, value in sealed.items():
            secrets[name] = seal(services.keyring, account_id, name, value)
        account.settings = {**account.settings, **plain}
        account.secrets = secrets
    await services.registry.forget(account_id)


async def raw_row(services: Services, account_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """settings and secrets as the database holds them (no ORM in between)."""
    async with transaction(services.sessions) as s:
        settings, secrets = (
            await s.execute(
                text("SELECT settings, secrets FROM provider_accounts WHERE id = :id"),
                {"id": account_id},
            )
        ).one()

    def loaded(value: Any) -> dict[str, Any]:
        return dict(json.loads(value) if isinstance(value, str) else value)

    return loaded(settings), loaded(secrets)


async def account(services: Services, account_id: int) -> ProviderAccount:
    async with transaction(services.sessions) as s:
        found = await s.get(ProviderAccount, account_id)
        assert found is not None
        return found


async def upgrade_step(services: Services, keyring: Keyring | None = None) -> list[Moved]:
    return await seal_plain_secrets(
        services.sessions, lambda: keyring or services.keyring, services.clock.now()
    )


async def history(services: Services, account_id: int) -> list[tuple[str, str, str, str]]:
    async with transaction(services.sessions) as s:
        rows = await s.scalars(
            select(ChangeRecord)
            .where(ChangeRecord.entity == "provider_account", ChangeRecord.entity_id == account_id)
            .order_by(ChangeRecord.id)
        )
        return [(r.field, r.before or "", r.after or "", r.actor) for r in rows]


async def authorizes(sbps: Sbps) -> bool:
    order = await sbps.order(1000)
    answer = (await sbps.act(order, "authorize")).json()
    return bool(answer["outcome"] == "succeeded")


async def test_an_account_saved_the_old_way_is_sealed_shown_masked_and_still_encrypts(
    sbps: Sbps, caplog: pytest.LogCaptureFixture
) -> None:
    services, account_id = sbps.services, sbps.account_id
    await write_the_old_way(services, account_id, plain=KEYS, sealed={})

    # Before the step the connector still finds the key, and says where it found it.
    with caplog.at_level(logging.WARNING, logger="kessai.accounts"):
        built = connector_settings(await account(services, account_id), services.keyring)
    assert {k: built[k] for k in KEYS} == KEYS
    warned = [r.getMessage() for r in caplog.records if "暗号化されずに" in r.getMessage()]
    assert warned == [
        "秘密情報が暗号化されずに保存されています (`kessai db upgrade` で暗号化されます): "
        f"account={account_id} fields=encryption_iv,encryption_key"
    ]
    caplog.clear()

    with caplog.at_level(logging.INFO, logger="kessai.accounts"):
        moved = await upgrade_step(services)
    assert moved == [
        Moved(account_id, "encryption_iv", kept_sealed=False),
        Moved(account_id, "encryption_key", kept_sealed=False),
    ]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert f"account={account_id} field=encryption_key" in logged
    assert all(value not in logged for value in KEYS.values())

    settings, secrets = await raw_row(services, account_id)
    assert not set(KEYS) & set(settings)
    assert set(KEYS) <= set(secrets)
    raw = json.dumps([settings, secrets])
    assert all(value not in raw for value in KEYS.values())
    stored = await account(services, account_id)
    opened = decrypted_secrets(stored, services.keyring)
    assert {k: opened[k] for k in KEYS} == KEYS

    # 変更履歴 says which field was sealed, by the upgrade, without the value.
    assert await history(services, account_id) == [
        ("encryption_iv", "(暗号化されずに保存)", "(暗号化して保存)", ACTOR),
        ("encryption_key", "(暗号化されずに保存)", "(暗号化して保存)", ACTOR),
    ]

    # The API shows them masked, never as themselves.
    shown = await sbps.api.get(f"/api/v1/provider-accounts/{account_id}")
    assert shown.status_code == 200, shown.text
    assert all(value not in shown.text for value in KEYS.values())
    values = shown.json()["values"]
    assert values["encryption_key"] == values["encryption_iv"] == "********"

    # So do the admin screen and its 変更履歴.
    await add_user(services, "admin@example.jp")
    transport = httpx.ASGITransport(app=admin_app(services))
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as admin:
        await login(admin, "admin@example.jp")
        page = await admin.get(f"/admin/settings/accounts/{account_id}")
    assert page.status_code == 200
    assert page.text.count(f"<td>{ACTOR}</td>") == 2  # one 変更履歴 row a field
    assert all(value not in page.text for value in KEYS.values())

    # The connector encrypts with the sealed key: the simulator, which refuses plain text,
    # accepts the authorization.
    assert await authorizes(sbps)

    # Again: nothing to move, nothing changes.
    before = await raw_row(services, account_id)
    assert await upgrade_step(services) == []
    assert await raw_row(services, account_id) == before
    assert len(await history(services, account_id)) == 2


async def test_a_field_stored_both_ways_keeps_the_sealed_value(sbps: Sbps) -> None:
    services, account_id = sbps.services, sbps.account_id
    await write_the_old_way(services, account_id, plain={"encryption_key": WRONG_KEY}, sealed=KEYS)
    # Before the step the sealed value wins.
    built = connector_settings(await account(services, account_id), services.keyring)
    assert built["encryption_key"] == TEST_ENCRYPTION_KEY
    sealed_before = (await raw_row(services, account_id))[1]["encryption_key"]

    assert await upgrade_step(services) == [Moved(account_id, "encryption_key", kept_sealed=True)]
    settings, secrets = await raw_row(services, account_id)
    assert "encryption_key" not in settings
    assert secrets["encryption_key"] == sealed_before  # the same token, not sealed again
    assert WRONG_KEY not in json.dumps([settings, secrets])
    assert await history(services, account_id) == [
        ("encryption_key", "(暗号化されずに保存)", "(削除: 暗号化済みの値を使用)", ACTOR)
    ]
    assert await authorizes(sbps)


class FailingOn(Keyring):
    """A keyring that fails to seal anything of one account: a crash in the middle."""

    def __init__(self, ring: Keyring, account_id: int) -> None:
        super().__init__(ring.primary)
        self.context = f"provider_account:{account_id}:"

    def encrypt(self, value: str | bytes, *, context: str) -> str:
        if context.startswith(self.context):
            raise RuntimeError("crash while sealing")
        return super().encrypt(value, context=context)


async def test_a_crash_leaves_each_account_whole_and_a_second_run_finishes(sbps: Sbps) -> None:
    services, first = sbps.services, sbps.account_id
    async with transaction(services.sessions) as s:
        original = await s.get(ProviderAccount, first)
        assert original is not None
        copy = ProviderAccount(
            provider=original.provider,
            integration=original.integration,
            name="SBPS (2)",
            connector=original.connector,
            settings={**original.settings, **KEYS},
            secrets={},
            created_at=original.created_at,
            updated_at=original.updated_at,
        )
        s.add(copy)
        await s.flush()
        second = copy.id
    await write_the_old_way(services, first, plain=KEYS, sealed={})

    with pytest.raises(RuntimeError, match="crash while sealing"):
        await upgrade_step(services, FailingOn(services.keyring, second))
    settings, _ = await raw_row(services, first)
    assert not set(KEYS) & set(settings)  # the first account was moved and committed
    settings, secrets = await raw_row(services, second)
    assert {k: settings[k] for k in KEYS} == KEYS  # the second is untouched, nothing lost
    assert secrets == {}
    assert await history(services, second) == []

    assert [m.account_id for m in await upgrade_step(services)] == [second, second]
    opened = decrypted_secrets(await account(services, second), services.keyring)
    assert {k: opened[k] for k in KEYS} == KEYS
    assert await upgrade_step(services) == []


async def test_empty_plain_values_are_dropped_without_a_master_key(services: Services) -> None:
    now = services.clock.now()
    async with transaction(services.sessions) as s:
        row = ProviderAccount(
            provider="sbps",
            integration="sbps",
            name="SBPS",
            connector="fake",
            settings={"merchant_id": "30132", "encryption_key": "", "encryption_iv": None},
            secrets={},
            created_at=now,
            updated_at=now,
        )
        s.add(row)
        await s.flush()
        account_id = row.id

    def no_key() -> Keyring:
        raise AssertionError("nothing to seal: the master key is not needed")

    assert await seal_plain_secrets(services.sessions, no_key, now) == []
    assert await raw_row(services, account_id) == ({"merchant_id": "30132"}, {})
    assert await history(services, account_id) == []


# --- kessai db upgrade ---------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgres"])
def new_database(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'kessai.db'}"
        return
    with new_pg_database("kessai_plain") as url:
        yield url


def kessai_db_upgrade(url: str) -> Any:
    env = {
        "KESSAI_DATABASE_URL": url,
        "KESSAI_ENV": "sandbox",
        "KESSAI_SECRET_KEY": TEST_SECRET_KEY,
    }
    result = CliRunner().invoke(app, ["db", "upgrade"], env=env)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def insecure_delete() -> Iterator[None]:
    """SQLite as most builds ship it: deleted content stays in the file's free space (this
    machine's Debian build zeroes it by default, which would hide a leftover copy)."""

    def off(dbapi_connection: Any, _record: Any) -> None:
        if "sqlite" in type(dbapi_connection).__module__:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA secure_delete=OFF")
            cursor.close()

    event.listen(Pool, "connect", off)
    yield
    event.remove(Pool, "connect", off)


@pytest.mark.usefixtures("insecure_delete")
def test_db_upgrade_seals_plain_secrets_and_leaves_no_plain_copy(
    new_database: str, tmp_path: Path
) -> None:
    kessai_db_upgrade(new_database)
    settings = Settings.from_env(
        {"KESSAI_DATABASE_URL": new_database, "KESSAI_SECRET_KEY": TEST_SECRET_KEY}
    )

    async def add_old_account() -> int:
        services = build_services(settings)
        try:
            async with transaction(services.sessions) as s:
                now = services.clock.now()
                row = ProviderAccount(
                    provider="sbps",
                    integration="sbps",
                    name="SBPS",
                    connector="sbps",
                    settings={"merchant_id": "30132", **KEYS},
                    secrets={},
                    created_at=now,
                    updated_at=now,
                )
                # A neighbour on the same page (the moved row's old bytes are then freed
                # space, not overwritten by the new row), with the key stored both ways.
                both = ProviderAccount(
                    provider="sbps",
                    integration="sbps",
                    name="SBPS (2)",
                    connector="sbps",
                    settings={"encryption_key": WRONG_KEY},
                    secrets={},
                    created_at=now,
                    updated_at=now,
                )
                s.add_all([row, both])
                await s.flush()
                write_values(services.keyring, both, {"encryption_key": TEST_ENCRYPTION_KEY})
                both.settings = {"encryption_key": WRONG_KEY}
                return row.id
        finally:
            await services.close()

    async def stored(account_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
        services = build_services(settings)
        try:
            found = await account(services, account_id)
            return found.settings, decrypted_secrets(found, services.keyring)
        finally:
            await services.close()

    account_id = asyncio.run(add_old_account())
    path = sqlite_path(normalize_database_url(new_database))
    with contextlib.closing(sqlite3.connect(path or ":memory:")) as serving:
        # Another process on the file, as a running kessai is: the upgrade's own close is
        # then not the last one, which would have folded the WAL into the file anyway.
        if path is not None:
            serving.execute("SELECT count(*) FROM provider_accounts").fetchall()
            assert KEYS["encryption_key"].encode() in path.read_bytes()  # as written before
        result = kessai_db_upgrade(new_database)
        if path is not None:  # nothing left in the files, freed space included
            files = list(tmp_path.glob("kessai.db*"))
            found = b"".join(f.read_bytes() for f in files)
            assert all(v.encode() not in found for v in (*KEYS.values(), WRONG_KEY))
    assert (
        f"外部連携アカウント(ID: {account_id})の平文で保存されていた秘密情報を暗号化して"
        "保存しました: encryption_iv, encryption_key"
    ) in result.stdout
    assert (
        f"外部連携アカウント(ID: {account_id + 1})の平文で保存されていた秘密情報を削除しました"
        " (暗号化済みの値を使用): encryption_key"
    ) in result.stdout
    assert all(value not in result.output for value in (*KEYS.values(), WRONG_KEY))
    plain, opened = asyncio.run(stored(account_id))
    assert plain == {"merchant_id": "30132"}
    assert opened == KEYS

    again = kessai_db_upgrade(new_database)
    assert "平文で保存されていた" not in again.stdout
    assert asyncio.run(stored(account_id)) == (plain, opened)
