"""自動化設定 as an operator meets it: the seed's example end to end (仮売上失敗 → 対応状況
決済エラー and a mail the SMTP server receives), a disabled rule doing nothing, rules that
would ping-pong stopping, a failing action retried and shown in ジョブ管理, the dry run,
the order of rules, and refused input."""

from typing import Any

import httpx

from kessai.core.db import transaction
from kessai.history.repository import list_changes
from kessai.services import Services
from kessai.webhooks.delivery import Round, Sender, pump
from tests.factories import act, make_method, make_order, view
from tests.smtp_server import Inbox
from tests.subscriptions.conftest import body, card_method, customer_with_card


async def run_everything(services: Services) -> None:
    """What the serving process does in the background: relay, run the jobs, again until
    nothing is left."""
    sender = Sender(services)
    try:
        for _ in range(20):
            done: Round = await pump(services, sender)
            await services.dispatcher.drain()
            if not done.busy:
                return
        raise AssertionError("the rules did not come to rest")
    finally:
        await sender.aclose()


async def setup_mail(api: httpx.AsyncClient, smtp_url: str) -> None:
    host, port = smtp_url.split(":")
    r = await api.put("/api/v1/mail-settings", json={"smtp_host": host, "smtp_port": int(port)})
    assert r.status_code == 200, r.text
    r = await api.patch(
        "/api/v1/shop/settings",
        json={
            "shop_name": "青汁ショップ",
            "mail_from": "shop@aojiru.example.jp",
            "notification_email": "orders@aojiru.example.jp",
        },
    )
    assert r.status_code == 200, r.text


