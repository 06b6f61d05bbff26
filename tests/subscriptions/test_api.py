"""/api/v1/subscriptions: register, search, read with child orders, change — over HTTP."""

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select

from kessai.core.db import transaction
from kessai.history.repository import list_changes
from kessai.services import Services
from kessai.subscriptions.models import Subscription
from kessai.subscriptions.status import TRANSITIONS, SubscriptionStatus
from tests.subscriptions.conftest import (
    add_card,
    bill,
    body,
    card_method,
    customer_with_card,
    set_updater,
)
from tests.web.conftest import client_for, new_key, snapshot


@pytest.fixture
async def api(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(services, await new_key(services)) as client:
        yield client


async def create(api: httpx.AsyncClient, data: dict) -> dict:
    r = await api.post("/api/v1/subscriptions", json=data)
    assert r.status_code == 201, r.text
    out: dict = r.json()
    return out


async def db_rows(services: Services) -> list[tuple]:
    async with transaction(services.sessions) as s:
        rows = await s.execute(select(Subscription).order_by(Subscription.id))
        return [
            tuple(getattr(sub, c.key) for c in Subscription.__table__.columns)
            for sub in rows.scalars()
        ]


async def test_register_and_read_a_subscription(services: Services, api: httpx.AsyncClient):
    method = await card_method(services)
    holder = await customer_with_card(services, method)
    created = await create(
        api,
        body(method.code, holder, next_delivery_on="2026-11-24", number="0123456789"),
    )
    assert created["number"] == "0123456789"
    assert created["amount"] == 5_500  # 2 × 2,750 from the items
    assert (created["status"], created["status_label"]) == ("active", "有効")
    assert created["cycle"] == {"kind": "months", "interval": 1, "day": 22, "label": "1ヶ月ごと"}
    assert created["card"]["masked_number"] == "411111******1111"
    assert created["updater_result"] is None
    assert created["updater_result_label"] == "未洗替"
    assert created["items"][0] == {
        "name": "青汁 30包",
        "sku": "AOJIRU-30",
        "quantity": 2,
        "unit_price": 2_750,
    }
    assert created["cycle_count"] == 0
    got = (await api.get(f"/api/v1/subscriptions/{created['id']}")).json()
    assert got["orders"] == []
    assert got["next_delivery_on"] == "2026-11-24"

    auto = await create(api, body(method.code, holder))
    assert len(auto["number"]) == 10
    assert auto["number"].isdigit()
    dup = await api.post(
        "/api/v1/subscriptions", json=body(method.code, holder, number="0123456789")
    )
    assert dup.status_code == 409
    assert dup.json()["code"] == "duplicate_subscription_number"


async def test_detail_shows_child_orders_and_the_cards_updater_status(
    services: Services, api: httpx.AsyncClient
):
    method = await card_method(services)
    holder = await customer_with_card(services, method)
    sub = await create(api, body(method.code, holder))
    await bill(services)
    await set_updater(services, holder.card_id, "1")
    got = (await api.get(f"/api/v1/subscriptions/{sub['id']}")).json()
    assert got["cycle_count"] == 1
    assert got["next_ship_on"] == "2026-12-22"
    [order] = got["orders"]
    assert order["number"] == f"{sub['number']}-001"
    assert order["subscription_cycle"] == 1
    assert order["payment_status_label"] == "仮売上完了"
    assert (got["updater_result"], got["updater_result_label"]) == ("1", "有効性NG")
    assert got["card"]["updater_result_label"] == "有効性NG"
    assert got["card"]["updater_checked_at"] is not None


@pytest.mark.parametrize(
    ("overrides", "status", "code"),
    [
        ({"card_id": None}, 422, "card_required"),
        ({"card_id": 999_999}, 422, "unknown_card"),
        ({"customer_id": 999_999}, 422, "unknown_customer"),
        ({"payment_method": "nope"}, 422, "unknown_payment_method"),
        ({"cycle": {"kind": "weeks", "interval": 1}}, 422, "invalid_input"),
        ({"cycle": {"kind": "days", "interval": 0}}, 422, "invalid_cycle"),
        ({"cycle": {"kind": "day_of_month", "interval": 1, "day": 5}}, 422, "ship_day_mismatch"),
        ({"next_delivery_on": "2026-11-20"}, 422, "delivery_before_ship"),
        ({"items": []}, 422, "invalid_input"),
        ({"amount": 0}, 422, "invalid_input"),
        ({"tax": 99_999}, 422, "tax_out_of_range"),
        ({"number": "12345"}, 422, "invalid_input"),
        ({"card_number": "4111111111111111"}, 422, "invalid_input"),
    ],
)
async def test_bad_registrations_are_refused_and_store_nothing(
    services: Services, api: httpx.AsyncClient, overrides, status, code
):
    method = await card_method(services)
    holder = await customer_with_card(services, method)
    r = await api.post("/api/v1/subscriptions", json=body(method.code, holder, **overrides))
    assert r.status_code == status, r.text
    assert r.json()["code"] == code
    assert r.json()["message"]  # Japanese, for people
    assert await db_rows(services) == []


async def test_a_card_of_another_customer_is_refused(services: Services, api: httpx.AsyncClient):
    method = await card_method(services)
    holder = await customer_with_card(services, method)
    other = await customer_with_card(services, method, name="佐藤 花子")
    r = await api.post(
        "/api/v1/subscriptions",
        json=body(method.code, holder, card_id=other.card_id),
    )
    assert r.status_code == 422
    assert r.json()["code"] == "unknown_card"


async def test_list_filters_by_status_updater_result_customer_and_ship_date(
    services: Services, api: httpx.AsyncClient
):
    method = await card_method(services)
    ok = await customer_with_card(services, method, updater_result="0")
    ng = await customer_with_card(services, method, name="NG", updater_result="1")
    mismatch = await customer_with_card(services, method, name="照合", updater_result="2")
    fresh = await customer_with_card(services, method, name="未洗替")
    a = await create(api, body(method.code, ok))
    b = await create(api, body(method.code, ng, next_ship_on="2026-12-05"))
    c = await create(api, body(method.code, mismatch))
    d = await create(api, body(method.code, fresh, next_ship_on="2027-01-10"))
    await api.patch(f"/api/v1/subscriptions/{c['id']}", json={"status": "paused"})

    async def ids(**params: str | int) -> list[int]:
        r = await api.get("/api/v1/subscriptions", params=params)
        assert r.status_code == 200, r.text
        page = r.json()
        assert page["total"] == len(page["items"])
        return sorted(x["id"] for x in page["items"])

    assert await ids() == sorted([a["id"], b["id"], c["id"], d["id"]])
    assert await ids(updater_result="1") == [b["id"]]
    assert await ids(updater_result="有効性NG") == [b["id"]]
    assert await ids(updater_result="照合エラー") == [c["id"]]
    assert await ids(updater_result="none") == [d["id"]]
    assert await ids(status="paused") == [c["id"]]
    assert await ids(status="有効") == sorted([a["id"], b["id"], d["id"]])
    assert await ids(customer_id=ng.customer_id) == [b["id"]]
    assert await ids(next_ship_from="2026-12-01", next_ship_to="2026-12-31") == [b["id"]]
    assert await ids(next_ship_from="2026-12-01") == sorted([b["id"], d["id"]])
    listed = (await api.get("/api/v1/subscriptions", params={"updater_result": "2"})).json()
    assert listed["items"][0]["updater_result_label"] == "照合エラー"
    for bad, code in (
        ({"status": "止め"}, "unknown_subscription_status"),
        ({"updater_result": "9"}, "unknown_updater_result"),
        ({"next_ship_from": "11/22"}, "invalid_input"),
    ):
        r = await api.get("/api/v1/subscriptions", params=bad)
        assert r.status_code == 422
        assert r.json()["code"] == code


def test_every_status_is_in_the_transition_table():
    assert set(TRANSITIONS) == set(SubscriptionStatus)
    for targets in TRANSITIONS.values():
        assert targets <= set(SubscriptionStatus)
    assert TRANSITIONS[SubscriptionStatus.CANCELED] == frozenset()


@pytest.mark.parametrize(
    ("path", "target", "ok"),
    [
        (["active"], "paused", True),
        (["active"], "canceled", True),
        (["active", "paused"], "active", True),
        (["active", "paused"], "キャンセル", True),
        (["active", "canceled"], "active", False),
        (["active", "canceled"], "paused", False),
    ],
)
async def test_status_changes_follow_the_table_and_write_history(
    services: Services, api: httpx.AsyncClient, path, target, ok
):
    method = await card_method(services)
    holder = await customer_with_card(services, method)
    sub = await create(api, body(method.code, holder))
    for step in path[1:]:
        assert (
            await api.patch(f"/api/v1/subscriptions/{sub['id']}", json={"status": step})
        ).status_code == 200
    before = await db_rows(services)
    r = await api.patch(
        f"/api/v1/subscriptions/{sub['id']}", json={"status": target, "reason": "お客様のご依頼"}
    )
    if ok:
        assert r.status_code == 200, r.text
        assert r.json()["status_label"] in ("有効", "停止", "キャンセル")
        async with transaction(services.sessions) as s:
            history = await list_changes(s, "subscription", sub["id"])
        assert history[-1].field == "status"
        assert history[-1].reason == "お客様のご依頼"
    else:
        assert r.status_code == 409
        assert r.json()["code"] == "illegal_subscription_transition"
        assert "キャンセル" in r.json()["message"]
        assert await db_rows(services) == before


async def test_patch_cycle_dates_and_card(services: Services, api: httpx.AsyncClient):
    method = await card_method(services)
    holder = await customer_with_card(services, method)
    sub = await create(api, body(method.code, holder, next_delivery_on="2026-11-24"))
    new_card = await add_card(services, method, holder.customer_id)
    r = await api.patch(
        f"/api/v1/subscriptions/{sub['id']}",
        json={
            "cycle": {"kind": "day_of_month", "interval": 1, "day": 31},
            "next_ship_on": "2026-11-30",
            "card_id": new_card,
        },
    )
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["cycle"]["label"] == "毎月31日"
    assert got["next_ship_on"] == "2026-11-30"
    assert got["next_delivery_on"] == "2026-12-02"  # keeps its 2 days after shipping
    assert got["card"]["id"] == new_card
    days = await api.patch(
        f"/api/v1/subscriptions/{sub['id']}", json={"cycle": {"kind": "days", "interval": 45}}
    )
    assert days.json()["cycle"] == {
        "kind": "days",
        "interval": 45,
        "day": None,
        "label": "45日ごと",
    }


@pytest.mark.parametrize(
    ("patch", "status", "code"),
    [
        (
            {"next_ship_on": "2026-12-01", "cycle": {"kind": "day_of_month", "day": 5}},
            422,
            "ship_day_mismatch",
        ),
        (
            {"next_ship_on": "2026-12-01", "next_delivery_on": "2026-11-30"},
            422,
            "delivery_before_ship",
        ),
        ({"status": "paused", "card_id": 999_999}, 422, "unknown_card"),
        ({"status": "paused", "cycle": {"kind": "months", "interval": 13}}, 422, "invalid_cycle"),
        ({"status": "zzz"}, 422, "unknown_subscription_status"),
        ({"status": "canceled", "next_ship_on": "2026-12-01"}, 409, "subscription_canceled"),
        ({"amount": 1}, 422, "invalid_input"),
    ],
)
async def test_a_refused_patch_changes_nothing(
    services: Services, api: httpx.AsyncClient, patch, status, code
):
    method = await card_method(services)
    holder = await customer_with_card(services, method)
    sub = await create(api, body(method.code, holder))
    before, history = await db_rows(services), await snapshot(services)
    r = await api.patch(f"/api/v1/subscriptions/{sub['id']}", json=patch)
    assert r.status_code == status, r.text
    assert r.json()["code"] == code
    assert await db_rows(services) == before
    assert await snapshot(services) == history


async def test_unknown_subscription_and_auth(services: Services, api: httpx.AsyncClient):
    r = await api.get("/api/v1/subscriptions/424242")
    assert r.status_code == 404
    assert r.json()["code"] == "subscription_not_found"
    assert (
        await api.patch("/api/v1/subscriptions/424242", json={"status": "paused"})
    ).status_code == 404
    async with client_for(services, None) as anonymous:
        assert (await anonymous.get("/api/v1/subscriptions")).status_code == 401
        assert (await anonymous.post("/api/v1/subscriptions", json={})).status_code == 401
    async with transaction(services.sessions) as s:
        assert await s.scalar(select(func.count()).select_from(Subscription)) == 0
