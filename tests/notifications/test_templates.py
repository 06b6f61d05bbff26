"""Mail templates and メール設定 through the API: each template's variables, an edit that
the next mail uses (received by a real SMTP server), a preview, refusals that save nothing
(unknown variable, bad syntax, the sandbox), back to the default; the SMTP server set in the
settings, its password never shown again, a test mail."""

import httpx
import pytest

from kessai.notifications.delivery import deliver_pending
from kessai.services import Services
from tests.notifications.test_outbox import queue_request
from tests.smtp_server import Inbox
from tests.webhooks.conftest import api

__all__ = ["api"]

CODE = "payment_method_change_request.customer"


async def use_server(api: httpx.AsyncClient, smtp_url: str) -> None:
    host, port = smtp_url.split(":")
    r = await api.put("/api/v1/mail-settings", json={"smtp_host": host, "smtp_port": int(port)})
    assert r.status_code == 200, r.text
    assert r.json()["source"] == "settings"


async def test_each_template_lists_its_variables(api: httpx.AsyncClient) -> None:
    r = await api.get("/api/v1/mail-templates")
    assert r.status_code == 200, r.text
    by_code = {t["code"]: t for t in r.json()}
    request = by_code[CODE]
    assert request["name"] == "決済方法変更のご案内 (顧客宛)"
    assert request["edited"] is False
    assert request["subject"] == "【{{ shop_name }}】決済方法変更のご案内"
    names = {v["name"]: v["description"] for v in request["variables"]}
    assert names["order_number"] == "受注番号"
    assert "card_change_url" in names
    changed = by_code["payment_method_changed.customer"]
    assert changed["name"] == "決済方法変更完了通知 (顧客宛)"
    assert "masked_number" in {v["name"] for v in changed["variables"]}
    assert "order_number" not in {v["name"] for v in changed["variables"]}


async def test_an_edited_template_is_what_the_customer_receives(
    services: Services, api: httpx.AsyncClient, smtp: tuple[Inbox, str]
) -> None:
    inbox, url = smtp
    await use_server(api, url)
    r = await api.put(
        f"/api/v1/mail-templates/{CODE}",
        json={
            "subject": "【{{ shop_name }}】お支払い方法の変更のお願い ({{ order_number }})",
            "body": "{{ customer_name }} 様\n{{ amount | yen }} のお支払いができませんでした。\n",
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["edited"] is True
    await queue_request(services)
    assert (await deliver_pending(services)).sent == 2
    [mail] = inbox.to("taro@example.jp")
    assert mail.subject == "【青汁ショップ】お支払い方法の変更のお願い (20261122000012)"
    assert mail.body.splitlines() == ["山田 太郎 様", "5,500円 のお支払いができませんでした。"]
    # The shop's copy keeps its own (unedited) template.
    [shop] = inbox.to("orders@aojiru.example.jp")
    assert "決済方法変更のご案内を送信しました" in shop.subject

    r = await api.delete(f"/api/v1/mail-templates/{CODE}")
    assert r.status_code == 204
    back = (await api.get(f"/api/v1/mail-templates/{CODE}")).json()
    assert back["edited"] is False
    assert back["subject"] == "【{{ shop_name }}】決済方法変更のご案内"


async def test_preview_fills_in_sample_values(api: httpx.AsyncClient) -> None:
    r = await api.post(
        f"/api/v1/mail-templates/{CODE}/preview",
        json={"body": "{{ customer_name }} 様 {{ order_number }} {{ amount | yen }}"},
    )
    assert r.status_code == 200, r.text
    assert r.json() == {
        "subject": "【青汁ショップ】決済方法変更のご案内",
        "body": "山田 太郎 様 20261122000012 5,500円",
    }


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("{{ masked_number }}", "unknown_template_variable"),  # not this template's
        ("{% if %}", "invalid_template"),
        ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "invalid_template"),  # sandbox
    ],
)
async def test_bad_templates_are_refused_and_nothing_is_saved(
    api: httpx.AsyncClient, body: str, code: str
) -> None:
    r = await api.put(f"/api/v1/mail-templates/{CODE}", json={"subject": "件名", "body": body})
    assert r.status_code == 422, r.text
    assert r.json()["code"] == code
    assert r.json()["message"]
    assert (await api.get(f"/api/v1/mail-templates/{CODE}")).json()["edited"] is False
    missing = await api.get("/api/v1/mail-templates/nothing")
    assert missing.status_code == 404


async def test_smtp_settings_keep_the_password_hidden_and_send_a_test_mail(
    api: httpx.AsyncClient, smtp: tuple[Inbox, str]
) -> None:
    inbox, url = smtp
    before = (await api.get("/api/v1/mail-settings")).json()
    assert before["source"] == "none"
    host, port = url.split(":")
    r = await api.put(
        "/api/v1/mail-settings",
        json={
            "smtp_host": host,
            "smtp_port": int(port),
            "smtp_username": "kessai",
            "smtp_password": "s3cret-pass",
            "card_change_url": "https://shop.example.jp/mypage/card",
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["smtp_password_set"] is True
    assert "s3cret-pass" not in r.text
    assert "s3cret-pass" not in (await api.get("/api/v1/mail-settings")).text
    # The test server takes no login: the username is cleared to send the test.
    r = await api.put("/api/v1/mail-settings", json={"smtp_host": host, "smtp_port": int(port)})
    assert r.json()["smtp_password_set"] is True  # left as it was when not sent
    r = await api.post("/api/v1/mail-settings/test", json={"to": "ops@example.jp"})
    assert r.status_code == 200, r.text
    [mail] = inbox.to("ops@example.jp")
    assert mail.subject == "【kessai】テストメール"
    bad = await api.put("/api/v1/mail-settings", json={"smtp_host": "mail example", "smtp_port": 0})
    assert bad.status_code == 422
