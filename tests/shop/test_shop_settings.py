"""ショップ設定 through the API, and the 発送日 calendar the 再オーソリバッチ runs by."""

from datetime import UTC, date, datetime, time

import pytest

from kessai.core.clock import TOKYO
from kessai.core.db import transaction
from kessai.history.repository import list_changes
from kessai.services import Services
from kessai.shop.schemas import ShopSettings
from kessai.subscriptions.reauthorization import due_on, reauthorization_due, reauthorization_params
from tests.web.conftest import client_for, new_key


def tokyo(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), TOKYO)


async def test_defaults_then_a_partial_change(services: Services):
    async with client_for(services, await new_key(services)) as api:
        first = await api.get("/api/v1/shop/settings")
        changed = await api.patch(
            "/api/v1/shop/settings",
            json={"card_change_allowed": True, "non_shipping_dates": ["2026-11-23", "2026-11-23"]},
        )
        again = await api.get("/api/v1/shop/settings")

    assert first.status_code == 200
    assert first.json() == {
        "shop_name": "ショップ",
        "card_change_allowed": False,
        "mail_from": None,
        "notification_email": None,
        "reauthorization_time": "05:00:00",
        "shipping_weekdays": [0, 1, 2, 3, 4],
        "non_shipping_dates": [],
    }
    assert changed.status_code == 200
    assert again.json()["card_change_allowed"] is True
    assert again.json()["non_shipping_dates"] == ["2026-11-23"]
    assert again.json()["reauthorization_time"] == "05:00:00"  # untouched
    async with transaction(services.sessions) as s:
        history = await list_changes(s, "shop_settings", 1)
    assert {(c.field, c.before, c.after) for c in history} == {
        ("card_change_allowed", "False", "True"),
        ("non_shipping_dates", "", "2026-11-23"),
    }


@pytest.mark.parametrize(
    "body",
    [
        {"shipping_weekdays": [7]},
        {"notification_email": "not-an-address"},
        {"reauthorization_time": "25:00"},
        {"unknown": 1},
    ],
)
async def test_invalid_settings_are_refused(services: Services, body):
    async with client_for(services, await new_key(services)) as api:
        r = await api.patch("/api/v1/shop/settings", json=body)
        after = await api.get("/api/v1/shop/settings")
    assert r.status_code == 422
    assert after.json()["shipping_weekdays"] == [0, 1, 2, 3, 4]


async def test_settings_need_an_api_key(services: Services):
    async with client_for(services, None) as anonymous:
        assert (await anonymous.get("/api/v1/shop/settings")).status_code == 401


# ------------------------------------------------------------------ 発送日 and the due rule

HOLIDAY = date(2026, 11, 23)  # 勤労感謝の日 (a Monday)
SHOP = ShopSettings(non_shipping_dates=[HOLIDAY])


@pytest.mark.parametrize(
    ("moment", "due"),
    [
        (tokyo(date(2026, 11, 24), 5, 0), "reauthorization:2026-11-24"),
        (tokyo(date(2026, 11, 24), 23, 59), "reauthorization:2026-11-24"),
        (tokyo(date(2026, 11, 24), 4, 59), None),
        (tokyo(HOLIDAY, 5, 0), None),
        (tokyo(date(2026, 11, 28), 5, 0), None),  # Saturday
        (tokyo(date(2026, 11, 29), 9, 0), None),  # Sunday
        (tokyo(date(2026, 11, 30), 5, 0), "reauthorization:2026-11-30"),
    ],
)
def test_due_on_shipping_days_from_the_shops_time(moment, due):
    assert due_on(SHOP, moment) == due


def test_the_date_is_tokyos_whatever_the_zone_given():
    utc = datetime(2026, 11, 22, 20, 0, tzinfo=UTC)  # 2026-11-23 05:00 in Tokyo
    assert due_on(ShopSettings(), utc) == "reauthorization:2026-11-23"
    assert due_on(SHOP, utc) is None
    assert reauthorization_params(utc) == {"date": "2026-11-23"}


def test_a_saturday_shop_and_a_later_time():
    shop = ShopSettings(shipping_weekdays=[5], reauthorization_time=time(9, 30))
    assert due_on(shop, tokyo(date(2026, 11, 28), 9, 29)) is None
    assert due_on(shop, tokyo(date(2026, 11, 28), 9, 30)) == "reauthorization:2026-11-28"
    assert due_on(shop, tokyo(date(2026, 11, 27), 9, 30)) is None


async def test_the_due_rule_reads_the_shops_calendar(services: Services):
    monday = tokyo(HOLIDAY, 6)
    assert await reauthorization_due(services, monday) == "reauthorization:2026-11-23"
    async with client_for(services, await new_key(services)) as api:
        r = await api.patch(
            "/api/v1/shop/settings",
            json={"non_shipping_dates": ["2026-11-23"], "reauthorization_time": "07:00"},
        )
        assert r.status_code == 200
    assert await reauthorization_due(services, monday) is None
    tuesday = tokyo(date(2026, 11, 24), 6)
    assert await reauthorization_due(services, tuesday) is None
    assert await reauthorization_due(services, tokyo(date(2026, 11, 24), 7)) == (
        "reauthorization:2026-11-24"
    )
