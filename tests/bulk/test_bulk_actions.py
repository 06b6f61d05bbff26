"""決済状況一括変更: one operation on chosen orders or on every result of a search, as a job
whose CSV says what happened to each order."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from kessai.core.db import transaction
from kessai.jobs import runner
from kessai.jobs.kinds import kind_of
from kessai.jobs.models import JobChunk
from kessai.payments.models import PaymentAttempt
from kessai.services import Services
from tests.bulk.helpers import authorized, csv_rows, finished, job_of
from tests.factories import act, changes, make_method, make_order, view

URL = "/api/v1/orders/bulk-payment-actions"


async def post(api: httpx.AsyncClient, body: dict[str, Any], **headers: str) -> httpx.Response:
    return await api.post(URL, json=body, headers=headers)


async def test_capture_of_chosen_orders_with_a_refusal_per_order(
    services: Services, api: httpx.AsyncClient
) -> None:
    method = await make_method(services)
    ready = await authorized(services, method, 3)
    unpaid = await make_order(services, method)  # 決済準備中: nothing to capture
    fake = services.registry.fake(method.account_id)

    r = await post(api, {"action": "capture", "order_ids": [*ready, unpaid]})

    assert r.status_code == 202, r.text
    body = r.json()
    assert (body["kind"], body["name"]) == ("bulk_payment_action", "決済状況一括変更: 売上処理")
    assert body["created_by"] == "api:storefront"
    job = await finished(services, body["id"])
    assert (job.total, job.succeeded, job.failed) == (4, 3, 1)
    assert job.status == "partially_failed"
    assert fake.captures() == 3
    rows = await csv_rows(api, job.id)
    by_id = {int(row["受注ID"]): row for row in rows}
    assert [int(row["受注ID"]) for row in rows] == [*ready, unpaid]  # in the order chosen
    for order_id in ready:
        row = by_id[order_id]
        assert (row["処理"], row["処理前の決済状況"], row["処理後の決済状況"], row["結果"]) == (
            "売上処理",
            "仮売上完了",
            "売上完了",
            "成功",
        )
        assert row["受注番号"] == (await view(services, order_id)).number
        assert (await changes(services, order_id))[-1] == ("authorized", "captured")
    refused = by_id[unpaid]
    assert (refused["結果"], refused["処理後の決済状況"]) == ("失敗", "決済準備中")
    assert refused["メッセージ"] == "決済状況が「決済準備中」の受注には売上処理を実行できません"


async def test_search_all_takes_every_match_fixed_when_the_job_starts(
    services: Services, api: httpx.AsyncClient
) -> None:
    card = await make_method(services)
    other = await make_method(services, provider="sbps")
    day = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 2026-03-02 10:00 in Tokyo
    inside = await authorized(services, card, 2, ordered_at=day)
    older = await authorized(services, card, 1, ordered_at=day - timedelta(days=3))
    other_method = await authorized(services, other, 1, ordered_at=day)
    captured = (await authorized(services, card, 1, ordered_at=day))[0]
    await services.payments.run(captured, act("capture"))
    search = {
        "payment_status": "仮売上完了",
        "ordered_from": "2026-03-01",
        "ordered_to": "2026-03-02",
        "payment_method": card.code,
    }

    r = await post(api, {"action": "取消処理", "search": search})

    assert r.status_code == 202, r.text
    assert r.json()["params"]["search"]["payment_status"] == "authorized"
    job = await finished(services, r.json()["id"])
    assert (job.total, job.succeeded) == (2, 2)
    assert sorted(int(row["受注ID"]) for row in await csv_rows(api, job.id)) == sorted(inside)
    for order_id in inside:
        assert (await view(services, order_id)).payment_status_label == "取消完了"
    for order_id in [*older, *other_method]:
        assert (await view(services, order_id)).payment_status_label == "仮売上完了"
    assert (await view(services, captured)).payment_status_label == "売上完了"

    # The set was fixed when the job started: an order matching later is not taken.
    late = await authorized(services, card, 1, ordered_at=day)
    await runner.plan_job(services, job.id)
    await services.dispatcher.drain()
    assert (await view(services, late[0])).payment_status_label == "仮売上完了"


async def test_each_operation_by_its_japanese_name(
    services: Services, api: httpx.AsyncClient
) -> None:
    method = await make_method(services)
    failed_auth = await make_order(services, method)
    await services.payments.run(failed_auth, act("authorize", scenario="decline"))
    assert (await view(services, failed_auth)).payment_status_label == "仮売上失敗"
    lost = await make_order(services, method)
    await services.payments.run(lost, act("authorize"))
    (held,) = await authorized(services, method, 1)

    cases = [
        ("再オーソリ処理", failed_auth, "仮売上失敗", "仮売上完了"),
        ("強制売上処理(決済サービス未連携)", lost, "仮売上完了", "売上完了"),
        ("強制取消処理", held, "仮売上完了", "取消完了"),
    ]
    for action, order_id, before, after in cases:
        r = await post(api, {"action": action, "order_ids": [order_id]})
        assert r.status_code == 202, r.text
        job = await finished(services, r.json()["id"])
        (row,) = await csv_rows(api, job.id)
        assert (row["処理前の決済状況"], row["処理後の決済状況"], row["結果"]) == (
            before,
            after,
            "成功",
        ), row
    # 強制 ones never reach the provider; 再オーソリ authorized anew.
    fake = services.registry.fake(method.account_id)
    assert [c.operation for c in fake.calls].count("cancel") == 0
    assert fake.captures() == 0


async def test_bad_requests_are_refused_before_any_job(
    services: Services, api: httpx.AsyncClient
) -> None:
    method = await make_method(services)
    (order_id,) = await authorized(services, method, 1)
    cases = [
        ({"action": "refund", "order_ids": [order_id]}, "unknown_bulk_action"),
        ({"action": "capture"}, "bulk_target_required"),
        ({"action": "capture", "order_ids": [order_id], "search": {}}, "bulk_target_required"),
        ({"action": "capture", "order_ids": []}, "bulk_target_required"),
        ({"action": "capture", "search": {"payment_status": "未払い"}}, "unknown_payment_status"),
        ({"action": "capture", "search": {"ordered_from": "2026/13/01"}}, "invalid_input"),
    ]
    for body, code in cases:
        r = await post(api, body)
        assert (r.status_code, r.json()["code"]) == (422, code), (body, r.text)
    assert (await post(api, {"action": "capture", "order_ids": [0]})).status_code == 422
    assert (await api.get("/api/v1/jobs")).json() == []
    assert (await view(services, order_id)).payment_status_label == "仮売上完了"


async def test_idempotency_key_gives_the_same_job(
    services: Services, api: httpx.AsyncClient
) -> None:
    method = await make_method(services)
    ids = await authorized(services, method, 2)
    body = {"action": "capture", "order_ids": ids}
    first = await post(api, body, **{"Idempotency-Key": "bulk-1"})
    again = await post(api, body, **{"Idempotency-Key": "bulk-1"})
    assert first.status_code == again.status_code == 202
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    other = await post(api, {**body, "action": "cancel"}, **{"Idempotency-Key": "bulk-1"})
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")
    await services.dispatcher.drain()
    assert services.registry.fake(method.account_id).captures() == 2
    assert len((await api.get("/api/v1/jobs")).json()) == 1


async def attempt_count(services: Services) -> int:
    async with transaction(services.sessions) as s:
        return int(await s.scalar(select(func.count()).select_from(PaymentAttempt)) or 0)


class WorkerKilled(BaseException):
    """The worker process dying: nothing after it runs, nothing catches it."""


async def test_a_chunk_run_again_after_a_crash_charges_nothing_twice(
    services: Services, api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker died halfway through a chunk; the broker gives the chunk to another."""
    method = await make_method(services)
    failed = []
    for _ in range(4):
        order_id = await make_order(services, method)
        await services.payments.run(order_id, act("authorize", scenario="decline"))
        failed.append(order_id)
    fake = services.registry.fake(method.account_id)
    monkeypatch.setattr(kind_of("bulk_payment_action"), "concurrency", 1)
    real_run = services.payments.run
    calls = 0

    async def dies_after_two(order_id: int, req: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls > 2:
            raise WorkerKilled
        return await real_run(order_id, req)

    monkeypatch.setattr(services.payments, "run", dies_after_two)
    r = await post(api, {"action": "reauthorize", "order_ids": failed})
    await services.dispatcher.drain()
    assert (await job_of(services, r.json()["id"])).finished_at is None
    assert [(await view(services, i)).payment_status_label for i in failed] == [
        "仮売上完了",
        "仮売上完了",
        "仮売上失敗",
        "仮売上失敗",
    ]

    monkeypatch.setattr(services.payments, "run", real_run)
    await runner.run_chunk(services, r.json()["id"], 0)
    await runner.run_chunk(services, r.json()["id"], 0)  # delivered once more: done already

    job = await job_of(services, r.json()["id"])
    assert (job.status, job.succeeded) == ("succeeded", 4)
    for order_id in failed:
        number = (await view(services, order_id)).number
        authorizations = [c.reference for c in fake.calls if c.operation == "authorize"]
        # The declined first one, then exactly one 再オーソリ (a new reference, -2).
        assert sorted(r for r in authorizations if r.split("-")[0] == number) == [
            number,
            f"{number}-2",
        ]
        assert (await view(services, order_id)).payment_status_label == "仮売上完了"
    rows = await csv_rows(api, job.id)
    assert [int(row["受注ID"]) for row in rows] == failed
    assert {row["処理前の決済状況"] for row in rows} == {"仮売上失敗"}
    assert {row["結果"] for row in rows} == {"成功"}


async def test_a_whole_chunk_run_again_does_nothing(
    services: Services, api: httpx.AsyncClient
) -> None:
    method = await make_method(services)
    ids = await authorized(services, method, 3)
    r = await post(api, {"action": "capture", "order_ids": ids})
    job = await finished(services, r.json()["id"])
    before = await csv_rows(api, job.id)
    attempts = await attempt_count(services)
    async with transaction(services.sessions) as s:
        await s.execute(
            JobChunk.__table__.update().where(JobChunk.job_id == job.id).values(status="pending")
        )
    await runner.run_chunk(services, job.id, 0)
    assert services.registry.fake(method.account_id).captures() == 3
    assert await attempt_count(services) == attempts  # not even a local re-capture
    assert await csv_rows(api, job.id) == before
