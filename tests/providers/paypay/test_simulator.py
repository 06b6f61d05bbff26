"""The simulator checks `hmac OPA-Auth` as PayPay does (PayPay's own 401 answers), and sends
its Transaction webhooks back, again until they are taken."""

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from kessai.providers.paypay import signing
from kessai.providers.paypay.sim.state import TEST_API_KEY, TEST_API_SECRET, TEST_MERCHANT_ID
from tests.loopback import serve
from tests.providers.paypay.conftest import PayPay

BODY = {
    "merchantPaymentId": "SIG-1",
    "codeType": "ORDER_QR",
    "amount": {"amount": 500, "currency": "JPY"},
    "requestedAt": 1_800_000_000,
}


async def _post(
    paypay: PayPay,
    *,
    secret: str = TEST_API_SECRET,
    epoch: int | None = None,
    nonce: str | None = None,
    body: dict[str, Any] = BODY,
    signed_body: dict[str, Any] | None = None,
    merchant: str = TEST_MERCHANT_ID,
) -> httpx.Response:
    raw = json.dumps(body).encode()
    signed = json.dumps(signed_body).encode() if signed_body is not None else raw
    header = signing.authorization(
        TEST_API_KEY,
        secret,
        "POST",
        "/v2/codes",
        signed,
        epoch=int(time.time()) if epoch is None else epoch,
        nonce=nonce or signing.new_nonce(),
    )
    headers = {
        "Authorization": header,
        "Content-Type": signing.CONTENT_TYPE,
        "X-ASSUME-MERCHANT": merchant,
    }
    async with httpx.AsyncClient(base_url=paypay.url) as client:
        return await client.post("/v2/codes", content=raw, headers=headers)


def _code(reply: httpx.Response) -> tuple[int, str]:
    return reply.status_code, reply.json()["resultInfo"]["code"]


async def test_a_signed_request_is_answered(paypay: PayPay) -> None:
    reply = await _post(paypay)
    assert _code(reply) == (201, "SUCCESS")
    assert reply.json()["data"]["merchantPaymentId"] == "SIG-1"


@pytest.mark.parametrize(
    "wrong",
    [
        {"secret": "not-the-secret"},
        {"epoch": int(time.time()) - 121},  # more than 2 minutes old
        {"signed_body": {**BODY, "amount": {"amount": 1, "currency": "JPY"}}},  # tampered
    ],
    ids=["secret", "stale", "tampered"],
)
async def test_a_wrong_signature_gets_paypays_unauthorized(
    paypay: PayPay, wrong: dict[str, Any]
) -> None:
    reply = await _post(paypay, **wrong)
    assert _code(reply) == (401, "UNAUTHORIZED")
    assert paypay.sim.state.payments == {}


async def test_a_replayed_nonce_is_refused_and_another_merchant_is_out_of_scope(
    paypay: PayPay,
) -> None:
    assert _code(await _post(paypay, nonce="same0001")) == (201, "SUCCESS")
    again = await _post(paypay, nonce="same0001", body={**BODY, "merchantPaymentId": "SIG-2"})
    assert _code(again) == (401, "UNAUTHORIZED")
    other = await _post(paypay, merchant="999", body={**BODY, "merchantPaymentId": "SIG-3"})
    assert _code(other) == (401, "OP_OUT_OF_SCOPE")
    assert list(paypay.sim.state.payments) == ["SIG-1"]


class Receiver:
    """A merchant's webhook endpoint that fails the first `fail` deliveries."""

    def __init__(self, fail: int) -> None:
        self.fail = fail
        self.bodies: list[dict[str, Any]] = []

    async def handle(self, request: Request) -> PlainTextResponse:
        self.bodies.append(json.loads(await request.body()))
        if len(self.bodies) <= self.fail:
            return PlainTextResponse("busy", status_code=503)
        return PlainTextResponse("OK")


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    got = Receiver(fail=2)
    async with serve(Starlette(routes=[Route("/hook", got.handle, methods=["POST"])])) as url:
        yield got, f"{url}/hook"


async def _sent(paypay: PayPay) -> list[dict[str, Any]]:
    """GET /_webhooks: once each webhook is taken or its re-sends ran out."""
    async with httpx.AsyncClient(base_url=paypay.url) as client:
        return list((await client.get("/_webhooks")).json()["webhooks"])


