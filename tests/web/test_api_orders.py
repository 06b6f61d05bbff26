"""/api/v1/payment-methods and /api/v1/orders: create, read, search; bad input changes nothing."""

import asyncio
from typing import Any

import httpx
import pytest

from kessai.services import Services
from tests.factories import make_method
from tests.web.conftest import (
    card_method,
    database_text,
    deferred_method,
    new_order,
    order_body,
    snapshot,
)

PAN = "4111111111111111"


async def test_payment_methods_show_kind_flags_and_authorization_days(
    services: Services, api: httpx.AsyncClient
) -> None:
    card = await card_method(services, capture_on_authorize=True)
    deferred = await deferred_method(services, gmops_cancel_link=True)
    paypay = await make_method(services, provider="gmo_pg", method_type="paypay")
    r = await api.get("/api/v1/payment-methods")
    assert r.status_code == 200
    by_code = {m["code"]: m for m in r.json()}
    assert set(by_code) == {card.code, deferred.code, paypay.code}
    c = by_code[card.code]
    assert c["kind"] == "card"
    assert c["provider_name"] == "GMOペイメントゲートウェイ"
    assert c["authorization_days"] == 60
    assert c["simulated"] is True
    assert c["flags"]["capture_on_authorize"] is True
    assert c["flags"]["reduce_link"] is False
    d = by_code[deferred.code]
    assert (d["kind"], d["authorization_days"]) == ("deferred", 90)
    assert d["flags"]["gmops_cancel_link"] is True
    assert by_code[paypay.code]["authorization_days"] == 30  # PayPay via GMO PG: 30日, not 60


async def test_create_an_order(services: Services, api: httpx.AsyncClient) -> None:
    method = await card_method(services)
    r = await api.post("/api/v1/orders", json=order_body(method.code, number="A-1001"))
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["number"] == "A-1001"
    assert (order["amount"], order["tax"]) == (5_500, 500)
    assert order["payment_status"] == "pending"
    assert order["payment_status_label"] == "決済準備中"
    assert order["handling_status_label"] == "新規受付"
    assert order["customer"]["name"] == "山田 太郎"
    assert order["payment_method"]["code"] == method.code
    allowed = set(order["allowed_actions"])
    # Before any authorization the amount is kessai's alone to change (no provider call).
    assert {"authorize", "cancel", "change-amount", "force-capture", "force-cancel"} <= allowed
    assert not allowed & {"capture", "reconcile"}
    assert order["authorization_expires_at"] is None
    got = await api.get(f"/api/v1/orders/{order['id']}")
    assert got.status_code == 200
    assert got.json() == order


async def test_order_numbers_are_given_by_the_tokyo_date_when_omitted(
    services: Services, api: httpx.AsyncClient
) -> None:
    method = await card_method(services)
    # 08:00 in Tokyo is still the previous day in UTC: the number follows Tokyo.
    r = await api.post("/api/v1/sandbox/clock", json={"set": "2026-11-23T08:00:00+09:00"})
    assert r.status_code == 200
    first = await new_order(api, method.code)
    second = await new_order(api, method.code)
    assert first["number"].startswith("20261123")
    assert second["number"].startswith("20261123")
    assert first["number"] != second["number"]


async def test_auto_numbering_steps_over_a_number_already_taken(
    services: Services, api: httpx.AsyncClient
) -> None:
    method = await card_method(services)
    await api.post("/api/v1/sandbox/clock", json={"set": "2026-11-23T12:00:00+09:00"})
    first = await new_order(api, method.code)
    assert first["number"] == "20261123000001"
    # Someone registers, by hand, the number the next automatic one would take.
    await new_order(api, method.code, number="20261123000003")
    third = await new_order(api, method.code)
    fourth = await new_order(api, method.code)
    numbers = {first["number"], "20261123000003", third["number"], fourth["number"]}
    assert len(numbers) == 4


async def test_concurrent_orders_without_numbers_all_succeed(
    services: Services, api: httpx.AsyncClient
) -> None:
    method = await card_method(services)
    responses = await asyncio.gather(
        *(api.post("/api/v1/orders", json=order_body(method.code)) for _ in range(12))
    )
    assert [r.status_code for r in responses] == [201] * 12, [r.text for r in responses]
    assert len({r.json()["number"] for r in responses}) == 12


async def test_the_same_number_twice_is_a_conflict(
    services: Services, api: httpx.AsyncClient
) -> None:
    method = await card_method(services)
    await new_order(api, method.code, number="A-1")
    before = await snapshot(services)
    r = await api.post("/api/v1/orders", json=order_body(method.code, number="A-1"))
    assert r.status_code == 409
    assert r.json()["code"] == "duplicate_order_number"
    assert "A-1" in r.json()["message"]
    assert await snapshot(services) == before


async def test_an_existing_customer_can_be_referenced(
    services: Services, api: httpx.AsyncClient
) -> None:
    method = await card_method(services)
    first = await new_order(api, method.code)
    body = order_body(method.code, customer_id=first["customer"]["id"])
    del body["customer"]
    r = await api.post("/api/v1/orders", json=body)
    assert r.status_code == 201
    assert r.json()["customer"] == first["customer"]


