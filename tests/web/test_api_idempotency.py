"""Idempotency-Key on every POST: the first response replayed; never a second call or order."""

import asyncio
import json
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from kessai.apikeys.models import ApiKey, IdempotencyRecord
from kessai.core.db import transaction
from kessai.services import Services
from kessai.web.idempotency import request_digest
from tests.web.conftest import (
    act,
    authorized_order,
    card_method,
    client_for,
    new_key,
    new_order,
    order_body,
    snapshot,
)

SHIPMENT = {"shipped_on": "2026-11-22", "tracking_number": "1234-5678-9012"}


async def test_order_creation_is_replayed(services: Services, api: httpx.AsyncClient) -> None:
    method = await card_method(services)
    body = order_body(method.code)
    first = await api.post("/api/v1/orders", json=body, headers={"Idempotency-Key": "o-1"})
    assert first.status_code == 201
    assert "idempotent-replayed" not in first.headers
    again = await api.post("/api/v1/orders", json=body, headers={"Idempotency-Key": "o-1"})
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert (await api.get("/api/v1/orders")).json()["total"] == 1


async def test_payment_action_is_replayed_without_a_second_call(
    services: Services, api: httpx.AsyncClient
) -> None:
    method = await card_method(services)
    order = await authorized_order(api, method.code)
    path = f"/api/v1/orders/{order['id']}/payment/capture"
    first = await api.post(path, json=SHIPMENT, headers={"Idempotency-Key": "cap-1"})
    assert first.status_code == 200
    before = await snapshot(services, order["id"])
    again = await api.post(path, json=SHIPMENT, headers={"Idempotency-Key": "cap-1"})
    assert (again.status_code, again.json()) == (200, first.json())
    assert again.headers["idempotent-replayed"] == "true"
    assert services.registry.fake(method.account_id).captures() == 1
    assert await snapshot(services, order["id"]) == before  # not even a local re-capture


async def test_refusals_are_replayed_too(services: Services, api: httpx.AsyncClient) -> None:
    method = await card_method(services)
    order = await new_order(api, method.code)
    path = f"/api/v1/orders/{order['id']}/payment/capture"
    first = await api.post(path, json={}, headers={"Idempotency-Key": "k"})
    assert first.status_code == 409
    await act(api, order["id"], "authorize")
    again = await api.post(path, json={}, headers={"Idempotency-Key": "k"})
    assert (again.status_code, again.json()) == (409, first.json())
    assert services.registry.fake(method.account_id).captures() == 0


async def test_same_key_with_another_body_is_refused(
    services: Services, api: httpx.AsyncClient
) -> None:
    method = await card_method(services)
    await api.post("/api/v1/orders", json=order_body(method.code), headers={"Idempotency-Key": "x"})
    before = await snapshot(services)
    for path, body in [
        ("/api/v1/orders", order_body(method.code, amount=6_600)),
        ("/api/v1/orders/1/payment/authorize", {}),  # same key, another endpoint
    ]:
        r = await api.post(path, json=body, headers={"Idempotency-Key": "x"})
        assert r.status_code == 422
        assert r.json()["code"] == "idempotency_key_reused"
        assert "Idempotency-Key" in r.json()["message"]
    assert await snapshot(services) == before


async def test_keys_of_different_api_keys_do_not_collide(
    services: Services, api: httpx.AsyncClient
) -> None:
    method = await card_method(services)
    other = await new_key(services, "pos")
    body = order_body(method.code)
    r1 = await api.post("/api/v1/orders", json=body, headers={"Idempotency-Key": "same"})
    async with client_for(services, other) as pos:
        r2 = await pos.post("/api/v1/orders", json=body, headers={"Idempotency-Key": "same"})
    assert (r1.status_code, r2.status_code) == (201, 201)
    assert "idempotent-replayed" not in r2.headers
    assert r1.json()["id"] != r2.json()["id"]


async def test_records_expire_after_24_hours(services: Services, api: httpx.AsyncClient) -> None:
    method = await card_method(services)
    body = order_body(method.code)
    first = await api.post("/api/v1/orders", json=body, headers={"Idempotency-Key": "day"})
    services.clock.advance(timedelta(hours=23, minutes=59))
    kept = await api.post("/api/v1/orders", json=body, headers={"Idempotency-Key": "day"})
    assert kept.headers.get("idempotent-replayed") == "true"
    assert kept.json()["id"] == first.json()["id"]
    services.clock.advance(timedelta(minutes=2))
    later = await api.post("/api/v1/orders", json=body, headers={"Idempotency-Key": "day"})
    assert later.status_code == 201
    assert "idempotent-replayed" not in later.headers
    assert later.json()["id"] != first.json()["id"]


