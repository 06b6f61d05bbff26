"""GMO PG's redirect methods end to end: kessai's API and the GMO simulator over loopback,
the customer's approval made on the simulator's page as a browser would."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from kessai.core.clock import TOKYO
from kessai.providers.gmo_pg import codec
from kessai.providers.gmo_pg.methods import BY_KEY
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
    services: Services

    async def order(self, method: str, amount: int = 5_500, **source: str) -> dict[str, Any]:
        r = await self.api.post(
            "/api/v1/orders",
            json={
                "payment_method": method,
                "amount": amount,
                "tax": amount // 11,
                "customer": {"name": "山田 花子"},
                "payment_source": {"return_url": RETURN_URL, **source},
            },
        )
        assert r.status_code == 201, r.text
        return dict(r.json())

    async def act(self, order_id: int, action: str, **body: Any) -> httpx.Response:
        return await self.api.post(f"/api/v1/orders/{order_id}/payment/{action}", json=body)

    async def customer(self, redirect_url: str, choice: str = "approve") -> dict[str, list[str]]:
        """The customer's browser: open the page, press a button, land back at the shop."""
        page = await self.sim.get(redirect_url)
        assert page.status_code == 200
        assert "承認する" in page.text, page.text
        back = await self.sim.get(f"{redirect_url}&result={choice}")
        assert back.status_code == 303
        target = back.headers["location"]
        assert target.startswith(RETURN_URL)
        return parse_qs(urlsplit(target).query)

    async def multi(self, order_number: str, method: str) -> dict[str, str]:
        r = await self.sim.post(
            "/payment/SearchTradeMulti.idPass",
            content=codec.encode_request(
                {
                    "ShopID": TEST_SHOP_ID,
                    "ShopPass": TEST_SHOP_PASS,
                    "OrderID": order_number,
                    "PayType": BY_KEY[method].pay_type,
                }
            ),
            headers={"Content-Type": codec.CONTENT_TYPE},
        )
        return codec.parse_response(r.content)

    async def calls(self, api: str) -> list[dict[str, Any]]:
        return list((await self.sim.get("/_calls", params={"api": api})).json()["calls"])

    async def approved(self, method: str, **source: str) -> dict[str, Any]:
        order = await self.order(method, **source)
        r = await self.act(order["id"], "authorize")
        body = r.json()
        assert body["order"]["payment_status_label"] == "決済準備中", r.text
        back = await self.customer(body["order"]["redirect_url"])
        assert back["Status"] == ["AUTH"]
        r = await self.act(order["id"], "reconcile")
        assert r.json()["order"]["payment_status_label"] == "仮売上完了", r.text
        return dict(r.json()["order"])


@pytest.fixture
async def shop(live_services: Services) -> AsyncIterator[Shop]:
    methods = [
        ("gmo-paypay", "PayPay", "paypay"),
        ("gmo-carrier", "キャリア決済", "carrier"),
        ("gmo-linepay", "LINE Pay", "line_pay"),
        ("gmo-rakuten", "楽天ペイ", "rakuten_pay"),
        ("gmo-aupay", "au PAY", "au_pay"),
        ("gmo-rakuten-v2", "楽天ペイ V2", "rakuten_pay_v2"),
        ("gmo-recruit", "リクルートかんたん支払い", "recruit"),
        ("gmo-epos", "エポスかんたん決済", "epos"),
    ]
    async with gmo_served(live_services, methods) as g:
        yield Shop(g.api, g.sim, live_services)


async def test_paypay_approved_by_the_customer_then_captured_and_cancelled(shop: Shop) -> None:
    order = await shop.order("gmo-paypay")
    r = await shop.act(order["id"], "authorize")
    body = r.json()
    assert body["outcome"] == "pending", r.text
    assert body["order"]["payment_status_label"] == "決済準備中"
    url = body["order"]["redirect_url"]
    assert url.startswith(f"{shop.sim.base_url}/payment/PaypayStart.idPass?AccessID=")
    assert (await shop.multi(order["number"], "paypay"))["Status"] == "REQSUCCESS"

    # Back too early (the customer has not approved): still 決済準備中.
    r = await shop.act(order["id"], "reconcile")
    assert r.json()["order"]["payment_status_label"] == "決済準備中", r.text

    await shop.customer(url)
    r = await shop.act(order["id"], "reconcile")
    assert r.json()["order"]["payment_status_label"] == "仮売上完了", r.text
    assert r.json()["order"]["redirect_url"] is None

    r = await shop.act(order["id"], "capture")
    assert r.json()["order"]["payment_status_label"] == "売上完了", r.text
    assert (await shop.multi(order["number"], "paypay"))["Status"] == "SALES"

    shop.services.clock.advance(timedelta(days=100))  # within 決済日時から180日
    r = await shop.act(order["id"], "cancel")
    assert r.json()["order"]["payment_status_label"] == "取消完了", r.text
    trade = await shop.multi(order["number"], "paypay")
    assert trade["Status"] == "RETURN"
    [cancel] = await shop.calls("PaypayCancelReturn")
    assert cancel["result"] == "ok"


