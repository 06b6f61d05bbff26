"""Outbound webhooks as a storefront meets them: signed per Standard Webhooks (checked by the
receiver's own verifier), retried on the spec's schedule, 410 disabling the endpoint, a
delivery log, manual redelivery, filters, secret rotation with both signatures, and events
in order per order."""

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from kessai.core.db import transaction
from kessai.orders.schemas import CustomerIn, OrderCreate
from kessai.orders.service import create_order
from kessai.services import Services
from kessai.webhooks.delivery import SCHEDULE, Round, Sender, pump, retry_delay
from kessai.webhooks.models import Event
from tests.factories import act, make_method, make_order
from tests.webhooks.receiver import Receiver, signatures, verify


async def add_endpoint(api: httpx.AsyncClient, url: str, **body: Any) -> dict[str, Any]:
    r = await api.post("/api/v1/webhook-endpoints", json={"url": url, **body})
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    assert out["secret"].startswith("whsec_")
    return out


async def drain(services: Services) -> Round:
    """Pump until nothing is left to do now; the last busy round's figures."""
    sender = Sender(services)
    total = Round()
    try:
        while (done := await pump(services, sender)).busy:
            total = Round(
                total.relayed + done.relayed,
                total.sent + done.sent,
                total.succeeded + done.succeeded,
            )
    finally:
        await sender.aclose()
    return total


