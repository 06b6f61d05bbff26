"""設定 > 外部連携アカウント管理 over HTTP: forms rendered from the 29 schemas, errors next to
their fields, secrets never sent back, 変更履歴, 接続テスト, permissions."""

import html
import re
from collections.abc import Mapping
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from kessai.accounts import service as accounts
from kessai.accounts.integrations import INTEGRATIONS, integration, shown
from kessai.accounts.models import ProviderAccount
from kessai.core.db import transaction
from kessai.services import Services
from kessai.users.service import Role
from tests.accounts import pki
from tests.admin.conftest import add_user, csrf_of, login

ADMIN = "admin@example.jp"
SECRETS = {
    "v.shop_password": "ShopPass-Hidden-1",
    "v.site_password": "SitePass-Hidden-2",
}
GOOD_GMO = {
    "account_name": "GMO PG 本番",
    "v.shop_id": "tshop00012345",
    **SECRETS,
    "v.site_id": "tsite00012345",
    "v.security_code": "true",
    "v.epos_enabled": "false",
    "v.auto_card_update": "false",
}
PLACEHOLDER = "設定済み(変更する場合のみ入力)"


@pytest.fixture
async def admin(client: httpx.AsyncClient, services: Services) -> httpx.AsyncClient:
    await add_user(services, ADMIN)
    await login(client, ADMIN)
    return client


async def stored_accounts(services: Services) -> list[ProviderAccount]:
    async with transaction(services.sessions) as s:
        return list((await s.scalars(select(ProviderAccount))).all())


async def post(
    client: httpx.AsyncClient, path: str, data: Mapping[str, str], **kw: Any
) -> httpx.Response:
    token = await csrf_of(client)
    return await client.post(path, data={"csrf_token": token, **data}, **kw)


def row(page: str, key: str) -> str:
    """The HTML of one field's row (label, input, errors, help)."""
    found = re.search(rf'<div class="field[^"]*" id="row-{key}">(.*?)\n</div>', page, re.S)
    assert found, f"no row for {key}"
    return found.group(1)


def errors_in(fragment: str) -> list[str]:
    return [html.unescape(m) for m in re.findall(r'<p class="error"[^>]*>([^<]*)</p>', fragment)]


def input_tag(page: str, name: str) -> str:
    found = re.search(rf'<input[^>]*name="{re.escape(name)}"[^>]*>', page)
    assert found, f"no input {name}"
    return found.group(0)


async def test_every_integration_renders_its_schema(admin: httpx.AsyncClient) -> None:
    chooser = await admin.get("/admin/settings/accounts/new")
    assert chooser.status_code == 200
    for spec in INTEGRATIONS:
        assert f'href="/admin/settings/accounts/new/{spec.code}"' in chooser.text
        page = await admin.get(f"/admin/settings/accounts/new/{spec.code}")
        assert page.status_code == 200, spec.code
        text = html.unescape(page.text)
        for section in spec.sections:
            assert section.title in text, (spec.code, section.title)
        for spec_field in spec.fields:
            if not shown(spec_field, {}):
                assert f'id="row-{spec_field.key}"' not in page.text, spec_field.key
                continue
            fragment = html.unescape(row(page.text, spec_field.key))
            assert spec_field.label in fragment, (spec.code, spec_field.key)
            if spec_field.help:
                assert spec_field.help in fragment, (spec.code, spec_field.key)
            if spec_field.is_secret and spec_field.kind.value == "secret":
                assert 'type="password"' in fragment
            if spec_field.kind.value == "file":
                assert 'type="file"' in fragment
            for _, choice_label in spec_field.choices:
                assert choice_label in fragment


async def test_defaults_and_choices_come_from_the_schema(admin: httpx.AsyncClient) -> None:
    paypal = await admin.get("/admin/settings/accounts/new/paypal")
    sandbox = next(f for f in integration("paypal").fields if f.default is True)
    tags = re.findall(r'<input type="radio"[^>]*>', row(paypal.text, sandbox.key))
    checked = [t for t in tags if "checked" in t]
    assert sandbox.default is True  # PayPal Sandbox 環境 default ON
    assert len(checked) == 1
    assert 'value="true"' in checked[0]

    score = await admin.get("/admin/settings/accounts/new/score")
    host = next(f for f in integration("score").fields if f.default)
    assert f'value="{host.default}"' in row(score.text, host.key)

    paidy = await admin.get("/admin/settings/accounts/new/paidy")
    assert "入力ページ" in paidy.text
    assert "確認ページ" in paidy.text