async def test_get_an_unknown_order(api: httpx.AsyncClient) -> None:
    for path in ("/api/v1/orders/999", "/api/v1/orders/999/payment-history"):
        r = await api.get(path)
        assert r.status_code == 404
        assert r.json()["code"] == "order_not_found"
        assert "受注が見つかりませんでした" in r.json()["message"]
    r = await api.get("/api/v1/orders/99999999999999999999999")
    assert r.status_code in (404, 422)
    assert r.json()["code"] in ("order_not_found", "invalid_input")


async def _seed_for_search(services: Services, api: httpx.AsyncClient) -> dict[str, Any]:
    card = await card_method(services)
    deferred = await deferred_method(services)
    a = await new_order(api, card.code, number="S-1", ordered_at="2026-11-01T10:00:00+09:00")
    b = await new_order(api, card.code, number="S-2", ordered_at="2026-11-15T23:30:00+09:00")
    c = await new_order(api, deferred.code, number="S-3", ordered_at="2026-11-30T00:10:00+09:00")
    r = await api.post(f"/api/v1/orders/{b['id']}/payment/authorize", json={})
    assert r.json()["order"]["payment_status"] == "authorized"
    return {"card": card.code, "deferred": deferred.code, "a": a, "b": b, "c": c}


async def _numbers(api: httpx.AsyncClient, **params: Any) -> list[str]:
    r = await api.get("/api/v1/orders", params=params)
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["total"] >= len(page["items"])
    return [o["number"] for o in page["items"]]


async def test_search_by_each_filter(services: Services, api: httpx.AsyncClient) -> None:
    seed = await _seed_for_search(services, api)
    assert await _numbers(api) == ["S-3", "S-2", "S-1"]  # newest first
    assert await _numbers(api, payment_status="authorized") == ["S-2"]
    assert await _numbers(api, payment_status="仮売上完了") == ["S-2"]  # the label works too
    assert await _numbers(api, payment_status="pending") == ["S-3", "S-1"]
    assert await _numbers(api, number="S-3") == ["S-3"]
    assert await _numbers(api, payment_method=seed["deferred"]) == ["S-3"]
    assert await _numbers(api, payment_method=seed["card"]) == ["S-2", "S-1"]
    assert await _numbers(api, ordered_from="2026-11-15T00:00:00+09:00") == ["S-3", "S-2"]
    assert await _numbers(api, ordered_to="2026-11-15T23:59:59+09:00") == ["S-2", "S-1"]
    # Dates alone are business days in Tokyo, both ends included.
    assert await _numbers(api, ordered_from="2026-11-15", ordered_to="2026-11-15") == ["S-2"]
    assert await _numbers(api, ordered_to="2026-11-29") == ["S-2", "S-1"]
    assert await _numbers(api, ordered_from="2026-11-30") == ["S-3"]
    assert await _numbers(api, payment_status="pending", payment_method=seed["card"]) == ["S-1"]
    assert await _numbers(api, number="nothing") == []
    # 対応状況, 定期 or not, 洗替ステータス and label, as the admin's search has them.
    assert await _numbers(api, handling_status="注文確定") == ["S-2"]
    assert await _numbers(api, handling_status="new") == ["S-3", "S-1"]
    assert await _numbers(api, subscription="false") == ["S-3", "S-2", "S-1"]
    assert await _numbers(api, subscription="true") == []
    assert await _numbers(api, updater_result="有効性NG") == []
    assert await _numbers(api, label="再与信対象") == []


async def test_search_pages(services: Services, api: httpx.AsyncClient) -> None:
    await _seed_for_search(services, api)
    r = await api.get("/api/v1/orders", params={"limit": 2})
    page = r.json()
    assert (page["total"], page["limit"], page["offset"]) == (3, 2, 0)
    assert [o["number"] for o in page["items"]] == ["S-3", "S-2"]
    r = await api.get("/api/v1/orders", params={"limit": 2, "offset": 2})
    assert [o["number"] for o in r.json()["items"]] == ["S-1"]
    assert r.json()["total"] == 3


BAD_FILTERS: list[tuple[dict[str, Any], str]] = [
    ({"payment_status": "paid"}, "unknown_payment_status"),
    ({"handling_status": "done"}, "unknown_handling_status"),
    ({"updater_result": "9"}, "unknown_updater_result"),
    ({"label": "x"}, "unknown_label"),
    ({"subscription": "maybe"}, "invalid_input"),
    ({"ordered_from": "yesterday"}, "invalid_input"),
    ({"ordered_from": "2026-11-01T10:00:00"}, "invalid_input"),  # no zone: ambiguous
    ({"limit": 0}, "invalid_input"),
    ({"limit": 501}, "invalid_input"),
    ({"offset": -1}, "invalid_input"),
    ({"offset": 10**30}, "invalid_input"),
]


async def test_search_with_bad_filters(api: httpx.AsyncClient, subtests: pytest.Subtests) -> None:
    for params, code in BAD_FILTERS:
        with subtests.test(params=params):
            r = await api.get("/api/v1/orders", params=params)
            assert r.status_code == 422, r.text
            assert r.json()["code"] == code
            assert r.json()["message"]


