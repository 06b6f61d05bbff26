"""run_many: one action on many orders (a billing run's chunk) with the bookkeeping batched.

Each order must end exactly as `run` would leave it — same 決済状況, same 決済履歴 and
変更履歴, one provider call — whatever the mix of orders, and whatever breaks midway:
every call is written ahead and committed before it is made.
"""

import asyncio

import pytest
from sqlalchemy import update

from kessai.core.db import transaction
from kessai.core.errors import Conflict, InProgress, NotFound
from kessai.orders.models import Order
from kessai.payments import repository as repo
from kessai.payments.engine import ActionResult
from tests.factories import act, attempts, changes, make_method, make_order, view
from tests.payments.test_faults import pass_lease

DECLINED_AMOUNT = 9001  # the fake provider's test amount for a declined card
UNKNOWN_AMOUNT = 9003  # done at the provider, answer lost on the way back


def limit() -> asyncio.Semaphore:
    return asyncio.Semaphore(8)


def history(rows):
    return [(a.operation, a.amount, a.outcome, a.provider_code, a.note) for a in rows]


async def test_each_order_ends_as_run_would_leave_it(services):
    method = await make_method(services)
    amounts = [5_000, DECLINED_AMOUNT, 3_300, UNKNOWN_AMOUNT]
    batched = [await make_order(services, method, amount=a) for a in amounts]
    alone = [await make_order(services, method, amount=a) for a in amounts]

    results = await services.payments.run_many(batched, act("authorize"), limit())
    for order_id in alone:
        await services.payments.run(order_id, act("authorize"))

    assert [results[o].outcome for o in batched] == [
        "succeeded",
        "declined",
        "succeeded",
        "unknown",
    ]
    for b, a in zip(batched, alone, strict=True):
        vb, va = await view(services, b), await view(services, a)
        assert (vb.payment_status_label, vb.needs_reconcile) == (
            va.payment_status_label,
            va.needs_reconcile,
        )
        assert history(await attempts(services, b)) == history(await attempts(services, a))
        assert await changes(services, b) == await changes(services, a)
    fake = services.registry.fake(method.account_id)
    authorized = [c.reference for c in fake.calls if c.operation == "authorize"]
    numbers = [(await view(services, o)).number for o in batched + alone]
    assert sorted(authorized) == sorted(numbers)  # one call per order, none twice


async def test_what_the_batch_cannot_take_goes_through_run(services):
    method = await make_method(services)
    paid, held, fresh = [await make_order(services, method) for _ in range(3)]
    await services.payments.run(paid, act("authorize"))
    async with transaction(services.sessions) as s:  # another worker's call is out
        attempt_id = await repo.add_attempt(
            s,
            order_id=held,
            operation="authorize",
            amount=5_000,
            reference="held",
            outcome="sent",
            actor="other",
            created_at=services.clock.now(),
            request={},
        )
        await s.execute(
            update(Order)
            .where(Order.id == held)
            .values(in_flight_attempt_id=attempt_id, version=Order.version + 1)
        )

    results = await services.payments.run_many(
        [paid, held, fresh, fresh, 999_999], act("authorize"), limit()
    )

    assert isinstance(results[paid], Conflict)  # 仮売上完了: no second authorization
    assert isinstance(results[held], InProgress)
    assert isinstance(results[999_999], NotFound)
    assert isinstance(results[fresh], ActionResult)
    assert results[fresh].outcome == "succeeded"
    fake = services.registry.fake(method.account_id)
    assert len([c for c in fake.calls if c.operation == "authorize"]) == 2  # paid, fresh


async def test_an_order_changed_during_the_call_is_settled_the_general_way(services):
    method = await make_method(services)
    order_ids = [await make_order(services, method) for _ in range(3)]
    moved = order_ids[1]
    fake = services.registry.fake(method.account_id)
    original = fake.authorize
    moved_number = (await view(services, moved)).number

    async def authorize(request):
        if request.reference == moved_number:  # an operator edits the order meanwhile
            async with transaction(services.sessions) as s:
                await s.execute(
                    update(Order)
                    .where(Order.id == moved)
                    .values(carrier="佐川急便", version=Order.version + 1)
                )
        return await original(request)

    fake.authorize = authorize
    results = await services.payments.run_many(order_ids, act("authorize"), limit())

    for order_id in order_ids:
        o = await view(services, order_id)
        assert (results[order_id].outcome, o.payment_status_label, o.needs_reconcile) == (
            "succeeded",
            "仮売上完了",
            False,
        )
    assert (await view(services, moved)).carrier == "佐川急便"
    assert results[moved].view is None  # settled from a fresh read
    assert await changes(services, moved) == [("pending", "authorized")]


