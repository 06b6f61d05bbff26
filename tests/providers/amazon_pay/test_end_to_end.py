"""Amazon Pay (v2) end to end: kessai's own API and the Amazon Pay simulator, both over real
HTTP on loopback, through the real connector, with the customer's checkout in the Sandbox.
Seed 003's rules for Amazon Pay V2 hold on real calls: 減額 with no call until capture, no
increase, no cancel after オーソリ確定; the IPN comes back over SNS, verified."""

from datetime import timedelta

import pytest

from tests.providers.amazon_pay.conftest import Shop


async def test_checkout_authorize_capture_at_amazon(shop: Shop) -> None:
    order = await shop.order(5_500)
    r = await shop.act(order["id"], "authorize")
    assert r.json()["order"]["payment_status_label"] == "仮売上完了", r.text
    (charge,) = shop.charges()
    assert charge["statusDetails"]["state"] == "Authorized"
    assert charge["chargeAmount"] == {"amount": "5500", "currencyCode": "JPY"}
    r = await shop.act(order["id"], "capture", shipped_on="2026-12-07", tracking_number="1234")
    assert r.json()["order"]["payment_status_label"] == "売上完了", r.text
    assert charge["statusDetails"]["state"] == "Captured"
    assert charge["captureAmount"]["amount"] == "5500"
    # Every POST carried its idempotency key (the simulator answers 400 MissingHeader without).
    posts = [c for c in await shop.calls() if c["api"] in ("CreateCharge", "CaptureCharge")]
    assert [bool(c["ref"]) for c in posts] == [True, True]  # ref: the idempotency key


async def test_authorize_then_cancel_cancels_the_charge(shop: Shop) -> None:
    order = await shop.order()
    await shop.act(order["id"], "authorize")
    r = await shop.act(order["id"], "cancel")
    assert r.json()["order"]["payment_status_label"] == "取消完了", r.text
    (charge,) = shop.charges()
    assert charge["statusDetails"]["state"] == "Canceled"


@pytest.mark.parametrize(
    ("method", "code", "hard"), [("0002", "SoftDeclined", False), ("4354", "HardDeclined", True)]
)
async def test_a_decline_shows_amazons_reason_code(
    shop: Shop, method: str, code: str, hard: bool
) -> None:
    order = await shop.order(method=method)
    r = await shop.act(order["id"], "authorize")
    body = r.json()
    assert body["outcome"] == "declined", r.text
    assert body["provider_code"] == code
    assert body["order"]["payment_status_label"] == "仮売上失敗"
    assert shop.charges() == []


async def test_a_lost_answer_is_reconciled_without_a_second_charge(shop: Shop) -> None:
    order = await shop.order()
    await shop.control(lose_response={"count": 1, "api": "CreateCharge", "commit": True})
    r = await shop.act(order["id"], "authorize")
    assert r.json()["outcome"] == "unknown", r.text
    r = await shop.act(order["id"], "authorize")
    assert r.json()["order"]["payment_status_label"] == "仮売上完了", r.text
    assert len(shop.charges()) == 1
    # The charge was asked for again with the same idempotency key: Amazon's first answer.
    keys = [c["ref"] for c in await shop.calls("CreateCharge")]
    assert len(keys) == 2
    assert len(set(keys)) == 1


async def test_decrease_is_kept_until_capture_which_sends_the_new_amount(shop: Shop) -> None:
    order = await shop.order(5_500)
    await shop.act(order["id"], "authorize")
    before = len(await shop.calls())
    r = await shop.act(order["id"], "change-amount", amount=4_400, tax=400)
    assert r.status_code == 200, r.text
    assert r.json()["order"]["amount"] == 4_400
    assert len(await shop.calls()) == before, "an amount change must not call Amazon"
    r = await shop.act(order["id"], "change-amount", amount=6_600, tax=600)
    assert r.status_code == 409, r.text
    assert "減額のみ" in r.json()["message"]
    assert len(await shop.calls()) == before
    await shop.act(order["id"], "capture")
    (charge,) = shop.charges()
    assert charge["captureAmount"] == {"amount": "4400", "currencyCode": "JPY"}


async def test_cancel_after_capture_is_refused_before_any_call(shop: Shop) -> None:
    order = await shop.order()
    await shop.act(order["id"], "authorize")
    await shop.act(order["id"], "capture")
    before = len(await shop.calls())
    r = await shop.act(order["id"], "cancel")
    assert r.status_code == 409, r.text
    assert len(await shop.calls()) == before
    assert (await shop.api.get(f"/api/v1/orders/{order['id']}")).json()[
        "payment_status_label"
    ] == "売上完了"


async def test_ipn_comes_back_verified_and_changes_nothing_amazon_does_not_say(shop: Shop) -> None:
    await shop.control(ipn_url=f"{shop.api_url}/webhooks/amazon_pay/{shop.account_id}")
    order = await shop.order()
    await shop.act(order["id"], "authorize")
    await shop.simulator.notices.drain()
    await shop.services.dispatcher.drain()
    (notice,) = (
        (await shop.sim.get("/_records", params={"kind": "notice"})).json()["notice"].values()
    )
    assert (notice["taken"], len(notice["attempts"])) == (True, 1)
    (event,) = await shop.events()
    assert (event.event, event.status) == ("CHARGE.STATE_CHANGE", "applied")
    assert "一致しています" in (event.result or "")


async def test_ipn_is_retried_until_kessai_takes_it(shop: Shop) -> None:
    # Nothing listens at first (an unknown account: 404), as SNS meets a broken endpoint.
    await shop.control(
        ipn_url=f"{shop.api_url}/webhooks/amazon_pay/999999", resend_pauses=[0.01, 0.02]
    )
    order = await shop.order()
    await shop.act(order["id"], "authorize")
    await shop.simulator.notices.drain()
    (notice,) = (
        (await shop.sim.get("/_records", params={"kind": "notice"})).json()["notice"].values()
    )
    assert (notice["taken"], [a["status"] for a in notice["attempts"]]) == (False, [404] * 3)
    assert [c["result"] for c in await shop.calls("IPN")] == ["not_taken"] * 3
    assert await shop.events() == []


async def test_capture_after_the_30_day_authorization_is_refused_before_any_call(
    shop: Shop,
) -> None:
    order = await shop.order()
    await shop.act(order["id"], "authorize")
    before = len(await shop.calls())
    shop.services.clock.advance(timedelta(days=31))
    r = await shop.act(order["id"], "capture")
    assert r.status_code == 409, r.text
    assert r.json()["code"] == "authorization_expired"
    assert "30日" in r.json()["message"]
    assert len(await shop.calls()) == before
