"""GMO PG クレジットカード(リンクタイプ) end to end: kessai's API makes a signed リンクタイプ Plus
link, the customer pays on the GMO simulator's hosted page over loopback, and GMO's 結果通知
to kessai's /webhooks/gmo-pg/<account> settles the order; a link expires."""

import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from starlette.applications import Starlette

from kessai.core.clock import TOKYO
from kessai.jobs.schedules import tick
from kessai.providers.gmo_pg import codec, link
from kessai.providers.gmo_pg.simulator import (
    TEST_SHOP_ID,
    TEST_SHOP_PASS,
)
from kessai.services import Services
from tests.e2e.gmo_served import gmo_served

RETURN_URL = "https://shop.example/payment/return?o=1"


@dataclass
class Shop:
    api: httpx.AsyncClient
    sim: httpx.AsyncClient
    sim_app: Starlette
    services: Services

    async def linked(self, amount: int = 5_500, **source: str) -> tuple[dict[str, Any], str]:
        r = await self.api.post(
            "/api/v1/orders",
            json={
                "payment_method": "gmo-link",
                "amount": amount,
                "tax": amount // 11,
                "customer": {"name": "山田 花子"},
                "payment_source": {"return_url": RETURN_URL, **source},
            },
        )
        assert r.status_code == 201, r.text
        order = dict(r.json())
        r = await self.act(order["id"], "authorize")
        body = r.json()
        assert body["outcome"] == "pending", r.text
        assert body["order"]["payment_status_label"] == "決済準備中"
        return order, str(body["order"]["redirect_url"])

    async def act(self, order_id: int, action: str, **body: Any) -> httpx.Response:
        return await self.api.post(f"/api/v1/orders/{order_id}/payment/{action}", json=body)

    async def get(self, order_id: int) -> dict[str, Any]:
        return dict((await self.api.get(f"/api/v1/orders/{order_id}")).json())

    async def settled(self) -> None:
        await self.sim_app.state.simulator.notices.drain()
        await self.services.dispatcher.drain()

    async def trade(self, order_number: str) -> dict[str, str]:
        r = await self.sim.post(
            "/payment/SearchTrade.idPass",
            content=codec.encode_request(
                {"ShopID": TEST_SHOP_ID, "ShopPass": TEST_SHOP_PASS, "OrderID": order_number}
            ),
            headers={"Content-Type": codec.CONTENT_TYPE},
        )
        return codec.parse_response(r.content)

    async def events(self) -> list[dict[str, Any]]:
        return list((await self.api.get("/api/v1/inbound-webhooks")).json())


@pytest.fixture
async def shop(live_services: Services) -> AsyncIterator[Shop]:
    methods = [("gmo-link", "クレジットカード(リンクタイプ)", "credit_card_link")]
    async with gmo_served(live_services, methods, key_name="admin", notify=True) as g:
        yield Shop(g.api, g.sim, g.sim_app, live_services)


async def test_a_link_payment_is_completed_by_the_result_notice(shop: Shop) -> None:
    order, url = await shop.linked()
    assert url.startswith(f"{shop.sim.base_url}/v1/plus/{TEST_SHOP_ID}/checkout/")
    # The link is signed as GMO checks it: SHA-256 of α and the ShopPass.
    alpha, gamma = url.rsplit("/", 1)[1].split(".")
    assert gamma == link.signature(alpha, TEST_SHOP_PASS)
    params = json.loads(base64.urlsafe_b64decode(alpha))
    assert params["transaction"]["OrderID"] == order["number"]
    assert params["transaction"]["Amount"] == 5500
    assert params["transaction"]["PaymentExpireDate"] == "202611172359"  # 7 days, 23:59
    assert params["credit"]["JobCD"] == "AUTH"
    # Nothing exists at GMO until the customer pays.
    assert (await shop.trade(order["number"]))["ErrInfo"] == "E01110002"

    page = await shop.sim.get(url)
    assert page.status_code == 200
    assert "承認する" in page.text
    assert "5,500円" in page.text
    back = await shop.sim.get(f"{url}?result=approve")
    assert back.status_code == 303
    assert parse_qs(urlsplit(back.headers["location"]).query)["Status"] == ["AUTH"]
    await shop.settled()

    after = await shop.get(order["id"])
    assert after["payment_status_label"] == "仮売上完了"
    (event,) = await shop.events()
    assert (event["event"], event["status_label"]) == ("AUTH", "反映済み")
    # From here it is a card transaction like any other.
    r = await shop.act(order["id"], "capture")
    assert r.json()["order"]["payment_status_label"] == "売上完了", r.text
    assert (await shop.trade(order["number"]))["Status"] == "SALES"


async def test_authorizing_again_hands_out_the_same_link(shop: Shop) -> None:
    order, url = await shop.linked()
    r = await shop.act(order["id"], "reconcile")
    assert r.json()["order"]["payment_status_label"] == "決済準備中", r.text
    assert r.json()["order"]["redirect_url"] == url


async def test_a_link_whose_amount_was_changed_is_refused_by_the_page(shop: Shop) -> None:
    order, url = await shop.linked()
    head, part = url.rsplit("/", 1)
    alpha, gamma = part.split(".")
    params = json.loads(base64.urlsafe_b64decode(alpha))
    params["transaction"]["Amount"] = 1
    forged = base64.urlsafe_b64encode(json.dumps(params).encode()).decode()
    page = await shop.sim.get(f"{head}/{forged}.{gamma}?result=approve")
    assert page.status_code == 400
    assert "改ざん" in page.text
    assert (await shop.trade(order["number"]))["ErrInfo"] == "E01110002"


async def test_a_customer_who_cancels_leaves_the_order_waiting(shop: Shop) -> None:
    order, url = await shop.linked()
    back = await shop.sim.get(f"{url}?result=cancel")
    assert parse_qs(urlsplit(back.headers["location"]).query)["Status"] == ["CANCEL"]
    await shop.settled()
    assert await shop.events() == []
    r = await shop.act(order["id"], "reconcile")
    assert r.json()["order"]["payment_status_label"] == "決済準備中", r.text


async def test_a_link_expires(shop: Shop) -> None:
    order, url = await shop.linked(link_days="1")
    shop.services.clock.set_now(datetime(2026, 11, 12, 0, 1, tzinfo=TOKYO))  # after 11/11 23:59
    page = await shop.sim.get(url)
    assert page.status_code == 410
    assert "有効期限切れ" in page.text
    r = await shop.act(order["id"], "reconcile")
    body = r.json()
    assert body["order"]["payment_status_label"] == "仮売上失敗", r.text
    assert "期限切れ" in r.text


async def test_a_paid_link_cannot_pay_twice(shop: Shop) -> None:
    order, url = await shop.linked()
    await shop.sim.get(f"{url}?result=approve")
    await shop.settled()
    again = await shop.sim.get(f"{url}?result=approve")
    assert again.status_code == 410
    assert "お支払い済み" in again.text
    shop.services.clock.advance(timedelta(days=1))
    assert (await shop.get(order["id"]))["payment_status_label"] == "仮売上完了"


async def test_an_expired_link_is_settled_by_the_hourly_check_without_anyone(shop: Shop) -> None:
    order, _url = await shop.linked(link_days="0")  # pays until 23:59 today
    assert (await shop.get(order["id"]))["payment_due_at"].startswith("2026-11-10T14:59")
    shop.services.clock.set_now(datetime(2026, 11, 11, 0, 30, tzinfo=TOKYO))
    assert await tick(shop.services)
    await shop.services.dispatcher.drain()
    assert (await shop.get(order["id"]))["payment_status_label"] == "仮売上失敗"