async def test_a_failed_settle_loses_nothing_and_charges_nothing_twice(services, monkeypatch):
    """The batch's settle statement fails after the provider authorized every order (the
    database went away): the attempts stay written ahead, and the next action on each
    order settles it by a lookup instead of authorizing again."""
    method = await make_method(services)
    order_ids = [await make_order(services, method) for _ in range(5)]

    async def broken(self, batch, actor):
        raise ConnectionError("server closed the connection unexpectedly")

    monkeypatch.setattr(type(services.payments), "_settle_many", broken)
    results = await services.payments.run_many(order_ids, act("authorize"), limit())
    monkeypatch.undo()

    assert all(isinstance(results[o], ConnectionError) for o in order_ids)

    for order_id in order_ids:
        assert (await view(services, order_id)).needs_reconcile
        with pytest.raises(InProgress):  # within the lease the first call may be alive
            await services.payments.run(order_id, act("authorize"))
    pass_lease(services)
    for order_id in order_ids:
        r = await services.payments.run(order_id, act("authorize"))
        o = await view(services, order_id)
        assert (r.outcome, o.payment_status_label, o.needs_reconcile) == (
            "succeeded",
            "仮売上完了",
            False,
        )
    fake = services.registry.fake(method.account_id)
    assert len([c for c in fake.calls if c.operation == "authorize"]) == 5


async def test_a_crash_before_the_calls_charges_each_order_once_later(services):
    """The process dies while the requests are on their way, before the provider did
    anything: after the lease each order is looked up (nothing there) and charged once."""
    method = await make_method(services)
    order_ids = [await make_order(services, method) for _ in range(4)]
    fake = services.registry.fake(method.account_id)
    original = fake.authorize
    on_the_way = asyncio.Event()

    async def never_arrives(request):
        on_the_way.set()
        await asyncio.Event().wait()

    fake.authorize = never_arrives
    batch = asyncio.create_task(services.payments.run_many(order_ids, act("authorize"), limit()))
    await on_the_way.wait()
    batch.cancel()  # the process is killed: nothing after this point runs
    with pytest.raises(asyncio.CancelledError):
        await batch
    fake.authorize = original

    assert all([(await view(services, o)).needs_reconcile for o in order_ids])
    pass_lease(services)
    results = await services.payments.run_many(order_ids, act("authorize"), limit())

    assert [results[o].outcome for o in order_ids] == ["succeeded"] * 4
    assert len([c for c in fake.calls if c.operation == "authorize"]) == 4
    for order_id in order_ids:
        outcomes = [(a.operation, a.outcome) for a in await attempts(services, order_id)]
        assert outcomes == [
            ("authorize", "not_sent"),  # written ahead, never sent: the lookup found nothing
            ("lookup", "succeeded"),
            ("authorize", "succeeded"),
        ]


async def test_two_batches_of_the_same_orders_at_once_call_each_once(services):
    method = await make_method(services)
    fake = services.registry.fake(method.account_id)
    fake.latency = 0.01  # both batches' calls in flight together
    order_ids = [await make_order(services, method) for _ in range(6)]

    a, b = await asyncio.gather(
        services.payments.run_many(order_ids, act("authorize"), limit()),
        services.payments.run_many(order_ids, act("authorize"), limit()),
    )

    assert len([c for c in fake.calls if c.operation == "authorize"]) == 6
    for order_id in order_ids:
        assert [x.operation for x in await attempts(services, order_id)] == ["authorize"]
        assert (await view(services, order_id)).payment_status_label == "仮売上完了"
        # one batch authorized it; the other answers as run would: held, or done already
        answers = (a[order_id], b[order_id])
        assert sum(isinstance(x, ActionResult) for x in answers) == 1
        assert all(isinstance(x, ActionResult | Conflict) for x in answers)
