"""The events kessai makes by itself, as an operator uses them in 自動化設定 and a storefront
receives them: a card whose 洗替判定結果 came back NG (one event per card, mailed to the
customer from the 決済方法変更のご案内 template and sent signed to the webhook endpoint), and
a cancel window or 与信期限 closing within the rule's N days."""

from datetime import timedelta

import httpx
from sqlalchemy import delete

from kessai.automation import facts
from kessai.core.db import transaction
from kessai.history.repository import list_changes
from kessai.jobs.schedules import tick
from kessai.orders.models import OrderLabel
from kessai.services import Services
from tests.automation.test_rules import add_rule, automation_rows, run_everything, setup_mail
from tests.cardupdater.conftest import (
    REQUEST_MOMENT,
    RESULT_MOMENT,
    add_card,
    card,
    gmo_sftp,
    make_shop,
    run_calendar,
    write_result,
)
from tests.factories import act, make_method, make_order
from tests.sftp_server import SftpServer
from tests.smtp_server import Inbox
from tests.subscriptions.conftest import Holder, make_subscription
from tests.webhooks.receiver import Receiver, verify
from tests.webhooks.test_webhooks import add_endpoint

__all__ = ["gmo_sftp"]

CARD_RULE = {
    "name": "洗替NGのご案内",
    "event": {"kind": "card_updater_ng"},
    "actions": [
        {"kind": "mail_customer", "template": "card_updater_ng.customer"},
        {"kind": "webhook"},
    ],
}


async def test_cards_that_come_back_ng_mail_their_customers_and_reach_the_storefront(
    services: Services,
    api: httpx.AsyncClient,
    smtp: tuple[Inbox, str],
    hooks: Receiver,
    gmo_sftp: SftpServer,
) -> None:
    inbox, url = smtp
    shop = await make_shop(services, gmo_sftp)
    await setup_mail(api, url)
    endpoint = await add_endpoint(api, hooks.url(), event_types=["card.*", "automation.fired"])
    await add_rule(api, **CARD_RULE)
    ok = await add_card(services, shop, name="山田 花子", expire="2612", email="hanako@example.jp")
    invalid = await add_card(services, shop, name="佐藤 健", expire="2612", email="ken@example.jp")
    mismatch = await add_card(
        services, shop, name="鈴木 一郎", expire="2612", email="ichiro@example.jp"
    )
    c = await card(services, invalid)
    sub_id = await make_subscription(services, shop.method, Holder(c.customer_id, invalid))
    await run_calendar(services, REQUEST_MOMENT)
    m = {i: (await card(services, i)).member_id for i in (ok, invalid, mismatch)}
    write_result(shop, [f"{m[ok]},0,0,,", f"{m[invalid]},0,1,,", f"{m[mismatch]},0,2,,"])
    await run_calendar(services, RESULT_MOMENT)
    await run_everything(services)

    # One event per NG card, signed, naming the card, its customer and its 定期受注.
    got = [r for r in hooks.at() if r.type == "card.updater_ng"]
    assert all(verify(endpoint["secret"], r.headers, r.body) for r in got)
    by_card = {r.payload["data"]["card"]["id"]: r.payload["data"] for r in got}
    assert set(by_card) == {invalid, mismatch}
    assert by_card[invalid]["card"]["updater_result"] == "1"
    assert by_card[invalid]["updater_result_label"] == "有効性NG"
    assert by_card[invalid]["customer"]["id"] == c.customer_id
    assert by_card[invalid]["subscriptions"] == [sub_id]
    assert by_card[mismatch]["updater_result_label"] == "照合エラー"
    assert by_card[mismatch]["subscriptions"] == []
    # The rule's own webhook action, once per card, naming the event that started it.
    fired = [r.payload["data"] for r in hooks.at() if r.type == "automation.fired"]
    assert sorted(f["card"]["id"] for f in fired) == sorted([invalid, mismatch])
    assert {f["rule"]["name"] for f in fired} == {"洗替NGのご案内"}
    assert {f["trigger"]["type"] for f in fired} == {"card.updater_ng"}

    # The customers of the NG cards get 決済方法変更のご案内; the OK card's customer nothing.
    assert inbox.to("hanako@example.jp") == []
    [mail] = inbox.to("ken@example.jp")
    assert mail.subject == "【青汁ショップ】決済方法変更のご案内"
    assert "411111******1111" in mail.body
    assert "有効性NG" in mail.body
    [mail] = inbox.to("ichiro@example.jp")
    assert "照合エラー" in mail.body

    # The 定期受注 paid by the NG card shows the rule's run in its 変更履歴.
    async with transaction(services.sessions) as s:
        rows = await list_changes(s, "subscription", sub_id)
    assert [(r.field, r.reason) for r in rows if r.field == "automation"] == [
        ("automation", "自動化設定「洗替NGのご案内」")
    ]

    # Fetched again the next hour: applied once, no second event or mail.
    await run_calendar(services, RESULT_MOMENT.replace(hour=1))
    await run_everything(services)
    assert len([r for r in hooks.at() if r.type == "card.updater_ng"]) == 2
    assert len(inbox.to("ken@example.jp")) == 1


async def labels_of(services: Services, order_id: int) -> set[str]:
    async with transaction(services.sessions) as s:
        return await facts.labels_of(s, order_id)


