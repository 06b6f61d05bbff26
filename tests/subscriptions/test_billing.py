"""The billing run: each due 定期受注 is charged exactly once per cycle, whatever happens.

Charges are counted twice over: the fake provider's own log of the calls that reached it,
and the authorizations 決済履歴 shows per child order.
"""

import asyncio
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from kessai.core.clock import TOKYO
from kessai.core.db import transaction
from kessai.jobs import runner
from kessai.jobs.kinds import kind_of
from kessai.jobs.models import Job
from kessai.jobs.service import submit
from kessai.jobs.status import ItemStatus, JobStatus
from kessai.orders.models import Order
from kessai.providers.contract import AuthorizeRequest, Outcome
from kessai.providers.fake.connector import CONNECTION_REFUSED, DECLINE_CODE, DECLINE_MESSAGE
from kessai.services import Services
from kessai.subscriptions import billing
from kessai.subscriptions.models import Subscription
from kessai.subscriptions.schemas import CycleIn
from tests.subscriptions.conftest import (
    BILLING_DAY,
    authorize_attempts,
    authorize_calls,
    bill,
    card_method,
    child_orders,
    customer_with_card,
    fake,
    items_of,
    job_of,
    make_subscription,
    subscription,
)
from tests.web.conftest import client_for, new_key


async def test_every_due_subscription_is_charged_once_and_no_other(services: Services):
    method = await card_method(services)
    due = [await make_subscription(services, method) for _ in range(3)]
    late = await make_subscription(services, method, next_ship_on=date(2026, 11, 1))
    paused = await make_subscription(services, method, status="paused")
    canceled = await make_subscription(services, method, status="canceled")
    tomorrow = await make_subscription(services, method, next_ship_on=date(2026, 11, 23))

    job = await bill(services)

    assert job.status == JobStatus.SUCCEEDED.value
    assert (job.total, job.succeeded, job.failed, job.skipped) == (4, 4, 0, 0)
    calls = authorize_calls(fake(services, method))
    assert sorted(calls.values()) == [1, 1, 1, 1]
    for sid in [*due, late]:
        sub = await subscription(services, sid)
        [order] = await child_orders(services, sid)
        assert order.payment_status == "authorized"
        assert order.subscription_cycle == 1
        assert order.number == f"{sub.number}-001"
        assert calls[order.number] == 1
        assert order.payment_source["member_id"].startswith("kessai-")
        assert sub.cycle == 1
    assert (await subscription(services, due[0])).next_ship_on == date(2026, 12, 22)
    assert (await subscription(services, late)).next_ship_on == date(2026, 12, 1)
    for sid in (paused, canceled, tomorrow):
        assert await child_orders(services, sid) == []
        assert (await subscription(services, sid)).cycle == 0


async def test_capture_on_authorize_method_captures_at_once(services: Services):
    method = await card_method(services, capture_on_authorize=True)
    sid = await make_subscription(services, method)
    job = await bill(services)
    assert job.succeeded == 1
    [order] = await child_orders(services, sid)
    assert order.payment_status == "captured"
    assert fake(services, method).captures() == 1


async def test_cards_failing_the_updater_are_not_charged_and_are_listed(services: Services):
    method = await card_method(services)
    subs = {}
    for result in (None, "0", "1", "2", "3"):
        holder = await customer_with_card(
            services, method, name=f"顧客{result}", updater_result=result
        )
        subs[result] = await make_subscription(services, method, holder)

    job = await bill(services)

    assert (job.total, job.succeeded, job.skipped, job.failed) == (5, 2, 3, 0)
    assert job.status == JobStatus.SUCCEEDED.value
    assert len(fake(services, method).calls) == 2
    for result in ("1", "2", "3"):
        sub = await subscription(services, subs[result])
        assert await child_orders(services, subs[result]) == []
        assert (sub.cycle, sub.next_ship_on) == (0, BILLING_DAY)  # due again until fixed
    async with client_for(services, await new_key(services)) as api:
        r = await api.get(f"/api/v1/jobs/{job.id}/items.csv")
    lines = r.content.decode("utf-8-sig").splitlines()
    assert lines[0] == "定期受注番号,受注番号,顧客,金額,決済状況,洗替ステータス,結果,メッセージ"
    rows = {line.split(",")[2]: line.split(",") for line in lines[1:]}
    for result, label in (("1", "有効性NG"), ("2", "照合エラー"), ("3", "入力データエラー")):
        row = rows[f"顧客{result}"]
        number = (await subscription(services, subs[result])).number
        assert row[:2] == [number, ""]
        assert row[3] == "5500"
        assert row[5:7] == [label, "対象外"]
        assert f"洗替ステータスが「{label}」のため決済しませんでした" in row[7]
    assert rows["顧客0"][4:7] == ["仮売上完了", "有効性OK", "成功"]
    assert rows["顧客None"][5:7] == ["未洗替", "成功"]


