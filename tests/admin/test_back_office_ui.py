"""定期受注管理, 顧客 and ダッシュボード over HTTP: what they list, what each link leads to,
and the permission and CSRF rules on their forms (no button, a forged POST refused 403,
nothing changed)."""

import re
from datetime import timedelta

import httpx
from sqlalchemy import func, select, update

from kessai.core.db import transaction
from kessai.notifications.models import OutboxMail
from kessai.orders.models import Order
from kessai.services import Services
from kessai.subscriptions.models import Subscription
from kessai.users.service import Role
from tests.admin.conftest import add_user, hidden, login
from tests.factories import act, make_method, make_order
from tests.subscriptions.conftest import customer_with_card, make_subscription


def table_text(html: str, table_id: str) -> str:
    if f'id="{table_id}"' not in html:
        return ""
    return html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]


async def outbox_count(services: Services) -> int:
    async with transaction(services.sessions) as s:
        return int(await s.scalar(select(func.count()).select_from(OutboxMail)) or 0)


async def test_subscriptions_by_updater_status_and_one_changed(
    client: httpx.AsyncClient, services: Services
) -> None:
    card = await make_method(services)
    ng = await customer_with_card(services, card, name="洗替 NG子", updater_result="1")
    ok = await customer_with_card(services, card, name="洗替 OK男", updater_result="0")
    ng_id = await make_subscription(services, card, ng)
    await make_subscription(services, card, ok)
    child = await make_order(services, card, number="TEIKI-C1")
    async with transaction(services.sessions) as s:
        await s.execute(
            update(Order)
            .where(Order.id == child)
            .values(subscription_id=ng_id, subscription_cycle=1)
        )
        sub = await s.get_one(Subscription, ng_id)
        number = sub.number
    await add_user(services, "ops@example.jp", role=Role.OPERATOR)
    await login(client, "ops@example.jp")

    page = await client.get("/admin/subscriptions", params={"updater_result": "1"})
    listed = table_text(page.text, "subscriptions")
    assert number in listed
    assert "洗替 NG子" in listed
    assert "洗替 OK男" not in listed
    assert "有効性NG" in listed
    # The seed's three statuses to act on are one click away.
    for label in ("有効性NG", "照合エラー", "入力データエラー"):
        assert label in page.text
    by_label = await client.get("/admin/subscriptions", params={"updater_result": "有効性NG"})
    assert number in table_text(by_label.text, "subscriptions")
    bad = await client.get("/admin/subscriptions", params={"updater_result": "9"})
    assert bad.status_code == 200
    assert "洗替ステータス「9」はありません" in bad.text

    detail = await client.get(f"/admin/subscriptions/{ng_id}")
    assert "このカードには請求しません" in detail.text
    assert "TEIKI-C1" in table_text(detail.text, "child-orders")
    assert "411111******1111" in detail.text
    token = hidden(detail.text, "csrf_token")
    moved = await client.post(
        f"/admin/subscriptions/{ng_id}",
        data={
            "csrf_token": token,
            "status": "paused",
            "next_ship_on": "2026/12/20",
            "reason": "カード変更待ち",
        },
    )
    assert moved.status_code == 303
    detail = await client.get(f"/admin/subscriptions/{ng_id}")
    assert "2026/12/20" in detail.text.split('id="next-ship"', 1)[1].split("</dd>", 1)[0]
    history = table_text(detail.text, "change-history")
    assert "有効 → 停止" in history
    assert "カード変更待ち" in history
    assert "管理画面" in history
    assert "ops@example.jp" in history
    refused = await client.post(
        f"/admin/subscriptions/{ng_id}", data={"csrf_token": token, "status": "nope"}
    )
    assert refused.status_code == 422

    # A viewer sees no form and a forged POST changes nothing.
    await add_user(services, "viewer@example.jp", role=Role.VIEWER)
    await client.post("/admin/logout", data={"csrf_token": token})
    await login(client, "viewer@example.jp")
    detail = await client.get(f"/admin/subscriptions/{ng_id}")
    assert 'id="edit"' not in detail.text
    forged = await client.post(
        f"/admin/subscriptions/{ng_id}",
        data={"csrf_token": hidden(detail.text, "csrf_token"), "status": "canceled"},
    )
    assert forged.status_code == 403
    async with transaction(services.sessions) as s:
        assert (await s.get_one(Subscription, ng_id)).status == "paused"


