"""再オーソリバッチ: which orders it retries, once per shipping day, with which card, when it
stops, what becomes of the 定期受注, and the 決済方法変更のご案内 it sends."""

import asyncio
from datetime import date, timedelta

from sqlalchemy import update

from kessai.core.db import transaction
from kessai.jobs import runner
from kessai.jobs.kinds import kind_of
from kessai.jobs.status import ItemStatus, JobStatus
from kessai.orders.models import Order
from kessai.payments.status import PaymentStatus
from kessai.services import Services
from kessai.subscriptions.reauthorization import (
    ENDED_STATUSES,
    PAID_STATUSES,
    RETRY_STATUSES,
    START_STATUSES,
    WAITING_STATUSES,
)
from tests.factories import act, make_method, view
from tests.reauthorization.conftest import (
    RUN_DAY,
    Provider,
    at,
    card_method,
    failed_order,
    mails,
    next_day,
    order_of,
    run_batch,
    shop,
    subscription_of,
)
from tests.subscriptions.conftest import add_card, customer_with_card, make_subscription


def test_every_payment_status_belongs_to_exactly_one_group():
    groups = [RETRY_STATUSES, WAITING_STATUSES, PAID_STATUSES, ENDED_STATUSES]
    for status in PaymentStatus:
        assert sum(status in g for g in groups) == 1, status
    assert START_STATUSES <= RETRY_STATUSES
    assert {s.label for s in START_STATUSES} == {"仮売上失敗", "与信審査エラー", "取引修正失敗"}


# ------------------------------------------------------------------ selection


async def test_a_run_for_a_past_day_leaves_later_orders_alone(services: Services):
    """The window is the 30 days up to the run's day, never after: with the clock moved
    back, orders made after that day are neither selected nor retried."""
    card = await card_method(services)
    provider = Provider(services, card)
    before_day = await failed_order(services, card, days_ago=5)
    after_day = await failed_order(services, card, days_ago=1)
    services.clock.set_now(at(RUN_DAY - timedelta(days=3)))
    tries = provider.authorizations

    job, items = await run_batch(services)

    assert set(items) == {before_day}
    assert job.status == JobStatus.SUCCEEDED.value
    assert provider.authorizations == tries + 1
    later = await order_of(services, after_day)
    assert (later.payment_status, later.reauthorization_label) == ("authorize_failed", None)
    assert (await order_of(services, before_day)).payment_status == "authorized"


async def test_selects_failed_orders_of_the_last_30_days_only(services: Services):
    card = await card_method(services)
    deferred = await make_method(services, provider="gmo_ps", method_type="atobarai")
    provider = Provider(services, card)
    recent = await failed_order(services, card, days_ago=29)
    edge = await failed_order(services, card, days_ago=30)
    old = await failed_order(services, card, days_ago=31)
    credit_check = await failed_order(services, deferred, days_ago=3)
    register_failed = await failed_order(services, card, scenario="register_fail")
    paid = await failed_order(services, card, scenario="succeed")
    modify_failed = await failed_order(services, card, scenario="succeed")
    await services.payments.run(
        modify_failed, act("change-amount", amount=4_400, scenario="decline")
    )
    assert (await order_of(services, modify_failed)).payment_status == "modify_failed"
    assert (await order_of(services, credit_check)).payment_status == "credit_check_failed"
    before = provider.authorizations

    job, items = await run_batch(services)

    assert set(items) == {recent, edge, credit_check, modify_failed}
    assert job.status == JobStatus.SUCCEEDED.value
    assert provider.authorizations == before + 3  # the 後払い has its own provider
    for order_id in (recent, edge, modify_failed):
        order = await order_of(services, order_id)
        assert order.payment_status == "authorized"
        assert (order.reauthorization_label, order.reauthorization_tries) == ("completed", 1)
        assert order.reauthorization_tried_on == RUN_DAY
        assert items[order_id].message == "再与信完了"
    assert (await order_of(services, credit_check)).payment_status == "credit_check_passed"
    for untouched in (old, register_failed, paid):
        order = await order_of(services, untouched)
        assert order.reauthorization_label is None
        assert order.reauthorization_tries == 0
    # What the storefront and the admin read: the label in the operators' words.
    shown = await view(services, recent)
    assert (shown.reauthorization_label, shown.reauthorization_label_text) == (
        "completed",
        "再与信完了",
    )
    assert (await view(services, old)).reauthorization_label_text is None