async def test_a_refused_save_shows_every_error_by_its_field_and_saves_nothing(
    admin: httpx.AsyncClient, services: Services
) -> None:
    response = await post(
        admin,
        "/admin/settings/accounts/new/gmo_pg",
        {
            **GOOD_GMO,
            "account_name": "",
            "v.sftp_host": "999.1.1.1",
            "v.auto_card_update": "true",
        },
    )
    assert response.status_code == 422
    page = response.text
    assert "入力内容に4件の誤りがあります" in page
    assert errors_in(row(page, "sftp_host")) == [
        "SFTP 接続先 IP アドレスはIPアドレス(例: 192.0.2.10)を入力してください"
    ]
    assert errors_in(row(page, "sftp_login_id")) == [
        "自動洗替を有効にする場合はSFTP ログインIDを入力してください"
    ]
    assert errors_in(row(page, "sftp_password")) == [
        "自動洗替を有効にする場合はSFTP パスワードを入力してください"
    ]
    assert "アカウント名を入力してください" in page
    assert errors_in(row(page, "shop_id")) == []
    # What was typed stays, except secrets, which are never sent back.
    assert 'value="tshop00012345"' in input_tag(page, "v.shop_id")
    assert 'value="999.1.1.1"' in input_tag(page, "v.sftp_host")
    for secret in SECRETS.values():
        assert secret not in page
    assert "もう一度入力してください" in page
    assert await stored_accounts(services) == []


async def test_saved_secrets_never_come_back_to_the_browser(
    admin: httpx.AsyncClient, services: Services
) -> None:
    created = await post(admin, "/admin/settings/accounts/new/gmo_pg", GOOD_GMO)
    assert created.status_code == 303
    listing = await admin.get(created.headers["location"])
    assert "外部連携アカウントを登録しました" in listing.text
    assert "GMO PG 本番" in listing.text
    assert "設定済み" in listing.text
    assert "設定未完了" not in listing.text

    (account,) = await stored_accounts(services)
    page = (await admin.get(f"/admin/settings/accounts/{account.id}")).text
    for name in SECRETS:
        tag = input_tag(page, name)
        assert 'type="password"' in tag
        assert 'value=""' in tag
        assert f'placeholder="{PLACEHOLDER}"' in tag
    for secret in SECRETS.values():
        assert secret not in page
    # Unset secrets say nothing is there.
    assert f'placeholder="{PLACEHOLDER}"' not in input_tag(page, "v.sftp_password")
    assert 'value="tsite00012345"' in input_tag(page, "v.site_id")


async def test_an_empty_secret_keeps_the_stored_one_and_history_hides_values(
    admin: httpx.AsyncClient, services: Services
) -> None:
    await post(admin, "/admin/settings/accounts/new/gmo_pg", GOOD_GMO)
    (account,) = await stored_accounts(services)
    path = f"/admin/settings/accounts/{account.id}"
    form = {**GOOD_GMO, "v.shop_password": "", "v.site_password": "", "v.site_id": "tsite99"}
    assert (await post(admin, path, form)).status_code == 303
    form = {**form, "v.shop_password": "Brand-New-Pass-3"}
    saved = await post(admin, path, form)
    assert saved.status_code == 303
    page = (await admin.get(saved.headers["location"])).text
    assert "設定を保存しました" in page
    assert "Brand-New-Pass-3" not in page

    (account,) = await stored_accounts(services)
    plain = accounts.decrypted_secrets(account, services.keyring)
    assert plain["site_password"] == SECRETS["v.site_password"]  # kept: sent empty
    assert plain["shop_password"] == "Brand-New-Pass-3"

    history = html.unescape(page.split('id="history"', 1)[1])
    rows = re.findall(r"<tr>\s*(.*?)</tr>", history, re.S)
    cells = [
        [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)]
        for r in rows
        if "<td" in r
    ]
    by_label = [(c[1], c[2:-1]) for c in cells]
    assert by_label[0] == ("ショップパスワード", ["(変更されました)"])  # newest first
    assert ("サイト ID", ["tsite00012345", "tsite99"]) in by_label
    assert ("アカウント名", ["(未設定)", "GMO PG 本番"]) in by_label
    assert all(c[-1] == f"admin:{ADMIN}" for c in cells)
    for secret in (*SECRETS.values(), "Brand-New-Pass-3"):
        assert secret not in page


async def test_clearing_a_secret_makes_the_account_incomplete(
    admin: httpx.AsyncClient, services: Services
) -> None:
    await post(admin, "/admin/settings/accounts/new/gmo_pg", GOOD_GMO)
    (account,) = await stored_accounts(services)
    path = f"/admin/settings/accounts/{account.id}"
    form = {**GOOD_GMO, "v.site_password": "", "clear.site_password": "on"}
    assert (await post(admin, path, form)).status_code == 303
    page = (await admin.get(path)).text
    assert "(削除されました)" in page
    listing = (await admin.get("/admin/settings/accounts")).text
    assert "設定未完了" in listing
    assert "未入力: サイトパスワード" in listing