async def test_customer_cards_and_the_change_request_mail(
    client: httpx.AsyncClient, services: Services
) -> None:
    card = await make_method(services)
    holder = await customer_with_card(services, card, name="山田 花子", updater_result="2")
    failed = await make_order(services, card, number="FAIL-1")
    fine = await make_order(services, card, number="FINE-1")
    async with transaction(services.sessions) as s:
        await s.execute(
            update(Order).where(Order.id.in_([failed, fine])).values(customer_id=holder.customer_id)
        )
    await services.payments.run(failed, act("authorize", scenario="decline"))
    await services.payments.run(fine, act("authorize"))
    await add_user(services, "ops@example.jp", role=Role.OPERATOR)
    await login(client, "ops@example.jp")

    found = await client.get("/admin/customers", params={"q": "花子"})
    assert f'/admin/customers/{holder.customer_id}"' in found.text
    page = await client.get(f"/admin/customers/{holder.customer_id}")
    cards = table_text(page.text, "cards")
    assert "411111******1111" in cards
    assert "照合エラー" in cards
    assert "2028/12" in cards
    orders = table_text(page.text, "orders")
    rows = {
        found.group(1): row
        for row in orders.split("<tr>")
        if (found := re.search(r">([A-Z]+-1)</a>", row))
    }
    assert "決済方法変更のご案内を送信" in rows["FAIL-1"]
    assert "決済方法変更のご案内を送信" not in rows["FINE-1"]

    form = {
        "csrf_token": hidden(page.text, "csrf_token"),
        "submission": hidden(page.text, "submission"),
    }
    path = f"/admin/customers/{holder.customer_id}/orders/{failed}/change-request"
    sent = await client.post(path, data=form)
    twice = await client.post(path, data=form)  # a double click queues one mail
    assert sent.status_code == twice.status_code == 303
    async with transaction(services.sessions) as s:
        mails = (await s.scalars(select(OutboxMail))).all()
    assert [(m.kind, m.recipient, m.order_id) for m in mails] == [
        ("payment_method_change_request", "customer", failed)
    ]
    assert "FAIL-1" in mails[0].body
    page = await client.get(f"/admin/customers/{holder.customer_id}")
    assert "決済方法変更のご案内を送信しました" in page.text
    assert "決済方法変更のご案内" in table_text(page.text, "mails")

    not_failed = await client.post(
        f"/admin/customers/{holder.customer_id}/orders/{fine}/change-request",
        data={"csrf_token": form["csrf_token"]},
    )
    assert not_failed.status_code == 409
    assert "決済エラーの受注のみ" in not_failed.text
    no_csrf = await client.post(path, data={})
    assert no_csrf.status_code == 403

    await add_user(services, "viewer@example.jp", role=Role.VIEWER)
    await client.post("/admin/logout", data={"csrf_token": form["csrf_token"]})
    await login(client, "viewer@example.jp")
    page = await client.get(f"/admin/customers/{holder.customer_id}")
    assert "決済方法変更のご案内を送信</button>" not in page.text
    forged = await client.post(path, data={"csrf_token": hidden(page.text, "csrf_token")})
    assert forged.status_code == 403
    assert await outbox_count(services) == 1


