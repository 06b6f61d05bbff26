"""The billing run (job kind "billing", 「定期受注 一括決済」): each due 定期受注 gets its
cycle's child order and an authorization with its stored card — once per cycle.

Exactly once, however often a chunk runs:
  * the plan fixes each item as "subscription:cycle read at plan time";
  * one transaction per chunk claims the cycles by a conditional UPDATE (WHERE id, cycle
    and version are still what was read) and inserts their child orders in one INSERT …
    ON CONFLICT DO NOTHING; the UNIQUE (subscription_id, subscription_cycle) of orders
    makes a second insert a no-op. Next dates advance in the same UPDATE;
  * an item whose cycle was already taken (an earlier run of this chunk, or another job)
    goes on with that cycle's child order as it is now: paid → counted, never charged
    again; written ahead by a worker that died → the engine refuses (InProgress) until the
    attempt's lease passes and then settles it by a lookup, so the run waits for that.
Cards whose last 洗替 result is 有効性NG, 照合エラー or 入力データエラー are not charged.
"""

import asyncio
import logging
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from kessai.accounts.connection import connects, explanation
from kessai.core.clock import to_tokyo, tokyo_date
from kessai.core.db import database_failure, transaction
from kessai.core.errors import (
    InProgress,
    InvalidInput,
    KessaiError,
    ProviderUnavailable,
    in_words,
)
from kessai.customers.updater import UpdaterResult, blocks_charging, updater_label
from kessai.jobs.kinds import ItemResult, register
from kessai.jobs.status import ItemStatus
from kessai.orders.service import densan_transaction_id, new_order_values
from kessai.payments.holds import await_release
from kessai.payments.plans import ActionRequest
from kessai.payments.status import PaymentStatus
from kessai.providers import densan
from kessai.subscriptions import cycles
from kessai.subscriptions import repository as repo
from kessai.subscriptions.cycles import Cycle, CycleKind
from kessai.subscriptions.repository import ChildState, Claim
from kessai.subscriptions.service import PAID_STATUSES, pause_unpaid
from kessai.subscriptions.status import SubscriptionStatus
from kessai.webhooks.events import emit, event_row

if TYPE_CHECKING:
    from kessai.jobs.models import Job
    from kessai.payments.engine import ActionResult
    from kessai.services import Services

log = logging.getLogger("kessai.subscriptions")

KIND = "billing"
NAME = "定期受注 一括決済"
DUE_AT = time(0, 10)  # daily, Asia/Tokyo
IN_FLIGHT = 64  # provider calls in flight per worker process
CHUNK_SIZE = 250
CLAIM_ROUNDS = 3
CHARGE_ROUNDS = 6
SETTLED = PAID_STATUSES | {PaymentStatus.CREDIT_CHECK_PENDING}


def billing_dedupe_key(now_tokyo: datetime) -> str:
    """One billing run per business day: two schedulers or a restart find the same job."""
    return f"{KIND}:{to_tokyo(now_tokyo).date().isoformat()}"


def billing_due(now_tokyo: datetime) -> bool:
    """Daily from 00:10 Asia/Tokyo (the key makes every later tick that day a no-op)."""
    return to_tokyo(now_tokyo).time() >= DUE_AT


async def due_billing(_services: "Services", now_tokyo: datetime) -> str | None:
    """The schedule's rule (kessai.jobs.schedules.Schedule.due): the key of the run due now."""
    return billing_dedupe_key(now_tokyo) if billing_due(now_tokyo) else None


def billing_params(now_tokyo: datetime) -> dict[str, Any]:
    return {"date": to_tokyo(now_tokyo).date().isoformat()}


def _business_date(services: "Services", job: "Job") -> date:
    raw = (job.params or {}).get("date")
    today = services.clock.today()
    if raw is None:
        return tokyo_date(job.created_at)
    try:
        day = date.fromisoformat(str(raw))
    except ValueError:
        raise InvalidInput(
            f"請求日「{raw}」は日付 (2026-11-01) で指定してください", code="invalid_billing_date"
        ) from None
    if day > today:
        raise InvalidInput(
            f"請求日({day:%Y-%m-%d})に未来の日付は指定できません", code="invalid_billing_date"
        )
    return day


def _key(sid: int, cycle: int) -> str:
    return f"{sid}:{cycle}"


def _parse(key: Any) -> tuple[int, int]:
    sid, cycle = str(key).split(":")
    return int(sid), int(cycle)


_SEMAPHORES: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, asyncio.Semaphore]]"
_SEMAPHORES = weakref.WeakKeyDictionary()


