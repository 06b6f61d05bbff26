"""自動化設定, メールテンプレート, メール設定 and Webhook screens as an administrator uses them;
an operator may not open them."""

import html

import httpx
import pytest

from kessai.automation import service as automation
from kessai.core.db import transaction
from kessai.services import Services
from kessai.users.service import Role
from tests.admin.conftest import add_user, csrf_of, login
from tests.factories import act, make_method, make_order


@pytest.fixture
async def admin(client: httpx.AsyncClient, services: Services) -> httpx.AsyncClient:
    await add_user(services, "admin@example.jp", Role.ADMIN)
    await login(client, "admin@example.jp")
    return client


async def test_add_a_rule_toggle_it_and_dry_run(
    admin: httpx.AsyncClient, services: Services
) -> None:
    token = await csrf_of(admin, "/admin/settings/automation/new")
    bad = await admin.post(
        "/admin/settings/automation/new",
        data={"csrf_token": token, "name": "", "event_kind": "payment_status", "event_status": ""},
    )
    assert bad.status_code == 422
    assert "には状況を指定してください" in html.unescape(bad.text)
    assert "「ルール名」の入力が正しくありません" in html.unescape(bad.text)
    r = await admin.post(
        "/admin/settings/automation/new",
        data={
            "csrf_token": token,
            "name": "仮売上失敗のお知らせ",
            "enabled": "on",
            "event_kind": "payment_status",
            "event_status": "authorize_failed",
            "amount_min": "1000",
            "action_kind_0": "set_handling_status",
            "action_status_0": "payment_error",
            "action_kind_1": "mail_customer",
            "action_template_1": "automation.customer",
        },
    )
    assert r.status_code == 303, r.text
    page = await admin.get("/admin/settings/automation")
    text = html.unescape(page.text)
    assert "仮売上失敗のお知らせ" in text
    assert "決済状況が「仮売上失敗」になったとき" in text
    assert "対応状況を変更、顧客にメールを送信" in text
    async with transaction(services.sessions) as s:
        [rule] = await automation.list_rules(s)
    assert rule.conditions == {"amount_min": 1000}

    method = await make_method(services)
    order_id = await make_order(services, method, amount=5000)
    await services.payments.run(order_id, act("authorize", scenario="decline"))
    dry = await admin.get(f"/admin/settings/automation/{rule.id}/dry-run")
    assert dry.status_code == 200
    assert "5,000円" in dry.text

    r = await admin.post(f"/admin/settings/automation/{rule.id}/toggle", data={"csrf_token": token})
    assert r.status_code == 303
    async with transaction(services.sessions) as s:
        assert (await automation.get_rule(s, rule.id)).enabled is False


async def test_edit_a_template_with_preview_and_variables(admin: httpx.AsyncClient) -> None:
    code = "payment_method_change_request.customer"
    page = await admin.get(f"/admin/settings/mail-templates/{code}")
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert "{{ order_number }}" in text
    assert "受注番号" in text
    token = await csrf_of(admin, f"/admin/settings/mail-templates/{code}")
    preview = await admin.post(
        f"/admin/settings/mail-templates/{code}/preview",
        data={
            "csrf_token": token,
            "subject": "件名 {{ order_number }}",
            "body": "{{ customer_name }} 様",
        },
        headers={"HX-Request": "true"},
    )
    assert "件名 20261122000012" in preview.text
    assert "山田 太郎 様" in preview.text
    bad = await admin.post(
        f"/admin/settings/mail-templates/{code}",
        data={"csrf_token": token, "subject": "件名", "body": "{{ masked_number }}"},
    )
    assert bad.status_code == 422
    assert "使えない変数" in html.unescape(bad.text)
    saved = await admin.post(
        f"/admin/settings/mail-templates/{code}",
        data={
            "csrf_token": token,
            "subject": "お支払いのお願い",
            "body": "{{ customer_name }} 様\n",
        },
    )
    assert saved.status_code == 303
    listed = html.unescape((await admin.get("/admin/settings/mail-templates")).text)
    assert "編集済み" in listed


async def test_mail_settings_never_show_the_password(admin: httpx.AsyncClient) -> None:
    token = await csrf_of(admin, "/admin/settings/mail")
    r = await admin.post(
        "/admin/settings/mail",
        data={
            "csrf_token": token,
            "smtp_host": "mail.example.jp",
            "smtp_port": "587",
            "smtp_starttls": "on",
            "smtp_username": "shop",
            "smtp_password": "pa55-word",
        },
    )
    assert r.status_code == 303, r.text
    page = await admin.get("/admin/settings/mail")
    assert "mail.example.jp" in page.text
    assert "pa55-word" not in page.text
    assert "設定済み" in page.text
    bad = await admin.post(
        "/admin/settings/mail", data={"csrf_token": token, "smtp_host": "a b", "smtp_port": "x"}
    )
    assert bad.status_code == 422
    assert "ポート番号" in html.unescape(bad.text)