async def test_concurrent_requests_with_one_key_make_one_call(
    services: Services, api: httpx.AsyncClient
) -> None:
    method = await card_method(services)
    order = await authorized_order(api, method.code)
    # The provider answers slowly, so the second request arrives while the first runs.
    services.registry.fake(method.account_id).latency = 0.2
    path = f"/api/v1/orders/{order['id']}/payment/capture"
    responses = await asyncio.gather(
        *(api.post(path, json=SHIPMENT, headers={"Idempotency-Key": "dbl"}) for _ in range(2))
    )
    statuses = sorted(r.status_code for r in responses)
    ok = next(r for r in responses if r.status_code == 200)
    other = next(r for r in responses if r is not ok)
    assert statuses in ([200, 200], [200, 409])
    if other.status_code == 409:
        assert other.json()["code"] == "idempotency_in_progress"
    else:
        assert other.json() == ok.json()
    assert services.registry.fake(method.account_id).captures() == 1
    # Once the first is done, the same key replays it.
    again = await api.post(path, json=SHIPMENT, headers={"Idempotency-Key": "dbl"})
    assert (again.status_code, again.json()) == (200, ok.json())


async def test_a_5xx_is_not_kept_so_a_retry_runs(
    services: Services, api: httpx.AsyncClient
) -> None:
    method = await card_method(services)
    order = await new_order(api, method.code, amount=9_007, tax=0)  # test amount: unreachable
    path = f"/api/v1/orders/{order['id']}/payment/authorize"
    r = await api.post(path, json={}, headers={"Idempotency-Key": "retry"})
    assert r.status_code == 502
    assert r.json()["code"] == "provider_unavailable"
    # The shop lowers the amount and retries with the same key: the retry runs.
    await act(api, order["id"], "change-amount", {"amount": 9_000})
    r = await api.post(path, json={}, headers={"Idempotency-Key": "retry"})
    assert r.status_code == 200, r.text
    assert "idempotent-replayed" not in r.headers
    assert r.json()["order"]["payment_status_label"] == "仮売上完了"
    rows = (await api.get(f"/api/v1/orders/{order['id']}/payment-history")).json()
    assert [(h["operation"], h["outcome"]) for h in rows] == [
        ("authorize", "not_sent"),
        ("local", "local"),
        ("authorize", "succeeded"),
    ]


async def test_the_sandbox_clock_post_is_idempotent(api: httpx.AsyncClient) -> None:
    body = {"advance_days": 1}
    first = await api.post("/api/v1/sandbox/clock", json=body, headers={"Idempotency-Key": "c"})
    again = await api.post("/api/v1/sandbox/clock", json=body, headers={"Idempotency-Key": "c"})
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    now = await api.get("/api/v1/sandbox/clock")
    assert round(now.json()["offset_seconds"] / 86_400) == 1


@pytest.mark.parametrize("key", ["", "x" * 256])
async def test_a_bad_key_is_refused(services: Services, api: httpx.AsyncClient, key: str) -> None:
    method = await card_method(services)
    r = await api.post(
        "/api/v1/orders", json=order_body(method.code), headers={"Idempotency-Key": key}
    )
    assert r.status_code == 422
    assert r.json()["code"] == "invalid_idempotency_key"
    assert (await api.get("/api/v1/orders")).json()["total"] == 0


async def test_validation_errors_do_not_take_the_key(
    services: Services, api: httpx.AsyncClient
) -> None:
    method = await card_method(services)
    bad = await api.post(
        "/api/v1/orders", json={"amount": 1}, headers={"Idempotency-Key": "fix-and-retry"}
    )
    assert bad.status_code == 422
    good = await api.post(
        "/api/v1/orders", json=order_body(method.code), headers={"Idempotency-Key": "fix-and-retry"}
    )
    assert good.status_code == 201


async def test_the_same_json_spelled_differently_is_the_same_request(
    services: Services, api: httpx.AsyncClient
) -> None:
    method = await card_method(services)
    body = order_body(method.code)
    compact = json.dumps(body, ensure_ascii=False).encode()
    spaced = json.dumps(dict(reversed(body.items())), indent=2).encode()
    headers = {"Idempotency-Key": "spelling", "Content-Type": "application/json"}
    first = await api.post("/api/v1/orders", content=compact, headers=headers)
    again = await api.post("/api/v1/orders", content=spaced, headers=headers)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()


async def test_a_key_left_unfinished_by_a_dead_process_is_taken_over(
    services: Services, api: httpx.AsyncClient
) -> None:
    method = await card_method(services)
    body = order_body(method.code)
    raw = json.dumps(body).encode()
    # What a process that died mid-request leaves behind: a claim without a response.
    async with transaction(services.sessions) as s:
        key_id = await s.scalar(select(ApiKey.id))
        assert key_id is not None
        s.add(
            IdempotencyRecord(
                api_key_id=key_id,
                key="orphan",
                request_hash=request_digest("POST", "/api/v1/orders", raw),
                created_at=services.clock.now(),
            )
        )
    headers = {"Idempotency-Key": "orphan", "Content-Type": "application/json"}
    r = await api.post("/api/v1/orders", content=raw, headers=headers)
    assert (r.status_code, r.json()["code"]) == (409, "idempotency_in_progress")
    services.clock.advance(timedelta(seconds=services.settings.attempt_lease_seconds + 1))
    r = await api.post("/api/v1/orders", content=raw, headers=headers)
    assert r.status_code == 201, r.text
    again = await api.post("/api/v1/orders", content=raw, headers=headers)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == r.json()
    assert (await api.get("/api/v1/orders")).json()["total"] == 1
