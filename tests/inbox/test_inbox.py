"""The webhook inbox, /webhooks/<provider>/<account>: GMO PG's 結果通知 against its simulator,
and the simulated provider's signed notifications, on SQLite and PostgreSQL."""

import base64
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select

from kessai.accounts.models import ProviderAccount
from kessai.accounts.secrets import seal
from kessai.core.db import transaction
from kessai.inbox.models import InboundEvent
from kessai.jobs.models import Job, JobLog
from kessai.providers import contract as c
from kessai.providers.gmo_pg import codec
from kessai.providers.gmo_pg.sim.config import TEST_SHOP_ID
from kessai.providers.installed import BY_NAME
from kessai.providers.vault import ProviderUnreachable
from kessai.services import Services
from kessai.webhooks.signing import sign
from tests.providers.conformance.harness import Harness, harness_on
from tests.web.conftest import client_for, new_key

SECRET = "whsec_" + base64.b64encode(b"kessai-test-webhook-secret-32byt").decode()


@pytest.fixture
async def gmo(live_services: Services) -> AsyncIterator[Harness]:
    async with harness_on(BY_NAME["gmo_pg"], live_services) as h:
        h.services.dispatcher.retry_pause = 0.01  # type: ignore[attr-defined]
        yield h


@pytest.fixture
async def fake(live_services: Services) -> AsyncIterator[Harness]:
    async with harness_on(BY_NAME["fake"], live_services) as h:
        async with transaction(h.services.sessions) as s:
            row = await s.get(ProviderAccount, h.account.id)
            assert row is not None
            row.secrets = {
                "webhook_secret": seal(h.services.keyring, row.id, "webhook_secret", SECRET)
            }
        await h.services.registry.forget(h.account.id)
        yield h


def result_notice(
    reference: str, status: str, *, shop_id: str = TEST_SHOP_ID, access_id: str = ""
) -> bytes:
    """GMO's 結果通知 as GMO posts it (CP932 form; ShopPass masked)."""
    return codec.encode_request(
        {
            "ShopID": shop_id,
            "ShopPass": "**********",
            "AccessID": access_id,
            "OrderID": reference,
            "Status": status,
            "JobCd": status,
            "Amount": "1000",
            "Tax": "0",
            "TranID": f"2612061945{status}",
            "TranDate": "20261206194500",
            "ErrCode": "",
            "ErrInfo": "",
            "PayType": "0",
        }
    )


async def notice(h: Harness, order: int, status: str) -> bytes:
    """The 結果通知 GMO sends for this order: its AccessID as the simulator issued it."""
    reference = await h.reference(order)
    sim = h.sim_app.state.simulator.state
    tran = next(t for t in sim.transactions.values() if t.order_id == reference)
    return result_notice(reference, status, access_id=tran.access_id)


