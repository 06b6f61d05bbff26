"""決済履歴 (every provider call) and 変更履歴 (every change), and seed 004's double capture."""

import dataclasses
from datetime import date, timedelta

import pytest

from kessai.core.db import transaction
from kessai.core.errors import RuleRefused
from kessai.history.repository import list_changes
from tests.factories import act, attempts, make_method, make_order, view

# 決済履歴's operation for each call the fake saw (a void before 再オーソリ is a cancel call).
FAKE_OPERATION = {"void": "cancel"}


async def changes(services, order_id):
    async with transaction(services.sessions) as s:
        return list(await list_changes(s, "order", order_id))


def by(actor, action, **kw):
    return dataclasses.replace(act(action, **kw), actor=actor)


# ---------------------------------------------------------------- seed 004: 二重の売上処理


async def test_capture_of_captured_order_updates_shipment_only(services):
    """売上完了済みの受注に再度売上処理: 決済処理は実行されず、発送完了日・発送回数は更新."""
    method = await make_method(services)
    order_id = await make_order(services, method)
    await services.payments.run(order_id, act("authorize"))
    await services.payments.run(
        order_id, act("capture", shipped_on=date(2026, 3, 2), tracking_number="1111")
    )
    fake = services.registry.fake(method.account_id)
    calls = len(fake.calls)

    r = await services.payments.run(
        order_id,
        by("csv-import", "capture", shipped_on=date(2026, 3, 9), tracking_number="2222"),
    )

    assert r.outcome == "local"
    assert "売上完了済みのため" in r.message
    o = await view(services, order_id)
    assert o.payment_status_label == "売上完了"
    assert (o.shipped_on, o.tracking_number, o.shipment_count) == (date(2026, 3, 9), "2222", 2)
    assert len(fake.calls) == calls
    assert fake.captures() == 1
    row = (await attempts(services, order_id))[-1]
    assert (row.operation, row.outcome, row.actor) == ("capture", "local", "csv-import")
    assert "売上完了済み" in row.note
    latest = {(c.field, c.before, c.after) for c in (await changes(services, order_id))[-3:]}
    assert latest == {
        ("shipped_on", "2026-03-02", "2026-03-09"),
        ("tracking_number", "1111", "2222"),
        ("shipment_count", "1", "2"),
    }


async def test_capture_of_captured_deferred_order_makes_no_second_report(services):
    method = await make_method(services, provider="net_protections", method_type="np_atobarai")
    order_id = await make_order(services, method)
    await services.payments.run(order_id, act("authorize"))
    ship = {"shipped_on": date(2026, 3, 2), "tracking_number": "1111"}
    await services.payments.run(order_id, act("capture", **ship))
    await services.payments.run(order_id, act("capture", **ship))
    o = await view(services, order_id)
    assert (o.payment_status_label, o.shipment_count) == ("売上完了", 2)
    assert services.registry.fake(method.account_id).captures() == 1


async def test_capture_on_authorize_then_capture_makes_no_call(services):
    method = await make_method(services, capture_on_authorize=True)
    order_id = await make_order(services, method)
    await services.payments.run(order_id, act("authorize"))
    await services.payments.run(order_id, act("capture"))
    assert services.registry.fake(method.account_id).captures() == 1


# ---------------------------------------------------------------- 決済履歴