def _in_flight(limit: int) -> asyncio.Semaphore:
    """One limit per event loop (worker process), shared by the chunks it runs at once."""
    per_loop = _SEMAPHORES.setdefault(asyncio.get_running_loop(), {})
    if limit not in per_loop:
        per_loop[limit] = asyncio.Semaphore(limit)
    return per_loop[limit]


@dataclass(frozen=True)
class _Target:
    key: str
    row: Any  # repository.billing_rows row
    cycle: int  # the child order's cycle


@dataclass
class BillingRun:
    kind: str = KIND
    name: str = NAME
    columns: Sequence[tuple[str, str]] = (
        ("subscription_number", "定期受注番号"),
        ("order_number", "受注番号"),
        ("customer", "顧客"),
        ("amount", "金額"),
        ("payment_status", "決済状況"),
        ("updater_result", "洗替ステータス"),
    )
    chunk_size: int = CHUNK_SIZE
    in_flight: int = IN_FLIGHT

    async def plan(self, services: "Services", job: "Job") -> list[Any]:
        today = _business_date(services, job)
        async with transaction(services.sessions) as s:
            due = await repo.due(s, today)
            left = await repo.uncharged(s)
        # A subscription appears once: a cycle left uncharged goes before a new one.
        keys: dict[int, int] = dict(due)
        keys.update(left)
        return [_key(sid, cycle) for sid, cycle in sorted(keys.items())]

    async def run(self, services: "Services", job: "Job", keys: list[Any]) -> list[ItemResult]:
        today = _business_date(services, job)
        decided, targets = await self._claim(services, [_parse(k) for k in keys], today)
        limit = _in_flight(int((job.params or {}).get("in_flight") or self.in_flight))
        actor = f"job:{job.id}"
        # The new child orders are authorized together (the engine batches their
        # bookkeeping); the rest, and whatever needs another round, one by one below.
        fresh = [st.order_id for _, st in targets if _unpaid(st)]
        first = await services.payments.run_many(fresh, _authorize(actor), limit) if fresh else {}

        async def charge(target: _Target, state: ChildState) -> ItemResult:
            try:
                return await self._charge(
                    services, actor, target, state, first.get(state.order_id), limit
                )
            except Exception as exc:  # one order's failure must not hide the others'
                if database_failure(exc):
                    raise  # what the provider did is settled when the chunk runs again
                log.exception("billing %s: order %s failed", actor, state.order_id)
                return _result(
                    target,
                    state,
                    ItemStatus.FAILED,
                    f"処理中にエラーが発生しました: {in_words(exc)}",
                )

        charged = await asyncio.gather(
            *(charge(t, st) for t, st in targets), return_exceptions=True
        )
        for lost in charged:
            if isinstance(lost, BaseException):
                # Only now, every other order settled: none is left calling its provider
                # beside the chunk's next run.
                raise lost
        by_key = {r.key: r for r in [*decided, *charged] if isinstance(r, ItemResult)}
        await self._label_statuses(services, by_key, [st for _, st in targets])
        return [by_key[_key(*_parse(k))] for k in keys]

    # ------------------------------------------------------------------ claim
    async def _claim(
        self, services: "Services", pairs: list[tuple[int, int]], today: date
    ) -> tuple[list[ItemResult], list[tuple[_Target, ChildState]]]:
        """Take each due cycle and create its child order, in one transaction per chunk."""
        now = services.clock.now()
        decided: list[ItemResult] = []
        found: dict[str, tuple[_Target, ChildState]] = {}
        todo = pairs
        async with transaction(services.sessions) as s:
            for _ in range(CLAIM_ROUNDS):
                rows = await repo.billing_rows(s, [sid for sid, _ in todo])
                claims: list[Claim] = []
                targets: list[_Target] = []
                for sid, cycle in todo:
                    row = rows.get(sid)
                    if row is None:
                        decided.append(_missing(sid, cycle))
                        continue
                    target = _Target(_key(sid, cycle), row, cycle + 1)
                    if row.cycle > cycle:
                        targets.append(target)  # taken before: go on with that order
                        continue
                    reason = _not_billable(row, today)
                    if reason is not None:
                        decided.append(_skipped(target, reason))
                        continue
                    if not connects(row.account_connector):
                        # Refused before the claim: no child order, the cycle stays due.
                        refusal = explanation(row.account_integration)
                        decided.append(_refused(target, refusal))
                        continue
                    claims.append(_claim_of(row, today))
                    targets.append(target)
                claimed = await repo.claim(s, claims, today, now)
                await repo.insert_child_orders(
                    s,
                    await _child_orders(s, [t for t in targets if t.row.id in claimed], now),
                )
                states = await repo.child_states(s, [(t.row.id, t.cycle) for t in targets])
                await emit(s, _created_events(targets, claimed, states, now))
                todo = []
                for t in targets:
                    state = states.get((t.row.id, t.cycle))
                    if state is not None:
                        found[t.key] = (t, state)
                    else:  # changed by someone else between our read and our claim
                        todo.append((t.row.id, t.cycle - 1))
                if not todo:
                    break
            for sid, cycle in todo:
                decided.append(
                    ItemResult(
                        _key(sid, cycle),
                        ItemStatus.SKIPPED,
                        "処理中に定期受注が変更されたため、今回は決済しませんでした",
                    )
                )
        return decided, list(found.values())

    # ----------------------------------------------------------------- charge
    async def _charge(
        self,
        services: "Services",
        actor: str,
        target: _Target,
        state: ChildState,
        first: "ActionResult | Exception | None",
        limit: asyncio.Semaphore,
    ) -> ItemResult:
        """The order's authorization (`first`: its result from the chunk's batch, if it was
        in it), and what it needs after: a wait while another worker holds the order, a
        lookup of an unknown answer, until it is settled."""
        for _ in range(CHARGE_ROUNDS):
            status = PaymentStatus(state.payment_status)
            if state.in_flight_attempt_id is None:
                if status in SETTLED:
                    return _result(target, state, ItemStatus.SUCCEEDED, "決済済みです")
                if status is not PaymentStatus.PENDING:
                    return await self._failed_before(services, target, state)
            try:
                answer, first = first, None
                if answer is None:
                    async with limit:
                        result = await services.payments.run(state.order_id, _authorize(actor))
                elif isinstance(answer, Exception):
                    raise answer
                else:
                    result = answer
            except InProgress:
                state = await _await_release(services, state.order_id)
                continue
            except ProviderUnavailable as exc:
                # Not sent (or the lookup could not reach the provider): a later run retries.
                return _result(target, state, ItemStatus.FAILED, exc.message)
            except KessaiError as exc:
                state = await _state(services, state.order_id)
                if PaymentStatus(state.payment_status) in SETTLED:
                    continue  # settled by a concurrent run meanwhile
                return _result(target, state, ItemStatus.FAILED, exc.message)
            if result.outcome == "unknown":
                state = await _state(services, state.order_id)
                continue  # the engine settles an unknown answer by a lookup first
            if result.outcome == "declined":
                await self._pause(services, actor, target, result.message)
                return _result(target, state, ItemStatus.FAILED, result.message)
            return _result(target, state, ItemStatus.SUCCEEDED, result.message)
        return _result(
            target,
            state,
            ItemStatus.FAILED,
            "決済結果を確定できませんでした。決済照会で確認してください",
        )

    async def _failed_before(
        self, services: "Services", target: _Target, state: ChildState
    ) -> ItemResult:
        async with transaction(services.sessions) as s:
            code, message, note = await repo.last_refusal(s, state.order_id)
        label = PaymentStatus(state.payment_status).label
        detail = " ".join(x for x in (code, message) if x) or note or ""
        text = f"決済状況「{label}」のため決済しませんでした" + (f": {detail}" if detail else "")
        return _result(target, state, ItemStatus.FAILED, text)

    async def _pause(self, services: "Services", actor: str, target: _Target, why: str) -> None:
        async with transaction(services.sessions) as s:
            await pause_unpaid(
                s,
                target.row.id,
                services.clock.now(),
                actor=actor,
                reason=f"定期受注の決済に失敗したため停止しました ({why})",
            )

    async def _label_statuses(
        self, services: "Services", by_key: dict[str, ItemResult], states: list[ChildState]
    ) -> None:
        """The CSV's 決済状況 column: each child order's status after the run."""
        if not states:
            return
        async with transaction(services.sessions) as s:
            now_status = await repo.statuses(s, [st.order_id for st in states])
        for key, item in list(by_key.items()):
            order_id = item.data.get("order_id")
            if order_id in now_status:
                data = {k: v for k, v in item.data.items() if k != "order_id"}
                data["payment_status"] = PaymentStatus(now_status[order_id]).label
                by_key[key] = ItemResult(item.key, item.status, item.message, data)


