"""A storefront's first step in the ops tests: an order through the REST API."""

import httpx


async def new_order(api: httpx.AsyncClient, method_code: str, amount: int) -> int:
    created = await api.post(
        "/api/v1/orders",
        json={"payment_method": method_code, "amount": amount, "customer": {"name": "山田"}},
    )
    assert created.status_code == 201, created.text
    return int(created.json()["id"])