async def post(h: Harness, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    async with client_for(h.services, None) as client:
        return await client.post(
            f"/webhooks/{h.provider.name}/{h.account.id}", content=body, headers=headers or {}
        )


async def events(h: Harness) -> list[InboundEvent]:
    async with transaction(h.services.sessions) as s:
        return list((await s.scalars(select(InboundEvent).order_by(InboundEvent.id))).all())


async def job_count(h: Harness) -> int:
    async with transaction(h.services.sessions) as s:
        return int(await s.scalar(select(func.count()).select_from(Job)) or 0)


async def held_order(h: Harness) -> int:
    """An order GMO authorized whose answer never came back: held, waiting for a lookup."""
    order = await h.order(h.sandbox.succeed)
    await h.lose_next_answer("authorize")
    assert (await h.run(order, "authorize")).outcome == "unknown"
    assert await h.status(order) == "pending"
    return order


# --- Done when: posted twice → stored and applied once ----------------------------------------


async def test_a_notification_posted_twice_is_stored_and_applied_once(gmo: Harness) -> None:
    order = await held_order(gmo)
    body = await notice(gmo, order, "AUTH")
    first, second = await post(gmo, body), await post(gmo, body)
    await gmo.services.dispatcher.drain()
    assert (first.status_code, first.text) == (200, "0")  # GMO's 「受け取りました」
    assert (second.status_code, second.text) == (200, "0")
    (event,) = await events(gmo)
    assert (event.status, event.runs) == ("applied", 1)
    assert "仮売上完了" in (event.result or "")
    assert await gmo.status(order) == "authorized"
    lookups = [a for a in await gmo.history(order) if a.operation == "lookup"]
    assert len(lookups) == 1  # acted on once
    assert await job_count(gmo) == 1
    assert gmo.charges() == 1


# --- Done when: forged → refused, nothing stored ---------------------------------------------


async def test_a_badly_signed_notification_is_refused_and_nothing_is_stored(fake: Harness) -> None:
    order = await fake.order(fake.sandbox.succeed)
    reference = await fake.reference(order)
    body = f'{{"type": "payment.authorized", "data": {{"reference": "{reference}"}}}}'.encode()
    now = int(fake.services.clock.now().timestamp())
    good = {"webhook-id": "msg_1", "webhook-timestamp": str(now)}
    forged = await post(
        fake, body, {**good, "webhook-signature": sign(SECRET[:-4] + "AAA=", "msg_1", now, body)}
    )
    tampered = await post(
        fake,
        body.replace(b"authorized", b"captured"),
        {**good, "webhook-signature": sign(SECRET, "msg_1", now, body)},
    )
    stale = await post(
        fake,
        body,
        {
            "webhook-id": "msg_1",
            "webhook-timestamp": str(now - 3600),
            "webhook-signature": sign(SECRET, "msg_1", now - 3600, body),
        },
    )
    for refused in (forged, tampered, stale):
        assert refused.status_code == 401
        assert refused.json()["code"] == "webhook_refused"
    assert await events(fake) == []
    assert await job_count(fake) == 0
    signed = await post(fake, body, {**good, "webhook-signature": sign(SECRET, "msg_1", now, body)})
    await fake.services.dispatcher.drain()
    assert signed.status_code == 200
    assert [e.event_id for e in await events(fake)] == ["msg_1"]


async def test_a_result_notice_for_another_shop_is_refused(gmo: Harness) -> None:
    order = await held_order(gmo)
    reply = await post(
        gmo, result_notice(await gmo.reference(order), "AUTH", shop_id="tshop99999999")
    )
    assert reply.status_code == 401
    assert await events(gmo) == []
    assert await gmo.status(order) == "pending"


async def test_unknown_provider_or_account_is_not_found(gmo: Harness) -> None:
    async with client_for(gmo.services, None) as client:
        assert (await client.post("/webhooks/paypal/1", content=b"x")).status_code == 404
        assert (await client.post("/webhooks/gmo_pg/999", content=b"x")).status_code == 404


# --- late or out of order: judged by the provider's current state --------------------------


async def test_a_late_cancel_after_a_capture_moves_nothing(gmo: Harness) -> None:
    order = await gmo.order(gmo.sandbox.succeed)
    assert (await gmo.run(order, "authorize")).outcome == "succeeded"
    assert (await gmo.run(order, "capture")).outcome == "succeeded"
    before = len(await gmo.history(order))
    assert (await post(gmo, await notice(gmo, order, "VOID"))).status_code == 200
    await gmo.services.dispatcher.drain()
    (event,) = await events(gmo)
    assert event.status == "applied"
    assert "変更なし" in (event.result or "")
    assert await gmo.status(order) == "captured"
    assert len(await gmo.history(order)) == before  # nothing recorded as a change


async def test_a_provider_state_the_order_disagrees_with_is_left_for_a_person(gmo: Harness) -> None:
    """Cancelled at GMO's own screen: the order is not forced; ジョブ管理 shows 失敗 and
    the event 要確認."""
    order = await gmo.order(gmo.sandbox.succeed)
    assert (await gmo.run(order, "authorize")).outcome == "succeeded"
    conn = gmo.real_connector()
    assert isinstance(conn, c.Canceller)
    txn = c.Transaction(await gmo.reference(order), None, 1000)
    assert (await conn.cancel(txn, captured=False)).kind is c.OutcomeKind.SUCCEEDED
    await post(gmo, await notice(gmo, order, "VOID"))
    await gmo.services.dispatcher.drain()
    (event,) = await events(gmo)
    assert event.status == "mismatch"
    assert "「取消」" in (event.result or "")
    assert "「仮売上完了」" in (event.result or "")
    assert await gmo.status(order) == "authorized"
    async with transaction(gmo.services.sessions) as s:
        job = await s.get(Job, event.job_id)
        assert job is not None
        assert (job.status, job.failed) == ("failed", 1)


# --- Done when: a failure is retried and shown; an operator replays ---------------------------


class FlakyLookup:
    """GMO unreachable for the first `failures` lookups."""

    def __init__(self, inner: object, failures: int) -> None:
        self.inner, self.failures = inner, failures

    async def lookup(self, reference: str) -> c.Lookup:
        if self.failures > 0:
            self.failures -= 1
            raise ProviderUnreachable("connection reset (simulated)")
        assert isinstance(self.inner, c.Reconciler)
        return await self.inner.lookup(reference)


async def test_a_failing_notification_is_retried_and_shown_in_jobs(gmo: Harness) -> None:
    order = await gmo.order(gmo.sandbox.succeed)
    assert (await gmo.run(order, "authorize")).outcome == "succeeded"
    await gmo.use(lambda inner: FlakyLookup(inner, failures=2))
    await post(gmo, await notice(gmo, order, "AUTH"))
    await gmo.services.dispatcher.drain()
    (event,) = await events(gmo)
    assert event.status == "applied"
    async with transaction(gmo.services.sessions) as s:
        job = await s.get(Job, event.job_id)
        assert job is not None
        assert (job.status, job.succeeded) == ("succeeded", 1)
        logs = (await s.scalars(select(JobLog.message).where(JobLog.job_id == job.id))).all()
    assert sum("一時的なエラーのため再実行します" in m for m in logs) == 2


async def test_an_operator_replays_what_kept_failing(gmo: Harness) -> None:
    order = await held_order(gmo)
    await gmo.use(lambda inner: FlakyLookup(inner, failures=100))
    await post(gmo, await notice(gmo, order, "AUTH"))
    await gmo.services.dispatcher.drain()
    key = await new_key(gmo.services)
    async with client_for(gmo.services, key) as api:
        (listed,) = (await api.get("/api/v1/inbound-webhooks")).json()
        assert listed["status"] == "received"  # never applied
        assert "再試行します" in listed["result"]
        job = (await api.get(f"/api/v1/jobs/{listed['job_id']}")).json()
        assert job["status"] == "failed"
        assert await gmo.status(order) == "pending"
        await gmo.use(None)  # GMO answers again
        replayed = await api.post(f"/api/v1/inbound-webhooks/{listed['id']}/replay")
        assert replayed.status_code == 202
        await gmo.services.dispatcher.drain()
        after = (await api.get(f"/api/v1/inbound-webhooks/{listed['id']}")).json()
    assert (after["status"], after["runs"]) == ("applied", 2)
    assert after["job_id"] == replayed.json()["job_id"] != listed["job_id"]
    assert await gmo.status(order) == "authorized"
    assert gmo.charges() == 1


async def test_replay_of_an_unknown_event_is_not_found(gmo: Harness) -> None:
    async with client_for(gmo.services, await new_key(gmo.services)) as api:
        reply = await api.post("/api/v1/inbound-webhooks/12345/replay")
    assert (reply.status_code, reply.json()["code"]) == (404, "webhook_event_unknown")


def test_signatures_follow_standard_webhooks() -> None:
    """The example of the Standard Webhooks specification (secret, id, timestamp, body and
    the signature it gives)."""
    body = b'{"test": 2432232314}'
    signed = sign(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body
    )
    assert signed == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