# ------------------------------------------------------------------ once per shipping day


async def test_one_try_per_shipping_day_and_the_next_day_tries_again(services: Services):
    method = await card_method(services)
    provider = Provider(services, method)
    order_id = await failed_order(services, method)
    provider.next("decline", "decline")

    _, first = await run_batch(services)
    _, second = await run_batch(services)  # the same day: an operator's second click

    assert provider.authorizations == 2  # the first オーソリ and one 再オーソリ
    assert first[order_id].status == ItemStatus.FAILED.value
    assert "G12" in first[order_id].message
    assert second[order_id].status == ItemStatus.SKIPPED.value
    assert second[order_id].message == "本日は再オーソリ済みです"
    order = await order_of(services, order_id)
    assert (order.payment_status, order.reauthorization_label) == ("authorize_failed", "target")

    next_day(services)  # the sandbox clock moves to Wednesday
    _, third = await run_batch(services)

    assert provider.authorizations == 3
    assert third[order_id].status == ItemStatus.FAILED.value
    next_day(services)
    _, fourth = await run_batch(services)
    assert fourth[order_id].message == "再与信完了"
    order = await order_of(services, order_id)
    assert (order.reauthorization_label, order.reauthorization_tries) == ("completed", 3)
    assert order.reauthorization_tried_on == date(2026, 11, 26)
    assert order.authorization_count == 4


async def test_a_chunk_run_twice_calls_the_provider_once(services: Services):
    method = await card_method(services)
    provider = Provider(services, method)
    orders = [await failed_order(services, method) for _ in range(3)]
    provider.next("decline", "decline", "decline")
    job, _ = await run_batch(services)

    await runner.run_chunk(services, job.id, 0)  # a redelivered message
    again = await kind_of("reauthorization").run(services, job, orders)  # a worker re-running

    assert provider.authorizations == 6
    assert {r.message for r in again} == {"本日は再オーソリ済みです"}
    assert len([m for m in await mails(services) if m.recipient == "customer"]) == 3


async def test_a_payment_made_meanwhile_is_completed_without_calling(services: Services):
    """An operator's manual 再オーソリ (or a run that died after the provider answered):
    the next run reads the order as it is and finishes the bookkeeping."""
    method = await card_method(services)
    provider = Provider(services, method)
    holder = await customer_with_card(services, method)
    sid = await make_subscription(services, method, holder, next_ship_on=date(2026, 12, 1))
    order_id = await failed_order(
        services, method, customer_id=holder.customer_id, subscription_id=sid
    )
    provider.next("decline")
    await run_batch(services)
    await services.payments.run(order_id, act("reauthorize"))
    calls = provider.authorizations

    next_day(services)
    _, items = await run_batch(services)

    assert provider.authorizations == calls
    assert items[order_id].message == "再与信完了"
    assert (await order_of(services, order_id)).reauthorization_label == "completed"
    assert (await subscription_of(services, sid)).status == "active"


# ------------------------------------------------------------------ success and 定期受注


async def test_success_sets_the_subscription_back_to_active_with_new_dates(services: Services):
    method = await card_method(services)
    holder = await customer_with_card(services, method)
    sid = await make_subscription(
        services,
        method,
        holder,
        next_ship_on=date(2026, 12, 1),
        next_delivery_on=date(2026, 12, 3),
    )
    order_id = await failed_order(
        services, method, days_ago=23, customer_id=holder.customer_id, subscription_id=sid
    )
    assert (await subscription_of(services, sid)).status == "paused"

    job, items = await run_batch(services)

    assert job.status == JobStatus.SUCCEEDED.value
    order = await order_of(services, order_id)
    assert (order.payment_status, order.reauthorization_label) == ("authorized", "completed")
    sub = await subscription_of(services, sid)
    assert sub.status == "active"
    # One month from the day the late payment came through, the delivery two days after.
    assert (sub.next_ship_on, sub.next_delivery_on) == (date(2026, 12, 24), date(2026, 12, 26))
    assert items[order_id].data["subscription_id"] == sid