async def test_webhook_endpoint_secret_is_shown_once(admin: httpx.AsyncClient) -> None:
    token = await csrf_of(admin, "/admin/settings/webhooks")
    r = await admin.post(
        "/admin/settings/webhooks",
        data={
            "csrf_token": token,
            "url": "https://shop.example.jp/hooks",
            "event_types": ["payment.*"],
        },
    )
    assert r.status_code == 200
    assert "whsec_" in r.text
    again = await admin.get("/admin/settings/webhooks")
    assert "https://shop.example.jp/hooks" in again.text
    assert "whsec_" not in again.text
    bad = await admin.post("/admin/settings/webhooks", data={"csrf_token": token, "url": "ftp://x"})
    assert bad.status_code == 422


async def test_operators_cannot_open_the_settings(
    client: httpx.AsyncClient, services: Services
) -> None:
    await add_user(services, "op@example.jp", Role.OPERATOR)
    await login(client, "op@example.jp")
    for path in (
        "/admin/settings/automation",
        "/admin/settings/mail-templates",
        "/admin/settings/mail",
        "/admin/settings/webhooks",
    ):
        assert (await client.get(path)).status_code == 403, path


async def test_a_deadline_rule_from_the_form_and_its_dry_run(
    admin: httpx.AsyncClient, services: Services
) -> None:
    from datetime import timedelta

    paypay = await make_method(services, method_type="paypay")
    order_id = await make_order(services, paypay, number="PAYPAY-9", amount=4400)
    await services.payments.run(order_id, act("authorize"))
    services.clock.advance(timedelta(days=26))  # 30日 from 決済: 4 days left
    await login(admin, "admin@example.jp")  # the session ended with the days that passed
    token = await csrf_of(admin, "/admin/settings/automation/new")
    base = {
        "csrf_token": token,
        "name": "取消期限のお知らせ",
        "enabled": "on",
        "event_kind": "deadline_closing",
        "event_deadline": "cancel",
        "action_kind_0": "mail_shop",
        "action_template_0": "automation.shop",
    }
    bad = await admin.post("/admin/settings/automation/new", data=base | {"event_days": "0"})
    assert bad.status_code == 422
    assert "日数は1〜60の整数で指定してください" in html.unescape(bad.text)
    r = await admin.post("/admin/settings/automation/new", data=base | {"event_days": "5"})
    assert r.status_code == 303, r.text
    text = html.unescape((await admin.get("/admin/settings/automation")).text)
    assert "取消期限が5日以内になったとき" in text
    async with transaction(services.sessions) as s:
        [rule] = await automation.list_rules(s)
    form = html.unescape((await admin.get(f"/admin/settings/automation/{rule.id}")).text)
    assert 'value="5"' in form
    dry = await admin.get(f"/admin/settings/automation/{rule.id}/dry-run")
    assert "PAYPAY-9" in dry.text
    assert "4,400円" in dry.text
    assert "<th>期限</th>" in dry.text


async def test_a_card_rule_may_mail_the_card_template_an_order_rule_may_not(
    admin: httpx.AsyncClient,
) -> None:
    token = await csrf_of(admin, "/admin/settings/automation/new")
    page = html.unescape((await admin.get("/admin/settings/automation/new")).text)
    assert "決済方法変更のご案内(洗替判定結果NG) (顧客宛)" in page
    mail = {"action_kind_0": "mail_customer", "action_template_0": "card_updater_ng.customer"}
    wrong = await admin.post(
        "/admin/settings/automation/new",
        data={
            "csrf_token": token,
            "name": "注文に洗替のメール",
            "event_kind": "payment_status",
            "event_status": "authorize_failed",
        }
        | mail,
    )
    assert wrong.status_code == 422
    assert (
        "メールテンプレート「card_updater_ng.customer」はイベント「決済状況が変わったとき」では使えません"
        in html.unescape(wrong.text)
    )
    r = await admin.post(
        "/admin/settings/automation/new",
        data={"csrf_token": token, "name": "洗替NGのご案内", "event_kind": "card_updater_ng"}
        | mail,
    )
    assert r.status_code == 303, r.text
