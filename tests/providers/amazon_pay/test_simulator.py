"""The Amazon Pay simulator checks requests as Amazon does, and answers with Amazon's own
reason codes: a wrong signature, an unknown key, a POST without its idempotency key, a
decimal JPY amount; a repeated idempotency key gets the first answer."""

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from kessai.providers.amazon_pay import signing
from kessai.providers.amazon_pay.config import AmazonPayConfig
from kessai.providers.amazon_pay.http import AmazonPayClient
from kessai.providers.amazon_pay.provider import sandbox_settings
from kessai.providers.amazon_pay.sim import SANDBOX_STORE_ID, SimulatorConfig, create_simulator

BASE = "http://amazon.sim"
NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


@pytest.fixture
async def sim() -> AsyncIterator[httpx.AsyncClient]:
    app = create_simulator(SimulatorConfig(now=lambda: NOW))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
        yield c


def signed(
    method: str, path: str, body: dict[str, object] | None, *, key: str | None = "k1"
) -> dict[str, str]:
    client = AmazonPayClient(AmazonPayConfig.from_settings(sandbox_settings(BASE)))
    client.now = lambda: NOW
    raw = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
    return client.headers(method, path, raw, key)


def content(body: dict[str, object]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


SESSION = {"webCheckoutDetails": {}, "storeId": SANDBOX_STORE_ID}


async def test_a_signed_request_is_answered(sim: httpx.AsyncClient) -> None:
    headers = signed("POST", "/v2/checkoutSessions", SESSION)
    r = await sim.post("/v2/checkoutSessions", content=content(SESSION), headers=headers)
    assert r.status_code == 201, r.text
    assert r.json()["statusDetails"]["state"] == "Open"


async def test_a_wrong_signature_gets_amazons_own_error(sim: httpx.AsyncClient) -> None:
    headers = signed("POST", "/v2/checkoutSessions", SESSION)
    changed = {**SESSION, "storeId": SANDBOX_STORE_ID.replace("0", "1")}
    r = await sim.post("/v2/checkoutSessions", content=content(changed), headers=headers)
    assert (r.status_code, r.json()["reasonCode"]) == (401, "InvalidRequestSignature")
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = signing.signed_headers(
        method="POST",
        path="/v2/checkoutSessions",
        parameters={},
        body=content(SESSION),
        headers={k: v for k, v in headers.items() if k != "authorization"},
        private_key=other,
        public_key_id="SANDBOX-KESSAISIMULATORKEY01",
    )
    r = await sim.post("/v2/checkoutSessions", content=content(SESSION), headers=forged)
    assert (r.status_code, r.json()["reasonCode"]) == (401, "InvalidRequestSignature")
    unknown = {**headers, "authorization": headers["authorization"].replace("KEY01", "KEY99")}
    r = await sim.post("/v2/checkoutSessions", content=content(SESSION), headers=unknown)
    assert (r.status_code, r.json()["reasonCode"]) == (401, "UnauthorizedAccess")
    unsigned = {k: v for k, v in headers.items() if k != "authorization"}
    r = await sim.post("/v2/checkoutSessions", content=content(SESSION), headers=unsigned)
    assert (r.status_code, r.json()["reasonCode"]) == (400, "MissingHeader")
    calls = (await sim.get("/_calls")).json()["calls"]
    assert calls == []  # refused before the simulator acted on anything


async def test_a_post_needs_its_idempotency_key_and_a_repeat_gets_the_first_answer(
    sim: httpx.AsyncClient,
) -> None:
    r = await sim.post(
        "/v2/checkoutSessions",
        content=content(SESSION),
        headers=signed("POST", "/v2/checkoutSessions", SESSION, key=None),
    )
    assert (r.status_code, r.json()["reasonCode"]) == (400, "MissingHeader")
    assert "idempotency" in r.json()["message"]
    headers = signed("POST", "/v2/checkoutSessions", SESSION, key="same-key")
    first = await sim.post("/v2/checkoutSessions", content=content(SESSION), headers=headers)
    again = await sim.post("/v2/checkoutSessions", content=content(SESSION), headers=headers)
    assert first.json()["checkoutSessionId"] == again.json()["checkoutSessionId"]


async def test_jpy_amounts_are_whole_yen(sim: httpx.AsyncClient) -> None:
    headers = signed("POST", "/v2/checkoutSessions", SESSION)
    r = await sim.post("/v2/checkoutSessions", content=content(SESSION), headers=headers)
    session = r.json()["checkoutSessionId"]
    await sim.post(f"/checkout/{session}", data={"payment_method": "1111"})
    body = {"chargeAmount": {"amount": "705.00", "currencyCode": "JPY"}}
    path = f"/v2/checkoutSessions/{session}/complete"
    r = await sim.post(path, content=content(body), headers=signed("POST", path, body, key="k2"))
    assert (r.status_code, r.json()["reasonCode"]) == (400, "InvalidParameterValue")
    body = {"chargeAmount": {"amount": "705", "currencyCode": "JPY"}}
    r = await sim.post(path, content=content(body), headers=signed("POST", path, body, key="k3"))
    assert r.json()["statusDetails"]["state"] == "Completed", r.text


@pytest.mark.parametrize(("method", "reason"), [("3064", "BuyerCanceled"), ("3434", "Declined")])
async def test_amazons_sandbox_methods_that_cancel_the_checkout(
    sim: httpx.AsyncClient, method: str, reason: str
) -> None:
    # Amazon's "Use Sandbox simulations": ...3064 and ...3434 leave the Checkout Session
    # Canceled with reasonCode BuyerCanceled / Declined.
    headers = signed("POST", "/v2/checkoutSessions", SESSION)
    r = await sim.post("/v2/checkoutSessions", content=content(SESSION), headers=headers)
    session = r.json()["checkoutSessionId"]
    await sim.post(f"/checkout/{session}", data={"payment_method": method})
    body = {"chargeAmount": {"amount": "705", "currencyCode": "JPY"}}
    path = f"/v2/checkoutSessions/{session}/complete"
    r = await sim.post(path, content=content(body), headers=signed("POST", path, body, key="c1"))
    assert r.json()["statusDetails"] == {
        "state": "Canceled",
        "reasonCode": reason,
        "reasonDescription": None,
    }
    assert "chargePermissionId" not in r.json() or r.json()["chargePermissionId"] is None