async def tick_and_run(services: Services) -> None:
    """One scheduler tick, then everything the events start."""
    await tick(services)
    await run_everything(services)


async def test_a_cancel_window_closing_within_n_days_fires_once_per_order_window_and_n(
    services: Services, api: httpx.AsyncClient, smtp: tuple[Inbox, str], hooks: Receiver
) -> None:
    inbox, url = smtp
    await setup_mail(api, url)
    await add_endpoint(api, hooks.url(), event_types=["order.deadline_closing"])
    paypay = await make_method(services, method_type="paypay")
    card = await make_method(services)
    closing = await make_order(services, paypay, number="PAYPAY-1")
    await services.payments.run(closing, act("authorize"))
    services.clock.advance(timedelta(days=20))
    fresh = await make_order(services, paypay, number="PAYPAY-2")
    await services.payments.run(fresh, act("authorize"))
    no_window = await make_order(services, card, number="CARD-1")
    await services.payments.run(no_window, act("authorize"))
    services.clock.advance(timedelta(days=5))  # PAYPAY-1: 30日 from 決済 closes in 5 days
    week = await add_rule(
        api,
        name="取消期限まで1週間",
        event={"kind": "deadline_closing", "deadline": "取消期限", "days": 7},
        actions=[
            {"kind": "add_label", "label": "取消期限間近"},
            {"kind": "mail_shop", "template": "automation.shop"},
        ],
    )
    assert week["event_label"] == "取消期限が7日以内になったとき"

    # The dry run shows today's match, with its deadline, and changes nothing.
    r = await api.get(f"/api/v1/automation-rules/{week['id']}/dry-run")
    assert r.status_code == 200, r.text
    [match] = r.json()["orders"]
    assert match["id"] == closing
    assert match["deadline"] is not None
    assert await labels_of(services, closing) == set()

    await tick_and_run(services)
    assert await labels_of(services, closing) == {"取消期限間近"}
    assert await labels_of(services, fresh) == set()
    assert await automation_rows(services, closing) == [
        ("自動化設定「取消期限まで1週間」", "受注ラベルを付ける、ショップにメールを送信")
    ]
    history = (await api.get(f"/api/v1/orders/{closing}/change-history")).json()
    labelled = {(h["field_label"], h["after"], h["reason"]) for h in history}
    assert ("受注ラベル", "取消期限間近", "自動化設定「取消期限まで1週間」") in labelled
    assert (
        "自動化設定",
        "受注ラベルを付ける、ショップにメールを送信",
        "自動化設定「取消期限まで1週間」",
    ) in labelled
    [mail] = inbox.to("orders@aojiru.example.jp")
    assert "取消期限: " in mail.body
    [event] = hooks.at()
    assert event.type == "order.deadline_closing"
    data = event.payload["data"]
    assert data["order"]["id"] == closing
    assert (data["deadline"]["kind"], data["deadline"]["days"]) == ("cancel", 7)

    # Ticks later the same day and the next: the same window and N never fire again, even
    # after the label was taken off by hand.
    async with transaction(services.sessions) as s:
        await s.execute(delete(OrderLabel).where(OrderLabel.order_id == closing))
    await tick_and_run(services)
    services.clock.advance(timedelta(days=1))
    await tick_and_run(services)
    assert await labels_of(services, closing) == set()
    assert len(inbox.to("orders@aojiru.example.jp")) == 1
    assert len(hooks.at()) == 1

    # Another N is another event: 3 days before, once more (and only for that rule).
    three = await add_rule(
        api,
        name="取消期限まで3日",
        event={"kind": "deadline_closing", "deadline": "cancel", "days": 3},
        actions=[{"kind": "add_label", "label": "取消期限まで3日"}],
    )
    await tick_and_run(services)
    assert await labels_of(services, closing) == set()  # 4 days left: not yet
    services.clock.advance(timedelta(days=1, hours=1))
    await tick_and_run(services)
    assert await labels_of(services, closing) == {"取消期限まで3日"}
    assert [e.payload["data"]["deadline"]["days"] for e in hooks.at()] == [7, 3]

    # A disabled rule stops the scan asking for its N.
    await api.patch(f"/api/v1/automation-rules/{three['id']}", json={"enabled": False})
    await api.patch(f"/api/v1/automation-rules/{week['id']}", json={"enabled": False})
    later = await make_order(services, paypay, number="PAYPAY-3")
    await services.payments.run(later, act("authorize"))
    services.clock.advance(timedelta(days=28))
    await tick_and_run(services)
    assert await labels_of(services, later) == set()
    assert len(hooks.at()) == 2


async def test_deadline_rules_are_checked_in_japanese(api: httpx.AsyncClient) -> None:
    cases = [
        ({"kind": "deadline_closing", "days": 7}, "期限には「取消期限」か「与信期限」"),
        ({"kind": "deadline_closing", "deadline": "与信期限"}, "日数は1〜60の整数"),
        ({"kind": "deadline_closing", "deadline": "与信期限", "days": 61}, "日数は1〜60"),
        ({"kind": "payment_unknown", "days": 3}, "期限・日数を指定できません"),
    ]
    for event, message in cases:
        r = await api.post(
            "/api/v1/automation-rules",
            json={"name": "x", "event": event, "actions": [{"kind": "webhook"}]},
        )
        assert r.status_code == 422, r.text
        assert message in r.text
