"""GMO PG end to end: kessai's own API and the GMO simulator, both over real HTTP on
loopback, through the real connector — the flows a shop runs every day."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest

from kessai.providers.gmo_pg.simulator import (
    CHALLENGE_CARD,
    DECLINE_CARDS,
    TEST_SHOP_ID,
    TEST_SHOP_PASS,
)
from kessai.services import Services
from tests.e2e.gmo_served import gmo_served

VISA = "4111111111111111"


@dataclass
class Shop:
    api: httpx.AsyncClient
    sim: httpx.AsyncClient
    services: Services
    method: str

    async def token(self, card: str = VISA) -> str:
        r = await self.sim.post(
            "/token", json={"cardno": card, "expire": "3012", "securitycode": "123"}
        )
        body = r.json()
        assert body["resultCode"] == "000", body
        return str(body["tokenObject"]["token"][0])

    async def order(self, amount: int = 5_500, **source: str) -> dict[str, Any]:
        if not source:
            source = {"token": await self.token()}
        r = await self.api.post(
            "/api/v1/orders",
            json={
                "payment_method": self.method,
                "amount": amount,
                "tax": amount // 11,
                "customer": {"name": "山田 花子"},
                "payment_source": source,
            },
        )
        assert r.status_code == 201, r.text
        return dict(r.json())

    async def act(self, order_id: int, action: str, **body: Any) -> httpx.Response:
        return await self.api.post(f"/api/v1/orders/{order_id}/payment/{action}", json=body)

    async def trade(self, order_number: str) -> dict[str, str]:
        """What GMO holds for an OrderID, asked over idPass like any client would."""
        from kessai.providers.gmo_pg import codec

        r = await self.sim.post(
            "/payment/SearchTrade.idPass",
            content=codec.encode_request(
                {"ShopID": TEST_SHOP_ID, "ShopPass": TEST_SHOP_PASS, "OrderID": order_number}
            ),
            headers={"Content-Type": codec.CONTENT_TYPE},
        )
        return codec.parse_response(r.content)

    async def calls(self, api: str) -> list[dict[str, Any]]:
        return list((await self.sim.get("/_calls", params={"api": api})).json()["calls"])

    async def control(self, **switches: Any) -> None:
        r = await self.sim.post("/_control", json=switches)
        assert r.status_code == 200, r.text


@pytest.fixture
async def shop(live_services: Services) -> AsyncIterator[Shop]:
    methods = [("gmo-card", "クレジットカード", "credit_card")]
    async with gmo_served(live_services, methods, site=True, at=None) as g:
        yield Shop(g.api, g.sim, live_services, "gmo-card")


async def test_token_member_card_then_authorize_and_capture(shop: Shop) -> None:
    r = await shop.api.post("/api/v1/customers", json={"name": "佐藤 一郎"})
    customer = r.json()["id"]
    r = await shop.api.post(
        f"/api/v1/customers/{customer}/cards",
        json={"payment_method": shop.method, "token": await shop.token()},
    )
    assert r.status_code == 201, r.text
    card = r.json()
    assert card["masked_number"].endswith("1111")
    assert VISA not in r.text
    r = await shop.api.post(
        "/api/v1/orders",
        json={
            "payment_method": shop.method,
            "amount": 3_300,
            "tax": 300,
            "customer_id": customer,
            "payment_source": {"card_id": str(card["id"])},
        },
    )
    order = r.json()
    assert order["payment_status"] == "pending", r.text
    r = await shop.act(order["id"], "authorize")
    assert r.json()["order"]["payment_status_label"] == "仮売上完了", r.text
    r = await shop.act(
        order["id"], "capture", shipped_on="2026-11-22", tracking_number="1234-5678-9012"
    )
    assert r.json()["order"]["payment_status_label"] == "売上完了", r.text
    trade = await shop.trade(order["number"])
    assert (trade["Status"], trade["Amount"]) == ("SALES", "3300")
    assert trade["MemberID"] == card["member_id"]


async def test_authorize_then_cancel_voids_at_gmo(shop: Shop) -> None:
    order = await shop.order()
    await shop.act(order["id"], "authorize")
    r = await shop.act(order["id"], "cancel")
    assert r.json()["order"]["payment_status_label"] == "取消完了", r.text
    assert (await shop.trade(order["number"]))["Status"] == "VOID"


async def test_authorize_then_change_amount(shop: Shop) -> None:
    order = await shop.order(amount=5_500)
    await shop.act(order["id"], "authorize")
    r = await shop.act(order["id"], "change-amount", amount=4_400, tax=400)
    assert r.json()["order"]["amount"] == 4_400, r.text
    assert (await shop.trade(order["number"]))["Amount"] == "4400"


async def test_capture_then_cancel_next_day_is_a_return(shop: Shop) -> None:
    order = await shop.order()
    await shop.act(order["id"], "authorize")
    await shop.act(order["id"], "capture")
    shop.services.clock.advance(timedelta(days=1))
    r = await shop.act(order["id"], "cancel")
    assert r.json()["order"]["payment_status_label"] == "取消完了", r.text
    assert (await shop.trade(order["number"]))["Status"] == "RETURN"


@pytest.mark.parametrize("card", DECLINE_CARDS)
async def test_each_decline_card_shows_gmos_own_words(shop: Shop, card: str) -> None:
    order = await shop.order(token=await shop.token(card))
    r = await shop.act(order["id"], "authorize")
    body = r.json()
    assert body["outcome"] == "declined"
    assert body["order"]["payment_status_label"] == "仮売上失敗"
    assert body["provider_code"].startswith("42G")
    history = (await shop.api.get(f"/api/v1/orders/{order['id']}/payment-history")).json()
    assert history[-1]["provider_code"] == body["provider_code"]
    assert "決済を完了する" in history[-1]["provider_message"]  # GMO's message, verbatim


async def test_3ds2_challenge_then_reconcile_authorizes(shop: Shop) -> None:
    order = await shop.order(
        token=await shop.token(CHALLENGE_CARD),
        tds2="1",
        tds2_return_url="https://shop.example/3ds/return",
    )
    r = await shop.act(order["id"], "authorize")
    body = r.json()
    assert body["outcome"] == "pending", r.text
    assert body["redirect_url"].startswith(str(shop.sim.base_url))
    assert body["order"]["payment_status_label"] == "決済準備中"
    challenge = await shop.sim.get(body["redirect_url"])  # the customer's browser
    assert challenge.status_code == 303
    r = await shop.act(order["id"], "reconcile")
    assert r.json()["order"]["payment_status_label"] == "仮売上完了", r.text


async def test_response_lost_after_commit_is_reconciled_without_second_charge(
    shop: Shop,
) -> None:
    order = await shop.order()
    await shop.control(lose_response={"count": 1, "api": "ExecTran", "commit": True})
    r = await shop.act(order["id"], "authorize")
    assert r.json()["outcome"] == "unknown", r.text
    assert r.json()["order"]["needs_reconcile"] is True
    r = await shop.act(order["id"], "capture")
    assert r.json()["order"]["payment_status_label"] == "売上完了", r.text
    assert len(await shop.calls("ExecTran")) == 1  # the card was charged once
    assert len(await shop.calls("AlterTran")) == 1
    assert (await shop.trade(order["number"]))["Status"] == "SALES"


async def test_rate_limited_call_succeeds_on_retry(shop: Shop) -> None:
    order = await shop.order()
    await shop.control(rate_limit={"count": 2, "api": "ExecTran"})
    r = await shop.act(order["id"], "authorize")
    assert r.json()["order"]["payment_status_label"] == "仮売上完了", r.text
    results = [c["info"] for c in await shop.calls("ExecTran")]
    assert results == ["E92000001", "E92000001", ""]  # two refusals, then through
