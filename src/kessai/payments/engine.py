"""Runs a payment action on one order: reconcile first, decide, write ahead, call, record.

This is the one place that owns transactions for payment actions, because write-ahead
needs the attempt committed before the provider is called:
  1. (tx) load the order; if an attempt holds it, settle that first; decide the plan;
     write the attempt and claim the order by compare-and-set; commit.
  2. call the provider (outside any transaction).
  3. (tx) record the outcome and move the 決済状況 by the table; commit.
A crash between 1 and 3 leaves the attempt 'sent' and the order held; after the lease it
is treated as unknown and settled by a lookup with our own reference before anything else.

The common case (nobody holds the order, the plan is a provider call) takes the hot path
of repository.hot_path: step 1 is a read and one write-ahead statement (compare-and-set on
the version read), step 3 one statement that compare-and-sets against the version claimed
in step 1. Anything else, or a hot-path compare-and-set that misses, goes the general way
above, with the order's row locked while it is read. The read is skipped for an order this
process has just written (SeenOrders): its write-ahead then also checks that none of its
rows changed since.

run_many is the same hot path for many orders at once (a billing run's chunk): one read,
one write-ahead transaction, and the settles of calls that answer together batched.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kessai.core import metrics
from kessai.core.batcher import Batcher
from kessai.core.clock import Clock
from kessai.core.db import engine_of, transaction
from kessai.core.errors import (
    Conflict,
    InProgress,
    InvalidInput,
    KessaiError,
    ProviderUnavailable,
)
from kessai.core.logging import bound
from kessai.core.settings import Settings
from kessai.orders.models import Order
from kessai.payments import repository as repo
from kessai.payments.decide import OrderFacts, decide
from kessai.payments.models import PaymentAttempt
from kessai.payments.outcomes import Settlement, settle_lookup, settle_outcome
from kessai.payments.plans import OPERATION_LABELS, ActionRequest, Call, Local, Operation, Refuse
from kessai.payments.status import (
    Action,
    Event,
    HandlingStatus,
    PaymentStatus,
    handling_after,
    next_status,
)
from kessai.providers import contract as c
from kessai.providers.challenge import ChallengeCompleter
from kessai.providers.registry import ConnectorRegistry
from kessai.providers.store import known_reference

log = logging.getLogger("kessai.payments")

MAX_ROUNDS = 4
# run_many writes the settles of calls that answer together in one transaction: up to
# SETTLE_BATCH of them, at most SETTLE_WAIT seconds after the first answer.
SETTLE_BATCH = 100
SETTLE_WAIT = 0.05
FAILURE_EVENTS = frozenset(
    {
        Event.AUTHORIZE_FAILED,
        Event.REGISTER_FAILED,
        Event.PAYMENT_ERROR,
        Event.CREDIT_CHECK_FAILED,
        Event.CAPTURE_FAILED,
        Event.SHIPMENT_REPORT_FAILED,
        Event.CANCEL_FAILED,
        Event.AMOUNT_CHANGE_FAILED,
    }
)


@dataclass(frozen=True)
class ActionResult:
    order_id: int
    outcome: str  # succeeded | declined | pending | unknown | local | not_sent | refused
    message: str
    attempt_id: int | None = None
    provider_code: str | None = None
    provider_message: str | None = None
    redirect_url: str | None = None
    # The order as this action left it, with its method, account and customer, when the
    # engine knows it without reading again (the hot path); None otherwise.
    view: repo.Loaded | None = field(default=None, compare=False, repr=False)


class PaymentEngine:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        registry: ConnectorRegistry,
        clock: Clock,
        settings: Settings,
    ) -> None:
        self.sessions = sessions
        self.engine = engine_of(sessions)
        self.registry = registry
        self.clock = clock
        self.settings = settings
        # The orders the hot path last wrote: their next action skips the load.
        self.seen = repo.SeenOrders()

    # ------------------------------------------------------------------ public
    async def run(self, order_id: int, req: ActionRequest) -> ActionResult:
        with bound(order_id=order_id):  # on every log line of this action
            return await self._run(order_id, req)

    async def _run(self, order_id: int, req: ActionRequest) -> ActionResult:
        action = Action(req.action)
        settled: ActionResult | None = None
        for _ in range(MAX_ROUNDS):
            step = await self._prepare(order_id, req, action)
            if isinstance(step, ActionResult):
                return step
            if isinstance(step, _Waiting):
                return await self._reconcile_waiting(step, req.actor)
            if isinstance(step, PaymentAttempt):
                # Held by an unsettled attempt: settle it, then decide again.
                settled = await self._reconcile(order_id, step, req.actor)
                if action is Action.RECONCILE or _retry_of(req, action, step, settled):
                    return settled
                continue
            result = await self._call(order_id, step, req)
            if action is Action.REAUTHORIZE and step.plan.operation == Operation.VOID:
                if result.outcome != c.OutcomeKind.SUCCEEDED:
                    return result
                continue  # the old authorization is gone: now authorize anew
            return result
        if settled is not None:
            return settled
        raise InProgress("この受注は別の決済処理を実行中です。しばらくしてから再度お試しください")

    async def run_many(
        self, order_ids: Sequence[int], req: ActionRequest, limit: asyncio.Semaphore
    ) -> dict[int, "ActionResult | Exception"]:
        """`run` on each order (a billing run's chunk), with the database work batched: one
        load and one write-ahead transaction for the orders the hot path takes, their calls
        at most `limit` at once, and the settles of calls that answer together written
        together (SETTLE_BATCH). An order it does not take (held, a plan that is no call,
        a claim lost to another writer) goes through `run` alone. Every call is written
        ahead and committed before it is made, as in `run`: after a crash, a later action
        settles what was left by a lookup. Each order's result, or the error it met (one
        order's error stops no other: a settle that fails leaves its orders to a lookup)."""
        order_ids = list(dict.fromkeys(order_ids))
        async with repo.hot_path(self.engine) as hot:
            loaded = await hot.load_many(order_ids)
        planned: list[_HotPlan] = []
        for order_id in order_ids:
            try:
                plan = self._plan_hot(loaded[order_id], req) if order_id in loaded else None
            except KessaiError:
                plan = None  # `run` answers it with the same error
            if plan is not None:
                planned.append(plan)
        claims: dict[int, repo.Claim] = {}
        if planned:
            async with repo.hot_path(self.engine) as hot:
                claims = await hot.write_ahead_many([p.write for p in planned])
        claimed = [
            p.claimed(claims[p.write.order.id]) for p in planned if p.write.order.id in claims
        ]
        settles: Batcher[tuple[_Claimed, _Answer], repo.Loaded | None] = Batcher(
            lambda batch: self._settle_many(batch, req.actor), size=SETTLE_BATCH, wait=SETTLE_WAIT
        )
        results: dict[int, ActionResult | Exception] = {}

        async def call(claim: _Claimed) -> ActionResult:
            async with limit:
                outcome = await self._invoke(claim, req)
            answer = self._answer(claim, outcome)
            view = await settles.add((claim, answer))
            return await self._finish(claim.facts.order.id, claim, answer, view, req.actor)

        async def alone(order_id: int) -> ActionResult:
            async with limit:
                return await self.run(order_id, req)

        async def into(order_id: int, work: Awaitable[ActionResult]) -> None:
            try:
                results[order_id] = await work
            except Exception as exc:  # one order's error must not stop the others
                results[order_id] = exc

        taken = {claim.facts.order.id for claim in claimed}
        await asyncio.gather(
            *(into(claim.facts.order.id, call(claim)) for claim in claimed),
            *(into(order_id, alone(order_id)) for order_id in order_ids if order_id not in taken),
        )
        return results

    async def _settle_many(
        self, batch: list[tuple["_Claimed", "_Answer"]], actor: str
    ) -> list[repo.Loaded | None]:
        async with repo.hot_path(self.engine) as hot:
            written = await hot.settle_many([self._hot_settle(c, a, actor) for c, a in batch])
        return [_view(claim, written.get(claim.facts.order.id)) for claim, _ in batch]

    # --------------------------------------------------------------- step 1
    async def _prepare(
        self, order_id: int, req: ActionRequest, action: Action
    ) -> "ActionResult | PaymentAttempt | _Claimed | _Waiting":
        for _ in range(MAX_ROUNDS):
            try:
                if action is not Action.RECONCILE:
                    claimed = await self._prepare_hot(order_id, req)
                    if claimed is not None:
                        return claimed
                return await self._prepare_once(order_id, req, action)
            except _LostRace:
                continue  # a concurrent writer changed the order: read again, decide again
        raise InProgress("この受注は同時に更新されました。もう一度お試しください")

    async def _prepare_hot(self, order_id: int, req: ActionRequest) -> "_Claimed | None":
        """Step 1 on the hot path; None when the general way must decide (the order is
        held, or the plan is not a provider call)."""
        async with repo.hot_path(self.engine) as hot:
            # The order as this process last wrote it, if it remembers it: trusted only to
            # plan a call, whose write-ahead then checks that none of its rows changed since.
            remembered = self.seen.take(order_id)
            planned = self._plan_remembered(remembered, req)
            if planned is not None and remembered is not None:
                seen, unchanged = remembered, remembered
            else:
                seen, unchanged = await hot.read(order_id), None
                planned = self._plan_hot(seen.loaded, req)
                if planned is None:
                    return None
            claim = await hot.write_ahead(planned.write, unchanged)
            if claim is None:
                raise _LostRace
        return planned.claimed(claim, seen.versions)

    def _plan_remembered(
        self, remembered: repo.Seen | None, req: ActionRequest
    ) -> "_HotPlan | None":
        """_plan_hot on a remembered order; None when it plans no call or refuses: what may
        be out of date decides nothing but a call (checked when it is written ahead)."""
        if remembered is None:
            return None
        try:
            return self._plan_hot(remembered.loaded, req)
        except KessaiError:
            return None

    def _plan_hot(self, loaded: repo.Loaded, req: ActionRequest) -> "_HotPlan | None":
        """The write-ahead of a provider call on an order nobody holds; None otherwise."""
        order = loaded.order
        if order.in_flight_attempt_id is not None:
            return None
        facts = OrderFacts(order, loaded.method, loaded.account, self.clock.now())
        plan = decide(facts, req)
        if not isinstance(plan, Call):
            return None
        # Before the write: the write-ahead commits on its own.
        connector = self._connector(facts)
        values = self._claim_values(facts, plan)
        _check_input(connector, plan, self._source(order, values))
        account_id = facts.account.id if facts.account is not None else None
        changes = repo.changes_of(order, values)
        reason = OPERATION_LABELS.get(plan.operation, plan.operation)
        write = repo.WriteAhead(
            order,
            values,
            self._sent(plan, req, facts.now),
            changes,
            stored=None if account_id is None else (account_id, plan.reference),
            actor=req.actor,
            at=facts.now,
            reason=reason,
            event=repo.order_event(
                order, values, changes, actor=req.actor, at=facts.now, reason=reason
            ),
        )
        return _HotPlan(
            write,
            plan,
            facts,
            connector,
            self._transaction(order, plan, req),
            self._source(order, values),
            loaded,
        )

    async def _prepare_once(
        self, order_id: int, req: ActionRequest, action: Action
    ) -> "ActionResult | PaymentAttempt | _Claimed | _Waiting":
        refusal: KessaiError | None = None
        async with transaction(self.sessions) as s:
            facts = await self._facts(s, order_id)
            order = facts.order
            release: dict[str, Any] = {}
            if order.in_flight_attempt_id is not None:
                held = await repo.get_attempt(s, order.in_flight_attempt_id)
                if held.outcome == "sent" and not self._stale(held):
                    raise InProgress(
                        "この受注は別の決済処理を実行中です。しばらくしてから再度お試しください",
                        detail={"attempt_id": held.id, "operation": held.operation},
                    )
                if action not in (Action.FORCE_CAPTURE, Action.FORCE_CANCEL):
                    return held
                # 強制処理: the operator checked the provider's screen and decides.
                await repo.complete_attempt(
                    s, held.id, note=f"{action.label}により確定", completed_at=facts.now
                )
                release = {"in_flight_attempt_id": None}
            if action is Action.RECONCILE:
                waiting = self._waiting(facts)
                if facts.awaiting_customer and isinstance(waiting.connector, ChallengeCompleter):
                    # The customer is back from 3-D Secure: the provider authorizes now,
                    # a call like any other, written ahead.
                    completion = Call(
                        Operation.COMPLETE_CHALLENGE,
                        order.provider_reference or order.number,
                        order.amount,
                    )
                    claimed = await self._write_ahead(s, facts, completion, req)
                    if claimed is None:
                        raise _LostRace
                    return claimed
                return waiting
            plan = decide(facts, req)
            if isinstance(plan, Local):
                return await self._apply_local(s, facts, plan, req, release)
            if isinstance(plan, Refuse):
                refusal = plan.error
                await self._apply_refusal(s, facts, plan, req)
            else:
                claimed = await self._write_ahead(s, facts, plan, req)
                if claimed is None:
                    raise _LostRace
                return claimed
        assert refusal is not None
        raise refusal

    async def _facts(self, s: AsyncSession, order_id: int) -> OrderFacts:
        order, method, account = await repo.load_order(s, order_id)
        return OrderFacts(order, method, account, self.clock.now())

    def _stale(self, attempt: PaymentAttempt) -> bool:
        lease = timedelta(seconds=self.settings.attempt_lease_seconds)
        return attempt.created_at + lease < self.clock.now()

    def _values(
        self, facts: OrderFacts, event: Event | None, fields: dict[str, Any]
    ) -> dict[str, Any]:
        return _values_for(facts.order, event, fields)

    async def _apply_local(
        self,
        s: AsyncSession,
        facts: OrderFacts,
        plan: Local,
        req: ActionRequest,
        release: dict[str, Any],
    ) -> ActionResult:
        values = {**self._values(facts, plan.event, plan.fields), **release}
        label = OPERATION_LABELS.get(plan.operation, plan.operation)
        if all(getattr(facts.order, k) == v for k, v in values.items()):
            # Nothing changes (a repeated click on an action already done): 決済履歴 keeps
            # one row per provider call or real change, so the repeat adds none.
            return ActionResult(facts.order.id, "local", f"{label}: {plan.note}", None)
        if not await repo.compare_and_set(
            s, facts.order, values, actor=req.actor, at=facts.now, reason=label
        ):
            raise InProgress("この受注は同時に更新されました。もう一度お試しください")
        attempt_id = await repo.add_attempt(
            s,
            order_id=facts.order.id,
            operation=plan.operation,
            amount=values.get("amount", facts.order.amount),
            reference=facts.order.provider_reference or facts.order.number,
            outcome="local",
            note=plan.note,
            actor=req.actor,
            created_at=facts.now,
            completed_at=facts.now,
            request={},
        )
        return ActionResult(facts.order.id, "local", f"{label}: {plan.note}", attempt_id)

    async def _apply_refusal(
        self, s: AsyncSession, facts: OrderFacts, plan: Refuse, req: ActionRequest
    ) -> None:
        """Move to the failure status where the FAQ does, and only then write 決済履歴: a
        refusal that changes nothing is the caller's 409 and no history. kessai's own code
        is kept apart from the provider's (outcome "refused", request.refusal_code)."""
        if plan.failure_event is None:
            return
        values = self._values(facts, plan.failure_event, {})
        await repo.compare_and_set(
            s, facts.order, values, actor=req.actor, at=facts.now, reason=plan.error.message
        )
        await repo.add_attempt(
            s,
            order_id=facts.order.id,
            operation=Operation.REFUSED,
            amount=facts.order.amount,
            reference=facts.order.provider_reference or facts.order.number,
            outcome="refused",
            note=plan.error.message,
            actor=req.actor,
            created_at=facts.now,
            completed_at=facts.now,
            request={"action": req.action, "refusal_code": plan.error.code},
        )

    @staticmethod
    def _sent(plan: Call, req: ActionRequest, now: datetime) -> dict[str, Any]:
        """The attempt as written ahead of the call."""
        return {
            "operation": plan.operation,
            "amount": plan.amount,
            "reference": plan.reference,
            "outcome": "sent",
            "actor": req.actor,
            "created_at": now,
            "request": {"tax": plan.new_tax, "capture": plan.capture},
        }

    def _claim_values(self, facts: OrderFacts, plan: Call) -> dict[str, Any]:
        """What the write-ahead sets on the order (besides the attempt that holds it)."""
        values = self._values(facts, plan.pre_event, plan.pre_fields)
        if plan.operation in (Operation.AUTHORIZE, Operation.AUTHORIZE_CAPTURE):
            values["authorization_count"] = facts.order.authorization_count + 1
        return values

    @staticmethod
    def _transaction(order: Order, plan: Call, req: ActionRequest) -> c.Transaction:
        return c.Transaction(
            reference=plan.reference,
            transaction_id=order.provider_transaction_id,
            amount=order.amount,
            options=req.options,
        )

    @staticmethod
    def _source(order: Order, values: dict[str, Any]) -> dict[str, str]:
        return dict(values.get("payment_source", order.payment_source) or {})

    async def _write_ahead(
        self, s: AsyncSession, facts: OrderFacts, plan: Call, req: ActionRequest
    ) -> "_Claimed | None":
        order = facts.order
        values = self._claim_values(facts, plan)
        _check_input(self._connector(facts), plan, self._source(order, values))
        attempt_id = await repo.add_attempt(
            s, order_id=order.id, **self._sent(plan, req, facts.now)
        )
        values["in_flight_attempt_id"] = attempt_id
        reason = OPERATION_LABELS.get(plan.operation, plan.operation)
        if not await repo.compare_and_set(
            s, order, values, actor=req.actor, at=facts.now, reason=reason
        ):
            return None
        connector = self._connector(facts)
        txn = self._transaction(order, plan, req)
        return _Claimed(attempt_id, plan, facts, connector, txn, self._source(order, values))

    def _connector(self, facts: OrderFacts) -> object:
        account = facts.account
        if account is None:
            raise Conflict(
                f"支払い方法「{facts.method.name}」に外部連携アカウントが設定されていません",
                code="account_missing",
            )
        return self.registry.connector_for(account)

    # --------------------------------------------------------------- step 2 + 3
    async def _call(self, order_id: int, claimed: "_Claimed", req: ActionRequest) -> ActionResult:
        answer = self._answer(claimed, await self._invoke(claimed, req))
        view: repo.Loaded | None = None
        if claimed.hot is not None:
            async with repo.hot_path(self.engine) as hot:
                written = await hot.settle(self._hot_settle(claimed, answer, req.actor))
            view = _view(claimed, None if written is None else written[0])
            if written is not None and view is not None:
                self._remember(claimed.hot, view, written[1])
        return await self._finish(order_id, claimed, answer, view, req.actor)

    def _remember(self, hot: "_Hot", view: repo.Loaded, version: int | None) -> None:
        """Keep the order as the settle wrote it, with its rows' versions, for its next
        action (not while an attempt still holds it: that one is settled the general way)."""
        if hot.versions is None or version is None or view.order.in_flight_attempt_id is not None:
            return
        _, method, account, customer = hot.versions
        self.seen.put(repo.Seen(view, (version, method, account, customer)))

    def _answer(self, claimed: "_Claimed", outcome: c.Outcome) -> "_Answer":
        """What the provider's answer means: the order's settlement and the attempt's
        completion."""
        plan = claimed.plan
        now = self.clock.now()
        settlement = settle_outcome(
            plan.operation,
            outcome,
            kind=claimed.facts.kind,
            amount=plan.amount,
            new_tax=plan.new_tax,
            now=now,
        )
        completed = {
            "outcome": outcome.kind.value,
            "provider_code": outcome.code,
            "provider_message": outcome.message,
            "provider_transaction_id": outcome.transaction_id,
            "completed_at": None if outcome.kind is c.OutcomeKind.UNKNOWN else now,
        }
        return _Answer(outcome, settlement, completed, now)

    async def _finish(
        self,
        order_id: int,
        claimed: "_Claimed",
        answer: "_Answer",
        view: repo.Loaded | None,
        actor: str,
    ) -> ActionResult:
        """Step 3 the general way when the hot path did not settle the order (`view` is
        None), then the result."""
        plan, outcome = claimed.plan, answer.outcome
        if view is None:
            async with transaction(self.sessions) as s:
                facts = await self._facts(s, order_id)
                if claimed.hot is None:
                    await repo.complete_attempt(s, claimed.attempt_id, **answer.completed)
                await self._settle(
                    s,
                    facts,
                    claimed.attempt_id,
                    answer.settlement,
                    actor,
                    plan.operation,
                    _payment(claimed.attempt_id, plan.operation, outcome),
                )
        result = ActionResult(
            order_id,
            outcome.kind.value,
            _message(plan.operation, outcome),
            claimed.attempt_id,
            outcome.code,
            outcome.message,
            outcome.redirect_url,
            view,
        )
        if outcome.kind is c.OutcomeKind.NOT_SENT:
            detail = {"attempt_id": claimed.attempt_id, "provider_message": outcome.message}
            if outcome.refused:  # nothing was sent, and the same request never will be
                raise Conflict(
                    outcome.message or result.message,
                    code=outcome.code or UNSUPPORTED,
                    detail=detail,
                )
            raise ProviderUnavailable(result.message, detail=detail)
        return result

    async def _invoke(self, claimed: "_Claimed", req: ActionRequest) -> c.Outcome:
        account = claimed.facts.account
        provider = account.provider if account is not None else "none"
        operation = claimed.plan.operation
        started = time.perf_counter()
        with bound(order_id=claimed.facts.order.id, provider=provider):
            if claimed.hot is None or account is None:
                outcome = await self._invoke_connector(claimed, req)
            else:
                with known_reference(account.id, claimed.plan.reference, claimed.hot.stored):
                    outcome = await self._invoke_connector(claimed, req)
            _observed(provider, operation, outcome.kind.value, started)
        return outcome

    async def _invoke_connector(self, claimed: "_Claimed", req: ActionRequest) -> c.Outcome:
        plan, conn, txn = claimed.plan, claimed.connector, claimed.txn
        try:
            if plan.operation in (Operation.AUTHORIZE, Operation.AUTHORIZE_CAPTURE):
                if not isinstance(conn, c.Authorizer):
                    raise _unsupported(claimed.facts, "オーソリ")
                return await conn.authorize(
                    c.AuthorizeRequest(
                        reference=plan.reference,
                        amount=claimed.facts.order.amount,
                        tax=claimed.facts.order.tax,
                        capture=plan.capture,
                        source=claimed.source,
                        options=req.options,
                        method=claimed.facts.method.method_type,
                    )
                )
            if plan.operation == Operation.COMPLETE_CHALLENGE:
                assert isinstance(conn, ChallengeCompleter)
                return await conn.complete_challenge(plan.reference)
            if plan.operation == Operation.CAPTURE:
                if not isinstance(conn, c.Capturer):
                    raise _unsupported(claimed.facts, "売上処理")
                return await conn.capture(txn, plan.shipment)
            if plan.operation in (Operation.CANCEL, Operation.VOID):
                if not isinstance(conn, c.Canceller):
                    raise _unsupported(claimed.facts, "取消処理")
                return await conn.cancel(txn, captured=claimed.facts.order.captured_at is not None)
            if plan.operation == Operation.CHANGE_AMOUNT:
                if not isinstance(conn, c.AmountChanger):
                    raise _unsupported(claimed.facts, "金額変更")
                assert plan.amount is not None
                return await conn.change_amount(
                    txn, plan.amount, captured=claimed.facts.order.captured_at is not None
                )
        except _Unsupported as exc:
            return c.refused(UNSUPPORTED, str(exc))
        except Exception as exc:  # the call may have reached the provider: unknown, never lost
            log.warning("provider call failed: %s", type(exc).__name__)
            return c.Outcome(c.OutcomeKind.UNKNOWN, message=f"{type(exc).__name__}: {exc}")
        raise ValueError(f"unknown operation {plan.operation}")

    @staticmethod
    def _hot_settle(claimed: "_Claimed", answer: "_Answer", actor: str) -> repo.Settle:
        """Step 3 in one statement: the attempt completed, and the order moved if it is
        still as claimed (else the attempt is completed all the same and the general way
        settles the order)."""
        assert claimed.hot is not None
        order = claimed.hot.claimed
        settlement = answer.settlement
        values = _values_for(order, settlement.event, settlement.fields)
        if not settlement.keep_in_flight:
            values["in_flight_attempt_id"] = None
        operation = claimed.plan.operation
        changes = repo.changes_of(order, values)
        reason = OPERATION_LABELS.get(operation, operation)
        payment = _payment(claimed.attempt_id, operation, answer.outcome)
        return repo.Settle(
            order,
            claimed.attempt_id,
            answer.completed,
            values,
            changes,
            actor=actor,
            at=answer.now,
            reason=reason,
            event=repo.order_event(
                order, values, changes, actor=actor, at=answer.now, reason=reason, payment=payment
            ),
        )

    async def _settle(
        self,
        s: AsyncSession,
        facts: OrderFacts,
        attempt_id: int,
        settlement: Settlement,
        actor: str,
        operation: str,
        payment: dict[str, Any] | None = None,
    ) -> None:
        order = facts.order
        if order.in_flight_attempt_id != attempt_id:
            # Settled meanwhile (a 強制処理 or a reconcile won): the record above suffices.
            return
        values = self._values(facts, settlement.event, settlement.fields)
        if not settlement.keep_in_flight:
            values["in_flight_attempt_id"] = None
        reason = OPERATION_LABELS.get(operation, operation)
        if not await repo.compare_and_set(
            s, order, values, actor=actor, at=facts.now, reason=reason, payment=payment
        ):
            raise InProgress("この受注は同時に更新されました。もう一度お試しください")

    # --------------------------------------------------------------- reconcile
    async def _reconcile(self, order_id: int, held: PaymentAttempt, actor: str) -> ActionResult:
        """Ask the provider what became of an attempt whose answer we never got."""
        async with transaction(self.sessions) as s:
            facts = await self._facts(s, order_id)
            connector = self._connector(facts)
        found = await self._lookup(facts, connector, held.reference, actor)
        now = self.clock.now()
        async with transaction(self.sessions) as s:
            facts = await self._facts(s, order_id)
            settlement = settle_lookup(
                held.operation,
                found,
                kind=facts.kind,
                amount=held.amount,
                now=now,
                new_tax=(held.request or {}).get("tax"),  # written ahead with the attempt
            )
            outcome = _attempt_outcome(settlement, found)
            await repo.complete_attempt(
                s,
                held.id,
                outcome=outcome,
                provider_transaction_id=found.transaction_id,
                provider_code=found.code,
                provider_message=found.message,
                note="決済照会により確定"
                if outcome != "not_sent"
                else "決済照会の結果、決済サービスでは処理されていませんでした",
                completed_at=now,
            )
            payment = {
                "attempt_id": held.id,
                "operation": held.operation,
                "outcome": outcome,
                "provider_code": found.code,
            }
            await self._settle(s, facts, held.id, settlement, actor, Operation.LOOKUP, payment)
        return ActionResult(
            order_id, outcome, _lookup_message(found), held.id, found.code, found.message
        )

    def _waiting(self, facts: OrderFacts) -> "_Waiting":
        """決済照会 on an order the provider is still deciding (与信審査中, 3-D Secure)."""
        status = PaymentStatus(facts.order.payment_status)
        waiting = status is PaymentStatus.CREDIT_CHECK_PENDING or facts.awaiting_customer
        if not waiting:
            raise Conflict(
                f"決済状況「{status.label}」の受注には照会が必要な決済はありません",
                code="nothing_to_reconcile",
            )
        return _Waiting(facts, self._connector(facts))

    async def _reconcile_waiting(self, waiting: "_Waiting", actor: str) -> ActionResult:
        # The lookup runs outside any transaction, like every provider call; its answer is
        # applied only to the order as it was read before asking.
        seen = waiting.facts.order
        reference = seen.provider_reference or seen.number
        found = await self._lookup(waiting.facts, waiting.connector, reference, actor)
        async with transaction(self.sessions) as s:
            facts = await self._facts(s, seen.id)
            settlement = settle_lookup(
                "pending", found, kind=facts.kind, amount=facts.order.amount, now=facts.now
            )
            if settlement.event is not None:
                changed = facts.order.version != seen.version
                if changed or not await repo.compare_and_set(
                    s,
                    facts.order,
                    self._values(facts, settlement.event, settlement.fields),
                    actor=actor,
                    at=facts.now,
                    reason="決済照会",
                ):
                    raise InProgress(
                        "照会中に受注が更新されました。もう一度お試しください",
                        detail={"provider_state": found.state.value},
                    )
        outcome = _attempt_outcome(settlement, found)
        return ActionResult(
            seen.id, outcome, _lookup_message(found), None, found.code, found.message
        )

    async def _lookup(
        self,
        facts: OrderFacts,
        connector: object,
        reference: str,
        actor: str,
    ) -> c.Lookup:
        if not isinstance(connector, c.Reconciler):
            raise Conflict(
                f"{facts.method.name}は決済照会に対応していません。決済サービスの管理画面で確認し、"
                "強制売上処理または強制取消処理を実行してください",
                code="lookup_unsupported",
            )
        now = self.clock.now()
        provider = facts.account.provider if facts.account is not None else "none"
        started = time.perf_counter()
        with bound(order_id=facts.order.id, provider=provider):
            try:
                found: c.Lookup | None = await connector.lookup(reference)
                error = None
            except Exception as exc:  # unreachable: the order stays held, nothing is guessed
                found, error = None, f"{type(exc).__name__}: {exc}"
            _observed(provider, Operation.LOOKUP, "succeeded" if found else "not_sent", started)
        values = {
            "order_id": facts.order.id,
            "operation": Operation.LOOKUP,
            "amount": found.amount if found else None,
            "reference": reference,
            "outcome": "succeeded" if found else "not_sent",
            "provider_code": found.code if found else None,
            "provider_message": error or (found.message if found else None),
            "provider_transaction_id": found.transaction_id if found else None,
            "note": f"照会結果: {found.state.value}" if found else "照会できませんでした",
            "actor": actor,
            "created_at": now,
            "completed_at": now,
            "request": {},
        }
        async with transaction(self.sessions) as s:
            await repo.add_attempt(s, **values)
        if found is None:
            raise ProviderUnavailable(
                "決済サービスに照会できませんでした。時間をおいて再度お試しください",
                detail={"provider_message": error},
            )
        return found


@dataclass(frozen=True)
class _Hot:
    """A hot-path claim: the order as the write-ahead left it, and what was loaded with it."""

    claimed: Order
    loaded: repo.Loaded
    stored: dict[str, Any] | None  # the reference's data in the connector's store
    versions: tuple[int, int, int, int] | None = None  # of the rows when read (repo.Seen)


@dataclass(frozen=True)
class _HotPlan:
    """A hot-path write-ahead about to be written, and what the call needs once it is."""

    write: repo.WriteAhead
    plan: Call
    facts: OrderFacts
    connector: object
    txn: c.Transaction
    source: dict[str, str]
    loaded: repo.Loaded

    def claimed(
        self, claim: repo.Claim, versions: tuple[int, int, int, int] | None = None
    ) -> "_Claimed":
        order = self.write.order
        held = {
            **self.write.values,
            "in_flight_attempt_id": claim.attempt_id,
            "version": order.version + 1,
            "updated_at": self.write.at,
        }
        return _Claimed(
            claim.attempt_id,
            self.plan,
            self.facts,
            self.connector,
            self.txn,
            self.source,
            hot=_Hot(repo.with_values(order, held), self.loaded, claim.stored, versions),
        )


@dataclass(frozen=True)
class _Answer:
    """A provider's answer to a claimed call, and what it means for the attempt and order."""

    outcome: c.Outcome
    settlement: Settlement
    completed: dict[str, Any]  # the attempt's completion
    now: datetime


def _observed(provider: str, operation: str, outcome: str, started: float) -> None:
    """A provider call's metrics, and its line when DEBUG is on."""
    elapsed = time.perf_counter() - started
    metrics.observe_provider_call(provider, operation, outcome, elapsed)
    if log.isEnabledFor(logging.DEBUG):
        log.debug(
            "provider call",
            extra={"operation": operation, "outcome": outcome, "duration_ms": elapsed * 1000},
        )


def _view(claimed: "_Claimed", settled: Order | None) -> repo.Loaded | None:
    """The order as the hot settle wrote it, with what was loaded with it."""
    if settled is None or claimed.hot is None:
        return None
    loaded = claimed.hot.loaded
    return repo.Loaded(settled, loaded.method, loaded.account, loaded.customer)


@dataclass(frozen=True)
class _Claimed:
    attempt_id: int
    plan: Call
    facts: OrderFacts
    connector: object
    txn: c.Transaction
    source: dict[str, str]
    hot: _Hot | None = None


@dataclass(frozen=True)
class _Waiting:
    """An order the provider is still deciding, to be looked up outside any transaction."""

    facts: OrderFacts
    connector: object


class _Unsupported(Exception):
    pass


class _LostRace(Exception):
    """The compare-and-set found the order changed since it was read."""


def _values_for(order: Order, event: Event | None, fields: dict[str, Any]) -> dict[str, Any]:
    """`fields`, and the statuses `event` moves the order to from where it is."""
    values = dict(fields)
    if event is not None:
        status = PaymentStatus(order.payment_status)
        handling = HandlingStatus(order.handling_status)
        values["payment_status"] = next_status(status, event).value
        values["handling_status"] = handling_after(event, handling).value
    return values


def _payment(attempt_id: int, operation: str, outcome: c.Outcome) -> dict[str, Any]:
    """What a provider call did, for its event (payment.<outcome>)."""
    return {
        "attempt_id": attempt_id,
        "operation": operation,
        "outcome": outcome.kind.value,
        "provider_code": outcome.code,
    }


# The code of an operation the connector does not declare (refused before any call).
UNSUPPORTED = "operation_unsupported"


def _check_input(connector: object, plan: Call, source: dict[str, str]) -> None:
    """The connector's own input rules, before anything is written or sent (InvalidInput)."""
    if not isinstance(connector, c.InputChecker):
        return
    problem = connector.check_input(
        c.Intended(plan.operation, plan.reference, plan.amount, source, plan.shipment)
    )
    if problem is not None:
        detail = {"field": problem.field} if problem.field else {}
        raise InvalidInput(problem.message, code=problem.code, detail=detail)


def _unsupported(facts: OrderFacts, what: str) -> _Unsupported:
    return _Unsupported(f"{facts.method.name}の接続モジュールは{what}に対応していません")


# The provider operations each action starts: a retry of the same request after a lost
# answer is answered by what the lookup found, never by a second call or a 409.
_ACTION_OPERATIONS: dict[Action, frozenset[str]] = {
    Action.AUTHORIZE: frozenset({Operation.AUTHORIZE, Operation.AUTHORIZE_CAPTURE}),
    Action.REAUTHORIZE: frozenset({Operation.AUTHORIZE, Operation.AUTHORIZE_CAPTURE}),
    Action.CAPTURE: frozenset({Operation.CAPTURE}),
    Action.CANCEL: frozenset({Operation.CANCEL}),
    Action.CHANGE_AMOUNT: frozenset({Operation.CHANGE_AMOUNT}),
}


def _retry_of(
    req: ActionRequest, action: Action, held: PaymentAttempt, settled: ActionResult
) -> bool:
    """Was the settled attempt this same request, and did the provider act on it?"""
    if held.operation not in _ACTION_OPERATIONS.get(action, frozenset()):
        return False
    if action is Action.CHANGE_AMOUNT and held.amount != req.amount:
        return False
    return settled.outcome != c.OutcomeKind.NOT_SENT


def _attempt_outcome(settlement: Settlement, found: c.Lookup) -> str:
    if settlement.event is None:
        return "pending" if found.state is c.ProviderState.PENDING else "not_sent"
    if settlement.event in FAILURE_EVENTS:
        return "declined"
    if settlement.event is Event.CREDIT_CHECK_STARTED:
        return "pending"
    return "succeeded"


def _message(operation: str, outcome: c.Outcome) -> str:
    label = OPERATION_LABELS.get(operation, operation)
    k = outcome.kind
    if k is c.OutcomeKind.SUCCEEDED:
        return f"{label}が完了しました"
    if k is c.OutcomeKind.DECLINED:
        return f"{label}に失敗しました: {outcome.code or ''} {outcome.message or ''}".strip()
    if k is c.OutcomeKind.PENDING:
        if outcome.redirect_url:
            return f"{label}: お客様の認証(3Dセキュア)待ちです"
        return f"{label}: 与信審査中です"
    if k is c.OutcomeKind.NOT_SENT:
        if outcome.refused:
            return f"{label}: 送信しませんでした({outcome.message or outcome.code})"
        return f"{label}: 決済サービスに接続できませんでした(送信されていません)"
    return (
        f"{label}: 決済サービスからの応答がありませんでした。"
        "次の処理の前に決済照会で結果を確定します"
    )


def _lookup_message(found: c.Lookup) -> str:
    return f"決済照会: 決済サービス上の状態は「{_STATE_LABELS[found.state]}」です"


_STATE_LABELS = {
    c.ProviderState.NONE: "取引なし",
    c.ProviderState.PENDING: "審査中",
    c.ProviderState.AUTHORIZED: "仮売上",
    c.ProviderState.CAPTURED: "売上済",
    c.ProviderState.CANCELED: "取消済",
    c.ProviderState.DECLINED: "失敗",
}
