"""外部連携アカウント over REST: the catalog, create/list/read/update with masking, every
field error at once with nothing changed, secrets kept or replaced, 変更履歴 without values,
the connection-test hook and Idempotency-Key.

The shared helpers (a Services with a known master key, an API client, table snapshots) are
imported by test_account_secrets.py.
"""

import base64
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from kessai.accounts import service
from kessai.accounts.account_endpoints import router
from kessai.accounts.integrations import INTEGRATIONS, MASK
from kessai.accounts.models import ProviderAccount
from kessai.accounts.secrets import connector_settings
from kessai.core.db import transaction
from kessai.history.models import ChangeRecord
from kessai.providers.fake.connector import FakeConnector
from kessai.services import Services, build_services
from kessai.web.app import create_app
from tests.accounts.pki import cert_pem, certificate, key_pem, new_key
from tests.conftest import FakeRegistry
from tests.web.conftest import BASE_URL
from tests.web.conftest import new_key as new_api_key

KEY_A = base64.b64encode(bytes(range(32))).decode()
KEY_B = base64.b64encode(bytes(range(100, 132))).decode()

SHOP_PASS = "Gm0-ShopPass-9xQ"
SITE_PASS = "Gm0-SitePass-4kW"
SFTP_PASS = "Sftp-Pa55-7Zr"
GMO_PG = {
    "shop_id": "tshop00012345",
    "shop_password": SHOP_PASS,
    "site_id": "tsite00012345",
    "site_password": SITE_PASS,
    "sftp_host": "192.0.2.10",
    "sftp_login_id": "sftpuser",
    "sftp_password": SFTP_PASS,
    "security_code": True,
    "auto_card_update": True,
}
PAYGENT_PASS = "Paygent-Conn-Pass-31"
NP_REALTIME = {"shop_code": "akt0123456", "sp_code": "SP0001", "terminal_id": "T01"}
ACCOUNTS = "/api/v1/provider-accounts"


async def keyed(services: Services, key: str = KEY_A, *previous: str) -> Services:
    """The fixture's (emptied) database served with a known master key."""
    registry = FakeRegistry()
    registry.register("fake", lambda account_id, settings: FakeConnector(account_id, settings))
    settings = replace(services.settings, secret_key=key, previous_secret_keys=previous)
    return build_services(settings, registry)


@pytest.fixture
async def svc(services: Services) -> AsyncIterator[Services]:
    own = await keyed(services)
    yield own
    await own.close()


def app_for(services: Services) -> Any:
    app = create_app(services)
    if not any(getattr(r, "path", "") == ACCOUNTS for r in app.routes):
        app.include_router(router)  # until web/app.py includes it
    return app


@pytest.fixture
async def api(svc: Services) -> AsyncIterator[httpx.AsyncClient]:
    key = await new_api_key(svc)
    transport = httpx.ASGITransport(app=app_for(svc))
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL, headers=headers) as c:
        yield c


def upload(data: bytes, filename: str, **extra: str) -> dict[str, str]:
    return {"filename": filename, "content_base64": base64.b64encode(data).decode(), **extra}


async def create(api: httpx.AsyncClient, integration: str, values: Mapping[str, Any]) -> Any:
    r = await api.post(
        ACCOUNTS, json={"integration": integration, "name": f"{integration} 本番", "values": values}
    )
    assert r.status_code == 201, r.text
    return r.json()