async def test_dashboard_lines_link_to_the_lists_they_count(
    client: httpx.AsyncClient, services: Services
) -> None:
    card = await make_method(services)
    paypay = await make_method(services, method_type="paypay")
    declined = await make_order(services, card, number="DECL-1")
    await services.payments.run(declined, act("authorize", scenario="decline"))
    closing = await make_order(services, paypay, number="PAYPAY-1")
    await services.payments.run(closing, act("authorize"))
    fresh = await make_order(services, paypay, number="PAYPAY-2")
    services.clock.advance(timedelta(days=20))
    await services.payments.run(fresh, act("authorize"))
    services.clock.advance(timedelta(days=5))  # PAYPAY-1: 25 days, 30日 closes in 5 days
    stuck = await make_order(services, card, number="STUCK-1")
    fresh_report = await make_order(services, card, number="REPORT-1")
    async with transaction(services.sessions) as s:
        now = services.clock.now()
        for order_id, at in ((stuck, now - timedelta(days=2)), (fresh_report, now)):
            await s.execute(
                update(Order)
                .where(Order.id == order_id)
                .values(payment_status="shipment_report_requested", updated_at=at)
            )
    await add_user(services, "viewer@example.jp", role=Role.VIEWER)
    await login(client, "viewer@example.jp")

    home = await client.get("/admin")
    assert home.headers["location"] == "/admin/dashboard"
    page = await client.get("/admin/dashboard")
    assert page.status_code == 200
    links = dict(re.findall(r'href="([^"]+)" aria-label="([^"]+)"', page.text))
    by_label = {label: href for href, label in links.items()}
    assert by_label["仮売上失敗 1件"] == "/admin/orders?payment_status=authorize_failed"
    assert by_label["取消期限が7日以内 1件"] == "/admin/orders?due=cancel&amp;days=7"
    # Each line's list shows exactly what it counts.
    listed = await client.get("/admin/orders", params={"payment_status": "authorize_failed"})
    assert "DECL-1" in listed.text
    assert "PAYPAY-1" not in listed.text
    due = await client.get("/admin/orders", params={"due": "cancel", "days": "7"})
    assert "取消期限が7日以内の受注を表示しています" in due.text
    assert "PAYPAY-1" in due.text
    assert "PAYPAY-2" not in due.text
    assert "検索結果すべて" not in due.text
    assert by_label["出荷報告依頼中のまま1日以上 1件"] == "/admin/orders?due=stuck"
    stuck_list = await client.get("/admin/orders", params={"due": "stuck"})
    assert "STUCK-1" in stuck_list.text
    assert "REPORT-1" not in stuck_list.text
    wider = await client.get("/admin/dashboard", params={"days": "30"})
    assert 'aria-label="取消期限が30日以内 2件"' in wider.text
    assert (await client.get("/admin/dashboard", params={"days": "0"})).status_code == 404


async def test_dashboard_updater_count_is_this_months_and_its_link_lists_exactly_those(
    client: httpx.AsyncClient, services: Services
) -> None:
    card = await make_method(services)
    old = await customer_with_card(services, card, name="先月 NG子", updater_result="1")
    old_sub = await make_subscription(services, card, old)
    # A month later: one more card comes back 有効性NG; last month's stays NG.
    services.clock.advance(timedelta(days=31))
    new = await customer_with_card(services, card, name="今月 NG男", updater_result="1")
    new_sub = await make_subscription(services, card, new)
    async with transaction(services.sessions) as s:
        numbers = {i: (await s.get_one(Subscription, i)).number for i in (old_sub, new_sub)}
    await add_user(services, "viewer@example.jp", role=Role.VIEWER)
    await login(client, "viewer@example.jp")

    page = await client.get("/admin/dashboard")
    [(href, count)] = re.findall(
        r'href="([^"]+)" aria-label="洗替結果 有効性NG (\d+)件"', page.text
    )
    assert count == "1"
    # Clicking the count opens the 定期受注 it counted, and only those.
    listed = await client.get(href.replace("&amp;", "&"))
    assert listed.status_code == 200
    rows = table_text(listed.text, "subscriptions")
    assert numbers[new_sub] in rows
    assert numbers[old_sub] not in rows
    assert "検索結果 1件" in listed.text
    assert "に洗替したカードの定期受注を表示しています" in listed.text
    # Without the month, the search by 洗替ステータス still lists every NG 定期受注.
    every = await client.get("/admin/subscriptions", params={"updater_result": "1"})
    assert "検索結果 2件" in every.text
    bad = await client.get("/admin/subscriptions", params={"updater_month": "2026-13"})
    assert "洗替月「2026-13」は 2026/12 の形で指定してください" in bad.text
