"""Seed 004's double click: concurrent requests on one order make exactly one provider call.

The fake provider answers slowly (latency), so the requests really overlap: every loser
must be turned away (409 operation_in_progress) or answered from the order as it now is.
"""

import asyncio
import contextlib
from datetime import date

import pytest

from kessai.core.errors import IllegalTransition, InProgress
from tests.factories import act, attempts, make_method, make_order, view

LATENCY = 0.05


async def gather(services, order_id, requests):
    return await asyncio.gather(
        *(services.payments.run(order_id, r) for r in requests), return_exceptions=True
    )


def split(results):
    """(winners, losers): losers are the 409s and the 'already done' local answers."""
    unexpected = [
        r for r in results if isinstance(r, BaseException) and not isinstance(r, InProgress)
    ]
    assert unexpected == []
    done = [r for r in results if not isinstance(r, BaseException) and r.outcome == "succeeded"]
    others = [r for r in results if r not in done]
    for r in others:
        assert isinstance(r, InProgress) or r.outcome == "local"
        if isinstance(r, InProgress):
            assert r.status_code == 409
    return done, others


@pytest.mark.parametrize("clients", [2, 8])
async def test_concurrent_captures_make_one_provider_capture(services, clients):
    method = await make_method(services)
    order_id = await make_order(services, method)
    await services.payments.run(order_id, act("authorize"))
    fake = services.registry.fake(method.account_id)
    fake.latency = LATENCY
    ship = {"shipped_on": date(2026, 3, 2), "tracking_number": "5555"}

    results = await gather(services, order_id, [act("capture", **ship)] * clients)

    done, others = split(results)
    assert len(done) == 1
    assert len(others) == clients - 1
    o = await view(services, order_id)
    assert (o.payment_status_label, o.needs_reconcile) == ("売上完了", False)
    assert fake.captures() == 1
    assert fake.ledger[o.number].history == ["capture"]
    # Nothing was lost, so nothing needed a lookup: a loser never mistakes a settled
    # attempt for a lost one (PostgreSQL READ COMMITTED would show it so without the lock).
    assert [c.operation for c in fake.calls].count("lookup") == 0
    captures = [a for a in await attempts(services, order_id) if a.operation == "capture"]
    assert [a.outcome for a in captures].count("succeeded") == 1
    # Seed 004: a repeated 売上処理 updates 発送完了日 and 発送回数 (a real change, recorded).
    assert all(a.outcome in ("succeeded", "local") for a in captures)


async def test_twenty_concurrent_clicks_leave_one_history_row(services):
    """The same capture clicked 20 times at once: one provider call, one 決済履歴 row; the
    repeats changed nothing, so they add nothing."""
    method = await make_method(services)
    order_id = await make_order(services, method)
    await services.payments.run(order_id, act("authorize"))
    fake = services.registry.fake(method.account_id)
    fake.latency = LATENCY

    done, others = split(await gather(services, order_id, [act("capture")] * 20))

    assert (len(done), len(others)) == (1, 19)
    assert fake.captures() == 1
    history = [(a.operation, a.outcome) for a in await attempts(services, order_id)]
    assert history == [("authorize", "succeeded"), ("capture", "succeeded")]


async def test_concurrent_deferred_shipment_reports_make_one_report(services):
    method = await make_method(services, provider="net_protections", method_type="np_atobarai")
    order_id = await make_order(services, method)
    await services.payments.run(order_id, act("authorize"))
    fake = services.registry.fake(method.account_id)
    fake.latency = LATENCY
    ship = {"shipped_on": date(2026, 3, 2), "tracking_number": "5555"}

    results = await gather(services, order_id, [act("capture", **ship)] * 4)

    done, _ = split(results)
    assert len(done) == 1
    assert (await view(services, order_id)).payment_status_label == "売上完了"
    assert fake.captures() == 1


async def test_concurrent_authorizations_make_one_authorization(services):
    method = await make_method(services)
    order_id = await make_order(services, method)
    fake = services.registry.fake(method.account_id)
    fake.latency = LATENCY

    results = await gather(services, order_id, [act("authorize")] * 2)

    # A loser that arrives after the winner settled is refused by the status table.
    assert all(
        not isinstance(r, BaseException) or isinstance(r, InProgress | IllegalTransition)
        for r in results
    )
    assert [r.outcome for r in results if not isinstance(r, BaseException)] == ["succeeded"]
    assert [c.operation for c in fake.calls] == ["authorize"]
    assert (await view(services, order_id)).payment_status_label == "仮売上完了"