async def test_the_new_card_is_used(services: Services):
    method = await card_method(services)
    provider = Provider(services, method)
    holder = await customer_with_card(services, method)
    old_source = {"card_id": str(holder.card_id)}
    order_id = await failed_order(
        services, method, customer_id=holder.customer_id, source=old_source
    )
    provider.next("decline")
    await run_batch(services)
    assert provider.sources[-1]["card_id"] == str(holder.card_id)

    new_card = await add_card(services, method, holder.customer_id)
    next_day(services)
    await run_batch(services)

    assert provider.sources[-1]["card_id"] == str(new_card)
    order = await order_of(services, order_id)
    assert order.payment_status == "authorized"
    assert order.payment_source["card_id"] == str(new_card)


# ------------------------------------------------------------------ stops


async def test_a_final_decline_stops_until_the_card_changes(services: Services, smtp):
    method = await card_method(services)
    provider = Provider(services, method)
    holder = await customer_with_card(services, method)
    order_id = await failed_order(
        services, method, customer_id=holder.customer_id, source={"card_id": str(holder.card_id)}
    )
    provider.next("hard_decline")

    _, first = await run_batch(services)
    next_day(services)
    _, second = await run_batch(services)
    next_day(services)
    _, third = await run_batch(services)

    assert provider.authorizations == 2
    assert "G54" in first[order_id].message
    assert "カードが変更されるまで" in first[order_id].message
    for items in (second, third):
        assert items[order_id].status == ItemStatus.SKIPPED.value
        assert "カードが変更されるまで再オーソリしません" in items[order_id].message
    order = await order_of(services, order_id)
    assert (order.reauthorization_label, order.reauthorization_tries) == ("card_declined", 1)
    [mail] = smtp.to("taro@example.jp")
    assert mail.subject == "【ショップ】決済方法変更のご案内"

    await add_card(services, method, holder.customer_id)
    next_day(services)
    _, fourth = await run_batch(services)

    assert provider.authorizations == 3
    assert fourth[order_id].message == "再与信完了"


async def test_sbps_refuses_a_fifth_reauthorization_so_kessai_stops_before(
    services: Services,
):
    method = await make_method(services, provider="sbps", method_type="credit_card")
    provider = Provider(services, method)
    order_id = await failed_order(services, method, days_ago=1)
    provider.next(*["decline"] * 10)

    for _ in range(4):
        await run_batch(services)
        next_day(services)
    assert provider.authorizations == 5  # the first オーソリ and four 再オーソリ
    _, items = await run_batch(services)
    next_day(services)
    _, later = await run_batch(services)

    assert provider.authorizations == 5
    assert items[order_id].status == ItemStatus.FAILED.value
    assert "再オーソリ上限(4回)" in items[order_id].message
    order = await order_of(services, order_id)
    assert (order.reauthorization_label, order.reauthorization_tries) == ("stopped", 4)
    assert order.authorization_count == 5
    assert order_id not in later


async def test_gmo_pg_without_a_limit_goes_on(services: Services):
    method = await card_method(services)
    provider = Provider(services, method)
    await failed_order(services, method)
    provider.next(*["decline"] * 6)
    for _ in range(6):
        await run_batch(services)
        next_day(services)
    assert provider.authorizations == 7


