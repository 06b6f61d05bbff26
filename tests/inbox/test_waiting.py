"""A notification whose payment kessai does not know yet waits (対象待ち) and is looked at
again after each pause, on SQLite and PostgreSQL: applied once the payment is known, 対象なし
after the last look. GMO PG's 結果通知 against its simulator."""

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from kessai.core.db import transaction
from kessai.inbox.models import InboundEvent
from kessai.jobs.models import Job
from kessai.providers.installed import BY_NAME
from kessai.services import Services
from tests.inbox.held import HeldAnswer
from tests.inbox.test_inbox import notice, result_notice
from tests.providers.served import Served, served_on


@pytest.fixture
async def gmo(live_services: Services) -> AsyncIterator[Served]:
    async with served_on(BY_NAME["gmo_pg"], live_services) as shop:
        shop.services.dispatcher.retry_pause = 0.01  # type: ignore[attr-defined]
        yield shop


async def post(shop: Served, body: bytes) -> None:
    r = await shop.api.post(f"/webhooks/gmo_pg/{shop.account_id}", content=body)
    assert (r.status_code, r.text) == (200, "0")
    await shop.services.dispatcher.drain()


async def later(shop: Served, seconds: int) -> None:
    """The sandbox clock moved on, as an operator moves it (the scheduler ticks with it)."""
    r = await shop.api.post("/api/v1/sandbox/clock", json={"advance_seconds": seconds})
    assert r.status_code == 200, r.text
    await shop.services.dispatcher.drain()


async def the_event(shop: Served) -> dict[str, Any]:
    (listed,) = (await shop.api.get("/api/v1/inbound-webhooks")).json()
    return dict(listed)


async def inbox_jobs(shop: Served) -> int:
    async with transaction(shop.services.sessions) as s:
        found = await s.scalar(
            select(func.count()).select_from(Job).where(Job.kind == "inbound_webhook")
        )
        return int(found or 0)


async def test_a_notice_for_an_order_kessai_never_gets_is_ignored_after_the_waits(
    gmo: Served,
) -> None:
    await post(gmo, result_notice("KS-NEVER-0001", "AUTH"))
    first = await the_event(gmo)
    assert (first["status"], first["status_label"], first["runs"]) == ("waiting", "対象待ち", 1)
    assert "オーダーID「KS-NEVER-0001」の受注はまだありません" in first["result"]
    assert "にもう一度確認します" in first["result"]
    waiting = await gmo.api.get("/api/v1/inbound-webhooks", params={"status": "waiting"})
    assert [e["id"] for e in waiting.json()] == [first["id"]]

    # The next look is planned for the first pause (5 s) after receipt, not before. Read from
    # the row: time runs on under the sandbox clock, so moving it 4 s and expecting no look
    # would depend on how fast this machine is.
    async with transaction(gmo.services.sessions) as s:
        row = await s.get(InboundEvent, first["id"])
        assert row is not None
        assert row.next_look_at is not None
        assert row.next_look_at - row.received_at == timedelta(seconds=5)
    for pause, looks in ((5, 2), (30, 3), (120, 4), (600, 5)):
        await later(gmo, pause)
        event = await the_event(gmo)
        assert (event["status"], event["runs"]) == ("waiting", looks), event

    # The last look comes after the hourly 決済結果の自動照会 (lease 2 min + 1 h + 5 min
    # from receipt, in whole minutes: 55 min after the 10 min look).
    await later(gmo, 55 * 60 - 30)
    assert (await the_event(gmo))["runs"] == 5
    await later(gmo, 30)  # the last look
    event = await the_event(gmo)
    assert (event["status"], event["status_label"], event["runs"]) == ("ignored", "対象なし", 6)
    assert "5秒・30秒・2分・10分・55分 の間隔で確認しましたが現れませんでした" in event["result"]
    await later(gmo, 3600)  # ended: looked at no more
    assert (await the_event(gmo))["runs"] == 6
    assert await inbox_jobs(gmo) == 6  # each look a job of its own in ジョブ管理


async def test_a_notice_that_overtakes_its_orders_answer_waits_for_it(gmo: Served) -> None:
    """The order exists and its authorize is at GMO, the answer not yet back (the call in
    flight): the notice waits instead of failing, and is applied once the answer is in."""
    h = gmo.harness
    held = HeldAnswer()
    await h.use(held.hold)
    order = await h.order(h.sandbox.succeed)
    acting = asyncio.create_task(h.run(order, "authorize"))
    await held.acted.wait()
    await post(gmo, await notice(h, order, "AUTH"))
    event = await the_event(gmo)
    assert (event["status"], event["runs"]) == ("waiting", 1), event
    assert "の決済処理が応答を待っています" in event["result"]
    assert await h.status(order) == "pending"

    held.release()
    assert (await acting).outcome == "succeeded"
    await later(gmo, 5)
    event = await the_event(gmo)
    assert (event["status"], event["runs"]) == ("applied", 2), event
    assert await h.status(order) == "authorized"
    assert h.charges() == 1
    authorizations = [a for a in await h.history(order) if a.operation == "authorize"]
    assert len(authorizations) == 1


async def test_an_operator_replays_a_waiting_notice_at_once(gmo: Served) -> None:
    await post(gmo, result_notice("KS-NEVER-0002", "AUTH"))
    event = await the_event(gmo)
    replayed = await gmo.api.post(f"/api/v1/inbound-webhooks/{event['id']}/replay")
    assert replayed.status_code == 202, replayed.text
    await gmo.services.dispatcher.drain()
    assert ((await the_event(gmo))["status"], (await the_event(gmo))["runs"]) == ("waiting", 2)
    await later(gmo, 5)  # the replay took the look's place; the next is the one after it
    assert (await the_event(gmo))["runs"] == 3


async def test_a_notice_for_an_order_whose_answer_was_lost_is_settled_by_its_lookup(
    gmo: Served,
) -> None:
    """The authorize answer never came (the order held, 決済照会 pending): the notice does
    not wait, it settles the order by 決済照会 at once."""
    h = gmo.harness
    order = await h.order(h.sandbox.succeed)
    await h.lose_next_answer("authorize")
    assert (await h.run(order, "authorize")).outcome == "unknown"
    await post(gmo, await notice(h, order, "AUTH"))
    event = await the_event(gmo)
    assert (event["status"], event["runs"]) == ("applied", 1), event
    assert "決済照会により" in event["result"]
    assert await h.status(order) == "authorized"
    assert h.charges() == 1


async def test_a_notice_that_overtakes_its_answer_by_a_moment_is_applied_at_once(
    gmo: Served,
) -> None:
    """The usual race: the answer is committed a moment after the notice is in. The notice's
    first run looks again after short pauses and applies it, with no 対象待ち and no clock."""
    h = gmo.harness
    held = HeldAnswer()
    await h.use(held.hold)
    order = await h.order(h.sandbox.succeed)
    acting = asyncio.create_task(h.run(order, "authorize"))
    await held.acted.wait()
    r = await gmo.api.post(
        f"/webhooks/gmo_pg/{gmo.account_id}", content=await notice(h, order, "AUTH")
    )
    assert (r.status_code, r.text) == (200, "0")
    asyncio.get_running_loop().call_later(0.3, held.release)  # while the job looks again
    await gmo.services.dispatcher.drain()
    assert (await acting).outcome == "succeeded"
    event = await the_event(gmo)
    assert (event["status"], event["runs"]) == ("applied", 1), event
    assert await h.status(order) == "authorized"
    assert h.charges() == 1