async def test_webhooks_are_sent_again_until_taken(
    paypay: PayPay, receiver: tuple[Receiver, str]
) -> None:
    got, url = receiver
    await paypay.control(webhook_url=url)
    created = await _post(paypay)
    await paypay.customer(created.json()["data"]["url"])
    (sent,) = await _sent(paypay)
    assert [a["status"] for a in sent["attempts"]] == [503, 503, 200]
    assert (sent["key"], sent["taken"], sent["next_at"]) == ("SIG-1/COMPLETED/1", True, None)
    assert len(got.bodies) == 3
    event = got.bodies[-1]
    assert event == sent["event"]
    assert event["notification_type"] == "Transaction"
    assert (event["state"], event["merchant_order_id"], event["order_amount"]) == (
        "COMPLETED",
        "SIG-1",
        "500",
    )
    logged = [(c.ref, c.result) for c in paypay.sim.calls if c.api == "Transaction"]
    assert logged == [("SIG-1", "not_taken")] * 2 + [("SIG-1", "ok")]


async def test_a_webhook_not_answered_200_stops_when_its_schedule_runs_out(
    paypay: PayPay,
) -> None:
    """PayPay wants "200 OK": a 202 is not taken either; resend_pauses sets how many more."""
    got = Receiver(fail=0)

    async def accepted(request: Request) -> PlainTextResponse:
        got.bodies.append(json.loads(await request.body()))
        return PlainTextResponse("accepted", status_code=202)

    async with serve(Starlette(routes=[Route("/hook", accepted, methods=["POST"])])) as url:
        await paypay.control(webhook_url=f"{url}/hook", resend_pauses=[5, 5])
        created = await _post(paypay)
        await paypay.customer(created.json()["data"]["url"])
        (sent,) = await _sent(paypay)
    assert [a["status"] for a in sent["attempts"]] == [202] * 3
    assert (sent["taken"], sent["next_at"], len(got.bodies)) == (False, None, 3)


async def test_mounted_under_a_prefix_it_checks_the_path_the_client_signed() -> None:
    """As `kessai serve` mounts it at /sim/paypay: the connector signs /v2/…, and the QR
    code's URL keeps the prefix."""
    from starlette.routing import Mount

    from kessai.providers.paypay.sim import create_simulator

    app = Starlette(routes=[Mount("/sim/paypay", app=create_simulator())])
    raw = json.dumps(BODY).encode()
    header = signing.authorization(
        TEST_API_KEY,
        TEST_API_SECRET,
        "POST",
        "/v2/codes",
        raw,
        epoch=int(time.time()),
        nonce=signing.new_nonce(),
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kessai") as client:
        reply = await client.post(
            "/sim/paypay/v2/codes",
            content=raw,
            headers={"Authorization": header, "Content-Type": signing.CONTENT_TYPE},
        )
        assert _code(reply) == (201, "SUCCESS")
        url = reply.json()["data"]["url"]
        assert url.startswith("http://kessai/sim/paypay/qr/")
        page = await client.get(url)
    assert "¥500" in page.text


async def test_a_restarted_simulator_holds_its_payments(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Its payments are records of the simulator base's store in kessai's database: a new
    process on the same database answers for them like PayPay would."""
    from kessai.providers.paypay.sim import create_simulator
    from kessai.providers.paypay.sim.state import SIMULATOR, SimulatorConfig
    from kessai.providers.simulator.store import SimulatorStore

    store = SimulatorStore(sessions, SIMULATOR)
    first = create_simulator(SimulatorConfig(store=store))
    async with serve(first) as url:
        created = await _post(PayPay(url, first.state.simulator, None, None))  # type: ignore[arg-type]
        assert _code(created) == (201, "SUCCESS")
        async with httpx.AsyncClient() as customer:
            await customer.post(created.json()["data"]["url"], data={"action": "pay"})
    again = create_simulator(SimulatorConfig(store=store))
    async with serve(again) as url:
        header = signing.authorization(
            TEST_API_KEY,
            TEST_API_SECRET,
            "GET",
            "/v2/codes/payments/SIG-1",
            None,
            epoch=int(time.time()),
            nonce=signing.new_nonce(),
        )
        async with httpx.AsyncClient(base_url=url) as client:
            found = await client.get("/v2/codes/payments/SIG-1", headers={"Authorization": header})
    assert _code(found) == (200, "SUCCESS")
    assert (found.json()["data"]["status"], found.json()["data"]["amount"]["amount"]) == (
        "COMPLETED",
        500,
    )