async def test_a_declined_card_fails_with_the_providers_words_and_pauses(services: Services):
    method = await card_method(services)
    ok = await make_subscription(services, method)
    declined = await make_subscription(services, method, amount=9001)  # the fake's decline

    job = await bill(services)

    assert job.status == JobStatus.PARTIALLY_FAILED.value
    assert (job.succeeded, job.failed) == (1, 1)
    [order] = await child_orders(services, declined)
    assert order.payment_status == "authorize_failed"  # 仮売上失敗: for the 再オーソリバッチ
    items = {i.key: i for i in await items_of(services, job.id)}
    item = items[f"{declined}:0"]
    assert item.status == ItemStatus.FAILED.value
    assert DECLINE_CODE in item.message
    assert DECLINE_MESSAGE in item.message
    assert item.data["payment_status"] == "仮売上失敗"
    sub = await subscription(services, declined)
    assert sub.status == "paused"  # no next cycle until paid or cancelled
    assert sub.next_ship_on == date(2026, 12, 22)
    assert (await subscription(services, ok)).status == "active"

    # The next day's run leaves the failed order to the 再オーソリバッチ: no second call.
    again = await bill(services, dedupe_key="billing:manual-2")
    assert again.total == 0
    assert sorted((await authorize_attempts(services)).values()) == [1, 1]


async def test_same_day_submitted_twice_is_one_job(services: Services):
    method = await card_method(services)
    for _ in range(3):
        await make_subscription(services, method)
    key = billing.billing_dedupe_key(datetime(2026, 11, 22, 0, 10, tzinfo=TOKYO))
    assert key == "billing:2026-11-22"
    results = await asyncio.gather(
        *(
            submit(services, "billing", created_by="scheduler", params={}, dedupe_key=key)
            for _ in range(3)
        )
    )
    assert len({job.id for job, _ in results}) == 1
    await services.dispatcher.drain()
    assert (await job_of(services, results[0][0].id)).succeeded == 3
    assert sorted(authorize_calls(fake(services, method)).values()) == [1, 1, 1]


async def test_two_jobs_over_the_same_subscriptions_charge_each_once(services: Services):
    method = await card_method(services)
    sids = [await make_subscription(services, method) for _ in range(8)]
    first, _ = await submit(services, "billing", created_by="a", params={"date": "2026-11-22"})
    second, _ = await submit(services, "billing", created_by="b", params={"date": "2026-11-22"})
    await services.dispatcher.drain()
    calls = authorize_calls(fake(services, method))
    assert sorted(calls.values()) == [1] * 8
    assert sorted((await authorize_attempts(services)).values()) == [1] * 8
    for sid in sids:
        assert len(await child_orders(services, sid)) == 1
        assert (await subscription(services, sid)).cycle == 1
    for job_id in (first.id, second.id):
        job = await job_of(services, job_id)
        assert job.failed == 0


async def test_two_runs_of_the_same_keys_at_once_charge_each_once(services: Services):
    """Two workers given the same chunk at the same moment (two schedulers, a redelivery)."""
    method = await card_method(services)
    fake(services, method).latency = 0.01  # keep the calls in flight together
    for _ in range(10):
        await make_subscription(services, method)
    job = await _planned(services)
    kind = kind_of("billing")
    keys = await kind.plan(services, job)
    a, b = await asyncio.gather(kind.run(services, job, keys), kind.run(services, job, keys))
    assert sorted(authorize_calls(fake(services, method)).values()) == [1] * 10
    assert sorted((await authorize_attempts(services)).values()) == [1] * 10
    assert [r.status for r in a] == [ItemStatus.SUCCEEDED] * 10
    assert [r.status for r in b] == [ItemStatus.SUCCEEDED] * 10


