"""One input policy: control characters, oversized ids and lax amounts are 422s that change
nothing, on SQLite and PostgreSQL alike (PostgreSQL's driver refuses a NUL; both refuse a
64-bit overflow: without the policy each was a 500)."""

from typing import Any

import httpx
import pytest

from kessai.services import Services
from tests.web.conftest import (
    act,
    authorized_order,
    card_method,
    deferred_method,
    new_order,
    order_body,
    snapshot,
)

HUGE = 2**64 + 1


def _refused(r: httpx.Response, code: str = "control_character") -> dict[str, Any]:
    assert r.status_code == 422, r.text
    body: dict[str, Any] = r.json()
    assert body["code"] == code
    assert body["message"]  # Japanese, for the operator
    return body


async def test_nul_in_any_text_is_refused_and_changes_nothing(
    services: Services, api: httpx.AsyncClient
) -> None:
    method = await card_method(services)
    before = await snapshot(services)
    body = _refused(
        await api.post(
            "/api/v1/orders", json=order_body(method.code, customer={"name": "山田\x00太郎"})
        )
    )
    assert body["detail"]["field"] == "customer.name"
    assert "制御文字" in body["message"]
    _refused(await api.post("/api/v1/orders", json=order_body("card\x00")))
    _refused(await api.post("/api/v1/customers", json={"name": "a\x07b"}))
    _refused(await api.get("/api/v1/orders", params={"number": "A\x00"}))
    _refused(await api.get("/api/v1/orders", params={"payment_method": "\x00"}))
    _refused(await api.get("/api/v1/jobs", params={"kind": "billing\x00"}))
    _refused(await api.get("/api/v1/mails", params={"status": "\x1b"}))
    assert await snapshot(services) == before


async def test_nul_in_a_tracking_number_is_refused_before_any_provider_call(
    services: Services, api: httpx.AsyncClient
) -> None:
    method = await deferred_method(services)
    order = await new_order(api, method.code)
    assert (await act(api, order["id"], "authorize")).status_code == 200
    calls = len(services.registry.fake(method.account_id).calls)
    before = await snapshot(services, order["id"])
    r = await act(
        api,
        order["id"],
        "capture",
        {"shipped_on": "2026-11-22", "tracking_number": "1234\x005678"},
    )
    assert _refused(r)["detail"]["field"] == "tracking_number"
    assert await snapshot(services, order["id"]) == before
    assert len(services.registry.fake(method.account_id).calls) == calls


async def test_ids_and_paging_beyond_64_bits_are_422(
    services: Services, api: httpx.AsyncClient
) -> None:
    method = await card_method(services)
    for path in (
        f"/api/v1/orders?offset={HUGE}",
        f"/api/v1/orders/{HUGE}",
        f"/api/v1/orders/{HUGE}/payment-history",
        f"/api/v1/customers/{HUGE}",
        f"/api/v1/customers/{HUGE}/cards",
        f"/api/v1/jobs?offset={HUGE}",
        f"/api/v1/jobs/{HUGE}",
        f"/api/v1/mails?offset={HUGE}",
        f"/api/v1/mails?order_id={HUGE}",
        f"/api/v1/mails?customer_id={HUGE}",
        f"/api/v1/subscriptions?offset={HUGE}",
    ):
        r = await api.get(path)
        assert r.status_code == 422, (path, r.text)
    r = await api.delete(f"/api/v1/customers/1/cards/{HUGE}")
    assert r.status_code == 422, r.text
    before = await snapshot(services)
    r = await api.post("/api/v1/orders", json=order_body(method.code, customer_id=HUGE))
    assert r.status_code == 422, r.text
    assert await snapshot(services) == before


@pytest.mark.parametrize("amount", [True, "5000", 5000.0, 2**64])
async def test_an_amount_is_a_strict_integer(
    services: Services, api: httpx.AsyncClient, amount: Any
) -> None:
    method = await card_method(services)
    before = await snapshot(services)
    r = await api.post("/api/v1/orders", json=order_body(method.code, amount=amount, tax=0))
    assert r.status_code == 422, r.text
    assert await snapshot(services) == before


@pytest.mark.parametrize("amount", [True, "5000"])
async def test_change_amount_refuses_a_lax_amount_without_a_provider_call(
    services: Services, api: httpx.AsyncClient, amount: Any
) -> None:
    method = await card_method(services)
    order = await authorized_order(api, method.code)
    calls = len(services.registry.fake(method.account_id).calls)
    before = await snapshot(services, order["id"])
    r = await act(api, order["id"], "change-amount", {"amount": amount, "tax": 0})
    assert r.status_code == 422, r.text
    assert await snapshot(services, order["id"]) == before
    assert len(services.registry.fake(method.account_id).calls) == calls


async def test_a_csv_with_a_control_character_is_refused(
    services: Services, api: httpx.AsyncClient
) -> None:
    csv = "受注番号,配送伝票番号,発送完了日\r\nA-1,1234\x005678,2026-11-22\r\n".encode()
    r = await api.post("/api/v1/imports/shipments", files={"file": ("出荷.csv", csv, "text/csv")})
    body = _refused(r)
    assert body["detail"]["line"] == 2
