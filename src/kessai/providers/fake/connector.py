"""A provider that lives in memory, for tests and the sandbox demo.

It keeps its own ledger (what the provider would hold), so an unknown outcome can be
reconciled against it. The outcome is chosen by the request: a sandbox scenario passed
by the caller, or one of the test amounts below.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from kessai.providers.contract import (
    AuthorizeRequest,
    DeclineStage,
    Lookup,
    Outcome,
    OutcomeKind,
    ProviderState,
    Shipment,
    Transaction,
)
from kessai.providers.sandboxes import Scenario
from kessai.providers.store import ReferenceStore

# Test amounts that pick a scenario when none is given (like real providers' test cards).
TEST_AMOUNTS: dict[int, Scenario] = {
    9001: Scenario.DECLINE,
    9002: Scenario.PENDING,
    9003: Scenario.UNKNOWN,
    9004: Scenario.PENDING_REJECT,
    9005: Scenario.HARD_DECLINE,
    9006: Scenario.REGISTER_FAIL,
    9007: Scenario.NOT_SENT,
    9008: Scenario.CHALLENGE,
}

DECLINE_CODE, DECLINE_MESSAGE = "G12", "カードが利用できません (カード会社にお問い合わせください)"
HARD_CODE, HARD_MESSAGE = "G54", "このカードは無効です (紛失・盗難届が出されています)"


CONNECTION_REFUSED = Outcome(
    OutcomeKind.NOT_SENT, message="接続できませんでした (connection refused)"
)
ANSWER_LOST = Outcome(OutcomeKind.UNKNOWN, message="応答がありませんでした (timeout)")


@dataclass
class LedgerEntry:
    reference: str
    transaction_id: str
    amount: int
    state: ProviderState
    pending_result: ProviderState | None = None
    shipment: Shipment | None = None
    history: list[str] = field(default_factory=list)


@dataclass
class FakeCall:
    operation: str
    reference: str
    amount: int | None


class FakeConnector:
    """Implements every capability; counts the calls that really reached the 'provider'."""

    def __init__(
        self,
        account_id: int,
        settings: Mapping[str, Any] | None = None,
        store: ReferenceStore | None = None,
    ) -> None:
        self.account_id = account_id
        self.latency = float((settings or {}).get("latency_seconds", 0))
        # What the 'provider' holds. With a store it outlives the process, as a real
        # provider's would (the sandbox server serves orders the demo authorized).
        self.ledger: dict[str, LedgerEntry] = {}
        self.store = store
        self.calls: list[FakeCall] = []

    # --- the capabilities: each keeps the ledger entry of its reference -------------
    async def authorize(self, request: AuthorizeRequest) -> Outcome:
        async with self._kept(request.reference):
            return await self._authorize(request)

    async def capture(self, txn: Transaction, shipment: Shipment | None) -> Outcome:
        async with self._kept(txn.reference):
            return await self._capture(txn, shipment)

    async def cancel(self, txn: Transaction, *, captured: bool) -> Outcome:
        async with self._kept(txn.reference):
            return await self._cancel(txn, captured=captured)

    async def change_amount(self, txn: Transaction, new_amount: int, *, captured: bool) -> Outcome:
        async with self._kept(txn.reference):
            return await self._change_amount(txn, new_amount, captured=captured)

    async def lookup(self, reference: str) -> Lookup:
        async with self._kept(reference):
            return await self._lookup(reference)

    @asynccontextmanager
    async def _kept(self, reference: str) -> AsyncIterator[None]:
        if self.store is not None:
            # The store is the 'provider': another process may have changed the entry since.
            saved = await self.store.get(reference)
            if saved and "fake_ledger" in saved:
                self.ledger[reference] = _entry_from(saved["fake_ledger"])
        before = _entry_to(self.ledger[reference]) if reference in self.ledger else None
        try:
            yield
        finally:
            entry = self.ledger.get(reference)
            if self.store is not None and entry is not None and _entry_to(entry) != before:
                await self.store.put(reference, fake_ledger=_entry_to(entry))

    def _new_transaction_id(self) -> str:
        return f"fake-{self.account_id}-{uuid.uuid4().hex[:12]}"

    # --- helpers -------------------------------------------------------------------
    def captures(self, reference: str | None = None) -> int:
        """How many capture calls reached the provider (for one reference, or all)."""
        return sum(
            1
            for c in self.calls
            if c.operation in ("capture", "authorize_capture")
            and (reference is None or c.reference == reference)
        )

    @staticmethod
    def _scenario(options: Mapping[str, str], amount: int | None) -> Scenario:
        raw = options.get("scenario")
        if raw:
            return Scenario(raw)
        if amount is not None and amount in TEST_AMOUNTS:
            return TEST_AMOUNTS[amount]
        return Scenario.SUCCEED

    async def _arrive(self, scenario: Scenario, call: FakeCall) -> Outcome | None:
        """The trip to the 'provider': refused before it, lost on the way, or logged there."""
        if scenario is Scenario.NOT_SENT:
            return CONNECTION_REFUSED
        await asyncio.sleep(self.latency)
        if scenario is Scenario.LOST:
            return ANSWER_LOST
        self.calls.append(call)
        return None

    def _entry(self, reference: str) -> LedgerEntry | None:
        return self.ledger.get(reference)

    # --- capabilities ----------------------------------------------------------------
    async def _authorize(self, request: AuthorizeRequest) -> Outcome:
        scenario = self._scenario(request.options, request.amount)
        operation = "authorize_capture" if request.capture else "authorize"
        refused = await self._arrive(
            scenario, FakeCall(operation, request.reference, request.amount)
        )
        if refused is not None:
            return refused
        txn_id = self._new_transaction_id()
        if scenario is Scenario.REGISTER_FAIL:
            return Outcome(
                OutcomeKind.DECLINED,
                code="E01",
                message="取引を登録できませんでした",
                stage=DeclineStage.REGISTER,
            )
        if scenario is Scenario.ERROR:
            return Outcome(
                OutcomeKind.DECLINED,
                code="E90",
                message="決済サービスでエラーが発生しました",
                stage=DeclineStage.SYSTEM,
            )
        if scenario in (Scenario.DECLINE, Scenario.HARD_DECLINE):
            hard = scenario is Scenario.HARD_DECLINE
            self.ledger[request.reference] = LedgerEntry(
                request.reference, txn_id, request.amount, ProviderState.DECLINED
            )
            return Outcome(
                OutcomeKind.DECLINED,
                code=HARD_CODE if hard else DECLINE_CODE,
                message=HARD_MESSAGE if hard else DECLINE_MESSAGE,
                transaction_id=txn_id,
                hard=hard,
            )
        done = ProviderState.CAPTURED if request.capture else ProviderState.AUTHORIZED
        if scenario in (Scenario.PENDING, Scenario.PENDING_REJECT, Scenario.CHALLENGE):
            result = ProviderState.DECLINED if scenario is Scenario.PENDING_REJECT else done
            self.ledger[request.reference] = LedgerEntry(
                request.reference, txn_id, request.amount, ProviderState.PENDING, result
            )
            redirect = (
                f"/sim/fake/3ds?ref={request.reference}&txn={txn_id}"
                if scenario is Scenario.CHALLENGE
                else None
            )
            return Outcome(OutcomeKind.PENDING, transaction_id=txn_id, redirect_url=redirect)
        self.ledger[request.reference] = LedgerEntry(
            request.reference, txn_id, request.amount, done
        )
        if scenario is Scenario.UNKNOWN:
            return ANSWER_LOST
        return Outcome(OutcomeKind.SUCCEEDED, transaction_id=txn_id, captured=request.capture)

    async def _capture(self, txn: Transaction, shipment: Shipment | None) -> Outcome:
        scenario = self._scenario(txn.options, None)
        refused = await self._arrive(scenario, FakeCall("capture", txn.reference, txn.amount))
        if refused is not None:
            return refused
        entry = self._entry(txn.reference)
        if entry is None or entry.state is not ProviderState.AUTHORIZED:
            state = "なし" if entry is None else entry.state.value
            return Outcome(
                OutcomeKind.DECLINED,
                code="E11",
                message=f"売上できない取引状態です (状態: {state})",
            )
        if scenario in (Scenario.DECLINE, Scenario.HARD_DECLINE):
            return Outcome(
                OutcomeKind.DECLINED, code=DECLINE_CODE, message="売上処理に失敗しました"
            )
        entry.state = ProviderState.CAPTURED
        entry.amount = txn.amount
        entry.shipment = shipment
        entry.history.append("capture")
        if scenario is Scenario.UNKNOWN:
            return ANSWER_LOST
        return Outcome(OutcomeKind.SUCCEEDED, transaction_id=entry.transaction_id, captured=True)

    async def _cancel(self, txn: Transaction, *, captured: bool) -> Outcome:
        scenario = self._scenario(txn.options, None)
        refused = await self._arrive(scenario, FakeCall("cancel", txn.reference, txn.amount))
        if refused is not None:
            return refused
        entry = self._entry(txn.reference)
        if entry is None or entry.state in (ProviderState.CANCELED, ProviderState.DECLINED):
            return Outcome(OutcomeKind.DECLINED, code="E12", message="取消できない取引状態です")
        if scenario in (Scenario.DECLINE, Scenario.HARD_DECLINE):
            return Outcome(OutcomeKind.DECLINED, code="E12", message="取消処理に失敗しました")
        entry.state = ProviderState.CANCELED
        entry.history.append("cancel")
        if scenario is Scenario.UNKNOWN:
            return ANSWER_LOST
        return Outcome(OutcomeKind.SUCCEEDED, transaction_id=entry.transaction_id)

    async def _change_amount(self, txn: Transaction, new_amount: int, *, captured: bool) -> Outcome:
        scenario = self._scenario(txn.options, None)
        refused = await self._arrive(scenario, FakeCall("change_amount", txn.reference, new_amount))
        if refused is not None:
            return refused
        entry = self._entry(txn.reference)
        if entry is None or entry.state not in (ProviderState.AUTHORIZED, ProviderState.CAPTURED):
            return Outcome(OutcomeKind.DECLINED, code="E13", message="金額変更できない取引状態です")
        if scenario in (Scenario.DECLINE, Scenario.HARD_DECLINE):
            return Outcome(
                OutcomeKind.DECLINED, code=DECLINE_CODE, message="金額変更に失敗しました"
            )
        # After capture the provider cancels the sale and charges the new amount.
        entry.history.append(
            f"cancel {entry.amount} + charge {new_amount}" if captured else f"amount {new_amount}"
        )
        entry.amount = new_amount
        if captured:
            entry.transaction_id = self._new_transaction_id()
        if scenario is Scenario.UNKNOWN:
            return ANSWER_LOST
        return Outcome(OutcomeKind.SUCCEEDED, transaction_id=entry.transaction_id)

    async def _lookup(self, reference: str) -> Lookup:
        await asyncio.sleep(self.latency)
        self.calls.append(FakeCall("lookup", reference, None))
        entry = self._entry(reference)
        if entry is None:
            return Lookup(ProviderState.NONE)
        if entry.state is ProviderState.PENDING and entry.pending_result is not None:
            # The credit check (or the customer's 3-D Secure step) has finished meanwhile.
            entry.state, entry.pending_result = entry.pending_result, None
        code, message = (
            (DECLINE_CODE, DECLINE_MESSAGE)
            if entry.state is ProviderState.DECLINED
            else (None, None)
        )
        return Lookup(
            entry.state,
            amount=entry.amount,
            transaction_id=entry.transaction_id,
            code=code,
            message=message,
            shipment_reported=entry.shipment is not None,
        )


def _entry_to(entry: LedgerEntry) -> dict[str, Any]:
    shipment = entry.shipment
    return {
        "reference": entry.reference,
        "transaction_id": entry.transaction_id,
        "amount": entry.amount,
        "state": entry.state.value,
        "pending_result": entry.pending_result.value if entry.pending_result else None,
        "shipment": None
        if shipment is None
        else [shipment.shipped_on.isoformat(), shipment.tracking_number, shipment.carrier],
        "history": list(entry.history),
    }


def _entry_from(data: Mapping[str, Any]) -> LedgerEntry:
    shipment = data.get("shipment")
    return LedgerEntry(
        reference=data["reference"],
        transaction_id=data["transaction_id"],
        amount=int(data["amount"]),
        state=ProviderState(data["state"]),
        pending_result=ProviderState(data["pending_result"]) if data["pending_result"] else None,
        shipment=None
        if not shipment
        else Shipment(date.fromisoformat(shipment[0]), shipment[1], shipment[2]),
        history=list(data.get("history", [])),
    )
