"""GMO PG コンビニ・Pay-easy・銀行振込 end to end, and GMO's 結果通知: kessai's API and the
GMO simulator over loopback; the customer pays by a sandbox call and the simulator posts
its 結果通知 to kessai's /webhooks/gmo-pg/<account> as GMO does, retrying until it hears 0."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from kessai.core.clock import TOKYO
from kessai.jobs.schedules import tick
from kessai.providers.gmo_pg import codec
from kessai.providers.gmo_pg.simulator import (
    TEST_SHOP_ID,
    TEST_SHOP_PASS,
)
from kessai.services import Services
from tests.e2e.flaky import flaky
from tests.e2e.gmo_served import gmo_served

CUSTOMER = {
    "customer_name": "山田花子",
    "customer_kana": "ヤマダハナコ",
    "tel_no": "0312345678",
    "shop_contact": "kessai ショップ",
    "shop_contact_tel": "0300000000",
    "shop_contact_hours": "09:00-18:00",
}


@dataclass
class Shop:
    api: httpx.AsyncClient
    sim: httpx.AsyncClient
    sim_app: Starlette
    services: Services
    account_id: int

    async def order(self, method: str, amount: int = 3_300, **source: str) -> dict[str, Any]:
        r = await self.api.post(
            "/api/v1/orders",
            json={
                "payment_method": method,
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

    async def get(self, order_id: int) -> dict[str, Any]:
        return dict((await self.api.get(f"/api/v1/orders/{order_id}")).json())

    async def settled(self) -> None:
        """Every 結果通知 under way delivered, and every job it started run."""
        await self.sim_app.state.simulator.notices.drain()
        await self.services.dispatcher.drain()

    async def notices(self) -> dict[str, Any]:
        """GMO's 結果通知 so far by key (<OrderID>/<Status>/<n>), each with its attempts."""
        r = await self.sim.get("/_records", params={"kind": "notice"})
        return dict(r.json().get("notice", {}))

    async def pay(self, number: str, **body: Any) -> httpx.Response:
        return await self.sim.post("/_sandbox/pay", json={"OrderID": number, **body})

    async def events(self) -> list[dict[str, Any]]:
        r = await self.api.get("/api/v1/inbound-webhooks")
        assert r.status_code == 200, r.text
        return list(r.json())


@pytest.fixture
async def shop(live_services: Services) -> AsyncIterator[Shop]:
    methods = [
        ("gmo-cvs", "コンビニ決済", "cvs"),
        ("gmo-payeasy", "Pay-easy", "pay_easy"),
        ("gmo-bank", "銀行振込", "bank_transfer"),
    ]
    async with gmo_served(live_services, methods, key_name="admin", notify=True) as g:
        yield Shop(g.api, g.sim, g.sim_app, live_services, g.account_id)


async def test_cvs_slip_then_result_notice_of_payment_makes_it_a_sale(shop: Shop) -> None:
    order = await shop.order("gmo-cvs", convenience="00001", **CUSTOMER)
    r = await shop.act(order["id"], "authorize")
    body = r.json()
    assert body["outcome"] == "pending", r.text
    slip = body["order"]["payment_slip"]
    assert set(slip) == {"コンビニ", "受付番号", "確認番号", "支払期限"}
    assert slip["支払期限"].startswith("20261117")  # 7 days at GMO's test shop
    assert body["order"]["payment_status_label"] == "決済準備中"

    assert (await shop.pay(order["number"], Amount=3_300)).json()["Status"] == "PAYSUCCESS"
    await shop.settled()
    after = await shop.get(order["id"])
    assert after["payment_status_label"] == "売上完了"
    (event,) = await shop.events()
    assert (event["event"], event["status_label"]) == ("PAYSUCCESS", "反映済み")
    (notice,) = (await shop.notices()).values()
    assert notice["ref"] == order["number"]
    assert notice["taken"] is True
    assert [(a["status"], a["answer"]) for a in notice["attempts"]] == [(200, "0")]


async def test_the_same_result_notice_twice_changes_nothing(shop: Shop) -> None:
    order = await shop.order("gmo-cvs", convenience="00001", **CUSTOMER)
    await shop.act(order["id"], "authorize")
    await shop.pay(order["number"])
    await shop.settled()
    history = (await shop.api.get(f"/api/v1/orders/{order['id']}/payment-history")).json()
    key = f"{order['number']}/PAYSUCCESS/1"
    r = await shop.sim.post("/_control", json={"resend_notice": key})  # GMO sends it again
    assert r.status_code == 200, r.text
    await shop.settled()
    (notice,) = (await shop.notices()).values()
    assert [(a["status"], a["answer"]) for a in notice["attempts"]] == [(200, "0")] * 2
    assert len(await shop.events()) == 1
    again = (await shop.api.get(f"/api/v1/orders/{order['id']}/payment-history")).json()
    assert again == history
    assert (await shop.get(order["id"]))["payment_status_label"] == "売上完了"


