"""Crashes mid-call: the attempt is written ahead, so nothing the provider did is ever lost.

A process kill is simulated by cancelling the task running the engine (asyncio.CancelledError
is not an Exception, so nothing in the engine can swallow it), either after the fake provider
has done the work or while the request is still on its way.
"""

import asyncio
from datetime import timedelta

import pytest

from kessai.core.errors import InProgress
from tests.factories import act, attempts, make_method, make_order, view


def pass_lease(services):
    services.clock.advance(timedelta(seconds=services.settings.attempt_lease_seconds + 1))


def crash_after(fake, operation, exc=asyncio.CancelledError):
    """The provider does `operation`, then the process dies before hearing the answer."""
    original = getattr(fake, operation)

    async def crashing(*args, **kwargs):
        await original(*args, **kwargs)
        raise exc("killed after the provider answered")

    setattr(fake, operation, crashing)
    return lambda: delattr(fake, operation)


async def crash_in_flight(services, fake, operation, order_id, request):
    """Cancel the engine's task while the request travels to the provider (nothing done)."""
    original = getattr(fake, operation)
    started = asyncio.Event()

    async def traced(*args, **kwargs):
        started.set()
        return await original(*args, **kwargs)

    setattr(fake, operation, traced)
    fake.latency = 0.1
    task = asyncio.create_task(services.payments.run(order_id, request))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    delattr(fake, operation)
    fake.latency = 0


async def authorized_card(services):
    method = await make_method(services)
    order_id = await make_order(services, method)
    await services.payments.run(order_id, act("authorize"))
    return services.registry.fake(method.account_id), order_id


async def run_killed(services, order_id, request):
    task = asyncio.create_task(services.payments.run(order_id, request))
    with pytest.raises(asyncio.CancelledError):
        await task


# ---------------------------------------------------------------- capture


async def test_capture_killed_after_provider_captured(services):
    fake, order_id = await authorized_card(services)
    restore = crash_after(fake, "capture")
    await run_killed(services, order_id, act("capture"))
    restore()

    o = await view(services, order_id)
    assert (o.payment_status_label, o.needs_reconcile) == ("仮売上完了", True)
    held = (await attempts(services, order_id))[-1]
    assert (held.operation, held.outcome, held.completed_at) == ("capture", "sent", None)
    assert fake.ledger[o.number].state == "captured"

    # Within the lease the first request may still be alive: hands off.
    with pytest.raises(InProgress) as e:
        await services.payments.run(order_id, act("capture"))
    assert (e.value.status_code, e.value.code) == (409, "operation_in_progress")
    assert e.value.detail["operation"] == "capture"

    pass_lease(services)
    r = await services.payments.run(order_id, act("capture"))

    o = await view(services, order_id)
    assert (r.outcome, o.payment_status_label, o.needs_reconcile) == (
        "succeeded",
        "売上完了",
        False,
    )
    assert fake.captures(o.number) == 1
    settled = next(a for a in await attempts(services, order_id) if a.id == held.id)
    assert (settled.outcome, settled.note) == ("succeeded", "決済照会により確定")


async def test_lease_is_not_cut_short(services):
    fake, order_id = await authorized_card(services)
    restore = crash_after(fake, "capture")
    await run_killed(services, order_id, act("capture"))
    restore()
    services.clock.advance(timedelta(seconds=services.settings.attempt_lease_seconds - 5))
    with pytest.raises(InProgress):
        await services.payments.run(order_id, act("cancel"))
    with pytest.raises(InProgress):
        await services.payments.run(order_id, act("force-capture"))
    assert fake.ledger[(await view(services, order_id)).number].state == "captured"


async def test_capture_killed_before_provider_acted_is_retried_once(services):
    fake, order_id = await authorized_card(services)
    await crash_in_flight(services, fake, "capture", order_id, act("capture"))
    o = await view(services, order_id)
    assert o.needs_reconcile
    assert fake.ledger[o.number].state == "authorized"
    assert fake.captures() == 0

    pass_lease(services)
    r = await services.payments.run(order_id, act("capture"))

    o = await view(services, order_id)
    assert (r.outcome, o.payment_status_label) == ("succeeded", "売上完了")
    assert fake.captures(o.number) == 1
    rows = [a for a in await attempts(services, order_id) if a.operation == "capture"]
    assert [a.outcome for a in rows] == ["not_sent", "succeeded"]
    assert "処理されていませんでした" in rows[0].note