async def test_uploaded_files_are_checked_and_only_described(
    admin: httpx.AsyncClient, services: Services
) -> None:
    key = pki.new_key()
    other = pki.new_key()
    form = {
        "account_name": "Paygent",
        "v.connection_id": "conn1",
        "v.connection_password": "Conn-Pass-Hidden",
        "v.merchant_id": "m1",
        "v.token_key": "tk",
    }
    mismatched = {
        "v.private_key": ("client.key", pki.key_pem(key), "application/x-pem-file"),
        "v.client_certificate": ("client.crt", pki.cert_pem(pki.certificate(other))),
        "v.ca_certificate": ("ca.crt", pki.cert_pem(pki.certificate(other, name="CA"))),
    }
    refused = await post(admin, "/admin/settings/accounts/new/paygent", form, files=mismatched)
    assert refused.status_code == 422
    assert errors_in(row(refused.text, "client_certificate")) == [
        "クライアント証明書が秘密鍵と対応していません。同じ組の秘密鍵と証明書を選択してください"
    ]
    assert await stored_accounts(services) == []

    own = pki.cert_pem(pki.certificate(key))
    matching = {**mismatched, "v.client_certificate": ("client.crt", own)}
    saved = await post(admin, "/admin/settings/accounts/new/paygent", form, files=matching)
    assert saved.status_code == 303
    (account,) = await stored_accounts(services)
    page = (await admin.get(f"/admin/settings/accounts/{account.id}")).text
    assert "保存済みのファイル: client.key" in page
    assert "BEGIN" not in page  # no PEM content
    assert "Conn-Pass-Hidden" not in page


async def test_connection_test_answers_with_a_result_line(
    admin: httpx.AsyncClient, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []

    async def fake_check(
        _: Services, account: ProviderAccount, settings: dict[str, Any]
    ) -> accounts.ConnectionResult:
        calls.append(account.id)
        assert settings["shop_password"] == SECRETS["v.shop_password"]
        return accounts.ConnectionResult(True, "接続できました", {"checked": "shop"})

    monkeypatch.setitem(accounts.CONNECTION_TESTS, "gmo_pg", fake_check)
    await post(admin, "/admin/settings/accounts/new/gmo_pg", GOOD_GMO)
    (account,) = await stored_accounts(services)
    path = f"/admin/settings/accounts/{account.id}/test"
    token = await csrf_of(admin)

    forged = await admin.post(path, headers={"HX-Request": "true"})
    assert "不正なリクエスト" in forged.text or "画面の有効期限" in forged.text
    assert calls == []

    result = await admin.post(path, headers={"HX-Request": "true", "X-CSRF-Token": token})
    assert result.status_code == 200
    assert "接続成功" in result.text
    assert "接続できました" in result.text
    assert "<html" not in result.text  # a fragment for htmx to swap in
    assert calls == [account.id]


async def test_viewers_see_the_form_but_cannot_save(
    client: httpx.AsyncClient, services: Services
) -> None:
    await add_user(services, ADMIN)
    await login(client, ADMIN)
    await post(client, "/admin/settings/accounts/new/gmo_pg", GOOD_GMO)
    (account,) = await stored_accounts(services)
    client.cookies.clear()
    await add_user(services, "viewer@example.jp", role=Role.VIEWER)
    await login(client, "viewer@example.jp")
    page = (await client.get(f"/admin/settings/accounts/{account.id}")).text
    assert "<fieldset disabled>" in page
    assert '<button type="submit" class="primary">' not in page  # no 保存する button
    assert "hx-post" not in page  # 閲覧のみ may not run the 接続テスト either
    refused = await post(client, f"/admin/settings/accounts/{account.id}", GOOD_GMO)
    assert refused.status_code == 403


async def test_fields_shown_only_with_another_account(admin: httpx.AsyncClient) -> None:
    before = await admin.get("/admin/settings/accounts/new/remise_tenkey")
    assert 'id="row-holder_name"' not in before.text  # 名義人の固定値: Zeus only
    zeus = {"account_name": "Zeus"}
    for spec_field in integration("zeus").fields:
        if spec_field.required:
            zeus[f"v.{spec_field.key}"] = "12345"
    assert (await post(admin, "/admin/settings/accounts/new/zeus", zeus)).status_code == 303
    after = await admin.get("/admin/settings/accounts/new/remise_tenkey")
    assert 'id="row-holder_name"' in after.text


async def test_unknown_pages_are_japanese_html(admin: httpx.AsyncClient) -> None:
    missing = await admin.get("/admin/settings/accounts/999")
    assert missing.status_code == 404
    assert "text/html" in missing.headers["content-type"]
    assert "見つかりません" in missing.text
    unknown = await admin.get("/admin/settings/accounts/new/nope")
    assert unknown.status_code == 404
    assert "text/html" in unknown.headers["content-type"]