register(BillingRun())


# ------------------------------------------------------------------ helpers


def _authorize(actor: str) -> ActionRequest:
    return ActionRequest(action="authorize", actor=actor)


def _unpaid(state: ChildState) -> bool:
    """Not yet authorized, and held by no call."""
    pending = PaymentStatus(state.payment_status) is PaymentStatus.PENDING
    return pending and state.in_flight_attempt_id is None


def _cycle_of(row: Any) -> Cycle:
    return Cycle(CycleKind(row.cycle_kind), row.cycle_interval, row.cycle_day)


def _claim_of(row: Any, today: date) -> Claim:
    ship_on = cycles.advance_past(_cycle_of(row), row.next_ship_on, today)
    return Claim(
        id=row.id,
        cycle=row.cycle,
        version=row.version,
        next_ship_on=ship_on,
        next_delivery_on=cycles.shift_delivery(row.next_ship_on, row.next_delivery_on, ship_on),
    )


def _not_billable(row: Any, today: date) -> str | None:
    """Why a subscription is not charged today, in the operator's words; None to charge."""
    if row.status != SubscriptionStatus.ACTIVE.value:
        label = SubscriptionStatus(row.status).label
        return f"定期受注のステータスが「{label}」のため決済しませんでした"
    if row.next_ship_on > today:
        return f"次回発送予定日({row.next_ship_on:%Y-%m-%d})が未到来のため決済しませんでした"
    if not row.method_enabled:
        return f"支払い方法「{row.method_name}」が無効のため決済しませんでした"
    if row.card_id is not None:
        if row.card_deleted_at is not None:
            return "登録カードが削除されているため決済しませんでした。カードの変更が必要です"
        if blocks_charging(row.updater_result):
            label = UpdaterResult(row.updater_result).label
            return (
                f"洗替ステータスが「{label}」のため決済しませんでした。"
                "支払い方法またはクレジットカード情報の変更が必要です"
            )
    return None