async def test_a_chunk_run_again_recognises_what_it_charged(services: Services):
    method = await card_method(services)
    sids = [await make_subscription(services, method) for _ in range(4)]
    job = await bill(services)
    async with transaction(services.sessions) as s:
        from kessai.jobs import repository as jobs_repo

        chunk = await jobs_repo.get_chunk(s, job.id, 0)
        assert chunk is not None
        chunk.status = "pending"  # as if the worker died before marking it done
    await runner.run_chunk(services, job.id, 0)
    again = await job_of(services, job.id)
    assert (again.total, again.succeeded) == (4, 4)
    assert sorted(authorize_calls(fake(services, method)).values()) == [1] * 4
    for sid in sids:
        assert (await subscription(services, sid)).cycle == 1
    items = await items_of(services, job.id)
    assert {i.message for i in items} == {"決済済みです"}
    assert {i.data["payment_status"] for i in items} == {"仮売上完了"}


async def _planned(services: Services) -> Job:
    """A billing job planned but whose chunks nobody has run yet."""
    sent: list[tuple[int, int]] = []

    async def hold(job_id: int, seq: int) -> None:
        sent.append((job_id, seq))

    real = services.dispatcher.send_chunk
    services.dispatcher.send_chunk = hold  # type: ignore[method-assign]
    try:
        job, _ = await submit(services, "billing", created_by="t", params={"date": "2026-11-22"})
        await services.dispatcher.drain()
    finally:
        services.dispatcher.send_chunk = real  # type: ignore[method-assign]
    assert sent == [(job.id, 0)]
    return await job_of(services, job.id)


def _hang_after(conn: Any, passing: int, total: int) -> tuple[asyncio.Event, Callable[[], None]]:
    """Let `passing` authorizations answer; later ones reach the provider and hang there.

    The event is set once `total` calls have been at the provider.
    """
    real = conn.authorize
    arrived = asyncio.Event()
    never = asyncio.Event()
    count = 0

    async def authorize(request: AuthorizeRequest) -> Outcome:
        nonlocal count
        result: Outcome = await real(request)
        count += 1
        if count == total:
            arrived.set()
        if count > passing:
            await never.wait()
        return result

    conn.authorize = authorize

    def restore() -> None:
        conn.authorize = real

    return arrived, restore


async def test_a_worker_killed_mid_chunk_then_rerun_charges_each_once(services: Services):
    method = await card_method(services)
    conn = fake(services, method)
    sids = [await make_subscription(services, method) for _ in range(12)]
    job = await _planned(services)
    arrived, restore = _hang_after(conn, passing=5, total=12)
    worker = asyncio.create_task(runner.run_chunk(services, job.id, 0))
    await arrived.wait()  # every call is at the provider: 5 answered, 7 hanging there
    for _ in range(1000):  # the answered ones recorded, so no transaction is cut short
        if len(await settled_orders(services)) == 5:
            break
        await asyncio.sleep(0.01)
    worker.cancel()  # the worker dies; its attempts stay "sent"
    await asyncio.gather(worker, return_exceptions=True)
    restore()
    assert (await job_of(services, job.id)).processed == 0

    # The broker redelivers after the attempts' lease has passed: the engine settles each
    # held order by a lookup instead of charging again.
    services.clock.advance(timedelta(seconds=services.settings.attempt_lease_seconds + 1))
    await runner.run_chunk(services, job.id, 0)

    done = await job_of(services, job.id)
    assert (done.status, done.total, done.succeeded) == (JobStatus.SUCCEEDED.value, 12, 12)
    assert sorted(authorize_calls(conn).values()) == [1] * 12
    assert sorted((await authorize_attempts(services)).values()) == [1] * 12
    for sid in sids:
        [order] = await child_orders(services, sid)
        assert order.payment_status == "authorized"
        assert order.in_flight_attempt_id is None
    assert sum(1 for c in conn.calls if c.operation == "lookup") == 7  # one per hung call


