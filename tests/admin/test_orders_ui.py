"""受注管理 over HTTP: the search conditions, 検索条件項目を編集, paging beyond 100, the 定期
icon, and 決済状況一括変更 on 検索結果すべて with the same conditions."""

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import update

from kessai.core.db import transaction
from kessai.orders.models import Order
from kessai.payments.status import PaymentStatus
from kessai.services import Services
from kessai.users.service import Role
from tests.admin.conftest import add_user, csrf_of, login
from tests.bulk.helpers import finished
from tests.factories import make_method, make_order
from tests.subscriptions.conftest import customer_with_card, make_subscription

TOKYO = ZoneInfo("Asia/Tokyo")


def listed(html: str) -> list[str]:
    """The order numbers of the result table, in order."""
    if 'id="orders"' not in html:
        return []
    table = html.split('id="orders"', 1)[1].split("</table>", 1)[0]
    return re.findall(r'/admin/orders/\d+">([^<]+)</a>', table)


async def test_orders_list_shows_payment_status_labels(
    client: httpx.AsyncClient, services: Services
) -> None:
    method = await make_method(services)
    first_id = await make_order(services, method, amount=1200)
    second_id = await make_order(services, method, amount=32000)
    async with transaction(services.sessions) as s:
        first = await s.get_one(Order, first_id)
        second = await s.get_one(Order, second_id)
    await add_user(services, "viewer@example.jp", role=Role.VIEWER)
    await login(client, "viewer@example.jp")

    page = await client.get("/admin/orders")
    assert page.status_code == 200
    assert listed(page.text) == [second.number, first.number]  # newest first
    assert "32,000円" in page.text
    assert PaymentStatus(first.payment_status).label in page.text
    assert "決済状況一括変更" not in page.text  # a viewer has none of its operations

    other = next(s for s in PaymentStatus if s.value != first.payment_status)
    filtered = await client.get("/admin/orders", params={"payment_status": other.value})
    assert listed(filtered.text) == []
    assert "条件に一致する受注はありません" in filtered.text


async def test_search_conditions_paging_and_the_subscription_icon(
    client: httpx.AsyncClient, services: Services
) -> None:
    card = await make_method(services)
    bank = await make_method(services, provider="offline", method_type="bank_transfer")
    for i in range(103):
        day = 1 + i % 3
        await make_order(
            services, card, ordered_at=datetime(2026, 11, day, 12, tzinfo=TOKYO), number=f"N{i:04d}"
        )
    bank_id = await make_order(
        services, bank, ordered_at=datetime(2026, 11, 5, 0, 30, tzinfo=TOKYO), number="BANK-1"
    )
    holder = await customer_with_card(services, card, updater_result="1")
    sid = await make_subscription(services, card, holder)
    child_id = await make_order(services, card, number="TEIKI-1")
    async with transaction(services.sessions) as s:
        await s.execute(
            update(Order)
            .where(Order.id == child_id)
            .values(subscription_id=sid, subscription_cycle=1, reauthorization_label="target")
        )
        await s.execute(update(Order).where(Order.id == bank_id).values(handling_status="shipped"))
    await add_user(services, "admin@example.jp")
    await login(client, "admin@example.jp")

    page = await client.get("/admin/orders")
    assert "検索結果 105件中 1〜100件を表示" in page.text
    assert len(listed(page.text)) == 100
    second = await client.get("/admin/orders", params={"page": "2"})
    assert "105件中 101〜105件" in second.text
    assert len(set(listed(page.text)) | set(listed(second.text))) == 105
    assert "/admin/subscriptions/" in page.text
    assert "TEIKI-1" in listed(page.text)

    # 注文日時 in YYYY/MM/DD, Tokyo days: 11/05 00:30 Tokyo is 11/04 in UTC.
    day = await client.get(
        "/admin/orders", params={"ordered_from": "2026/11/05", "ordered_to": "2026/11/05"}
    )
    assert listed(day.text) == ["BANK-1"]
    assert 'value="2026/11/05"' in day.text
    by_method = await client.get("/admin/orders", params={"payment_method": bank.code})
    assert listed(by_method.text) == ["BANK-1"]
    shipped = await client.get("/admin/orders", params={"handling_status": "shipped"})
    assert listed(shipped.text) == ["BANK-1"]
    number = await client.get("/admin/orders", params={"number": "N0007"})
    assert listed(number.text) == ["N0007"]
    teiki = await client.get("/admin/orders", params={"subscription": "1"})
    assert listed(teiki.text) == ["TEIKI-1"]
    not_teiki = await client.get("/admin/orders", params={"subscription": "0"})
    assert "104件中" in not_teiki.text
    ng = await client.get("/admin/orders", params={"updater_result": "1"})
    assert listed(ng.text) == ["TEIKI-1"]
    ok = await client.get("/admin/orders", params={"updater_result": "0"})
    assert listed(ok.text) == []
    label = await client.get("/admin/orders", params={"label": "target"})
    assert listed(label.text) == ["TEIKI-1"]
    assert "再与信対象" in label.text

    # A bad condition is named and dropped, never a 500.
    bad = await client.get(
        "/admin/orders", params={"ordered_from": "2026/13/40", "payment_status": "nope"}
    )
    assert bad.status_code == 200
    assert "YYYY/MM/DD" in bad.text
    assert "決済状況「nope」は存在しません" in bad.text
    assert "105件中" in bad.text

    # 検索条件項目を編集: the chosen conditions show, the others do not.
    assert 'name="label"' not in page.text
    token = await csrf_of(client)
    saved = await client.post(
        "/admin/orders/conditions",
        data={"csrf_token": token, "show": ["number", "label", "updater_result"]},
    )
    assert saved.status_code == 303
    edited = await client.get("/admin/orders")
    assert 'name="label"' in edited.text
    assert 'name="updater_result"' in edited.text
    assert (
        'name="payment_status"' not in edited.text.split('id="search"', 1)[1].split("</form>", 1)[0]
    )
    forged = await client.post("/admin/orders/conditions", data={"show": ["number"]})
    assert forged.status_code == 403


async def test_bulk_on_every_result_uses_the_same_conditions(
    client: httpx.AsyncClient, services: Services
) -> None:
    card = await make_method(services)
    plain_id = await make_order(services, card, number="PLAIN-1")
    holder = await customer_with_card(services, card, updater_result="2")
    sid = await make_subscription(services, card, holder)
    child_id = await make_order(services, card, number="TEIKI-2")
    async with transaction(services.sessions) as s:
        await s.execute(update(Order).where(Order.id == child_id).values(subscription_id=sid))
    await add_user(services, "admin@example.jp")
    await login(client, "admin@example.jp")
    page = await client.get("/admin/orders", params={"updater_result": "照合エラー"})
    assert listed(page.text) == ["TEIKI-2"]
    form = page.text.split('id="bulk"', 1)[1].split("</form>", 1)[0]
    assert 'name="updater_result" value="照合エラー"' in form
    token = await csrf_of(client)
    done = await client.post(
        "/admin/orders/bulk-payment-actions",
        data={
            "csrf_token": token,
            "action": "force-cancel",
            "all_results": "1",
            "updater_result": "照合エラー",
        },
    )
    assert done.status_code == 303
    job = await finished(services, int(done.headers["location"].rsplit("/", 1)[1]))
    assert (job.total, job.succeeded) == (1, 1)
    async with transaction(services.sessions) as s:
        plain = await s.get_one(Order, plain_id)
        child = await s.get_one(Order, child_id)
    assert child.payment_status == "canceled"
    assert plain.payment_status == "pending"
