"""The inbound webhook inbox: /webhooks/<provider>/<account>.

A notification is verified by its provider's own verifier (signature, shop id …), stored once
(unique provider + the provider's event id) together with the job that will act on it, and
only then answered, so the provider resends anything kessai has not committed. A duplicate is
answered the same way and changes nothing.

The job asks the provider for the transaction's current state before anything moves: a late
or out-of-order event (a cancel after a capture) is judged by what the provider holds now,
never by what the event says. An order the provider is still deciding (3-D Secure, 与信審査)
or whose last call went unanswered is settled by the payment engine's own 決済照会; any other
order is compared, and a disagreement is left for a person (要確認), never forced. A lookup
that fails raises, so the jobs runner runs it again with a growing pause (ジョブ管理 shows
each retry); an operator can replay any event.

A notification may come before kessai knows its payment: the provider notified while the
authorization that made the charge was still waiting for its answer, so no order carries the
provider's id yet, or the order's call is still unanswered. Its first run looks again
after a few short pauses (QUICK_LOOKS: the answer is usually a moment behind); then it waits
(対象待ち) and a scheduler tick plans another look after each pause of look_pauses(); only
when the last look finds nothing is it 対象なし, saying that it waited.
"""

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kessai.accounts.models import PaymentMethod, ProviderAccount
from kessai.accounts.secrets import connector_settings
from kessai.core.clock import to_tokyo
from kessai.core.db import transaction
from kessai.core.errors import Conflict, InProgress, KessaiError, NotFound
from kessai.core.settings import Settings
from kessai.core.upsert import dialect_insert
from kessai.inbox.models import InboundEvent
from kessai.inbox.status import EventStatus
from kessai.jobs import repository as jobs_repo
from kessai.jobs.kinds import ItemResult
from kessai.jobs.schedules import SCHEDULER_ACTOR
from kessai.jobs.status import ItemStatus, JobStatus
from kessai.orders.models import Order
from kessai.payments import unsettled
from kessai.payments.plans import ActionRequest
from kessai.payments.status import Action, PaymentStatus
from kessai.providers import contract as c
from kessai.providers.installed import BY_NAME, BY_SIM_PATH
from kessai.providers.kit import Forged, Notification, NotificationChecker, Provider, Verified

if TYPE_CHECKING:
    from kessai.services import Services

log = logging.getLogger("kessai.inbox")

KIND = "inbound_webhook"
JOB_NAME = "決済サービスからの通知"

# The first pauses between looks for a payment kessai does not know yet, one after the
# other from receipt (looks at +5 s, +35 s, +2 min 35 s, +12 min 35 s; a tick comes every
# 15 s, so each may be up to that much later). 5 s: most such notifications only overtook a
# commit. 30 s: by then an authorization in flight has had its answer or hit the providers'
# 30 s timeout. 2 min: past the 120 s attempt lease, so 決済照会 may settle a call whose
# answer was lost. 10 min: a look for a slow worker or a restart.
FIRST_PAUSES = (
    timedelta(seconds=5),
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
)
# For the hourly 決済結果の自動照会 to submit, queue and run its job once due.
HOURLY_MARGIN = timedelta(minutes=5)
LOOK_BATCH = 200  # waiting notifications planned per tick; the rest at the next one