async def settled_orders(services: Services) -> list[int]:
    async with transaction(services.sessions) as s:
        held = await s.scalars(
            select(Order.id).where(
                Order.payment_status == "authorized", Order.in_flight_attempt_id.is_(None)
            )
        )
        return list(held)


async def test_a_rerun_before_the_lease_waits_rather_than_charging_twice(services: Services):
    """Redelivered while the dead worker's attempts are still leased: it waits them out."""
    method = await card_method(services)
    conn = fake(services, method)
    for _ in range(3):
        await make_subscription(services, method)
    job = await _planned(services)
    arrived, restore = _hang_after(conn, passing=0, total=3)
    worker = asyncio.create_task(runner.run_chunk(services, job.id, 0))
    await arrived.wait()
    worker.cancel()
    await asyncio.gather(worker, return_exceptions=True)
    restore()

    rerun = asyncio.create_task(runner.run_chunk(services, job.id, 0))
    for _ in range(50):
        await asyncio.sleep(0)
    assert not rerun.done()  # held by the leased attempts: waiting, nothing sent again
    assert sum(1 for c in conn.calls if c.operation == "authorize") == 3
    services.clock.advance(timedelta(seconds=services.settings.attempt_lease_seconds + 1))
    await rerun
    done = await job_of(services, job.id)
    assert (done.succeeded, done.failed) == (3, 0)
    assert sorted(authorize_calls(conn).values()) == [1, 1, 1]


async def test_an_answer_lost_after_charging_is_settled_by_lookup(services: Services):
    """The connector raises after the provider charged: unknown, then looked up, once."""
    method = await card_method(services)
    conn = fake(services, method)
    sids = [await make_subscription(services, method) for _ in range(4)]
    real = conn.authorize
    count = 0

    async def flaky(request: AuthorizeRequest) -> Outcome:
        nonlocal count
        count += 1
        result: Outcome = await real(request)
        if count % 2 == 0:
            raise ConnectionResetError("connection reset by peer")
        return result

    conn.authorize = flaky  # type: ignore[method-assign]
    job = await bill(services)
    assert (job.succeeded, job.failed) == (4, 0)
    assert sorted(authorize_calls(conn).values()) == [1] * 4
    for sid in sids:
        assert (await child_orders(services, sid))[0].payment_status == "authorized"


async def test_a_cycle_left_uncharged_is_picked_up_by_a_later_run(services: Services):
    method = await card_method(services)
    conn = fake(services, method)
    sid = await make_subscription(services, method)
    real = conn.authorize

    async def refused(request: AuthorizeRequest) -> Outcome:
        return CONNECTION_REFUSED

    conn.authorize = refused  # type: ignore[method-assign]
    first = await bill(services)
    assert first.failed == 1
    [order] = await child_orders(services, sid)
    assert order.payment_status == "pending"  # 決済準備中: nothing reached the provider
    assert (await subscription(services, sid)).status == "active"

    conn.authorize = real  # type: ignore[method-assign]
    second = await bill(services, dedupe_key="billing:2026-11-22:retry")
    assert (second.total, second.succeeded) == (1, 1)
    [order] = await child_orders(services, sid)
    assert order.payment_status == "authorized"
    # The refused attempt never reached the provider; the one charge is the second try.
    assert authorize_calls(conn) == {f"{order.number}-2": 1}


async def test_changed_after_planning_is_skipped_with_the_reason(services: Services):
    method = await card_method(services)
    paused = await make_subscription(services, method)
    moved = await make_subscription(services, method)
    ok = await make_subscription(services, method)
    job = await _planned(services)
    async with transaction(services.sessions) as s:
        await s.execute(
            update(Subscription).where(Subscription.id == paused).values(status="paused")
        )
        await s.execute(
            update(Subscription)
            .where(Subscription.id == moved)
            .values(next_ship_on=date(2026, 12, 1))
        )
    await runner.run_chunk(services, job.id, 0)
    items = {i.key: i for i in await items_of(services, job.id)}
    assert items[f"{paused}:0"].status == ItemStatus.SKIPPED.value
    assert "「停止」" in items[f"{paused}:0"].message
    assert "未到来" in items[f"{moved}:0"].message
    assert items[f"{ok}:0"].status == ItemStatus.SUCCEEDED.value
    assert len(fake(services, method).calls) == 1