async def test_paypay_authorization_cancel_after_30_days_is_refused_before_any_call(
    shop: Shop,
) -> None:
    order = await shop.approved("gmo-paypay")
    shop.services.clock.advance(timedelta(days=31))
    r = await shop.act(order["id"], "cancel")
    assert r.status_code == 409, r.text
    body = r.json()
    assert (body["code"], body["detail"]["rule_code"]) == ("rule_refused", "window_expired")
    assert "決済日時から30日を超えるとエラー" in body["message"]
    assert await shop.calls("PaypayCancelReturn") == []
    assert (await shop.multi(order["number"], "paypay"))["Status"] == "AUTH"


async def test_paypay_cancel_within_30_days_cancels_the_authorization(shop: Shop) -> None:
    order = await shop.approved("gmo-paypay")
    shop.services.clock.advance(timedelta(days=29))
    r = await shop.act(order["id"], "cancel")
    assert r.json()["order"]["payment_status_label"] == "取消完了", r.text
    assert (await shop.multi(order["number"], "paypay"))["Status"] == "CANCEL"


async def test_customer_who_refuses_leaves_an_authorization_failure(shop: Shop) -> None:
    order = await shop.order("gmo-paypay")
    body = (await shop.act(order["id"], "authorize")).json()
    back = await shop.customer(body["order"]["redirect_url"], "refuse")
    assert back["Status"] == ["PAYFAIL"]
    r = await shop.act(order["id"], "reconcile")
    assert r.json()["order"]["payment_status_label"] == "仮売上失敗", r.text


async def test_customer_who_never_comes_expires(shop: Shop) -> None:
    order = await shop.order("gmo-paypay")
    body = (await shop.act(order["id"], "authorize")).json()
    shop.services.clock.advance(timedelta(minutes=31))
    page = await shop.sim.get(body["order"]["redirect_url"])
    assert page.status_code == 303
    assert "Status=EXPIRED" in page.headers["location"]
    r = await shop.act(order["id"], "reconcile")
    assert r.json()["order"]["payment_status_label"] == "仮売上失敗", r.text


async def test_d_barai_cancel_is_refused_after_the_month_after_next_at_20(shop: Shop) -> None:
    order = await shop.approved("gmo-carrier", carrier="d_barai")  # 決済日時 2026-11-10
    assert (await shop.multi(order["number"], "d_barai"))["Status"] == "AUTH"
    r = await shop.act(order["id"], "capture")
    assert r.json()["order"]["payment_status_label"] == "売上完了", r.text
    shop.services.clock.set_now(datetime(2027, 1, 31, 20, 0, 1, tzinfo=TOKYO))
    r = await shop.act(order["id"], "cancel")
    assert r.status_code == 409, r.text
    assert r.json()["detail"]["rule_code"] == "window_expired"
    assert "翌々月末20時" in r.json()["message"]
    assert await shop.calls("DocomoCancelReturn") == []


async def test_d_barai_cancel_just_before_the_deadline_goes_through(shop: Shop) -> None:
    order = await shop.approved("gmo-carrier", carrier="d_barai")
    shop.services.clock.set_now(datetime(2027, 1, 31, 19, 59, tzinfo=TOKYO))
    r = await shop.act(order["id"], "cancel")
    assert r.json()["order"]["payment_status_label"] == "取消完了", r.text
    assert (await shop.multi(order["number"], "d_barai"))["Status"] == "CANCEL"


@pytest.mark.parametrize(
    ("method", "key", "source"),
    [
        ("gmo-carrier", "au_easy", {"carrier": "au_easy"}),
        ("gmo-carrier", "softbank_b", {"carrier": "softbank_b"}),
        ("gmo-linepay", "line_pay", {}),
        ("gmo-rakuten", "rakuten_pay", {}),
        ("gmo-aupay", "au_pay", {}),
    ],
)
async def test_each_redirect_method_runs_the_same_path(
    shop: Shop, method: str, key: str, source: dict[str, str]
) -> None:
    order = await shop.approved(method, **source)
    m = BY_KEY[key]
    r = await shop.act(order["id"], "capture")
    assert r.json()["order"]["payment_status_label"] == "売上完了", r.text
    r = await shop.act(order["id"], "cancel")
    assert r.json()["order"]["payment_status_label"] == "取消完了", r.text
    assert (await shop.multi(order["number"], key))["Status"] == "RETURN"
    assert [c["result"] for c in await shop.calls(m.entry)] == ["ok"]
    assert [c["result"] for c in await shop.calls(m.sales)] == ["ok"]
    assert [c["result"] for c in await shop.calls(m.cancel)] == ["ok"]
