"""The calls the 再オーソリ and card-change flows make into 定期受注."""

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from kessai.core.db import transaction
from kessai.core.errors import InvalidInput
from kessai.history.repository import list_changes
from kessai.orders.models import Order
from kessai.orders.service import new_order_values
from kessai.services import Services
from kessai.subscriptions import repository as repo
from kessai.subscriptions.repository import Claim
from kessai.subscriptions.schemas import CycleIn
from kessai.subscriptions.service import cancel_unpaid, resume_after_payment, switch_card
from tests.factories import act
from tests.subscriptions.conftest import (
    BILLING_DAY,
    add_card,
    authorize_calls,
    bill,
    card_method,
    child_orders,
    customer_with_card,
    fake,
    make_subscription,
    subscription,
)


async def test_resume_after_a_late_payment_recomputes_the_next_dates(services: Services):
    method = await card_method(services)
    sid = await make_subscription(
        services, method, amount=9001, next_delivery_on=date(2026, 11, 24)
    )
    await bill(services)
    sub = await subscription(services, sid)
    assert sub.status == "paused"
    [order] = await child_orders(services, sid)

    # Five days later the 再オーソリ goes through with the card.
    services.clock.advance(timedelta(days=5))
    result = await services.payments.run(order.id, act("reauthorize", scenario="succeed"))
    assert result.outcome == "succeeded"
    now = services.clock.now()
    async with transaction(services.sessions) as s:
        await resume_after_payment(s, sid, now)
    sub = await subscription(services, sid)
    assert sub.status == "active"
    assert sub.next_ship_on == date(2026, 12, 27)  # a month after the day it was paid
    assert sub.next_delivery_on == date(2026, 12, 29)
    assert sub.cycle_day == 27
    async with transaction(services.sessions) as s:
        history = await list_changes(s, "subscription", sid)
    status_changes = [(h.before, h.after, h.reason) for h in history if h.field == "status"]
    assert status_changes[-2][:2] == ("active", "paused")
    assert status_changes[-1][:2] == ("paused", "active")
    assert "再オーソリ" in (status_changes[-1][2] or "")


async def test_resume_leaves_a_cancelled_subscription_cancelled(services: Services):
    method = await card_method(services)
    sid = await make_subscription(services, method, status="canceled")
    async with transaction(services.sessions) as s:
        await resume_after_payment(s, sid, services.clock.now())
    assert (await subscription(services, sid)).status == "canceled"


async def test_cancel_unpaid_cancels_and_stops_billing(services: Services):
    method = await card_method(services)
    sid = await make_subscription(services, method, amount=9001)
    await bill(services)
    async with transaction(services.sessions) as s:
        await cancel_unpaid(s, sid, services.clock.now())
        await cancel_unpaid(s, sid, services.clock.now())  # twice is harmless
    sub = await subscription(services, sid)
    assert sub.status == "canceled"
    services.clock.set_now(services.clock.now() + timedelta(days=40))
    job = await bill(
        services, dedupe_key="later", date=(BILLING_DAY + timedelta(days=40)).isoformat()
    )
    assert job.total == 0
    assert len(await child_orders(services, sid)) == 1


async def test_switch_card_moves_every_live_subscription_to_the_new_card(services: Services):
    method = await card_method(services)
    holder = await customer_with_card(services, method, updater_result="1")
    active = await make_subscription(services, method, holder)
    paused = await make_subscription(services, method, holder, status="paused")
    canceled = await make_subscription(services, method, holder, status="canceled")
    other = await make_subscription(services, method)
    new_card = await add_card(services, method, holder.customer_id)
    async with transaction(services.sessions) as s:
        moved = await switch_card(
            s, holder.customer_id, holder.card_id, new_card, services.clock.now()
        )
    assert moved == 2
    assert (await subscription(services, active)).card_id == new_card
    assert (await subscription(services, paused)).card_id == new_card
    assert (await subscription(services, canceled)).card_id == holder.card_id
    assert (await subscription(services, other)).card_id != new_card
    # The new card has no 洗替 NG: billing charges it now.
    job = await bill(services)
    assert (job.succeeded, job.skipped) == (2, 0)
    [order] = await child_orders(services, active)
    assert order.payment_source["card_id"] == str(new_card)


async def test_switch_card_refuses_a_card_of_someone_else_and_changes_nothing(
    services: Services,
):
    method = await card_method(services)
    holder = await customer_with_card(services, method)
    stranger = await customer_with_card(services, method, name="他人")
    sid = await make_subscription(services, method, holder)
    with pytest.raises(InvalidInput) as err:
        async with transaction(services.sessions) as s:
            await switch_card(
                s, holder.customer_id, holder.card_id, stranger.card_id, services.clock.now()
            )
    assert err.value.code == "unknown_card"
    assert (await subscription(services, sid)).card_id == holder.card_id


async def test_a_cycle_is_claimed_once_and_its_order_inserted_once(services: Services):
    """The two guards on their own: the conditional UPDATE and the unique (subscription, cycle)."""
    method = await card_method(services)
    sid = await make_subscription(services, method, cycle=CycleIn(kind="days", interval=7))
    sub = await subscription(services, sid)
    claim = Claim(sid, sub.cycle, sub.version, date(2026, 11, 29), None)
    now = services.clock.now()
    async with transaction(services.sessions) as s:
        assert await repo.claim(s, [claim], BILLING_DAY, now) == {sid}
    taken = await subscription(services, sid)
    assert (taken.cycle, taken.version) == (1, sub.version + 1)
    # The same claim again finds the cycle taken: it reports it and changes nothing.
    later = Claim(sid, sub.cycle, sub.version, date(2027, 1, 1), None)
    async with transaction(services.sessions) as s:
        assert await repo.claim(s, [later], BILLING_DAY, now) == {sid}
    again = await subscription(services, sid)
    assert (again.cycle, again.version, again.next_ship_on) == (
        1,
        taken.version,
        date(2026, 11, 29),
    )
    # A claim read at an older version (an operator edited it since) takes nothing.
    stale = Claim(sid, 1, sub.version, date(2027, 1, 1), None)
    async with transaction(services.sessions) as s:
        assert await repo.claim(s, [stale], date(2026, 12, 31), now) == set()
    row = new_order_values(
        now,
        number=f"{sub.number}-001",
        customer_id=sub.customer_id,
        payment_method_id=sub.payment_method_id,
        amount=5_500,
        tax=500,
        subscription_id=sid,
        subscription_cycle=1,
        payment_source={},
    )
    for number in (row["number"], f"{sub.number}-other"):
        async with transaction(services.sessions) as s:
            await repo.insert_child_orders(s, [{**row, "number": number}])
    async with transaction(services.sessions) as s:
        count = await s.scalar(
            select(func.count()).select_from(Order).where(Order.subscription_id == sid)
        )
    assert count == 1
    after = await subscription(services, sid)
    assert (after.cycle, after.next_ship_on) == (1, date(2026, 11, 29))
    assert authorize_calls(fake(services, method)) == {}