async def test_a_result_notice_with_the_wrong_amount_is_refused_and_shown(shop: Shop) -> None:
    order = await shop.order("gmo-cvs", convenience="00001", **CUSTOMER)
    await shop.act(order["id"], "authorize")
    await shop.sim.post("/_control", json={"notify_url": None})  # GMO's own notice held back
    await shop.pay(order["number"])
    await shop.sim.post(
        "/_control",
        json={"notify_url": f"{shop.api.base_url}/webhooks/gmo-pg/{shop.account_id}"},
    )
    r = await shop.sim.post("/_notifications", json={"OrderID": order["number"], "Amount": "1"})
    assert r.status_code == 200
    await shop.settled()
    (event,) = await shop.events()
    assert event["status_label"] == "要確認"
    assert "通知の金額 1円 が受注の金額 3,300円 と一致しません" in event["result"]
    assert (await shop.get(order["id"]))["payment_status_label"] == "決済準備中"


async def test_a_result_notice_with_an_unknown_access_id_is_not_applied(shop: Shop) -> None:
    order = await shop.order("gmo-cvs", convenience="00001", **CUSTOMER)
    await shop.act(order["id"], "authorize")
    await shop.sim.post("/_control", json={"notify_url": None})
    await shop.pay(order["number"])
    await shop.sim.post(
        "/_control",
        json={"notify_url": f"{shop.api.base_url}/webhooks/gmo-pg/{shop.account_id}"},
    )
    await shop.sim.post("/_notifications", json={"OrderID": order["number"], "AccessID": "x"})
    await shop.settled()
    (event,) = await shop.events()
    assert event["status_label"] == "要確認"
    assert "AccessID" in event["result"]
    assert (await shop.get(order["id"]))["payment_status_label"] == "決済準備中"


async def test_gmo_retries_a_result_notice_kessai_did_not_take(shop: Shop) -> None:
    order = await shop.order("gmo-cvs", convenience="00001", **CUSTOMER)
    await shop.act(order["id"], "authorize")
    wrong = f"{shop.api.base_url}/webhooks/gmo-pg/999999"  # no such account: not taken
    await shop.sim.post("/_control", json={"notify_url": wrong})
    await shop.pay(order["number"])
    await shop.settled()
    (notice,) = (await shop.notices()).values()
    # the first and the two re-sends the schedule holds, none taken, no more to come
    assert [a["status"] for a in notice["attempts"]] == [404] * 3
    assert (notice["taken"], notice["next_at"]) == (False, None)
    assert (await shop.get(order["id"]))["payment_status_label"] == "決済準備中"


@pytest.mark.parametrize("mode", ["down", "answer_lost"])
async def test_a_result_notice_lost_once_is_sent_again_and_applied_once(
    shop: Shop, mode: str
) -> None:
    order = await shop.order("gmo-cvs", convenience="00001", **CUSTOMER)
    await shop.act(order["id"], "authorize")
    kessai = f"{shop.api.base_url}/webhooks/gmo-pg/{shop.account_id}"
    async with flaky(kessai, mode) as (stand_in, url):
        await shop.sim.post("/_control", json={"notify_url": url})
        await shop.pay(order["number"])
        await shop.settled()
    (notice,) = (await shop.notices()).values()
    attempts = [(a["status"], a["answer"]) for a in notice["attempts"]]
    assert attempts == [stand_in.first(), (200, "0")]
    assert notice["taken"] is True
    (event,) = await shop.events()  # the re-send of a notice kessai took is the same event
    assert (event["event"], event["status_label"]) == ("PAYSUCCESS", "反映済み")
    after = await shop.get(order["id"])
    assert after["payment_status_label"] == "売上完了"
    history = (await shop.api.get(f"/api/v1/orders/{order['id']}/payment-history")).json()
    applied = [(h["operation"], h["actor"]) for h in history if h["actor"].startswith("webhook")]
    assert applied == [("complete_challenge", "webhook:gmo_pg")]  # moved once, not twice


async def test_payment_after_the_deadline_is_refused_and_the_slip_expires(shop: Shop) -> None:
    order = await shop.order("gmo-cvs", convenience="00001", **CUSTOMER)
    await shop.act(order["id"], "authorize")
    shop.services.clock.set_now(datetime(2026, 11, 18, 10, 0, tzinfo=TOKYO))
    r = await shop.pay(order["number"])
    assert r.status_code == 409
    assert r.json()["error"] == "支払期限を過ぎています"
    r = await shop.act(order["id"], "reconcile")
    assert r.json()["order"]["payment_status_label"] == "仮売上失敗", r.text


@pytest.mark.parametrize(
    ("method", "source", "labels"),
    [
        ("gmo-payeasy", CUSTOMER, {"収納機関番号", "お客様番号", "確認番号", "支払期限"}),
        ("gmo-bank", {}, {"振込先銀行", "口座番号", "口座名義", "振込期限"}),
    ],
)
async def test_pay_easy_and_bank_transfer_give_their_slip_and_settle_on_payment(
    shop: Shop, method: str, source: dict[str, str], labels: set[str]
) -> None:
    order = await shop.order(method, **source)
    body = (await shop.act(order["id"], "authorize")).json()
    assert labels <= set(body["order"]["payment_slip"]), body
    await shop.pay(order["number"])
    await shop.settled()
    assert (await shop.get(order["id"]))["payment_status_label"] == "売上完了"