def count_overlap(fake, operations):
    """Wrap the fake so it notes the most calls for one order it ever had in flight at once."""
    state = {"now": 0, "most": 0}
    for name in operations:
        original = getattr(fake, name)

        async def traced(*args, _original=original, **kwargs):
            state["now"] += 1
            state["most"] = max(state["most"], state["now"])
            try:
                return await _original(*args, **kwargs)
            finally:
                state["now"] -= 1

        setattr(fake, name, traced)
    return state


async def test_concurrent_capture_and_cancel_never_overlap_at_the_provider(services):
    method = await make_method(services)
    order_id = await make_order(services, method)
    await services.payments.run(order_id, act("authorize"))
    fake = services.registry.fake(method.account_id)
    fake.latency = LATENCY
    overlap = count_overlap(fake, ["capture", "cancel", "lookup"])

    results = await gather(services, order_id, [act("capture"), act("cancel")])

    assert overlap["most"] == 1
    assert all(
        not isinstance(r, BaseException) or isinstance(r, InProgress | IllegalTransition)
        for r in results
    )
    o = await view(services, order_id)
    ops = [c.operation for c in fake.calls]
    # Whichever won, the order says what the provider holds.
    expected = "取消完了" if "cancel" in ops else "売上完了"
    assert (o.payment_status_label, o.needs_reconcile) == (expected, False)
    assert fake.ledger[o.number].state == ("canceled" if "cancel" in ops else "captured")


async def test_concurrent_captures_on_many_orders_all_go_through(services):
    method = await make_method(services)
    orders = [await make_order(services, method) for _ in range(4)]
    for order_id in orders:
        await services.payments.run(order_id, act("authorize"))
    fake = services.registry.fake(method.account_id)
    fake.latency = LATENCY

    results = await asyncio.gather(
        *(services.payments.run(order_id, act("capture")) for order_id in orders)
    )

    assert [r.outcome for r in results] == ["succeeded"] * 4
    assert fake.captures() == 4


async def test_instant_provider_losers_never_reconcile_a_settled_attempt(services):
    """With an instant provider the winner settles while losers read the order: each must see
    the order and its attempt from one moment, or it takes a settled attempt for a lost one."""
    method = await make_method(services)
    fake = services.registry.fake(method.account_id)
    for _ in range(25):
        order_id = await make_order(services, method)
        await services.payments.run(order_id, act("authorize"))
        results = await gather(services, order_id, [act("capture")] * 8)
        done, _ = split(results)
        assert len(done) == 1
    assert [c.operation for c in fake.calls].count("lookup") == 0
    assert fake.captures() == 25


async def test_slow_lookup_does_not_hold_up_other_orders(services):
    """決済照会 asks the provider outside any transaction: while one order's lookup waits,
    another order's オーソリ goes through (SQLite has one writer at a time)."""
    method = await make_method(services, provider="net_protections", method_type="np_atobarai")
    checking = await make_order(services, method)
    other = await make_order(services, method)
    await services.payments.run(checking, act("authorize", scenario="pending"))
    fake = services.registry.fake(method.account_id)
    lookup, authorize = fake.lookup, fake.authorize
    other_authorized = asyncio.Event()

    async def slow_lookup(reference):
        # Waits for the other order; the timeout only keeps a broken engine from hanging.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(other_authorized.wait(), timeout=5)
        return await lookup(reference)

    async def noting_authorize(request):
        outcome = await authorize(request)
        other_authorized.set()
        return outcome

    fake.lookup, fake.authorize = slow_lookup, noting_authorize
    reconciled, authorized = await asyncio.gather(
        services.payments.run(checking, act("reconcile")),
        services.payments.run(other, act("authorize")),
    )

    assert [c.operation for c in fake.calls][-2:] == ["authorize", "lookup"]
    assert (reconciled.outcome, authorized.outcome) == ("succeeded", "succeeded")
    assert (await view(services, checking)).payment_status_label == "与信審査完了"


async def test_lookup_result_is_not_applied_to_an_order_changed_meanwhile(services):
    method = await make_method(services, provider="net_protections", method_type="np_atobarai")
    order_id = await make_order(services, method)
    await services.payments.run(order_id, act("authorize", scenario="pending"))
    fake = services.registry.fake(method.account_id)
    lookup = fake.lookup

    async def lookup_while_operator_cancels(reference):
        # The timeout only keeps an engine that holds the order during the call from hanging.
        await asyncio.wait_for(services.payments.run(order_id, act("force-cancel")), timeout=5)
        return await lookup(reference)

    fake.lookup = lookup_while_operator_cancels
    with pytest.raises(InProgress):
        await services.payments.run(order_id, act("reconcile"))

    assert (await view(services, order_id)).payment_status_label == "取消完了"