async def add_rule(api: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    r = await api.post("/api/v1/automation-rules", json=body)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


async def automation_rows(services: Services, order_id: int) -> list[tuple[str, str | None]]:
    async with transaction(services.sessions) as s:
        rows = await list_changes(s, "order", order_id)
    return [(r.reason or "", r.after) for r in rows if r.field == "automation"]


async def declined_order(services: Services, amount: int = 5000) -> int:
    """An order whose オーソリ the provider declined (仮売上失敗)."""
    method = await make_method(services)
    order_id = await make_order(services, method, amount=amount)
    await services.payments.run(order_id, act("authorize", scenario="decline"))
    return order_id


SEED_RULE = {
    "name": "仮売上失敗のお知らせ",
    "event": {"kind": "payment_status", "status": "仮売上失敗"},
    "actions": [
        {"kind": "set_handling_status", "status": "決済エラー"},
        {"kind": "mail_customer", "template": "automation.customer"},
    ],
}


async def test_seed_example_declined_authorization_sets_payment_error_and_mails(
    services: Services, api: httpx.AsyncClient, smtp: tuple[Inbox, str]
) -> None:
    inbox, url = smtp
    await setup_mail(api, url)
    r = await api.put(
        "/api/v1/mail-templates/automation.customer",
        json={
            "subject": "【{{ shop_name }}】お支払いについてのお知らせ ({{ order_number }})",
            "body": "{{ customer_name }} 様\n\nご注文 {{ order_number }} ({{ amount | yen }}) の"
            "決済状況は「{{ payment_status_label }}」です。\n{{ card_change_url }}\n",
        },
    )
    assert r.status_code == 200, r.text
    rule = await add_rule(api, **SEED_RULE)
    method = await make_method(services)
    order_id = await make_order(services, method, amount=5500)
    await services.payments.run(order_id, act("authorize", scenario="decline"))
    await run_everything(services)

    order = await view(services, order_id)
    assert order.payment_status_label == "仮売上失敗"
    assert order.handling_status_label == "決済エラー"
    [mail] = inbox.to("taro@example.jp")
    assert mail.subject == f"【青汁ショップ】お支払いについてのお知らせ ({order.number})"
    assert "5,500円" in mail.body
    assert "「仮売上失敗」" in mail.body
    # 変更履歴: the rule's name on its execution and on the change it made.
    async with transaction(services.sessions) as s:
        rows = await list_changes(s, "order", order_id)
    handling = [r for r in rows if r.field == "handling_status" and r.after == "payment_error"]
    assert [r.reason for r in handling] == ["自動化設定「仮売上失敗のお知らせ」"]
    assert await automation_rows(services, order_id) == [
        ("自動化設定「仮売上失敗のお知らせ」", "対応状況を変更、顧客にメールを送信")
    ]
    jobs = (await api.get("/api/v1/jobs")).json()
    automation = (
        [j for j in jobs["jobs"] if j["kind"] == "automation"]
        if isinstance(jobs, dict)
        else [j for j in jobs if j["kind"] == "automation"]
    )
    assert [j["status"] for j in automation] == ["succeeded"]

    # 無効にしたルールは動かない
    r = await api.patch(f"/api/v1/automation-rules/{rule['id']}", json={"enabled": False})
    assert r.status_code == 200
    assert r.json()["enabled"] is False
    other = await make_order(services, method, amount=3300)
    await services.payments.run(other, act("authorize", scenario="decline"))
    await run_everything(services)
    assert (await view(services, other)).handling_status_label == "新規受付"
    assert len(inbox.to("taro@example.jp")) == 1
    assert await automation_rows(services, other) == []


async def test_rules_that_would_ping_pong_stop(services: Services, api: httpx.AsyncClient) -> None:
    first = await add_rule(
        api,
        name="失敗したら決済エラー",
        event={"kind": "payment_status", "status": "authorize_failed"},
        actions=[{"kind": "set_handling_status", "status": "payment_error"}],
    )
    ping = await add_rule(
        api,
        name="決済エラーなら発送準備中",
        event={"kind": "handling_status", "status": "payment_error"},
        actions=[{"kind": "set_handling_status", "status": "preparing"}],
    )
    pong = await add_rule(
        api,
        name="発送準備中なら決済エラー",
        event={"kind": "handling_status", "status": "preparing"},
        actions=[{"kind": "set_handling_status", "status": "payment_error"}],
    )
    order_id = await declined_order(services)
    await run_everything(services)
    # Each rule ran once: the ping's second turn would follow a change its own chain made.
    assert [reason for reason, _ in await automation_rows(services, order_id)] == [
        f"自動化設定「{first['name']}」",
        f"自動化設定「{ping['name']}」",
        f"自動化設定「{pong['name']}」",
    ]
    assert (await view(services, order_id)).handling_status_label == "決済エラー"


async def test_a_rule_on_jobs_never_runs_on_its_own_jobs(
    services: Services, api: httpx.AsyncClient
) -> None:
    await add_rule(
        api,
        name="失敗したらラベル",
        event={"kind": "payment_status", "status": "authorize_failed"},
        actions=[{"kind": "add_label", "label": "要確認"}],
    )
    await add_rule(
        api,
        name="ジョブ完了の通知",
        event={"kind": "job_succeeded"},
        actions=[{"kind": "webhook"}],
    )
    order_id = await declined_order(services)
    await run_everything(services)  # would never come to rest if the job rule fed itself
    jobs = (await api.get("/api/v1/jobs")).json()
    assert [j["status"] for j in jobs if j["kind"] == "automation"] == ["succeeded"]
    assert [r for r, _ in await automation_rows(services, order_id)] == [
        "自動化設定「失敗したらラベル」"
    ]


async def test_a_failing_action_is_retried_and_shown_in_jobs(
    services: Services, api: httpx.AsyncClient, smtp: tuple[Inbox, str]
) -> None:
    _, url = smtp
    await setup_mail(api, url)
    # Fine with the preview's values; fails on a one-off order (no 定期受注ID to add to).
    r = await api.post(
        "/api/v1/mail-templates",
        json={
            "name": "定期のお知らせ",
            "recipient": "customer",
            "subject": "定期 {{ subscription_id + 1 }}",
            "body": "本文\n",
        },
    )
    assert r.status_code == 201, r.text
    template = r.json()["code"]
    await add_rule(
        api,
        name="壊れたメール",
        event={"kind": "payment_status", "status": "authorize_failed"},
        actions=[{"kind": "mail_customer", "template": template}],
    )
    services.dispatcher.retry_pause = 0.01  # type: ignore[attr-defined]
    order_id = await declined_order(services)
    await run_everything(services)
    jobs = (await api.get("/api/v1/jobs")).json()
    [job] = [j for j in jobs if j["kind"] == "automation"]
    assert job["status"] == "failed"
    detail = (await api.get(f"/api/v1/jobs/{job['id']}")).json()
    logs = " ".join(entry["message"] for entry in detail["log"])
    assert logs.count("一時的なエラーのため再実行します") >= 2  # run again, then given up
    assert "処理中にエラーが発生しました: 内部エラーが発生しました (TypeError)" in logs
    assert await automation_rows(services, order_id) == []  # nothing half done


async def test_dry_run_lists_the_orders_a_rule_would_match_today(
    services: Services, api: httpx.AsyncClient
) -> None:
    method = await make_method(services)
    small = await make_order(services, method, amount=1000)
    large = await make_order(services, method, amount=20000)
    fine = await make_order(services, method, amount=20000)
    for order_id in (small, large):
        await services.payments.run(order_id, act("authorize", scenario="decline"))
    await services.payments.run(fine, act("authorize"))
    rule = await add_rule(
        api,
        name="高額の失敗",
        enabled=False,
        event={"kind": "payment_status", "status": "authorize_failed"},
        conditions={"amount_min": 10000, "payment_methods": [method.code]},
        actions=[{"kind": "add_label", "label": "要確認"}],
    )
    r = await api.get(f"/api/v1/automation-rules/{rule['id']}/dry-run")
    assert r.status_code == 200, r.text
    assert [o["id"] for o in r.json()["orders"]] == [large]
    await run_everything(services)  # a dry run changes nothing, and the rule is off
    assert await automation_rows(services, large) == []


async def test_rules_run_in_their_order_and_can_be_reordered(
    services: Services, api: httpx.AsyncClient
) -> None:
    a = await add_rule(
        api,
        name="A",
        event={"kind": "payment_status", "status": "authorize_failed"},
        actions=[{"kind": "add_label", "label": "A"}],
    )
    b = await add_rule(
        api,
        name="B",
        event={"kind": "payment_status", "status": "authorize_failed"},
        actions=[{"kind": "add_label", "label": "B"}],
    )
    r = await api.put("/api/v1/automation-rules/order", json={"rule_ids": [b["id"], a["id"]]})
    assert r.status_code == 200, r.text
    assert [x["name"] for x in r.json()] == ["B", "A"]
    order_id = await declined_order(services)
    await run_everything(services)
    assert [reason for reason, _ in await automation_rows(services, order_id)] == [
        "自動化設定「B」",
        "自動化設定「A」",
    ]
    bad = await api.put("/api/v1/automation-rules/order", json={"rule_ids": [a["id"]]})
    assert bad.status_code == 422
    assert bad.json()["code"] == "invalid_rule_order"


async def test_bad_rules_are_refused_in_japanese(api: httpx.AsyncClient) -> None:
    cases = [
        {"event": {"kind": "payment_status", "status": "ないステータス"}},
        {
            "event": {"kind": "job_failed"},
            "actions": [{"kind": "set_handling_status", "status": "完了"}],
        },
        {"actions": [{"kind": "mail_customer"}]},
        {"conditions": {"amount_min": 500, "amount_max": 100}},
        {"conditions": {"amount_min": "500"}},
        {"name": "a\x00b"},
    ]
    for case in cases:
        body = {
            "name": "ルール",
            "event": {"kind": "payment_status", "status": "authorize_failed"},
            "actions": [{"kind": "add_label", "label": "x"}],
            **case,
        }
        r = await api.post("/api/v1/automation-rules", json=body)
        assert r.status_code == 422, (case, r.text)
        assert r.json()["message"]
    r = await api.post(
        "/api/v1/automation-rules",
        json={
            "name": "ルール",
            "event": {"kind": "payment_status", "status": "authorize_failed"},
            "actions": [{"kind": "mail_customer", "template": "payment_method_changed.customer"}],
        },
    )
    assert r.status_code == 422
    assert r.json()["code"] == "unknown_mail_template"
    assert (await api.get("/api/v1/automation-rules")).json() == []
    assert (await api.get("/api/v1/automation-rules/99")).status_code == 404


async def test_a_rule_can_enqueue_a_reauthorization_of_a_declined_order(
    services: Services, api: httpx.AsyncClient
) -> None:
    rule = await add_rule(
        api,
        name="仮売上失敗は再オーソリ",
        event={"kind": "payment_status", "status": "仮売上失敗"},
        actions=[{"kind": "reauthorize"}],
    )
    order_id = await declined_order(services, amount=4400)
    await run_everything(services)

    order = await view(services, order_id)
    assert order.payment_status_label == "仮売上完了"
    [(reason, done)] = await automation_rows(services, order_id)
    assert reason == "自動化設定「仮売上失敗は再オーソリ」"
    assert done is not None
    assert done.startswith("再オーソリ")
    # The 再オーソリ went to the provider once, under a new reference, by the rule.
    history = (await api.get(f"/api/v1/orders/{order_id}/payment-history")).json()
    rows = history["history"] if isinstance(history, dict) else history
    assert [(r["operation"], r["outcome"], r["actor"]) for r in rows] == [
        ("authorize", "declined", "test"),
        ("authorize", "succeeded", f"automation:{rule['id']}"),
    ]


async def test_a_cancelled_subscription_mails_the_shop_by_rule(
    services: Services, api: httpx.AsyncClient, smtp: tuple[Inbox, str]
) -> None:
    inbox, url = smtp
    await setup_mail(api, url)
    await add_rule(
        api,
        name="定期解約の連絡",
        event={"kind": "subscription_canceled"},
        actions=[{"kind": "mail_shop", "template": "automation.shop"}],
    )
    method = await card_method(services)
    holder = await customer_with_card(services, method)
    r = await api.post("/api/v1/subscriptions", json=body(method.code, holder))
    assert r.status_code == 201, r.text
    sub = r.json()
    r = await api.patch(f"/api/v1/subscriptions/{sub['id']}", json={"status": "paused"})
    assert r.status_code == 200, r.text
    await run_everything(services)
    assert inbox.to("orders@aojiru.example.jp") == []  # 停止 is not a cancellation

    r = await api.patch(f"/api/v1/subscriptions/{sub['id']}", json={"status": "canceled"})
    assert r.status_code == 200, r.text
    await run_everything(services)
    assert len(inbox.to("orders@aojiru.example.jp")) == 1
    async with transaction(services.sessions) as s:
        rows = await list_changes(s, "subscription", sub["id"])
    assert [r.reason for r in rows if r.field == "automation"] == ["自動化設定「定期解約の連絡」"]