async def test_cvs_without_the_customer_fields_is_refused_before_any_call(shop: Shop) -> None:
    order = await shop.order("gmo-cvs", convenience="00001")
    r = await shop.act(order["id"], "authorize")
    assert r.status_code == 409, r.text  # nothing sent: the connector's own refusal
    assert r.json()["code"] == "customer_name_missing"
    assert "お客様氏名(customer_name)を指定してください" in r.json()["message"]
    assert (await shop.sim.get("/_calls", params={"api": "EntryTranCvs"})).json()["calls"] == []


async def test_gmo_sends_the_expiry_result_notice_and_the_unpaid_slip_fails(shop: Shop) -> None:
    order = await shop.order("gmo-cvs", convenience="00001", **CUSTOMER)
    body = (await shop.act(order["id"], "authorize")).json()
    assert body["order"]["payment_due_at"].startswith("2026-11-17T01:00")  # 10:00 JST
    r = await shop.sim.post("/_sandbox/expire")
    assert r.json()["expired"] == []  # not yet
    shop.services.clock.set_now(datetime(2026, 11, 18, 3, 0, tzinfo=TOKYO))
    r = await shop.sim.post("/_sandbox/expire")  # GMO's 期限切れ batch
    assert r.json()["expired"] == [order["number"]]
    await shop.settled()
    after = await shop.get(order["id"])
    assert after["payment_status_label"] == "仮売上失敗"
    (event,) = await shop.events()
    assert (event["event"], event["status_label"]) == ("EXPIRED", "反映済み")
    notices = await shop.notices()
    assert list(notices) == [f"{order['number']}/EXPIRED/1"]
    (notice,) = notices.values()
    assert [(a["status"], a["answer"]) for a in notice["attempts"]] == [(200, "0")]
    history = (await shop.api.get(f"/api/v1/orders/{order['id']}/payment-history")).json()
    assert "期限切れ" in (history[-1]["provider_message"] or ""), history


async def test_kessai_settles_an_expired_slip_by_itself_when_no_notice_comes(shop: Shop) -> None:
    await shop.sim.post("/_control", json={"notify_url": None})  # GMO's notices never arrive
    order = await shop.order("gmo-cvs", convenience="00001", **CUSTOMER)
    paid = await shop.order("gmo-bank")
    await shop.act(order["id"], "authorize")
    await shop.act(paid["id"], "authorize")
    await shop.pay(paid["number"])  # paid in time, its notice lost: settled by the same check

    # Before 支払期限 the hourly check leaves the unpaid slip alone (no call for it).
    shop.services.clock.set_now(datetime(2026, 11, 17, 9, 0, tzinfo=TOKYO))
    await tick(shop.services)
    await shop.services.dispatcher.drain()
    searched = (await shop.sim.get("/_calls", params={"api": "SearchTradeMulti"})).json()
    assert [c for c in searched["calls"] if c["ref"] == order["number"]] == []
    assert (await shop.get(order["id"]))["payment_status_label"] == "決済準備中"

    shop.services.clock.set_now(datetime(2026, 11, 18, 0, 0, tzinfo=TOKYO))
    assert await tick(shop.services)
    await shop.services.dispatcher.drain()
    assert (await shop.get(order["id"]))["payment_status_label"] == "仮売上失敗"
    # The bank transfer's 振込期限 is the whole 17th: past too, and GMO says it was paid.
    assert (await shop.get(paid["id"]))["payment_status_label"] == "売上完了"
    jobs = (await shop.api.get("/api/v1/jobs")).json()
    (job,) = [j for j in jobs if j["kind"] == "reconcile_unsettled" and j["total"]]
    assert (job["name"], job["total"]) == ("決済結果の自動照会", 2)
    csv = (await shop.api.get(f"/api/v1/jobs/{job['id']}/items.csv")).text
    lines = csv.splitlines()
    assert any(("決済準備中,仮売上失敗" in ln and "期限切れ" in ln) for ln in lines), csv
    assert any("決済準備中,売上完了" in ln for ln in lines), csv


async def test_gmo_runs_its_expiry_batch_by_itself_the_night_after_the_deadline(
    shop: Shop,
) -> None:
    order = await shop.order("gmo-cvs", convenience="00001", **CUSTOMER)
    await shop.act(order["id"], "authorize")  # 支払期限 2026-11-17 10:00
    shop.services.clock.set_now(datetime(2026, 11, 18, 3, 5, tzinfo=TOKYO))
    # Any idPass call GMO serves that night finds its batch has run: here an unrelated one.
    await shop.sim.post(
        "/payment/SearchTrade.idPass",
        content=codec.encode_request(
            {"ShopID": TEST_SHOP_ID, "ShopPass": TEST_SHOP_PASS, "OrderID": "other-order"}
        ),
        headers={"Content-Type": codec.CONTENT_TYPE},
    )
    await shop.settled()
    assert (await shop.get(order["id"]))["payment_status_label"] == "仮売上失敗"
    (event,) = await shop.events()
    assert (event["event"], event["status_label"]) == ("EXPIRED", "反映済み")