async def test_every_provider_call_is_in_payment_history(services):
    method = await make_method(services)
    order_id = await make_order(services, method, amount=8_000, tax=727)
    steps = [
        by("shop-api", "authorize", scenario="decline"),
        by("operator:sato", "reauthorize"),
        by("operator:sato", "change-amount", amount=7_000, tax=636),
        by("shop-api", "capture", scenario="unknown"),
        by("operator:sato", "reconcile"),
        by("operator:kato", "change-amount", amount=6_000, tax=545),
        by("operator:kato", "cancel"),
    ]
    started = services.clock.now()
    for step in steps:
        await services.payments.run(order_id, step)
        services.clock.advance(timedelta(hours=1))

    fake = services.registry.fake(method.account_id)
    rows = await attempts(services, order_id)
    sent = [a for a in rows if a.outcome not in ("local", "not_sent")]
    assert [(FAKE_OPERATION.get(a.operation, a.operation), a.reference) for a in sent] == [
        (c.operation, c.reference) for c in fake.calls
    ]
    number = (await view(services, order_id)).number
    assert [(a.operation, a.amount, a.outcome, a.actor) for a in sent] == [
        ("authorize", 8_000, "declined", "shop-api"),
        ("authorize", 8_000, "succeeded", "operator:sato"),
        ("change_amount", 7_000, "succeeded", "operator:sato"),
        ("capture", 7_000, "succeeded", "shop-api"),  # unknown, then settled by the lookup
        ("lookup", 7_000, "succeeded", "operator:sato"),
        ("change_amount", 6_000, "succeeded", "operator:kato"),
        ("cancel", 6_000, "succeeded", "operator:kato"),
    ]
    assert sent[0].reference == number
    assert {a.reference for a in sent[1:]} == {f"{number}-2"}
    assert (sent[0].provider_code, sent[0].provider_message) == (
        "G12",
        "カードが利用できません (カード会社にお問い合わせください)",
    )
    times = [a.created_at for a in rows]
    assert times == sorted(times)
    assert started <= times[0]
    assert all(a.completed_at is not None for a in rows)


async def test_payment_history_keeps_provider_words_of_failed_capture(services):
    method = await make_method(services)
    order_id = await make_order(services, method)
    await services.payments.run(order_id, act("authorize"))
    await services.payments.run(order_id, act("capture", scenario="decline"))
    row = (await attempts(services, order_id))[-1]
    assert (row.operation, row.outcome, row.provider_code, row.provider_message) == (
        "capture",
        "declined",
        "G12",
        "売上処理に失敗しました",
    )


# ---------------------------------------------------------------- 変更履歴


async def test_every_change_is_in_change_history(services):
    method = await make_method(services)
    order_id = await make_order(services, method, amount=8_000, tax=727)
    await services.payments.run(order_id, by("shop-api", "authorize"))
    await services.payments.run(order_id, by("operator:sato", "change-amount", amount=7_000))
    await services.payments.run(
        order_id,
        by("csv-import", "capture", shipped_on=date(2026, 3, 2), tracking_number="1111"),
    )
    await services.payments.run(order_id, by("operator:kato", "cancel"))

    rows = await changes(services, order_id)
    assert [(c.field, c.before, c.after, c.actor) for c in rows] == [
        ("payment_status", "pending", "authorized", "shop-api"),
        ("handling_status", "new", "confirmed", "shop-api"),
        ("amount", "8000", "7000", "operator:sato"),
        ("shipped_on", None, "2026-03-02", "csv-import"),
        ("tracking_number", None, "1111", "csv-import"),
        ("shipment_count", "0", "1", "csv-import"),
        ("payment_status", "authorized", "captured", "csv-import"),
        ("payment_status", "captured", "canceled", "operator:kato"),
        ("handling_status", "confirmed", "canceled", "operator:kato"),
    ]
    assert all(c.reason for c in rows)


async def test_refusal_that_moves_the_status_is_in_change_history(services):
    method = await make_method(services)
    order_id = await make_order(services, method)
    await services.payments.run(order_id, act("authorize"))
    services.clock.advance(timedelta(days=61))
    with pytest.raises(RuleRefused):
        await services.payments.run(order_id, by("operator:sato", "capture"))
    last = (await changes(services, order_id))[-1]
    assert (last.field, last.before, last.after, last.actor) == (
        "payment_status",
        "authorized",
        "capture_failed",
        "operator:sato",
    )
    assert "与信期限" in last.reason


async def test_force_actions_are_recorded_with_actor(services):
    method = await make_method(services)
    order_id = await make_order(services, method)
    await services.payments.run(order_id, act("authorize"))
    await services.payments.run(order_id, by("operator:sato", "force-capture"))
    last = (await changes(services, order_id))[-1]
    assert (last.before, last.after, last.actor) == ("authorized", "captured", "operator:sato")
    assert last.reason == "強制売上処理(決済サービス未連携)"
    row = (await attempts(services, order_id))[-1]
    assert (row.operation, row.actor, row.note) == (
        "force_capture",
        "operator:sato",
        "決済サービス未連携",
    )
