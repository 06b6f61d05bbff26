"""決済履歴 tells what happened: one row per provider call or real local change. A repeated
click that changes nothing adds no row; kessai's own refusals are kept apart from the
provider's codes."""

from datetime import date, timedelta

import pytest

from kessai.core.errors import Conflict
from tests.factories import act, attempts, make_method, make_order, view


def rows(found):
    return [(a.operation, a.outcome) for a in found]


async def test_a_repeated_capture_adds_a_row_only_when_it_changes_something(services):
    method = await make_method(services)
    order_id = await make_order(services, method)
    await services.payments.run(order_id, act("authorize"))
    ship = {"shipped_on": date(2026, 3, 2), "tracking_number": "5555"}
    await services.payments.run(order_id, act("capture", **ship))

    for _ in range(3):  # nothing given, nothing changes: told "local", no 決済履歴 row
        again = await services.payments.run(order_id, act("capture"))
        assert (again.outcome, again.attempt_id) == ("local", None)
    assert rows(await attempts(services, order_id)) == [
        ("authorize", "succeeded"),
        ("capture", "succeeded"),
    ]
    assert (await view(services, order_id)).shipment_count == 1

    # Seed 004: 売上処理 again with the shipment updates 発送完了日 and 発送回数 — a real
    # change, so one local row; still never a second provider capture.
    changed = await services.payments.run(order_id, act("capture", tracking_number="6666"))
    assert changed.attempt_id is not None
    assert rows(await attempts(services, order_id))[-1] == ("capture", "local")
    order = await view(services, order_id)
    assert (order.tracking_number, order.shipment_count) == ("6666", 2)
    assert services.registry.fake(method.account_id).captures() == 1


async def test_a_refusal_that_moves_the_status_is_kept_apart_from_provider_codes(services):
    method = await make_method(services)  # GMO PG: 与信期限 60日
    order_id = await make_order(services, method)
    await services.payments.run(order_id, act("authorize"))
    services.clock.advance(timedelta(days=61))

    with pytest.raises(Conflict) as refused:
        await services.payments.run(order_id, act("capture"))

    assert refused.value.code == "authorization_expired"
    assert (await view(services, order_id)).payment_status_label == "売上失敗"
    *_, row = await attempts(services, order_id)
    assert (row.operation, row.outcome) == ("refused", "refused")
    assert row.provider_code is None  # never kessai's code in the provider's column
    assert row.request["refusal_code"] == "authorization_expired"
    assert row.note == refused.value.message
    assert services.registry.fake(method.account_id).captures() == 0
