"""The card's cancel across a month end, over loopback through kessai's API: RETURN for an
authorization (GMO refuses RETURNX for one), RETURNX for a sale, and after 90 days a sale
from an earlier month is refused before any call, as GMO's own EC-CUBE module does."""

from datetime import datetime

from kessai.core.clock import TOKYO
from tests.e2e.test_gmo_pg import Shop, shop  # noqa: F401 - the fixture


async def test_an_authorization_from_last_month_is_cancelled_with_return(shop: Shop) -> None:  # noqa: F811
    shop.services.clock.set_now(datetime(2026, 3, 20, 10, 0, tzinfo=TOKYO))
    order = await shop.order()
    await shop.act(order["id"], "authorize")
    shop.services.clock.set_now(datetime(2026, 4, 2, 10, 0, tzinfo=TOKYO))
    r = await shop.act(order["id"], "cancel")
    assert r.json()["order"]["payment_status_label"] == "取消完了", r.text
    assert (await shop.trade(order["number"]))["Status"] == "RETURN"


async def test_a_sale_from_last_month_is_cancelled_with_returnx(shop: Shop) -> None:  # noqa: F811
    shop.services.clock.set_now(datetime(2026, 3, 20, 10, 0, tzinfo=TOKYO))
    order = await shop.order()
    await shop.act(order["id"], "authorize")
    await shop.act(order["id"], "capture")
    shop.services.clock.set_now(datetime(2026, 4, 2, 10, 0, tzinfo=TOKYO))
    r = await shop.act(order["id"], "cancel")
    assert r.json()["order"]["payment_status_label"] == "取消完了", r.text
    assert (await shop.trade(order["number"]))["Status"] == "RETURNX"


async def test_a_sale_older_than_90_days_is_refused_before_any_call(shop: Shop) -> None:  # noqa: F811
    shop.services.clock.set_now(datetime(2026, 1, 10, 10, 0, tzinfo=TOKYO))
    order = await shop.order()
    await shop.act(order["id"], "authorize")
    await shop.act(order["id"], "capture")
    shop.services.clock.set_now(datetime(2026, 4, 10, 10, 1, tzinfo=TOKYO))
    before = len(await shop.calls("AlterTran"))
    got = await shop.api.get(f"/api/v1/orders/{order['id']}")
    assert "cancel" not in got.json()["allowed_actions"]
    r = await shop.act(order["id"], "cancel")
    assert r.status_code == 409, r.text
    assert r.json()["detail"]["rule_code"] == "window_expired"
    assert "月跨りの返品(RETURNX)は決済日時から90日を超えるとエラー" in r.json()["message"]
    assert len(await shop.calls("AlterTran")) == before
    assert (await shop.trade(order["number"]))["Status"] == "SALES"