async def deliveries(api: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    r = await api.get("/api/v1/webhook-deliveries", params=params)
    assert r.status_code == 200, r.text
    out: list[dict[str, Any]] = r.json()
    return out


async def test_every_change_arrives_signed_and_in_order(
    services: Services, api: httpx.AsyncClient, hooks: Receiver
) -> None:
    endpoint = await add_endpoint(api, hooks.url(), description="ストアフロント")
    method = await make_method(services)
    order_id = await make_order(services, method)
    await services.payments.run(order_id, act("authorize"))
    await services.payments.run(order_id, act("capture"))
    await drain(services)

    got = hooks.at()
    assert [r.type for r in got] == ["order.created", "payment.succeeded", "payment.succeeded"]
    assert all(verify(endpoint["secret"], r.headers, r.body) for r in got)
    assert len({r.id for r in got}) == 3
    statuses = [r.payload["data"]["order"]["payment_status"] for r in got]
    assert statuses == ["pending", "authorized", "captured"]
    capture = got[2].payload["data"]
    assert capture["order"]["id"] == order_id
    assert capture["payment"]["operation"] == "capture"
    assert {"field": "payment_status", "before": "authorized", "after": "captured"} in capture[
        "changes"
    ]
    # A signature made with another secret is refused by the same verifier.
    assert not verify("whsec_" + "A" * 44, got[0].headers, got[0].body)

    log = await deliveries(api, order_id=order_id)
    assert {d["status"] for d in log} == {"succeeded"}
    assert all(d["log"][0]["status_code"] == 200 for d in log)
    assert log[0]["log"][0]["response_body"] == "answer 200"


async def test_failing_receiver_gets_it_again_later_and_the_log_shows_both(
    services: Services, api: httpx.AsyncClient, hooks: Receiver
) -> None:
    await add_endpoint(api, hooks.url(), event_types=["order.created"])
    hooks.script["/hook"] = [500]
    method = await make_method(services)
    order_id = await make_order(services, method)
    await drain(services)
    [waiting] = await deliveries(api, order_id=order_id)
    assert waiting["status"] == "pending"
    assert [a["status_code"] for a in waiting["log"]] == [500]

    await drain(services)  # not due yet: 5 seconds after the first try
    assert len(hooks.at()) == 1
    services.clock.advance(timedelta(seconds=6))
    await drain(services)
    [done] = await deliveries(api, order_id=order_id)
    assert done["status"] == "succeeded"
    assert [a["status_code"] for a in done["log"]] == [500, 200]
    first, second = hooks.at()
    assert first.id == second.id  # the same event, the same webhook-id
    assert first.headers["webhook-timestamp"] <= second.headers["webhook-timestamp"]


async def test_unreachable_endpoint_follows_the_schedule_then_gives_up(
    services: Services, api: httpx.AsyncClient
) -> None:
    await add_endpoint(api, "http://127.0.0.1:1/nothing")  # nobody listens on port 1
    method = await make_method(services)
    await make_order(services, method)
    for delay in (timedelta(0), *SCHEDULE):
        services.clock.advance(delay * 1.11)
        await drain(services)
    [gone] = await deliveries(api)
    assert gone["status"] == "failed"
    assert gone["attempts"] == len(SCHEDULE) + 1 == 10
    assert all(a["error"] and a["status_code"] is None for a in gone["log"])
    # The schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h (plus ≤ 10 % jitter).
    assert timedelta(seconds=5) <= retry_delay(1) <= timedelta(seconds=5.5)  # type: ignore[operator]
    assert timedelta(hours=24) <= retry_delay(9) <= timedelta(hours=26.4)  # type: ignore[operator]
    assert retry_delay(10) is None


async def test_410_disables_the_endpoint(
    services: Services, api: httpx.AsyncClient, hooks: Receiver
) -> None:
    endpoint = await add_endpoint(api, hooks.url("/gone"))
    other = await add_endpoint(api, hooks.url("/kept"))
    hooks.script["/gone"] = [410]
    method = await make_method(services)
    await make_order(services, method)
    await drain(services)
    r = await api.get(f"/api/v1/webhook-endpoints/{endpoint['id']}")
    assert r.json()["enabled"] is False
    assert "410" in r.json()["disabled_reason"]
    await make_order(services, method)
    services.clock.advance(timedelta(days=1))
    await drain(services)
    assert len(hooks.at("/gone")) == 1  # nothing more after the 410
    assert len(hooks.at("/kept")) == 2
    assert (await api.get(f"/api/v1/webhook-endpoints/{other['id']}")).json()["enabled"]


async def test_filters_send_each_endpoint_only_what_it_asked_for(
    services: Services, api: httpx.AsyncClient, hooks: Receiver
) -> None:
    await add_endpoint(api, hooks.url("/payments"), event_types=["payment.*"])
    await add_endpoint(api, hooks.url("/created"), event_types=["order.created"])
    await add_endpoint(api, hooks.url("/all"))
    method = await make_method(services)
    order_id = await make_order(services, method)
    await services.payments.run(order_id, act("authorize", scenario="decline"))
    await drain(services)
    assert [r.type for r in hooks.at("/payments")] == ["payment.declined"]
    assert [r.type for r in hooks.at("/created")] == ["order.created"]
    assert [r.type for r in hooks.at("/all")] == ["order.created", "payment.declined"]
    declined = hooks.at("/payments")[0].payload["data"]
    assert declined["order"]["payment_status"] == "authorize_failed"


async def test_a_later_event_waits_for_the_earlier_one_of_the_same_order(
    services: Services, api: httpx.AsyncClient, hooks: Receiver
) -> None:
    await add_endpoint(api, hooks.url())
    method = await make_method(services)
    first = await make_order(services, method)
    hooks.script["/hook"] = [503]
    await drain(services)  # order.created of `first` fails
    await services.payments.run(first, act("authorize"))
    second = await make_order(services, method)
    await drain(services)
    # The other order goes on; `first`'s payment waits behind its created event.
    sent = [(r.payload["data"]["order"]["id"], r.type) for r in hooks.at()]
    assert sent == [(first, "order.created"), (second, "order.created")]
    services.clock.advance(timedelta(seconds=6))
    await drain(services)
    sent = [(r.payload["data"]["order"]["id"], r.type) for r in hooks.at()]
    assert sent[2:] == [(first, "order.created"), (first, "payment.succeeded")]


async def test_rotation_signs_with_both_secrets_during_the_overlap(
    services: Services, api: httpx.AsyncClient, hooks: Receiver
) -> None:
    endpoint = await add_endpoint(api, hooks.url())
    r = await api.post(
        f"/api/v1/webhook-endpoints/{endpoint['id']}/rotate-secret", json={"overlap_hours": 2}
    )
    assert r.status_code == 200, r.text
    new_secret = r.json()["secret"]
    assert new_secret != endpoint["secret"]
    assert r.json()["previous_secret_until"] is not None
    method = await make_method(services)
    await make_order(services, method)
    await drain(services)
    during = hooks.at()[-1]
    assert len(signatures(during.headers)) == 2
    assert verify(endpoint["secret"], during.headers, during.body)
    assert verify(new_secret, during.headers, during.body)

    services.clock.advance(timedelta(hours=2, seconds=1))
    await make_order(services, method)
    await drain(services)
    after = hooks.at()[-1]
    assert len(signatures(after.headers)) == 1
    assert verify(new_secret, after.headers, after.body)
    assert not verify(endpoint["secret"], after.headers, after.body)
    # The secret is never shown again.
    listed = (await api.get("/api/v1/webhook-endpoints")).json()
    assert "secret" not in listed[0]
    assert new_secret not in (await api.get(f"/api/v1/webhook-endpoints/{endpoint['id']}")).text


async def test_manual_redelivery_sends_now_and_is_logged(
    services: Services, api: httpx.AsyncClient, hooks: Receiver
) -> None:
    endpoint = await add_endpoint(api, hooks.url())
    method = await make_method(services)
    await make_order(services, method)
    await drain(services)
    [delivery] = await deliveries(api, endpoint_id=endpoint["id"])
    r = await api.post(f"/api/v1/webhook-deliveries/{delivery['id']}/redeliver")
    assert r.status_code == 200, r.text
    assert [(a["status_code"], a["manual"]) for a in r.json()["log"]] == [
        (200, False),
        (200, True),
    ]
    first, again = hooks.at()
    assert first.id == again.id
    assert first.body == again.body
    missing = await api.post("/api/v1/webhook-deliveries/999999/redeliver")
    assert missing.status_code == 404
    assert missing.json()["code"] == "webhook_delivery_not_found"


async def test_an_undone_change_leaves_no_event(services: Services) -> None:
    method = await make_method(services)

    class Undo(Exception):
        pass

    try:
        async with transaction(services.sessions) as s:
            await create_order(
                s,
                OrderCreate(
                    customer=CustomerIn(name="山田 太郎"),
                    payment_method=method.code,
                    amount=1000,
                    tax=90,
                ),
                services.clock.now(),
            )
            raise Undo
    except Undo:
        pass
    async with transaction(services.sessions) as s:
        assert await s.scalar(select(func.count()).select_from(Event)) == 0


async def test_bad_endpoint_input_is_refused(api: httpx.AsyncClient) -> None:
    bad = [
        ({"url": "ftp://example.jp/hook"}, "invalid_webhook_url"),
        (
            {"url": "https://example.jp/hook", "event_types": ["order.deleted"]},
            "unknown_event_type",
        ),
        ({"url": "https://example.jp/hook", "description": "a\x00b"}, "control_character"),
    ]
    for body, code in bad:
        r = await api.post("/api/v1/webhook-endpoints", json=body)
        assert r.status_code == 422, r.text
        assert r.json()["code"] == code
    assert (await api.get("/api/v1/webhook-endpoints")).json() == []
    types = (await api.get("/api/v1/webhook-event-types")).json()
    assert {"type": "payment.unknown", "label": "決済処理の応答不明"} in types
