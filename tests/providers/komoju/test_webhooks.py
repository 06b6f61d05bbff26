"""KOMOJU webhooks through kessai's inbox: X-Komoju-Signature checked on the raw body; a
tampered one refused with nothing stored; one sent again stored once; late and out-of-order
events (a stale cancel after the capture, a failed payment after it was paid) judged by what
KOMOJU holds now, so nothing changes; an answer other than 2xx is retried by KOMOJU."""

import json
from typing import Any

import httpx

from kessai.providers.komoju.provider import SANDBOX_WEBHOOK_SECRET
from kessai.providers.komoju.webhook import signature
from tests.providers.komoju.conftest import Shop


async def post(shop: Shop, body: bytes, headers: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=shop.api_url) as client:
        return await client.post(
            f"/webhooks/komoju/{shop.account_id}", content=body, headers=headers
        )


async def notices(shop: Shop) -> dict[str, Any]:
    """The webhooks the simulator posted, by event id, in the order sent (GET /_records)."""
    kept: dict[str, Any] = (await shop.sim.get("/_records", params={"kind": "notice"})).json()
    return kept.get("notice", {})


async def paid(shop: Shop) -> tuple[dict[str, Any], dict[str, Any]]:
    session = await shop.session(3_200)
    order = await shop.order("wechat", 3_200, {"session_id": session})
    r = await shop.act(order["id"], "authorize")
    assert r.json()["order"]["payment_status_label"] == "売上完了", r.text
    await shop.simulator.notices.drain()
    await shop.services.dispatcher.drain()
    (payment,) = shop.payments()
    return order, payment


async def test_the_simulators_webhooks_are_verified_and_stored_once_each(shop: Shop) -> None:
    order, _ = await paid(shop)
    r = await shop.act(order["id"], "cancel")
    assert r.json()["order"]["payment_status_label"] == "取消完了", r.text
    await shop.simulator.notices.drain()
    await shop.services.dispatcher.drain()
    sent = await notices(shop)
    assert [(n["api"], n["taken"], len(n["attempts"])) for n in sent.values()] == [
        ("payment.captured", True, 1),
        ("payment.refunded", True, 1),
    ]
    _captured, refunded = await shop.events()
    assert (refunded.event_id, refunded.status) == (list(sent)[1], "applied")
    assert "一致しています" in (refunded.result or "")
    assert await shop.status(order["id"]) == "canceled"


async def test_a_tampered_webhook_is_refused_and_nothing_is_stored(shop: Shop) -> None:
    _, payment = await paid(shop)
    before = len(await shop.events())
    event = shop.simulator.event("payment.cancelled", {**payment, "status": "cancelled"})
    body, headers = shop.simulator.signed(event)
    tampered = body.replace(b'"cancelled"', b'"refunded"')
    r = await post(shop, tampered, headers)
    assert r.status_code == 401, r.text
    assert "X-Komoju-Signature" in r.json()["message"]
    unsigned = {k: v for k, v in headers.items() if k != "x-komoju-signature"}
    assert (await post(shop, body, unsigned)).status_code == 401
    wrong_key = {**headers, "x-komoju-signature": signature("another-secret", body)}
    assert (await post(shop, body, wrong_key)).status_code == 401
    assert len(await shop.events()) == before


async def test_a_repeated_webhook_is_stored_once(shop: Shop) -> None:
    _, payment = await paid(shop)
    before = len(await shop.events())
    body, headers = shop.simulator.signed(shop.simulator.event("payment.captured", payment))
    first, again = await post(shop, body, headers), await post(shop, body, headers)
    assert (first.status_code, again.status_code) == (200, 200)
    await shop.services.dispatcher.drain()
    assert len(await shop.events()) == before + 1


async def test_late_and_out_of_order_events_change_nothing_komoju_does_not_say(
    shop: Shop,
) -> None:
    order, payment = await paid(shop)
    stale = [
        shop.simulator.event("payment.cancelled", {**payment, "status": "cancelled"}),
        shop.simulator.event("payment.failed", {**payment, "status": "failed"}),
    ]
    for event in stale:
        body = json.dumps(event).encode()
        headers = {"x-komoju-signature": signature(SANDBOX_WEBHOOK_SECRET, body)}
        assert (await post(shop, body, headers)).status_code == 200
    await shop.services.dispatcher.drain()
    acted = [e for e in await shop.events() if e.event in ("payment.cancelled", "payment.failed")]
    assert [e.status for e in acted] == ["applied", "applied"]
    assert all("一致しています" in (e.result or "") for e in acted)
    assert await shop.status(order["id"]) == "captured"


async def test_a_webhook_kessai_does_not_take_is_sent_again(shop: Shop) -> None:
    await shop.control(
        webhook_url=f"{shop.api_url}/webhooks/komoju/999999", resend_pauses=[0.01, 0.02]
    )
    await paid(shop)
    (notice,) = (await notices(shop)).values()
    assert (notice["taken"], [a["status"] for a in notice["attempts"]]) == (False, [404] * 3)