async def test_window_end_cancels_the_subscription(services: Services):
    method = await card_method(services)
    provider = Provider(services, method)
    holder = await customer_with_card(services, method)
    sid = await make_subscription(services, method, holder, next_ship_on=date(2026, 12, 1))
    order_id = await failed_order(
        services, method, days_ago=29, customer_id=holder.customer_id, subscription_id=sid
    )
    provider.next("decline", "decline")
    await run_batch(services)  # day 29
    next_day(services)
    await run_batch(services)  # day 30: the last one
    next_day(services)

    _, items = await run_batch(services)  # day 31

    assert provider.authorizations == 3
    assert items[order_id].status == ItemStatus.FAILED.value
    assert "定期受注をキャンセルしました" in items[order_id].message
    order = await order_of(services, order_id)
    assert (order.payment_status, order.reauthorization_label) == ("authorize_failed", "expired")
    assert (await subscription_of(services, sid)).status == "canceled"
    next_day(services)
    _, later = await run_batch(services)
    assert order_id not in later


async def test_a_cancelled_subscription_is_not_charged_again(services: Services):
    method = await card_method(services)
    provider = Provider(services, method)
    holder = await customer_with_card(services, method)
    sid = await make_subscription(services, method, holder, next_ship_on=date(2026, 12, 1))
    order_id = await failed_order(
        services, method, customer_id=holder.customer_id, subscription_id=sid
    )
    async with transaction(services.sessions) as s:
        from kessai.subscriptions.models import Subscription

        await s.execute(
            update(Subscription).where(Subscription.id == sid).values(status="canceled")
        )
    before = provider.authorizations

    _, items = await run_batch(services)

    assert provider.authorizations == before
    assert "キャンセルされているため" in items[order_id].message
    assert (await order_of(services, order_id)).reauthorization_label == "stopped"


async def test_a_card_the_updater_found_invalid_is_not_charged(services: Services):
    method = await card_method(services)
    provider = Provider(services, method)
    holder = await customer_with_card(services, method, updater_result="1")
    order_id = await failed_order(
        services, method, customer_id=holder.customer_id, source={"card_id": str(holder.card_id)}
    )
    before = provider.authorizations

    _, items = await run_batch(services)

    assert provider.authorizations == before
    assert items[order_id].status == ItemStatus.FAILED.value
    assert "有効性NG" in items[order_id].message
    assert [m.kind for m in await mails(services)] == ["payment_method_change_request"]


async def test_an_operator_cancel_ends_the_retries(services: Services):
    method = await card_method(services)
    provider = Provider(services, method)
    order_id = await failed_order(services, method)
    provider.next("decline")
    await run_batch(services)
    await services.payments.run(order_id, act("cancel"))
    next_day(services)

    _, items = await run_batch(services)

    assert provider.authorizations == 2
    assert items[order_id].status == ItemStatus.SKIPPED.value
    assert (await order_of(services, order_id)).reauthorization_label == "stopped"


# ------------------------------------------------------------------ mails


async def test_change_request_mail_once_per_order_to_customer_and_shop(services: Services, smtp):
    await shop(
        services,
        shop_name="青汁ショップ",
        mail_from="shop@aojiru.example.jp",
        notification_email="orders@aojiru.example.jp",
        card_change_allowed=True,
    )
    method = await card_method(services)
    provider = Provider(services, method)
    order_id = await failed_order(services, method, days_ago=2)
    provider.next("decline", "decline", "decline")
    number = (await order_of(services, order_id)).number

    for _ in range(3):
        await run_batch(services)
        next_day(services)

    assert provider.authorizations == 4
    [customer] = smtp.to("taro@example.jp")
    [shop_copy] = smtp.to("orders@aojiru.example.jp")
    assert customer.subject == "【青汁ショップ】決済方法変更のご案内"
    assert "山田 太郎 様" in customer.body
    assert f"ご注文番号: {number}" in customer.body
    assert "5,000円" in customer.body
    assert "マイページから新しいクレジットカードのご登録" in customer.body
    assert "2026年12月22日までに" in customer.body  # 30 days from the order date
    assert number in shop_copy.subject
    assert "再与信回数: 1回" in shop_copy.body
    assert "G12" in shop_copy.body
    assert "次回の発送日に再度オーソリを実行します" in shop_copy.body
    assert [m.status for m in await mails(services)] == ["sent", "sent"]