def _order_number(row: Any, cycle: int) -> str:
    return f"{row.number}-{cycle:03d}"


async def _child_orders(
    s: AsyncSession, targets: list[_Target], now: datetime
) -> list[dict[str, Any]]:
    if not targets:
        return []
    # 電算システム: each order carries its own 17-digit 取引ID from the start.
    densan_ids = {
        t.row.method_account_id for t in targets if t.row.account_integration == densan.INTEGRATION
    }
    densan_accounts = await repo.accounts(s, densan_ids)
    rows = []
    for t in targets:
        r = t.row
        source: dict[str, str] = {}
        if r.card_id is not None:
            source = {"card_id": str(r.card_id), "member_id": r.member_id, "card_seq": r.card_seq}
        account = densan_accounts.get(r.method_account_id)
        rows.append(
            new_order_values(
                now,
                number=_order_number(r, t.cycle),
                customer_id=r.customer_id,
                payment_method_id=r.payment_method_id,
                amount=r.amount,
                tax=r.tax,
                subscription_id=r.id,
                subscription_cycle=t.cycle,
                payment_source=source,
                provider_reference=None
                if account is None
                else await densan_transaction_id(s, account),
            )
        )
    return rows


def _created_events(
    targets: list[_Target],
    claimed: set[int],
    states: dict[tuple[int, int], "repo.ChildState"],
    now: datetime,
) -> list[dict[str, Any]]:
    """order.created of the child orders this claim inserted."""
    events = []
    for t in targets:
        state = states.get((t.row.id, t.cycle))
        if t.row.id in claimed and state is not None:
            values = {
                "number": state.number,
                "payment_status": state.payment_status,
                "amount": state.amount,
                "customer_id": t.row.customer_id,
                "subscription_id": t.row.id,
            }
            events.append(event_row("order.created", "order", state.order_id, now, state=values))
    return events


def _data(target: _Target, state: ChildState | None) -> dict[str, Any]:
    r = target.row
    data: dict[str, Any] = {
        "subscription_number": r.number,
        "customer": r.customer_name,
        "amount": r.amount if state is None else state.amount,
        "updater_result": updater_label(r.updater_result) if r.card_id is not None else "",
    }
    if state is not None:
        data["order_number"] = state.number
        data["order_id"] = state.order_id
        data["payment_status"] = PaymentStatus(state.payment_status).label
    return data


def _result(target: _Target, state: ChildState, status: ItemStatus, message: str) -> ItemResult:
    return ItemResult(target.key, status, message, _data(target, state))


def _refused(target: _Target, reason: str) -> ItemResult:
    return ItemResult(target.key, ItemStatus.FAILED, reason, _data(target, None))


def _skipped(target: _Target, reason: str) -> ItemResult:
    return ItemResult(target.key, ItemStatus.SKIPPED, reason, _data(target, None))


def _missing(sid: int, cycle: int) -> ItemResult:
    return ItemResult(
        _key(sid, cycle), ItemStatus.SKIPPED, f"定期受注が見つかりませんでした (id: {sid})"
    )


async def _state(services: "Services", order_id: int) -> ChildState:
    async with transaction(services.sessions) as s:
        return await repo.child_state(s, order_id)


async def _await_release(services: "Services", order_id: int) -> ChildState:
    """The order once another worker's call no longer holds it, or its lease ran out."""
    await await_release(services, order_id)
    return await _state(services, order_id)
