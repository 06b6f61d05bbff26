"""The engine's hot path: write-ahead in one statement, settle against the claimed version.

A provider call on an order nobody holds is written ahead and settled without reading the
order again; these tests check that the shortcut keeps every guarantee of the general way:
the attempt is committed before the call, an order changed during the call is still
settled correctly, and what the engine answers is the order as stored.
"""

from sqlalchemy import select, update

from kessai.core.db import transaction
from kessai.orders.models import Order
from kessai.payments.models import PaymentAttempt
from tests.factories import SHIP, act, attempts, changes, make_method, make_order, view


async def test_the_attempt_is_committed_before_the_provider_is_called(services):
    method = await make_method(services)
    order_id = await make_order(services, method)
    fake = services.registry.fake(method.account_id)
    seen = []
    original = fake.authorize

    async def authorize(request):
        # Another connection, as a second process would see the database during the call.
        async with transaction(services.sessions) as s:
            held = await s.scalar(select(Order.in_flight_attempt_id).where(Order.id == order_id))
            row = await s.get(PaymentAttempt, held)
            seen.append((row.operation, row.outcome, row.reference, row.completed_at))
        return await original(request)

    fake.authorize = authorize
    r = await services.payments.run(order_id, act("authorize"))

    number = (await view(services, order_id)).number
    assert seen == [("authorize", "sent", number, None)]
    assert r.outcome == "succeeded"
    (done,) = await attempts(services, order_id)
    assert (done.id, done.outcome) == (r.attempt_id, "succeeded")
    assert done.completed_at is not None


async def test_the_answer_carries_the_order_as_stored(services):
    method = await make_method(services)
    order_id = await make_order(services, method)
    await services.payments.run(order_id, act("authorize"))

    r = await services.payments.run(order_id, act("capture", **SHIP))

    assert r.view is not None
    async with transaction(services.sessions) as s:
        stored = await s.get(Order, order_id)
        columns = {c.name: getattr(stored, c.name) for c in Order.__table__.columns}
    assert {name: getattr(r.view.order, name) for name in columns} == columns
    assert (r.view.order.payment_status, r.view.order.in_flight_attempt_id) == ("captured", None)
    assert r.view.customer.id == stored.customer_id
    assert r.view.method.id == method.id


async def test_an_order_changed_during_the_call_is_still_settled(services):
    """Another writer moves the order's version while the provider works (an edit of the
    shipment by an operator): the one-statement settle misses, the general way settles."""
    method = await make_method(services)
    order_id = await make_order(services, method)
    await services.payments.run(order_id, act("authorize"))
    fake = services.registry.fake(method.account_id)
    original = fake.capture

    async def capture(txn, shipment):
        async with transaction(services.sessions) as s:
            await s.execute(
                update(Order)
                .where(Order.id == order_id)
                .values(carrier="佐川急便", version=Order.version + 1)
            )
        return await original(txn, shipment)

    fake.capture = capture
    r = await services.payments.run(order_id, act("capture", **SHIP))

    o = await view(services, order_id)
    assert (r.outcome, o.payment_status_label, o.needs_reconcile) == (
        "succeeded",
        "売上完了",
        False,
    )
    assert o.carrier == "佐川急便"  # the other writer's change is kept
    assert r.view is None  # answered from a fresh read, not from the missed statement
    capture_rows = [a for a in await attempts(services, order_id) if a.operation == "capture"]
    assert [(a.outcome, a.completed_at is not None) for a in capture_rows] == [("succeeded", True)]
    assert await changes(services, order_id) == [
        ("pending", "authorized"),
        ("authorized", "captured"),
    ]
    assert fake.captures() == 1


async def test_a_force_capture_during_the_call_wins_and_the_answer_is_only_recorded(services):
    """The order is settled by someone else while the call is out (強制売上 after the
    lease): the late answer completes the attempt and leaves the order as the winner left it."""
    method = await make_method(services)
    order_id = await make_order(services, method)
    await services.payments.run(order_id, act("authorize"))
    fake = services.registry.fake(method.account_id)
    original = fake.capture

    async def capture(txn, shipment):
        async with transaction(services.sessions) as s:
            await s.execute(
                update(Order)
                .where(Order.id == order_id)
                .values(
                    payment_status="captured",
                    in_flight_attempt_id=None,
                    version=Order.version + 1,
                )
            )
        return await original(txn, shipment)

    fake.capture = capture
    r = await services.payments.run(order_id, act("capture", **SHIP))

    o = await view(services, order_id)
    assert (r.outcome, o.payment_status_label, o.needs_reconcile) == (
        "succeeded",
        "売上完了",
        False,
    )
    capture_rows = [a for a in await attempts(services, order_id) if a.operation == "capture"]
    assert [a.outcome for a in capture_rows] == ["succeeded"]
    # Only the write-ahead's shipment fields and the authorization: the settle wrote nothing.
    assert await changes(services, order_id) == [("pending", "authorized")]


async def test_a_local_plan_takes_the_general_way(services):
    method = await make_method(services)
    order_id = await make_order(services, method)

    r = await services.payments.run(order_id, act("force-cancel"))

    assert (r.outcome, r.view) == ("local", None)
    assert [(a.operation, a.outcome) for a in await attempts(services, order_id)] == [
        ("force_cancel", "local")
    ]
    assert (await view(services, order_id)).payment_status_label == "取消完了"