BAD_ORDERS: list[tuple[str, dict[str, Any], str]] = [
    ("zero amount", {"amount": 0, "tax": 0}, "invalid_input"),
    ("negative amount", {"amount": -100, "tax": 0}, "invalid_input"),
    ("above the method's limit", {"amount": 300_001, "tax": 0}, "amount_out_of_range"),
    ("huge amount", {"amount": 10**12, "tax": 0}, "amount_out_of_range"),
    ("tax above amount", {"amount": 1_000, "tax": 1_001}, "tax_out_of_range"),
    ("negative tax", {"amount": 1_000, "tax": -1}, "invalid_input"),
    ("fractional yen", {"amount": 1000.5}, "invalid_input"),
    ("unknown method", {"payment_method": "no-such-method"}, "unknown_payment_method"),
    ("unknown field", {"discount": 100}, "invalid_input"),
    ("unknown customer field", {"customer": {"name": "x", "phone": "1"}}, "invalid_input"),
    ("no customer", {"customer": None}, "customer_required"),
    ("unknown customer", {"customer": None, "customer_id": 12345}, "unknown_customer"),
    ("customer id overflow", {"customer": None, "customer_id": 10**30}, "invalid_input"),
    ("bad number", {"number": "受注 1"}, "invalid_input"),
    ("naive ordered_at", {"ordered_at": "2026-11-01T10:00:00"}, "invalid_input"),
    ("nested source", {"payment_source": {"card": {"number": PAN}}}, "invalid_input"),
    ("subscription overflow", {"subscription_id": 10**30}, "invalid_input"),
]


async def test_bad_orders_are_refused_and_nothing_is_written(
    services: Services, api: httpx.AsyncClient, subtests: pytest.Subtests
) -> None:
    method = await card_method(services, max_amount=300_000)
    before = await snapshot(services)
    for case, change, code in BAD_ORDERS:
        with subtests.test(case):
            r = await api.post("/api/v1/orders", json=order_body(method.code, **change))
            assert r.status_code == 422, r.text
            body = r.json()
            assert set(body) == {"code", "message", "detail"}
            assert body["code"] == code
            assert body["message"]
            assert await snapshot(services) == before
    assert (await api.get("/api/v1/orders")).json()["total"] == 0


async def test_error_messages_name_the_limit_and_the_method(
    services: Services, api: httpx.AsyncClient
) -> None:
    method = await card_method(services, max_amount=300_000)
    r = await api.post("/api/v1/orders", json=order_body(method.code, amount=300_001, tax=0))
    assert "300,000円以下" in r.json()["message"]
    assert r.json()["detail"] == {"amount": 300_001, "min": 1, "max": 300_000}
    r = await api.post("/api/v1/orders", json=order_body("nope"))
    assert r.json()["message"] == "支払い方法「nope」は登録されていません"
    r = await api.post("/api/v1/orders", json=order_body(method.code, discount=1))
    assert "discount" in r.json()["message"]


async def test_a_disabled_method_takes_no_orders(
    services: Services, api: httpx.AsyncClient
) -> None:
    method = await card_method(services, enabled=False)
    r = await api.post("/api/v1/orders", json=order_body(method.code))
    assert r.status_code == 422
    assert r.json()["code"] == "payment_method_disabled"


CARD_SOURCES: list[dict[str, str]] = [
    {"card_number": PAN},
    {"cardNo": PAN},
    {"card_no": "4111 1111 1111 1111"},
    {"token": "4111-1111-1111-1111"},  # a number where a token belongs
    {"token": "tok_x", "security_code": "123"},
    {"token": "tok_x", "cvc": "123"},
    {"token": "tok_x", "securityCode": "1234"},
]


async def test_card_data_is_refused_and_never_stored(
    services: Services, api: httpx.AsyncClient, subtests: pytest.Subtests
) -> None:
    method = await card_method(services)
    for i, source in enumerate(CARD_SOURCES):
        with subtests.test(source=list(source)):
            r = await api.post(
                "/api/v1/orders",
                json=order_body(method.code, payment_source=source),
                headers={"Idempotency-Key": f"card-{i}"},
            )
            assert r.status_code == 422, r.text
            assert r.json()["code"] == "card_data_not_accepted"
            for value in source.values():
                if value != "tok_x":
                    assert value not in r.text
    stored = await database_text(services)
    for source in CARD_SOURCES:
        for value in source.values():
            if len(value) > 12:  # card numbers in any spelling; never a row holding them
                assert value not in stored
    assert (await api.get("/api/v1/orders")).json()["total"] == 0


async def test_malformed_json_is_refused(services: Services, api: httpx.AsyncClient) -> None:
    await card_method(services)
    before = await snapshot(services)
    r = await api.post(
        "/api/v1/orders",
        content=b'{"payment_method": "x", "amount": ',
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 422
    assert r.json()["code"] == "malformed_json"
    assert r.json()["message"] == "リクエストのJSONが正しくありません"
    assert await snapshot(services) == before