async def test_killed_capture_then_cancel_cancels_the_sale(services):
    fake, order_id = await authorized_card(services)
    restore = crash_after(fake, "capture")
    await run_killed(services, order_id, act("capture"))
    restore()
    pass_lease(services)

    await services.payments.run(order_id, act("cancel"))

    o = await view(services, order_id)
    assert o.payment_status_label == "取消完了"
    assert fake.ledger[o.number].state == "canceled"
    assert fake.captures() == 1


async def test_force_capture_settles_a_stale_attempt_without_a_call(services):
    fake, order_id = await authorized_card(services)
    restore = crash_after(fake, "capture")
    await run_killed(services, order_id, act("capture"))
    restore()
    calls = len(fake.calls)
    pass_lease(services)

    await services.payments.run(order_id, act("force-capture"))

    o = await view(services, order_id)
    assert (o.payment_status_label, o.needs_reconcile) == ("売上完了", False)
    assert len(fake.calls) == calls


# ---------------------------------------------------------------- authorize


async def test_authorize_killed_after_provider_authorized(services):
    method = await make_method(services)
    order_id = await make_order(services, method)
    fake = services.registry.fake(method.account_id)
    restore = crash_after(fake, "authorize")
    await run_killed(services, order_id, act("authorize"))
    restore()
    o = await view(services, order_id)
    assert (o.payment_status_label, o.needs_reconcile) == ("決済準備中", True)

    with pytest.raises(InProgress):
        await services.payments.run(order_id, act("authorize"))

    pass_lease(services)
    r = await services.payments.run(order_id, act("authorize"))

    o = await view(services, order_id)
    assert (r.outcome, o.payment_status_label, o.handling_status_label) == (
        "succeeded",
        "仮売上完了",
        "注文確定",
    )
    assert [c.operation for c in fake.calls].count("authorize") == 1
    assert o.provider_transaction_id == fake.ledger[o.number].transaction_id


async def test_authorize_killed_before_provider_acted_gets_a_new_attempt(services):
    method = await make_method(services)
    order_id = await make_order(services, method)
    fake = services.registry.fake(method.account_id)
    await crash_in_flight(services, fake, "authorize", order_id, act("authorize"))
    assert fake.ledger == {}

    pass_lease(services)
    r = await services.payments.run(order_id, act("authorize"))

    o = await view(services, order_id)
    assert (r.outcome, o.payment_status_label) == ("succeeded", "仮売上完了")
    assert [(c.operation, c.reference) for c in fake.calls if c.operation != "lookup"] == [
        ("authorize", o.provider_reference)
    ]


async def test_killed_authorize_then_capture_makes_one_authorization(services):
    method = await make_method(services)
    order_id = await make_order(services, method)
    fake = services.registry.fake(method.account_id)
    restore = crash_after(fake, "authorize")
    await run_killed(services, order_id, act("authorize"))
    restore()
    pass_lease(services)

    await services.payments.run(order_id, act("capture"))

    o = await view(services, order_id)
    assert o.payment_status_label == "売上完了"
    ops = [c.operation for c in fake.calls]
    assert (ops.count("authorize"), fake.captures()) == (1, 1)


# ---------------------------------------------------------------- arbitrary exceptions


@pytest.mark.parametrize("exc", [RuntimeError, TimeoutError, KeyError])
async def test_connector_exception_after_provider_acted_is_unknown(services, exc):
    fake, order_id = await authorized_card(services)
    restore = crash_after(fake, "capture", exc)
    r = await services.payments.run(order_id, act("capture"))
    restore()

    assert r.outcome == "unknown"
    o = await view(services, order_id)
    assert (o.payment_status_label, o.needs_reconcile) == ("仮売上完了", True)
    row = (await attempts(services, order_id))[-1]
    assert (row.outcome, row.completed_at) == ("unknown", None)
    assert exc.__name__ in row.provider_message

    # No lease to wait for: an unknown answer is reconciled by the very next action.
    r = await services.payments.run(order_id, act("capture"))
    o = await view(services, order_id)
    assert (r.outcome, o.payment_status_label) == ("succeeded", "売上完了")
    assert fake.captures(o.number) == 1


async def test_connector_exception_before_provider_acted_is_unknown_then_retried(services):
    fake, order_id = await authorized_card(services)

    async def broken(txn, shipment):
        raise ValueError("bad response body")

    fake.capture = broken
    r = await services.payments.run(order_id, act("capture"))
    del fake.capture
    assert r.outcome == "unknown"

    await services.payments.run(order_id, act("capture"))
    o = await view(services, order_id)
    assert o.payment_status_label == "売上完了"
    assert fake.captures(o.number) == 1