async def test_a_paid_retry_sends_no_change_request(services: Services, smtp):
    method = await card_method(services)
    await failed_order(services, method)
    await run_batch(services)
    assert smtp.received == []
    assert await mails(services) == []


async def test_job_csv_lists_each_order_with_its_label(services: Services):
    from tests.web.conftest import client_for, new_key

    method = await card_method(services)
    provider = Provider(services, method)
    ok = await failed_order(services, method)
    declined = await failed_order(services, method)
    provider.next("succeed", "decline")
    job, _ = await run_batch(services)
    assert job.status == JobStatus.PARTIALLY_FAILED.value
    assert job.name == "再オーソリバッチ"

    async with client_for(services, await new_key(services)) as api:
        r = await api.get(f"/api/v1/jobs/{job.id}/items.csv")
    assert r.status_code == 200
    text = r.content.decode("utf-8-sig")
    header, *rows = text.strip().splitlines()
    assert header.startswith("受注ID,受注番号,定期受注ID,決済状況,再与信ステータス,再与信回数")
    by_id = {row.split(",")[0]: row for row in rows}
    assert "仮売上完了,再与信完了,1" in by_id[str(ok)]
    assert "仮売上失敗,再与信対象,1" in by_id[str(declined)]


async def test_orders_of_a_cancelled_handling_status_are_left_alone(services: Services):
    method = await card_method(services)
    provider = Provider(services, method)
    order_id = await failed_order(services, method)
    async with transaction(services.sessions) as s:
        await s.execute(
            update(Order).where(Order.id == order_id).values(handling_status="canceled")
        )
    before = provider.authorizations
    _, items = await run_batch(services)
    assert order_id not in items
    assert provider.authorizations == before


async def test_two_runs_at_once_try_each_order_once(services: Services):
    method = await card_method(services)
    provider = Provider(services, method)
    orders = [await failed_order(services, method) for _ in range(6)]
    provider.next(*["decline"] * 12)

    results = await asyncio.gather(run_batch(services), run_batch(services))

    assert provider.authorizations == 12  # six first オーソリ, six 再オーソリ
    for order_id in orders:
        order = await order_of(services, order_id)
        assert order.reauthorization_tries == 1
        tried = [items[order_id].status for _, items in results]
        assert sorted(tried) == [ItemStatus.FAILED.value, ItemStatus.SKIPPED.value]


async def test_an_error_stays_with_its_order_and_the_next_run_finishes_it(
    services: Services, monkeypatch
):
    from kessai.subscriptions import reauthorization

    method = await card_method(services)
    holder = await customer_with_card(services, method)
    sid = await make_subscription(services, method, holder, next_ship_on=date(2026, 12, 1))
    broken = await failed_order(
        services, method, customer_id=holder.customer_id, subscription_id=sid
    )
    fine = await failed_order(services, method)
    real = reauthorization.resume_after_payment

    async def unavailable(*args, **kwargs):
        raise OSError("database connection lost")

    monkeypatch.setattr(reauthorization, "resume_after_payment", unavailable)
    job, items = await run_batch(services)

    assert job.status == JobStatus.PARTIALLY_FAILED.value
    assert items[broken].status == ItemStatus.FAILED.value
    assert "通信エラーが発生しました" in items[broken].message  # in words, never the raw text
    assert items[fine].message == "再与信完了"
    order = await order_of(services, broken)
    assert (order.payment_status, order.reauthorization_label) == ("authorized", "target")
    assert (await subscription_of(services, sid)).status == "paused"

    monkeypatch.setattr(reauthorization, "resume_after_payment", real)
    next_day(services)
    _, later = await run_batch(services)

    assert later[broken].message == "再与信完了"
    assert (await subscription_of(services, sid)).status == "active"
    assert fine not in later