def look_pauses(settings: Settings) -> tuple[timedelta, ...]:
    """FIRST_PAUSES, then the last look: once the hourly 決済結果の自動照会 has surely settled
    a call whose answer was lost when the notification came.

    Only that 照会 tells an order the provider's own id when the answer carrying it was lost
    (Amazon Pay notifies by its charge permission), and it takes a call only after the
    attempt lease; the next hourly run comes at most an hour later. So the last look is
    lease + an hour + HOURLY_MARGIN after receipt, in whole minutes so people read it."""
    lease = timedelta(seconds=settings.attempt_lease_seconds)
    rest = lease + unsettled.EVERY + HOURLY_MARGIN - sum(FIRST_PAUSES, timedelta())
    minutes = max(1, -(-rest // timedelta(minutes=1)))  # rounded up
    return (*FIRST_PAUSES, timedelta(minutes=minutes))


# What the provider may hold while the order shows each status, and still agree with it.
_AGREES: dict[PaymentStatus, frozenset[c.ProviderState]] = {
    PaymentStatus.PENDING: frozenset({c.ProviderState.NONE, c.ProviderState.PENDING}),
    PaymentStatus.AUTHORIZED: frozenset({c.ProviderState.AUTHORIZED}),
    PaymentStatus.AUTHORIZE_FAILED: frozenset({c.ProviderState.DECLINED, c.ProviderState.NONE}),
    PaymentStatus.REGISTER_FAILED: frozenset({c.ProviderState.NONE, c.ProviderState.DECLINED}),
    PaymentStatus.CAPTURED: frozenset({c.ProviderState.CAPTURED}),
    PaymentStatus.CANCELED: frozenset({c.ProviderState.CANCELED, c.ProviderState.NONE}),
}
_WAITING = (PaymentStatus.PENDING, PaymentStatus.CREDIT_CHECK_PENDING)
_STATE_LABELS = {
    c.ProviderState.NONE: "取引なし",
    c.ProviderState.PENDING: "処理待ち",
    c.ProviderState.AUTHORIZED: "仮売上",
    c.ProviderState.CAPTURED: "売上確定",
    c.ProviderState.CANCELED: "取消",
    c.ProviderState.DECLINED: "決済失敗",
}


class WebhookRefused(KessaiError):
    """The notification did not pass its provider's verifier: nothing was stored."""

    status_code = 401
    code = "webhook_refused"


def provider_of(name: str) -> Provider:
    declared = BY_NAME.get(name) or BY_SIM_PATH.get(name)
    if declared is None or declared.webhook is None:
        raise NotFound(
            f"決済サービス「{name[:40]}」からの通知は受け付けていません",
            code="webhook_provider_unknown",
        )
    return declared


@dataclass(frozen=True)
class Received:
    provider: Provider
    event_id: int
    new: bool
    verified: Verified

    def answer(self) -> tuple[bytes, str]:
        """What the provider expects back once the notification is stored."""
        if self.provider.webhook_answer is not None:
            return self.provider.webhook_answer(self.verified)
        return self.provider.webhook_ack.encode(), "text/plain; charset=utf-8"


async def receive(
    services: "Services", provider_name: str, account_id: int, note: Notification
) -> Received:
    """Verify, store once, plan its job, commit; the caller answers only after this returns."""
    declared = provider_of(provider_name)
    assert declared.webhook is not None
    async with transaction(services.sessions) as s:
        account = await s.get(ProviderAccount, account_id)
        if account is None or account.connector != declared.name:
            raise NotFound(
                "通知先の外部連携アカウントが見つかりません", code="webhook_account_unknown"
            )
        settings = connector_settings(account, services.keyring)
    try:
        verified = declared.webhook(note, settings)
    except Forged as exc:
        log.warning("webhook refused: provider=%s account=%s", declared.name, account_id)
        raise WebhookRefused(f"通知を検証できませんでした: {exc}") from None
    now = services.clock.now()
    async with transaction(services.sessions) as s:
        stmt = (
            dialect_insert(s, InboundEvent)
            .values(
                provider=declared.name,
                account_id=account_id,
                event_id=verified.event_id,
                reference=verified.reference,
                event=verified.event[:60],
                data=dict(verified.data),
                status=EventStatus.RECEIVED.value,
                runs=0,
                received_at=now,
            )
            .on_conflict_do_nothing(index_elements=["provider", "event_id"])
            .returning(InboundEvent.id)
        )
        row = (await s.execute(stmt)).first()
        if row is None:  # sent again: stored and acted on before, nothing changes
            existing = await s.scalar(
                select(InboundEvent.id).where(
                    InboundEvent.provider == declared.name,
                    InboundEvent.event_id == verified.event_id,
                )
            )
            assert existing is not None
            return Received(declared, existing, False, verified)
        event = await s.get(InboundEvent, row[0])
        assert event is not None
        job_id = await _plan_run(s, event, f"webhook:{declared.name}", now)
    await services.dispatcher.send_plan(job_id)  # after commit; a lost send is swept later
    return Received(declared, event.id, True, verified)


async def replay(services: "Services", event_id: int, actor: str) -> tuple[InboundEvent, int]:
    """Act on a stored event once more (an operator's 再処理); the event and the new job."""
    now = services.clock.now()
    async with transaction(services.sessions) as s:
        event = await s.get(InboundEvent, event_id, with_for_update=True)
        if event is None:
            raise NotFound(f"通知が見つかりません (id: {event_id})", code="webhook_event_unknown")
        if event.status == EventStatus.RECEIVED.value and event.job_id is not None:
            job = await jobs_repo.get_job(s, event.job_id)
            if not JobStatus(job.status).finished:
                raise Conflict(
                    "この通知は処理中です。処理が終わってから再処理してください",
                    code="webhook_event_in_progress",
                    detail={"job_id": job.id},
                )
        job_id = await _plan_run(s, event, actor, now)
        event.status = EventStatus.RECEIVED.value
        event.next_look_at = None  # this run is the next look
    await services.dispatcher.send_plan(job_id)
    return event, job_id


async def look_again(services: "Services") -> int:
    """Plan the next look of each 対象待ち notification whose time has come (a tick step);
    how many were planned."""
    now = services.clock.now()
    async with transaction(services.sessions) as s:
        due = (
            await s.scalars(
                select(InboundEvent.id)
                .where(InboundEvent.next_look_at <= now)
                .order_by(InboundEvent.next_look_at)
                .limit(LOOK_BATCH)
            )
        ).all()
    planned = 0
    for event_id in due:
        async with transaction(services.sessions) as s:
            # Taken by one tick only, even with two schedulers or a replay in between.
            taken = await s.execute(
                update(InboundEvent)
                .where(
                    InboundEvent.id == event_id,
                    InboundEvent.status == EventStatus.WAITING.value,
                    InboundEvent.next_look_at <= now,
                )
                .values(status=EventStatus.RECEIVED.value, next_look_at=None)
                .execution_options(synchronize_session=False)
            )
            if taken.rowcount != 1:  # type: ignore[attr-defined]
                continue
            event = await s.get(InboundEvent, event_id)
            assert event is not None
            job_id = await _plan_run(s, event, SCHEDULER_ACTOR, now)
        await services.dispatcher.send_plan(job_id)  # after commit; a lost send is swept later
        planned += 1
    return planned


async def _plan_run(s: AsyncSession, event: InboundEvent, actor: str, now: datetime) -> int:
    event.runs += 1
    job_id = await jobs_repo.insert_job(
        s,
        {
            "kind": KIND,
            "name": f"{JOB_NAME} ({event.provider} {event.event})",
            "status": JobStatus.QUEUED.value,
            "params": {"event_id": event.id},
            "dedupe_key": f"{KIND}:{event.id}:{event.runs}",
            "total": 0,
            "processed": 0,
            "succeeded": 0,
            "failed": 0,
            "skipped": 0,
            "created_by": actor,
            "created_at": now,
        },
    )
    assert job_id is not None  # the key is new: runs only grows, under the row lock
    event.job_id = job_id
    return job_id


# ------------------------------------------------------------------------------ processing


# A notice usually overtakes its payment's answer by a moment (the provider notifies as it
# answers; kessai commits the answer right after): on its first run the inbox looks again
# after these short real-time pauses before it makes the notice wait (対象待ち) for
# look_pauses().
QUICK_LOOKS = (0.2, 0.5, 1.0, 1.5)


async def process(services: "Services", event_id: int) -> ItemResult:
    """Bring the event's order in line with the provider's current state, if it can be."""
    for pause in QUICK_LOOKS:
        done = await _look(services, event_id, quick=True)
        if done is not None:
            return done
        await asyncio.sleep(pause)
    done = await _look(services, event_id, quick=False)
    assert done is not None
    return done


async def _look(services: "Services", event_id: int, *, quick: bool) -> ItemResult | None:
    """One look at the event; None when it would wait and a quick look again is allowed
    (the event's first run only)."""
    async with transaction(services.sessions) as s:
        event = await s.get(InboundEvent, event_id)
        if event is None:
            return ItemResult(str(event_id), ItemStatus.SKIPPED, "通知が見つかりません")
        account = await s.get(ProviderAccount, event.account_id)
        order = await _order_of(s, event)
        s.expunge_all()
    assert account is not None
    row = {"event": event.event, "reference": event.reference or ""}
    if not event.reference:  # names nothing kessai could ever hold: no use waiting
        message = f"通知「{event.event}」にはオーダーIDがありません"
        await _finish(services, event_id, EventStatus.IGNORED, message)
        return ItemResult(str(event_id), ItemStatus.SKIPPED, message, row)
    pauses = look_pauses(services.settings)
    look = _next_look(event, services.clock.now(), pauses)
    quick = quick and event.runs == 1 and look is not None
    if order is None:
        if quick:
            return None
        missing = f"オーダーID「{event.reference}」の受注"
        if look is None:
            message = (
                f"{missing}はありません (受信後 {_pauses_in_words(pauses)} の間隔で確認しましたが"
                "現れませんでした)"
            )
            await _finish(services, event_id, EventStatus.IGNORED, message)
        else:
            message = f"{missing}はまだありません。{_at(look)} にもう一度確認します"
            await _finish(services, event_id, EventStatus.WAITING, message, look)
        return ItemResult(str(event_id), ItemStatus.SKIPPED, message, row)
    try:
        status, message = await _settle(services, event, account, order)
    except InProgress as exc:  # the order's own call is still unanswered: look again later
        if quick:
            return None
        if look is None:
            await _retrying(services, event_id, exc)
            raise
        message = (
            f"受注 {order.number} の決済処理が応答を待っています。{_at(look)} にもう一度確認します"
        )
        log.info("inbox event %s waits: %s", event_id, exc.code)
        await _finish(services, event_id, EventStatus.WAITING, message, look)
        return ItemResult(str(event_id), ItemStatus.SKIPPED, message, row)
    except Exception as exc:  # the provider could not be asked: the runner retries
        await _retrying(services, event_id, exc)
        raise
    await _finish(services, event_id, status, message)
    item = ItemStatus.FAILED if status is EventStatus.MISMATCH else ItemStatus.SUCCEEDED
    return ItemResult(str(event_id), item, message, row)


def _next_look(
    event: InboundEvent, now: datetime, pauses: tuple[timedelta, ...]
) -> datetime | None:
    """When to look again for the event's payment; None once the last pause has passed."""
    at = event.received_at
    for pause in pauses:
        at += pause
        if at > now:
            return at
    return None


def _at(moment: datetime) -> str:
    return to_tokyo(moment).strftime("%H:%M:%S")


def _pauses_in_words(pauses: tuple[timedelta, ...]) -> str:
    """The pauses as people read them: 5秒・30秒・2分・10分・55分."""
    seconds = [int(p.total_seconds()) for p in pauses]
    return "・".join(f"{s // 60}分" if s % 60 == 0 else f"{s}秒" for s in seconds)


async def _retrying(services: "Services", event_id: int, exc: Exception) -> None:
    await _finish(services, event_id, None, f"再試行します: {type(exc).__name__}: {exc}")


async def _order_of(s: AsyncSession, event: InboundEvent) -> Order | None:
    """The order the event is about: our reference (its provider_reference or number), or
    the provider's transaction id kessai keeps for it."""
    if not event.reference:
        return None
    found: Order | None = await s.scalar(
        select(Order)
        .join(PaymentMethod, PaymentMethod.id == Order.payment_method_id)
        .where(
            PaymentMethod.account_id == event.account_id,
            or_(
                Order.provider_reference == event.reference,
                Order.number == event.reference,
                # Providers that notify by their own id (Amazon Pay: the charge permission).
                Order.provider_transaction_id == event.reference,
            ),
        )
        .limit(1)
    )
    return found


async def _settle(
    services: "Services", event: InboundEvent, account: ProviderAccount, order: Order
) -> tuple[EventStatus, str]:
    before = PaymentStatus(order.payment_status)
    actor = f"webhook:{event.provider}"
    connector = services.registry.connector_for(account)
    if isinstance(connector, NotificationChecker):
        problem = await connector.check_notification(
            order.provider_reference or order.number, event.data or {}, order.amount
        )
        if problem:  # never applied: a person looks at it
            return (
                EventStatus.MISMATCH,
                f"通知「{event.event}」: {problem}。受注には反映していません",
            )
    if before in _WAITING or order.in_flight_attempt_id is not None:
        try:
            result = await services.payments.run(
                order.id, ActionRequest(action=Action.RECONCILE.value, actor=actor)
            )
        except Conflict as exc:
            if exc.code != "nothing_to_reconcile":
                raise
        else:
            after = await _status(services, order.id)
            return EventStatus.APPLIED, (
                f"決済照会により「{before.label}」→「{after.label}」 ({result.message})"
                if after is not before
                else f"決済照会の結果、決済状況「{before.label}」のままです ({result.message})"
            )
    if not isinstance(connector, c.Reconciler):
        return (
            EventStatus.MISMATCH,
            "この接続モジュールは決済照会に対応していません。管理画面で確認してください",
        )
    found = await connector.lookup(order.provider_reference or order.number)
    now_state = _STATE_LABELS[found.state]
    if found.state in _AGREES.get(before, frozenset()):
        return EventStatus.APPLIED, (
            f"通知「{event.event}」: 決済サービスの現在の状態「{now_state}」は"
            f"決済状況「{before.label}」と一致しています (変更なし)"
        )
    return EventStatus.MISMATCH, (
        f"通知「{event.event}」: 決済サービスの現在の状態は「{now_state}」、"
        f"受注の決済状況は「{before.label}」です。決済サービスの管理画面で確認してください"
    )


async def _status(services: "Services", order_id: int) -> PaymentStatus:
    async with transaction(services.sessions) as s:
        order = await s.get(Order, order_id)
        assert order is not None
        return PaymentStatus(order.payment_status)


async def _finish(
    services: "Services",
    event_id: int,
    status: EventStatus | None,
    message: str,
    next_look_at: datetime | None = None,
) -> None:
    async with transaction(services.sessions) as s:
        event = await s.get(InboundEvent, event_id)
        if event is None:
            return
        if status is not None:
            event.status = status.value
            event.processed_at = services.clock.now()
            event.next_look_at = next_look_at
        event.result = message
