"""Secrets at rest: the raw database holds only tokens, a wrong key is an error (never
garbage), `kessai secrets rotate` re-seals everything or nothing, and connectors are built
from the decrypted settings."""

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import Result
from sqlalchemy import text
from typer.testing import CliRunner

from kessai.accounts import service
from kessai.accounts.models import PaymentMethod, ProviderAccount
from kessai.accounts.secrets import connector_settings, seal, unseal
from kessai.cli import app as cli
from kessai.core.crypto import Keyring, SecretBox, SecretUndecryptable, key_id, parse_key
from kessai.core.db import transaction
from kessai.providers.gmo_pg.connector import GmoPgConnector
from kessai.providers.registry import ConnectorEnv, default_registry
from kessai.services import Services
from tests.accounts.test_account_api import (
    ACCOUNTS,
    GMO_PG,
    KEY_A,
    KEY_B,
    NP_REALTIME,
    PAYGENT_PASS,
    SFTP_PASS,
    SHOP_PASS,
    SITE_PASS,
    api,
    app_for,
    create,
    keyed,
    paygent_values,
    rows,
    stored,
    svc,
)
from tests.factories import act, make_order
from tests.web.conftest import BASE_URL, database_text
from tests.web.conftest import new_key as new_api_key

__all__ = ["api", "svc"]  # fixtures shared with test_account_api

runner = CliRunner()
KEY_C = base64.b64encode(bytes(range(200, 232))).decode()
SECRETS = (SHOP_PASS, SITE_PASS, SFTP_PASS, PAYGENT_PASS)


async def seeded(api: httpx.AsyncClient) -> tuple[dict[str, Any], bytes]:
    """A GMO PG, a Paygent (key and certificates) and an NP後払いリアルタイム account."""
    gmo = await create(api, "gmo_pg", GMO_PG)
    values, private, *_ = paygent_values()
    await create(api, "paygent", values)
    await create(api, "np_atobarai_realtime", NP_REALTIME)
    return gmo, private


def pem_body(pem: bytes) -> list[str]:
    """The base64 lines of a PEM file: what would show if it were stored in clear."""
    return [line for line in pem.decode().splitlines() if line and not line.startswith("-----")]


