"""PayPay end to end: kessai's own API and the PayPay simulator, both over real HTTP on
loopback, through the real connector and the webhook inbox. The account is made through
the API from its integration's fields; the customer pays the QR code on the simulator's
page and PayPay's webhook brings kessai the news, confirmed by a lookup."""

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from kessai.accounts.models import ProviderAccount
from kessai.apikeys.service import create_key
from kessai.core.db import transaction
from kessai.inbox.models import InboundEvent
from kessai.providers.paypay.sim import create_simulator
from kessai.providers.paypay.sim.state import (
    TEST_API_KEY,
    TEST_API_SECRET,
    TEST_MERCHANT_ID,
    USER_NO_FUNDS,
    USER_OK,
    SimulatorConfig,
)
from kessai.services import Services
from kessai.web.app import create_app
from tests.e2e.flaky import flaky
from tests.loopback import serve


async def _no_wait(_seconds: float) -> None:
    return None


@dataclass
class Shop:
    api: httpx.AsyncClient
    sim: httpx.AsyncClient
    services: Services
    account_id: int
    app: Any
    sim_app: Any

    async def order(self, amount: int = 3_300, **source: str) -> int:
        r = await self.api.post(
            "/api/v1/orders",
            json={
                "payment_method": "paypay",
                "amount": amount,
                "tax": amount // 11,
                "customer": {"name": "山田 花子"},
                "payment_source": source,
            },
        )
        assert r.status_code == 201, r.text
        return int(r.json()["id"])

    async def act(self, order_id: int, action: str, **body: Any) -> httpx.Response:
        return await self.api.post(f"/api/v1/orders/{order_id}/payment/{action}", json=body)

    async def status(self, order_id: int) -> str:
        r = await self.api.get(f"/api/v1/orders/{order_id}")
        return str(r.json()["payment_status"])

    async def history(self, order_id: int) -> list[dict[str, Any]]:
        r = await self.api.get(f"/api/v1/orders/{order_id}/payment-history")
        return list(r.json())

    async def calls(self) -> list[dict[str, Any]]:
        return list((await self.sim.get("/_calls")).json()["calls"])

    def charged(self) -> int:
        payments = self.sim_app.state.simulator.state.payments.values()
        return sum(1 for p in payments if p.charged)

    async def settle_webhooks(self) -> list[dict[str, Any]]:
        """Wait until the simulator's webhooks are answered and kessai's jobs have run."""
        sent = (await self.sim.get("/_webhooks")).json()["webhooks"]
        await self.services.dispatcher.drain()
        return list(sent)

    async def events(self) -> list[InboundEvent]:
        async with transaction(self.services.sessions) as s:
            return list((await s.scalars(select(InboundEvent).order_by(InboundEvent.id))).all())

    async def post_webhook(self, body: dict[str, Any], client: str = "127.0.0.1") -> httpx.Response:
        transport = httpx.ASGITransport(app=self.app, client=(client, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://kessai") as c:
            return await c.post(
                f"/webhooks/paypay/{self.account_id}",
                content=json.dumps(body).encode(),
                headers={"Content-Type": "application/json"},
            )


@pytest.fixture
async def shop(live_services: Services) -> AsyncIterator[Shop]:
    svc = live_services
    simulator = create_simulator(SimulatorConfig(now=svc.clock.now, sleep=_no_wait))
    app = create_app(svc)
    async with serve(simulator) as sim_url, serve(app) as api_url:
        async with transaction(svc.sessions) as s:
            key = await create_key(s, "admin", svc.clock.now())
        headers = {"Authorization": f"Bearer {key}"}
        async with (
            httpx.AsyncClient(base_url=api_url, headers=headers, timeout=30) as api,
            httpx.AsyncClient(base_url=sim_url, timeout=30) as sim,
        ):
            r = await api.post(
                "/api/v1/provider-accounts",
                json={
                    "integration": "paypay",
                    "name": "PayPay",
                    "values": {
                        "api_key": TEST_API_KEY,
                        "api_secret": TEST_API_SECRET,
                        "merchant_id": TEST_MERCHANT_ID,
                        "endpoint": sim_url,
                        "webhook_sources": "127.0.0.1",
                    },
                },
            )
            assert r.status_code == 201, r.text
            account = r.json()
            r = await api.post(
                "/api/v1/payment-methods",
                json={
                    "code": "paypay",
                    "name": "PayPay",
                    "account_id": account["id"],
                    "method_type": "paypay",
                    "enabled": True,
                    "flags": {"cancel_api_link": True},
                },
            )
            assert r.status_code == 201, r.text
            webhook = f"{api_url}/webhooks/paypay/{account['id']}"
            assert (await sim.post("/_control", json={"webhook_url": webhook})).status_code == 200
            yield Shop(api, sim, svc, account["id"], app, simulator)


async def test_the_account_is_read_from_its_integration_and_its_secret_sealed(shop: Shop) -> None:
    r = await shop.api.get(f"/api/v1/provider-accounts/{shop.account_id}")
    shown = r.json()
    assert shown["values"]["api_key"] == TEST_API_KEY
    assert shown["values"]["api_secret"] != TEST_API_SECRET  # masked
    async with transaction(shop.services.sessions) as s:
        row = await s.get(ProviderAccount, shop.account_id)
        assert row is not None
        assert row.connector == "paypay"
        assert TEST_API_SECRET not in json.dumps([row.settings, row.secrets])


async def test_qr_code_paid_then_captured_partly_refunded_and_cancelled(shop: Shop) -> None:
    order = await shop.order(3_300)
    r = await shop.act(order, "authorize")
    assert r.status_code == 200, r.text
    assert r.json()["outcome"] == "pending"
    url = r.json()["redirect_url"]
    assert url.startswith(str(shop.sim.base_url))
    assert await shop.status(order) == "pending"

    async with httpx.AsyncClient() as customer:  # the customer pays in the PayPay app
        page = await customer.get(url)
        assert "¥3,300" in page.text
        paid = await customer.post(url, data={"action": "pay"})
        assert "お支払いが完了しました" in paid.text
    (sent,) = await shop.settle_webhooks()
    assert (sent["event"]["state"], sent["taken"]) == ("AUTHORIZED", True)
    assert await shop.status(order) == "authorized"
    (event,) = await shop.events()
    assert event.status == "applied"

    r = await shop.act(order, "capture", shipped_on="2026-12-07", tracking_number="1234-5678")
    assert (r.status_code, r.json()["outcome"]) == (200, "succeeded"), r.text
    assert await shop.status(order) == "captured"

    r = await shop.act(order, "change-amount", amount=2_200, tax=200)
    assert (r.status_code, r.json()["outcome"]) == (200, "succeeded"), r.text
    r = await shop.act(order, "cancel")
    assert (r.status_code, r.json()["outcome"]) == (200, "succeeded"), r.text
    assert await shop.status(order) == "canceled"
    held = shop.sim_app.state.simulator.state.payments
    (payment,) = held.values()
    assert [x["amount"]["amount"] for x in payment.refunds] == [1_100, 2_200]
    assert payment.status == "REFUNDED"
    assert shop.charged() == 1
    await shop.settle_webhooks()


async def test_a_decline_keeps_paypays_code(shop: Shop) -> None:
    order = await shop.order(user_authorization_id=USER_NO_FUNDS)
    r = await shop.act(order, "authorize")
    assert r.json()["outcome"] == "declined", r.text
    assert r.json()["provider_code"] == "NO_SUFFICIENT_FUND"
    assert await shop.status(order) == "authorize_failed"
    (attempt,) = [a for a in await shop.history(order) if a["outcome"] == "declined"]
    assert attempt["provider_code"] == "NO_SUFFICIENT_FUND"

    # A QR code the customer's wallet refuses: PayPay's FAILED webhook, confirmed by a lookup.
    qr = await shop.order()
    url = (await shop.act(qr, "authorize")).json()["redirect_url"]
    async with httpx.AsyncClient() as customer:
        refused = await customer.post(url, data={"action": "fail"})
        assert "お支払いできませんでした" in refused.text
    sent = (await shop.settle_webhooks())[-1]
    assert (sent["event"]["merchant_order_id"], sent["event"]["state"]) == (
        (await shop.api.get(f"/api/v1/orders/{qr}")).json()["number"],
        "FAILED",
    )
    assert await shop.status(qr) == "authorize_failed"
    assert shop.charged() == 0


async def test_an_unknown_outcome_is_reconciled_with_no_second_charge(shop: Shop) -> None:
    order = await shop.order(user_authorization_id=USER_OK)
    # No webhook this time: the retry alone must settle it (the webhook would race it).
    await shop.sim.post(
        "/_control",
        json={"lose_response": {"count": 1, "api": "preauthorizePayment"}, "webhook_url": None},
    )
    r = await shop.act(order, "authorize")
    assert r.json()["outcome"] == "unknown", r.text
    r = await shop.act(order, "authorize")
    assert r.json()["outcome"] == "succeeded", r.text
    assert await shop.status(order) == "authorized"
    sent = [c["api"] for c in await shop.calls() if c["api"] == "preauthorizePayment"]
    assert sent == ["preauthorizePayment"]  # asked once, then looked up
    operations = [a["operation"] for a in await shop.history(order)]
    assert operations == ["authorize", "lookup"]
    assert shop.charged() == 1


async def test_cancel_after_30_days_is_refused_before_any_call(shop: Shop) -> None:
    order = await shop.order(user_authorization_id=USER_OK)
    assert (await shop.act(order, "authorize")).json()["outcome"] == "succeeded"
    await shop.settle_webhooks()  # the AUTHORIZED webhook and its lookup come and go
    before = len(await shop.calls())
    shop.services.clock.advance(timedelta(days=30, minutes=1))
    r = await shop.act(order, "cancel")
    assert r.status_code == 409, r.text
    assert r.json()["code"] == "rule_refused"
    assert "決済日時から30日を超えるとエラー" in r.json()["message"]
    assert len(await shop.calls()) == before  # PayPay was never asked
    assert await shop.status(order) == "cancel_failed"  # 取引キャンセル失敗, kessai's refusal
    assert shop.sim_app.state.simulator.state.payments.popitem()[1].status == "AUTHORIZED"


@pytest.mark.parametrize("mode", ["down", "answer_lost"])
async def test_a_webhook_lost_once_is_sent_again_and_applied_once(shop: Shop, mode: str) -> None:
    kessai = f"{shop.api.base_url}/webhooks/paypay/{shop.account_id}"
    async with flaky(kessai, mode) as (stand_in, url):
        await shop.sim.post("/_control", json={"webhook_url": url})
        order = await shop.order(user_authorization_id=USER_OK)
        assert (await shop.act(order, "authorize")).json()["outcome"] == "succeeded"
        (sent,) = await shop.settle_webhooks()
    attempts = [(a["status"], a["answer"]) for a in sent["attempts"]]
    assert attempts == [stand_in.first(), (200, "OK")]
    assert (sent["event"]["state"], sent["taken"]) == ("AUTHORIZED", True)
    # A re-send that overtook the authorize's own answer (a loaded machine) waits for the
    # inbox's next look, 5 s on: after it the webhook is applied either way.
    r = await shop.api.post("/api/v1/sandbox/clock", json={"advance_seconds": 5})
    assert r.status_code == 200, r.text
    await shop.services.dispatcher.drain()
    (event,) = await shop.events()  # the re-send of a webhook kessai took is the same event
    assert (event.event, event.status) == ("Transaction AUTHORIZED", "applied")
    assert await shop.status(order) == "authorized"
    assert shop.charged() == 1


async def test_tampered_replayed_duplicate_and_late_webhooks_change_nothing(shop: Shop) -> None:
    order = await shop.order(user_authorization_id=USER_OK)
    assert (await shop.act(order, "authorize")).json()["outcome"] == "succeeded"
    authorized = (await shop.settle_webhooks())[-1]["event"]
    assert authorized["state"] == "AUTHORIZED"
    r = await shop.act(order, "capture", shipped_on="2026-12-07", tracking_number="1234-5678")
    assert r.json()["outcome"] == "succeeded"
    await shop.settle_webhooks()
    history = await shop.history(order)
    events = len(await shop.events())

    # From an address the account does not list: refused, nothing stored.
    forged = await shop.post_webhook({**authorized, "state": "CANCELED"}, client="192.0.2.66")
    assert forged.status_code == 401
    assert len(await shop.events()) == events
    # Tampered from a listed address: PayPay is asked, and holds it captured.
    tampered = await shop.post_webhook({**authorized, "state": "CANCELED"})
    assert (tampered.status_code, tampered.text) == (200, "OK")
    # Late: the AUTHORIZED event again, after the capture; and once more (a replay).
    late = await shop.post_webhook(authorized)
    replayed = await shop.post_webhook(authorized)
    assert (late.status_code, replayed.status_code) == (200, 200)
    await shop.services.dispatcher.drain()
    new = (await shop.events())[events:]
    assert [e.event for e in new] == ["Transaction CANCELED"]  # the replay is the same event
    assert all(e.status == "applied" and "変更なし" in (e.result or "") for e in new)
    assert await shop.status(order) == "captured"
    lookups = [a for a in await shop.history(order) if a["operation"] == "lookup"]
    assert len(lookups) == 0  # inbox lookups are not payment calls
    assert [a["id"] for a in await shop.history(order)] == [a["id"] for a in history]
    assert shop.charged() == 1


async def test_an_unpaid_qr_code_is_deleted_when_the_order_is_cancelled(shop: Shop) -> None:
    order = await shop.order()
    url = (await shop.act(order, "authorize")).json()["redirect_url"]
    r = await shop.act(order, "cancel")
    assert (r.status_code, r.json()["outcome"]) == (200, "succeeded"), r.text
    assert await shop.status(order) == "canceled"
    assert [c["api"] for c in await shop.calls()][-1] == "deleteQRCode"
    async with httpx.AsyncClient() as customer:  # too late to pay it now
        assert (await customer.get(url)).status_code == 404
    assert shop.charged() == 0


async def test_an_amount_over_paypays_cap_is_refused_with_its_rule_not_as_unreachable(
    shop: Shop,
) -> None:
    order = await shop.order(amount=500_001, user_authorization_id=USER_OK)
    r = await shop.act(order, "authorize")
    assert r.status_code == 409, r.text  # not 502: trying again later would change nothing
    assert r.json()["code"] == "paypay_amount_limit"
    assert "500,000" in r.json()["message"]
    assert await shop.calls() == []  # PayPay was never asked
    [row] = await shop.history(order)
    assert (row["outcome"], row["provider_code"]) == ("not_sent", "paypay_amount_limit")
    assert "500,000" in row["provider_message"]
