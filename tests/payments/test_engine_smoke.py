from datetime import date

from kessai.core.db import transaction
from kessai.orders.service import get_order_view
from tests.factories import act, make_method, make_order


async def test_authorize_then_capture(services):
    method = await make_method(services)
    order_id = await make_order(services, method)
    r = await services.payments.run(order_id, act("authorize"))
    assert r.outcome == "succeeded"
    r = await services.payments.run(
        order_id, act("capture", shipped_on=date(2026, 11, 22), tracking_number="123")
    )
    assert r.outcome == "succeeded"
    async with transaction(services.sessions) as s:
        view = await get_order_view(s, order_id)
    assert view.order.payment_status == "captured"
    assert view.order.handling_status == "confirmed"
    assert services.registry.fake(method.account_id).captures() == 1
