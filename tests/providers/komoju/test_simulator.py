"""The KOMOJU simulator authenticates like KOMOJU (HTTP Basic, the secret key as user name)
and answers with KOMOJU's error object; a repeated X-KOMOJU-IDEMPOTENCY gets the first
answer and makes no second payment."""

from collections.abc import AsyncIterator

import httpx
import pytest

from kessai.providers.komoju.sim import TEST_PUBLISHABLE_KEY, TEST_SECRET_KEY, create_simulator


@pytest.fixture
async def sim() -> AsyncIterator[httpx.AsyncClient]:
    app = create_simulator()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://komoju.sim"
    ) as client:
        yield client


async def token(sim: httpx.AsyncClient) -> str:
    r = await sim.post(
        "/api/v1/tokens",
        json={"payment_details": {"type": "credit_card", "number": "4111111111111111"}},
        auth=(TEST_PUBLISHABLE_KEY, ""),
    )
    return str(r.json()["id"])


async def test_a_wrong_key_gets_komojus_unauthorized(sim: httpx.AsyncClient) -> None:
    for auth in (("sk_test_wrong", ""), (TEST_PUBLISHABLE_KEY, "")):
        r = await sim.get("/api/v1/payments", auth=auth)
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "unauthorized"
    r = await sim.get("/api/v1/payments")
    assert r.status_code == 401
    ok = await sim.get("/api/v1/payments", auth=(TEST_SECRET_KEY, ""))
    assert ok.status_code == 200


async def test_a_repeated_idempotency_key_makes_one_payment(sim: httpx.AsyncClient) -> None:
    body = {"amount": 1000, "currency": "JPY", "payment_details": await token(sim)}
    headers = {"X-KOMOJU-IDEMPOTENCY": "order-1"}
    first = await sim.post(
        "/api/v1/payments", json=body, headers=headers, auth=(TEST_SECRET_KEY, "")
    )
    again = await sim.post(
        "/api/v1/payments", json=body, headers=headers, auth=(TEST_SECRET_KEY, "")
    )
    assert first.status_code == again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    listed = await sim.get("/api/v1/payments", auth=(TEST_SECRET_KEY, ""))
    assert listed.json()["total"] == 1
    assert "4111111111111111" not in listed.text
    assert listed.json()["data"][0]["payment_details"]["last_four_digits"] == "1111"