async def test_day_of_month_and_day_cycles_advance_from_the_planned_date(services: Services):
    method = await card_method(services)
    monthly_31 = await make_subscription(
        services,
        method,
        next_ship_on=date(2026, 10, 31),
        cycle=CycleIn(kind="day_of_month", interval=1, day=31),
        next_delivery_on=date(2026, 11, 2),
    )
    every_10 = await make_subscription(
        services, method, next_ship_on=date(2026, 11, 20), cycle=CycleIn(kind="days", interval=10)
    )
    await bill(services)
    sub = await subscription(services, monthly_31)
    assert (sub.next_ship_on, sub.next_delivery_on) == (date(2026, 11, 30), date(2026, 12, 2))
    assert (await subscription(services, every_10)).next_ship_on == date(2026, 11, 30)


async def test_a_future_billing_date_is_refused(services: Services):
    method = await card_method(services)
    await make_subscription(services, method)
    job, _ = await submit(services, "billing", created_by="t", params={"date": "2026-11-23"})
    await services.dispatcher.drain()
    failed = await job_of(services, job.id)
    assert failed.status == JobStatus.FAILED.value
    assert failed.error is not None
    assert "未来の日付" in failed.error
    assert fake(services, method).calls == []


def test_due_rule_and_dedupe_key_for_the_scheduler():
    early = datetime(2026, 11, 22, 0, 5, tzinfo=TOKYO)
    on_time = datetime(2026, 11, 22, 0, 10, tzinfo=TOKYO)
    assert not billing.billing_due(early)
    assert billing.billing_due(on_time)
    # 15:10 UTC on the 21st is already 00:10 on the 22nd in Tokyo.
    assert billing.billing_dedupe_key(datetime(2026, 11, 21, 15, 10, tzinfo=UTC)) == (
        "billing:2026-11-22"
    )
    assert billing.billing_params(on_time) == {"date": "2026-11-22"}
    assert asyncio.run(billing.due_billing(None, early)) is None  # type: ignore[arg-type]
    assert asyncio.run(billing.due_billing(None, on_time)) == "billing:2026-11-22"  # type: ignore[arg-type]


async def test_an_error_on_one_order_fails_that_item_only_and_a_later_run_charges_it(
    services: Services,
):
    method = await card_method(services)
    conn = fake(services, method)
    sids = [await make_subscription(services, method) for _ in range(3)]
    broken = (await subscription(services, sids[1])).number
    real = services.payments.run_many

    async def run_many(order_ids: list[int], req: Any, limit: Any) -> Any:
        # The engine fails on one order before writing anything for it.
        async with transaction(services.sessions) as s:
            numbers = {o.id: o.number for o in await s.scalars(select(Order))}
        lost = [o for o in order_ids if numbers[o].startswith(broken)]
        results = await real([o for o in order_ids if o not in lost], req, limit)
        return {**results, **{o: ConnectionResetError("database connection lost") for o in lost}}

    services.payments.run_many = run_many  # type: ignore[method-assign]
    first = await bill(services)
    assert (first.succeeded, first.failed) == (2, 1)
    items = {i.key: i for i in await items_of(services, first.id)}
    assert "通信エラーが発生しました" in items[f"{sids[1]}:0"].message  # in words
    assert items[f"{sids[1]}:0"].data["order_number"] == f"{broken}-001"

    services.payments.run_many = real  # type: ignore[method-assign]
    second = await bill(services, dedupe_key="billing:2026-11-22:again")
    assert (second.total, second.succeeded) == (1, 1)
    assert sorted(authorize_calls(conn).values()) == [1, 1, 1]
    for sid in sids:
        assert [o.payment_status for o in await child_orders(services, sid)] == ["authorized"]