def sqlite_bytes(path: Path) -> bytes:
    wal = path.with_name(path.name + "-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


async def raw_storage(services: Services) -> bytes:
    """What an attacker with the database would read: the SQLite file and its WAL as bytes,
    or PostgreSQL's provider_accounts as text (a dump of the table)."""
    url = services.settings.database_url
    if services.settings.is_sqlite:
        return await asyncio.to_thread(sqlite_bytes, Path(url.split(":///", 1)[1]))
    async with transaction(services.sessions) as s:
        dumped = await s.execute(
            text("SELECT name, settings::text, secrets::text FROM provider_accounts")
        )
        return repr(dumped.all()).encode()


async def test_the_database_holds_no_secret_in_clear(svc: Services, api: httpx.AsyncClient) -> None:
    gmo, private = await seeded(api)
    await api.patch(f"{ACCOUNTS}/{gmo['id']}", json={"values": {"site_password": "Site-Pw-Two-2"}})
    raw = await raw_storage(svc)
    assert b"tshop00012345" in raw  # the file is read: non-secrets are there in clear
    assert f"ks1:{key_id(parse_key(KEY_A))}:".encode() in raw  # … and the tokens
    for secret in (*SECRETS, "Site-Pw-Two-2"):
        assert secret.encode() not in raw
    for line in pem_body(private):
        assert line.encode() not in raw
    everything = await database_text(svc)  # every table, change_history included
    for secret in (*SECRETS, "Site-Pw-Two-2", *pem_body(private)):
        assert secret not in everything


async def test_a_token_opens_only_for_its_account_and_field(svc: Services) -> None:
    token = seal(svc.keyring, 1, "shop_password", SHOP_PASS)
    assert unseal(svc.keyring, 1, "shop_password", token) == SHOP_PASS.encode()
    for account_id, field in ((2, "shop_password"), (1, "site_password")):
        with pytest.raises(SecretUndecryptable):
            unseal(svc.keyring, account_id, field, token)


async def test_connector_settings_feed_the_gmo_pg_connector(
    svc: Services, api: httpx.AsyncClient
) -> None:
    gmo = await create(api, "gmo_pg", GMO_PG)
    account = await stored(svc, gmo["id"])
    settings = connector_settings(account, svc.keyring)
    assert settings["shop_pass"] == SHOP_PASS  # the connector's own key names
    assert settings["site_pass"] == SITE_PASS
    assert settings["shop_id"] == "tshop00012345"
    registry = default_registry(sandbox=True, env=ConnectorEnv(svc.sessions, svc.clock))
    try:
        connector = registry.for_account(account.connector, account.id, settings)
        assert isinstance(connector, GmoPgConnector)
        assert connector.config.shop_pass == SHOP_PASS
        assert connector.config.site_pass == SITE_PASS
        assert SHOP_PASS not in repr(connector)
    finally:
        await registry.aclose()


async def test_the_payment_engine_builds_connectors_with_decrypted_secrets(
    svc: Services, api: httpx.AsyncClient
) -> None:
    gmo = await create(api, "gmo_pg", GMO_PG)
    received: list[dict[str, Any]] = []

    def factory(account_id: int, settings: Any) -> object:
        received.append(dict(settings))
        return svc.registry.for_account("fake", account_id, {})

    svc.registry.register("gmo_pg", factory)
    async with transaction(svc.sessions) as s:
        method = PaymentMethod(
            code="gmo-card",
            name="クレジットカード",
            provider="gmo_pg",
            method_type="credit_card",
            account_id=gmo["id"],
            created_at=svc.clock.now(),
            updated_at=svc.clock.now(),
        )
        s.add(method)
    order_id = await make_order(svc, method)
    await svc.payments.run(order_id, act("authorize"))
    assert received
    assert received[0].get("shop_pass") == SHOP_PASS


# --------------------------------------------------------------------------- wrong key


async def test_a_wrong_key_is_an_error_never_garbage(
    services: Services, svc: Services, api: httpx.AsyncClient
) -> None:
    gmo, _ = await seeded(api)
    before = await rows(svc)
    other = await keyed(services, KEY_B)
    try:
        account = await stored(other, gmo["id"])
        with pytest.raises(SecretUndecryptable) as caught:
            connector_settings(account, other.keyring)
        assert caught.value.code == "secret_undecryptable"
        assert SHOP_PASS not in f"{caught.value.message} {caught.value.detail}"
        key = await new_api_key(other, "admin")
        transport = httpx.ASGITransport(app=app_for(other))
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(
            transport=transport, base_url=BASE_URL, headers=headers
        ) as wrong:
            r = await wrong.patch(f"{ACCOUNTS}/{gmo['id']}", json={"values": {"shop_id": "x1"}})
            assert (r.status_code, r.json()["code"]) == (500, "secret_undecryptable")
            assert f"鍵ID {key_id(parse_key(KEY_A))}" in r.json()["message"]
            r = await wrong.get(f"{ACCOUNTS}/{gmo['id']}")  # masking needs no key
            assert r.status_code == 200
            assert r.json()["values"]["shop_password"] == "********"
        after = await rows(svc)
        assert after[0] == before[0]
        assert len(after[1]) == len(before[1])
    finally:
        await other.close()


# ---------------------------------------------------------------------------- rotation


def kessai(url: str, *args: str, **env: str) -> Result:
    return runner.invoke(cli, list(args), env={"KESSAI_DATABASE_URL": url, **env})


async def run_cli(url: str, *args: str, **env: str) -> Result:
    # The command runs its own event loop: give it a thread of its own.
    return await asyncio.to_thread(kessai, url, *args, **env)


def token_keys(account_rows: list[dict[str, Any]]) -> set[str]:
    return {t.split(":")[1] for a in account_rows for t in a["secrets"].values()}


async def test_rotation_reseals_everything_under_the_new_key(
    services: Services, svc: Services, api: httpx.AsyncClient
) -> None:
    gmo, private = await seeded(api)
    accounts, history = await rows(svc)
    assert token_keys(accounts) == {key_id(parse_key(KEY_A))}
    sealed = sum(len(a["secrets"]) for a in accounts)
    url = svc.settings.database_url

    result = await run_cli(
        url, "secrets", "rotate", KESSAI_SECRET_KEY=KEY_B, KESSAI_SECRET_KEY_PREVIOUS=KEY_A
    )
    assert result.exit_code == 0, result.output
    assert f"{sealed}件の秘密情報を新しいマスターキー (鍵ID {key_id(parse_key(KEY_B))})" in (
        result.stdout
    )
    rotated, history_after = await rows(svc)
    assert token_keys(rotated) == {key_id(parse_key(KEY_B))}
    assert history_after == history  # rotation is not a change of any value

    new_only = await keyed(services, KEY_B)
    old_only = await keyed(services, KEY_A)
    try:
        settings = connector_settings(await stored(new_only, gmo["id"]), new_only.keyring)
        assert (settings["shop_pass"], settings["sftp_password"]) == (SHOP_PASS, SFTP_PASS)
        paygent = next(a for a in rotated if a["integration"] == "paygent")
        assert connector_settings(await stored(new_only, paygent["id"]), new_only.keyring)[
            "private_key"
        ] == (private)
        with pytest.raises(SecretUndecryptable):
            connector_settings(await stored(old_only, gmo["id"]), old_only.keyring)
    finally:
        await new_only.close()
        await old_only.close()

    again = await run_cli(
        url, "secrets", "rotate", KESSAI_SECRET_KEY=KEY_B, KESSAI_SECRET_KEY_PREVIOUS=KEY_A
    )
    assert again.exit_code == 0, again.output
    assert "0件の秘密情報" in again.stdout
    assert f"既に新しい鍵で暗号化済み {sealed}件" in again.stdout
    assert (await rows(svc))[0] == rotated


async def test_rotation_with_a_wrong_old_key_changes_nothing(
    svc: Services, api: httpx.AsyncClient
) -> None:
    await seeded(api)
    before = await rows(svc)
    result = await run_cli(
        svc.settings.database_url,
        "secrets",
        "rotate",
        KESSAI_SECRET_KEY=KEY_B,
        KESSAI_SECRET_KEY_PREVIOUS=KEY_C,
    )
    assert result.exit_code == 2
    assert "マスターキーの切り替えを中止しました (何も変更していません)" in result.stderr
    assert "Traceback" not in result.output
    assert await rows(svc) == before


async def test_rotation_says_which_key_is_missing(svc: Services) -> None:
    url = svc.settings.database_url
    result = await run_cli(url, "secrets", "rotate", KESSAI_SECRET_KEY=KEY_B)
    assert result.exit_code == 2
    assert "KESSAI_SECRET_KEY_PREVIOUS" in result.stderr
    result = await run_cli(url, "secrets", "rotate", KESSAI_SECRET_KEY_PREVIOUS=KEY_A)
    assert result.exit_code == 2
    assert "新しいマスターキーを KESSAI_SECRET_KEY" in result.stderr
    result = await run_cli(
        url, "secrets", "rotate", KESSAI_SECRET_KEY="short", KESSAI_SECRET_KEY_PREVIOUS=KEY_A
    )
    assert result.exit_code == 2
    assert "KESSAI_SECRET_KEY のマスターキー" in result.stderr


def test_generate_key_prints_a_fresh_usable_key() -> None:
    first = runner.invoke(cli, ["secrets", "generate-key"])
    second = runner.invoke(cli, ["secrets", "generate-key"])
    assert first.exit_code == 0
    key = first.stdout.strip()
    assert len(parse_key(key)) == 32
    assert key != second.stdout.strip()
    box = SecretBox.from_text(key)
    assert Keyring(box).decrypt(box.encrypt("x", context="c"), context="c") == b"x"


async def test_the_server_keeps_working_with_new_and_previous_key_during_rotation(
    services: Services, svc: Services, api: httpx.AsyncClient
) -> None:
    gmo = await create(api, "gmo_pg", GMO_PG)
    both = await keyed(services, KEY_B, KEY_A)  # new key sealing, old key still opening
    try:
        account = await service.update_account(
            both, gmo["id"], {"shop_password": "After-Rotate-1"}, actor="admin"
        )
        settings = connector_settings(account, both.keyring)
        assert (settings["shop_pass"], settings["site_pass"]) == ("After-Rotate-1", SITE_PASS)
        keys = {t.split(":")[1] for t in account.secrets.values()}
        assert keys == {key_id(parse_key(KEY_A)), key_id(parse_key(KEY_B))}
    finally:
        await both.close()
    assert "After-Rotate-1" not in json.dumps((await stored(svc, gmo["id"])).settings)


async def test_accounts_made_before_the_catalog_are_listed_without_values(
    svc: Services, api: httpx.AsyncClient
) -> None:
    now = svc.clock.now()
    async with transaction(svc.sessions) as s:
        legacy = ProviderAccount(
            provider="gmo_pg",
            name="旧アカウント",
            connector="fake",
            settings={"shop_pass": "Legacy-Pass-1"},
            created_at=now,
            updated_at=now,
        )
        s.add(legacy)
    r = await api.get(f"{ACCOUNTS}/{legacy.id}")
    assert r.status_code == 200
    assert r.json()["values"] == {"shop_pass": "********"}
    assert "Legacy-Pass-1" not in r.text
    r = await api.patch(f"{ACCOUNTS}/{legacy.id}", json={"values": {}})
    assert (r.status_code, r.json()["code"]) == (409, "account_without_integration")
