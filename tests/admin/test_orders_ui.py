"""受注一覧: the newest orders with their 決済状況 labels, read-only, for every role."""

import httpx

from kessai.core.db import transaction
from kessai.orders.models import Order
from kessai.payments.status import PaymentStatus
from kessai.services import Services
from kessai.users.service import Role
from tests.admin.conftest import add_user, login
from tests.factories import make_method, make_order


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
    assert page.text.index(second.number) < page.text.index(first.number)  # newest first
    assert "32,000円" in page.text
    assert PaymentStatus(first.payment_status).label in page.text

    other = next(s for s in PaymentStatus if s.value != first.payment_status)
    filtered = await client.get("/admin/orders", params={"status": other.value})
    assert first.number not in filtered.text
    assert "受注はありません" in filtered.text