async def rows(services: Services) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every provider_accounts and change_history row, every column."""
    async with transaction(services.sessions) as s:
        accounts = (
            await s.scalars(
                select(ProviderAccount)
                .order_by(ProviderAccount.id)
                .execution_options(populate_existing=True)
            )
        ).all()
        changes = (await s.scalars(select(ChangeRecord).order_by(ChangeRecord.id))).all()
    return (
        [
            {c.key: getattr(a, c.key) for c in ProviderAccount.__mapper__.column_attrs}
            for a in accounts
        ],
        [{c.key: getattr(r, c.key) for c in ChangeRecord.__mapper__.column_attrs} for r in changes],
    )


async def stored(services: Services, account_id: int) -> ProviderAccount:
    async with transaction(services.sessions) as s:
        account = await s.get(ProviderAccount, account_id, populate_existing=True)
    assert account is not None
    return account


def paygent_values() -> tuple[dict[str, Any], bytes, bytes, bytes]:
    key = new_key()
    private = key_pem(key)
    client = cert_pem(certificate(key, name="shop client"))
    ca = cert_pem(certificate(new_key(), name="paygent ca"))
    values = {
        "private_key": upload(private, "client.key"),
        "client_certificate": upload(client, "client.pem"),
        "ca_certificate": upload(ca, "ca.pem"),
        "connection_id": "test_connect",
        "connection_password": PAYGENT_PASS,
        "merchant_id": "12345",
        "token_key": "tk_public",
    }
    return values, private, client, ca


# --------------------------------------------------------------------------------- catalog


async def test_catalog_lists_all_29_integrations_with_fields(api: httpx.AsyncClient) -> None:
    r = await api.get("/api/v1/integrations")
    assert r.status_code == 200
    catalog = {item["code"]: item for item in r.json()}
    # The seed's 29, then the providers kessai connects to directly (30 KOMOJU, 31 PayPay).
    assert [item["number"] for item in r.json()] == list(range(1, 32))
    assert set(catalog) == {spec.code for spec in INTEGRATIONS}
    gmo = catalog["gmo_pg"]
    assert gmo["name"] == "GMO PG"
    fields = {f["key"]: f for s in gmo["sections"] for f in s["fields"]}
    assert fields["shop_password"]["secret"] is True
    assert fields["shop_password"]["kind"] == "secret"
    assert fields["shop_id"] == fields["shop_id"] | {
        "label": "ショップ ID",
        "required": True,
        "secret": False,
    }
    assert fields["security_code"]["default"] is False
    assert fields["epos_partner_code"]["required_if"] == ["epos_enabled"]
    assert set(gmo["secret_fields"]) == {"shop_password", "site_password", "sftp_password"}
    paidy = {f["key"]: f for s in catalog["paidy"]["sections"] for f in s["fields"]}
    assert [c["label"] for c in paidy["modal_page"]["choices"]] == ["入力ページ", "確認ページ"]
    paygent = {f["key"]: f for s in catalog["paygent"]["sections"] for f in s["fields"]}
    assert paygent["private_key"]["file_format"] == "pem_private_key"
    assert catalog["score"]["sections"][0]["fields"][0]["default"] == (
        "collect-operation.nissen.co.jp"
    )


async def test_catalog_needs_an_api_key(svc: Services) -> None:
    transport = httpx.ASGITransport(app=app_for(svc))
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as anonymous:
        assert (await anonymous.get("/api/v1/integrations")).status_code == 401
        assert (await anonymous.get(ACCOUNTS)).status_code == 401


# ------------------------------------------------------------------------- create and read


async def test_gmo_pg_account_is_saved_and_shown_masked(
    svc: Services, api: httpx.AsyncClient
) -> None:
    created = await create(api, "gmo_pg", GMO_PG)
    assert created["integration"] == "gmo_pg"
    assert created["provider"] == "gmo_pg"
    assert created["connector"] == "gmo_pg"
    values = created["values"]
    assert values["shop_id"] == "tshop00012345"
    assert values["shop_password"] == MASK
    assert values["site_password"] == MASK
    assert values["sftp_password"] == MASK
    assert values["auto_card_update"] is True
    assert values["epos_enabled"] is False
    assert created["missing"] == []
    assert created["complete"] is True
    for body in (
        (await api.get(ACCOUNTS)).text,
        (await api.get(f"{ACCOUNTS}/{created['id']}")).text,
    ):
        assert "tshop00012345" in body
        assert SHOP_PASS not in body
        assert SITE_PASS not in body
        assert SFTP_PASS not in body
    listed = (await api.get(ACCOUNTS)).json()
    assert [a["id"] for a in listed] == [created["id"]]
    assert listed[0] == (await api.get(f"{ACCOUNTS}/{created['id']}")).json()
    settings = connector_settings(await stored(svc, created["id"]), svc.keyring)
    assert settings["shop_password"] == SHOP_PASS
    assert settings["sftp_password"] == SFTP_PASS


async def test_an_incomplete_account_is_saved_and_says_what_is_missing(
    api: httpx.AsyncClient,
) -> None:
    created = await create(api, "gmo_pg", {"shop_id": "tshop00012345"})
    assert created["values"]["shop_password"] is None
    assert created["missing"] == ["ショップパスワード", "サイト ID", "サイトパスワード"]
    assert created["complete"] is False


async def test_paygent_files_are_parsed_sealed_and_described(
    svc: Services, api: httpx.AsyncClient
) -> None:
    values, private, client, ca = paygent_values()
    created = await create(api, "paygent", values)
    assert created["values"]["private_key"] == MASK
    assert created["values"]["connection_password"] == MASK
    assert created["values"]["token_key"] == "tk_public"  # public by design
    assert created["files"]["client_certificate"]["filename"] == "client.pem"
    assert created["files"]["client_certificate"]["subject"] == "CN=shop client"
    assert created["files"]["client_certificate"]["not_after"].startswith("2030-01-01")
    assert created["files"]["private_key"]["size"] == len(private)
    assert created["missing"] == []
    body = (await api.get(f"{ACCOUNTS}/{created['id']}")).text
    assert b"PRIVATE KEY" not in body.encode()
    assert base64.b64encode(private).decode()[:40] not in body
    settings = connector_settings(await stored(svc, created["id"]), svc.keyring)
    assert (settings["private_key"], settings["client_certificate"]) == (private, client)
    assert settings["ca_certificate"] == ca
    assert settings["connection_password"] == PAYGENT_PASS


async def test_paygent_certificate_must_match_the_key(api: httpx.AsyncClient) -> None:
    values, *_ = paygent_values()
    other = cert_pem(certificate(new_key(), name="someone else"))
    values["client_certificate"] = upload(other, "other.pem")
    r = await api.post(ACCOUNTS, json={"integration": "paygent", "name": "P", "values": values})
    assert r.status_code == 422
    assert [e["code"] for e in r.json()["detail"]["errors"]] == ["key_certificate_mismatch"]


async def test_np_realtime_needs_an_akt_code(api: httpx.AsyncClient) -> None:
    created = await create(api, "np_atobarai_realtime", NP_REALTIME)
    assert created["values"] == {
        **NP_REALTIME,
        "sp_code": "********",  # NP's API password: never shown again
        "endpoint_url": None,
        "carrier_codes": None,
    }
    assert created["provider"] == "net_protections"
    assert created["connector"] == "np_atobarai"
    r = await api.post(
        ACCOUNTS,
        json={
            "integration": "np_atobarai_realtime",
            "name": "NP",
            "values": {**NP_REALTIME, "shop_code": "abc0123456"},
        },
    )
    assert r.status_code == 422
    (error,) = r.json()["detail"]["errors"]
    assert (error["field"], error["label"], error["code"]) == (
        "shop_code",
        "SHOP_CODE",
        "not_akt_code",
    )
    assert "akt" in error["message"]


async def test_unknown_account_and_integration(api: httpx.AsyncClient) -> None:
    r = await api.get(f"{ACCOUNTS}/999")
    assert (r.status_code, r.json()["code"]) == (404, "account_not_found")
    r = await api.patch(f"{ACCOUNTS}/999", json={"values": {}})
    assert (r.status_code, r.json()["code"]) == (404, "account_not_found")
    r = await api.get(f"{ACCOUNTS}/999/change-history")
    assert (r.status_code, r.json()["code"]) == (404, "account_not_found")
    r = await api.post(ACCOUNTS, json={"integration": "nope", "name": "x", "values": {}})
    assert (r.status_code, r.json()["code"]) == (422, "unknown_integration")


# ------------------------------------------------------------------- refused saves


async def test_invalid_create_lists_every_error_and_changes_nothing(
    svc: Services, api: httpx.AsyncClient
) -> None:
    await create(api, "np_atobarai_realtime", NP_REALTIME)
    before = await rows(svc)
    r = await api.post(
        ACCOUNTS,
        json={
            "integration": "gmo_pg",
            "name": "  ",
            "values": {
                **GMO_PG,
                "sftp_host": "sftp.example.jp",  # not an IP address
                "auto_card_update": False,
                "epos_enabled": True,  # needs 自動洗替 and エポス提携店コード
                "epos_banner": {"filename": "b.png", "content_base64": "***"},
                "colour": "red",
            },
        },
    )
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "invalid_account_settings"
    found = {(e["field"], e["code"]) for e in body["detail"]["errors"]}
    assert found == {
        ("name", "required"),
        ("epos_banner", "invalid_base64"),
        ("colour", "unknown_field"),
        ("sftp_host", "invalid_ip_address"),
        ("epos_partner_code", "required"),
        ("epos_enabled", "auto_card_update_required"),
    }
    assert body["message"] == "GMO PGの設定に6件の誤りがあります"
    assert all(e["label"] and e["message"] for e in body["detail"]["errors"])
    for secret in (SHOP_PASS, SITE_PASS, SFTP_PASS):
        assert secret not in r.text
    assert await rows(svc) == before


async def test_invalid_update_changes_nothing(svc: Services, api: httpx.AsyncClient) -> None:
    created = await create(api, "gmo_pg", GMO_PG)
    before = await rows(svc)
    r = await api.patch(
        f"{ACCOUNTS}/{created['id']}",
        json={
            "name": "",
            "values": {"shop_password": "New-Pass-1", "sftp_host": "999.1.1.1"},
            "clear": ["sftp_login_id", "nonsense"],
        },
    )
    assert r.status_code == 422
    found = {(e["field"], e["code"]) for e in r.json()["detail"]["errors"]}
    assert found == {
        ("name", "required"),
        ("nonsense", "unknown_field"),
        ("sftp_host", "invalid_ip_address"),
        ("sftp_login_id", "required"),  # 自動洗替 is on: SFTP needed
    }
    assert "New-Pass-1" not in r.text
    assert await rows(svc) == before


async def test_a_save_that_breaks_another_integration_is_refused(
    svc: Services, api: httpx.AsyncClient
) -> None:
    remise = {"enabled": True, "port": 8080}
    r = await api.post(
        ACCOUNTS, json={"integration": "remise_tenkey", "name": "R", "values": remise}
    )
    assert r.status_code == 422
    assert r.json()["detail"]["errors"][0]["code"] == "partner_account_required"
    gmo = await create(api, "gmo_pg", GMO_PG)
    await create(api, "remise_tenkey", remise)
    before = await rows(svc)
    # Emptying the only card gateway would leave ルミーズテンキーパッド without one.
    r = await api.patch(f"{ACCOUNTS}/{gmo['id']}", json={"clear": ["shop_password"]})
    assert r.status_code == 422
    (error,) = r.json()["detail"]["errors"]
    assert (error["integration"], error["code"]) == ("remise_tenkey", "partner_account_required")
    assert await rows(svc) == before


# --------------------------------------------------------------- updates keep or replace


async def test_secret_left_empty_is_kept_and_a_new_one_replaces_it(
    svc: Services, api: httpx.AsyncClient
) -> None:
    created = await create(api, "gmo_pg", GMO_PG)
    path = f"{ACCOUNTS}/{created['id']}"
    tokens = (await stored(svc, created["id"])).secrets
    r = await api.patch(path, json={"values": {"shop_password": "", "site_password": None}})
    assert r.status_code == 200, r.text
    assert r.json()["values"]["shop_password"] == MASK
    assert (await stored(svc, created["id"])).secrets == tokens  # not even re-sealed
    r = await api.patch(path, json={"values": {"shop_password": "Brand-New-Pass-2"}})
    assert r.status_code == 200
    assert r.json()["values"]["shop_password"] == MASK
    assert "Brand-New-Pass-2" not in r.text
    account = await stored(svc, created["id"])
    assert account.secrets["shop_password"] != tokens["shop_password"]
    assert account.secrets["site_password"] == tokens["site_password"]
    settings = connector_settings(account, svc.keyring)
    assert (settings["shop_password"], settings["site_password"]) == ("Brand-New-Pass-2", SITE_PASS)


async def test_update_changes_plain_fields_name_and_clears_a_secret(
    svc: Services, api: httpx.AsyncClient
) -> None:
    created = await create(api, "gmo_pg", GMO_PG)
    r = await api.patch(
        f"{ACCOUNTS}/{created['id']}",
        json={
            "name": "GMO PG (新)",
            "values": {"security_code": "無効", "auto_card_update": False},
            "clear": ["sftp_password"],
        },
    )
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["name"] == "GMO PG (新)"
    assert out["values"]["security_code"] is False
    assert out["values"]["sftp_password"] is None
    assert out["values"]["shop_id"] == "tshop00012345"  # left out: kept
    assert "sftp_password" not in (await stored(svc, created["id"])).secrets


async def test_a_changed_account_gets_a_new_connector(
    svc: Services, api: httpx.AsyncClient
) -> None:
    created = await create(api, "np_atobarai_realtime", NP_REALTIME)
    first = svc.registry.fake(created["id"])
    r = await api.patch(f"{ACCOUNTS}/{created['id']}", json={"values": {"terminal_id": "T02"}})
    assert r.status_code == 200
    assert svc.registry.fake(created["id"]) is not first


# ------------------------------------------------------------------------- 変更履歴


async def test_change_history_names_fields_and_never_a_secret(
    svc: Services, api: httpx.AsyncClient
) -> None:
    created = await create(api, "gmo_pg", GMO_PG)
    path = f"{ACCOUNTS}/{created['id']}"
    await api.patch(path, json={"values": {"shop_password": "Brand-New-Pass-2", "shop_id": "s2"}})
    await api.patch(path, json={"clear": ["sftp_password"], "values": {"auto_card_update": "off"}})
    r = await api.get(f"{path}/change-history")
    assert r.status_code == 200
    history = r.json()
    assert all(h["actor"] == "api:storefront" for h in history)
    created_rows = {h["field_label"]: (h["before"], h["after"]) for h in history[:11]}
    assert created_rows["アカウント名"] == (None, "gmo_pg 本番")
    assert created_rows["ショップ ID"] == (None, "tshop00012345")
    assert created_rows["ショップパスワード"] == ("(未設定)", "(変更されました)")
    assert created_rows["自動洗替"] == (None, "有効")
    later = [(h["field"], h["field_label"], h["before"], h["after"]) for h in history[11:]]
    assert later == [
        ("shop_id", "ショップ ID", "tshop00012345", "s2"),
        ("shop_password", "ショップパスワード", MASK, "(変更されました)"),
        ("sftp_password", "SFTP パスワード", MASK, "(未設定)"),
        ("auto_card_update", "自動洗替", "有効", "無効"),
    ]
    text = r.text + repr(await rows(svc))
    for secret in (SHOP_PASS, SITE_PASS, SFTP_PASS, "Brand-New-Pass-2"):
        assert secret not in text


async def test_logs_never_carry_a_secret(
    svc: Services, api: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # SQL statements and their parameters too
    values, private, *_ = paygent_values()
    await create(api, "paygent", values)
    created = await create(api, "gmo_pg", GMO_PG)
    await api.patch(f"{ACCOUNTS}/{created['id']}", json={"values": {"shop_password": "Nw-Pw-3"}})
    await api.post(ACCOUNTS, json={"integration": "gmo_pg", "name": "", "values": GMO_PG})
    logged = "\n".join(f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records)
    assert "外部連携アカウントを作成しました" in logged
    assert "shop_password" in logged  # the field is named …
    for secret in (SHOP_PASS, SITE_PASS, SFTP_PASS, PAYGENT_PASS, "Nw-Pw-3"):
        assert secret not in logged  # … never its value
    assert base64.b64encode(private).decode()[:40] not in logged
    assert "PRIVATE KEY" not in logged


# ---------------------------------------------------------- connection test, idempotency


async def test_connection_test_is_a_hook_per_integration(
    svc: Services, api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    gmo = await create(api, "gmo_pg", GMO_PG)
    np = await create(api, "np_atobarai_realtime", NP_REALTIME)
    seen: list[dict[str, Any]] = []

    async def login(
        _: Services, account: ProviderAccount, settings: dict[str, Any]
    ) -> service.ConnectionResult:
        seen.append(settings)
        ok = settings["shop_pass"] == SHOP_PASS
        return service.ConnectionResult(ok, "接続できました", {"account": account.id})

    monkeypatch.setitem(service.CONNECTION_TESTS, "gmo_pg", login)
    r = await api.post(f"{ACCOUNTS}/{gmo['id']}/test")
    assert r.status_code == 200
    assert r.json() == {"ok": True, "message": "接続できました", "detail": {"account": gmo["id"]}}
    assert seen[0]["shop_password"] == SHOP_PASS  # the hook gets the decrypted settings
    r = await api.post(f"{ACCOUNTS}/{np['id']}/test")
    assert r.json()["ok"] is False
    assert r.json()["message"] == "この連携は接続テストに対応していません"
    catalog = {i["code"]: i for i in (await api.get("/api/v1/integrations")).json()}
    assert catalog["gmo_pg"]["connection_test"] is True
    assert catalog["np_atobarai_realtime"]["connection_test"] is False


async def test_account_creation_is_replayed_with_the_same_idempotency_key(
    svc: Services, api: httpx.AsyncClient
) -> None:
    body = {"integration": "gmo_pg", "name": "GMO", "values": GMO_PG}
    first = await api.post(ACCOUNTS, json=body, headers={"Idempotency-Key": "acct-1"})
    again = await api.post(ACCOUNTS, json=body, headers={"Idempotency-Key": "acct-1"})
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert len((await api.get(ACCOUNTS)).json()) == 1
    assert SHOP_PASS not in repr(await rows(svc))
