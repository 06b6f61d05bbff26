"""What a provider's answer (or a lookup by our reference) means for the order."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kessai.payments.capabilities import MethodKind
from kessai.payments.plans import Operation
from kessai.payments.status import Event
from kessai.providers.contract import DeclineStage, Lookup, Outcome, OutcomeKind, ProviderState


@dataclass(frozen=True)
class Settlement:
    """The event to apply (None: nothing happened at the provider) and the fields it sets."""

    event: Event | None
    fields: dict[str, Any] = field(default_factory=dict)
    keep_in_flight: bool = False  # still unknown: the order stays held until reconciled


def _authorized_fields(
    outcome_txn: str | None, amount: int | None, now: datetime, *, captured: bool
) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "provider_transaction_id": outcome_txn,
        "authorized_at": now,
        "authorized_amount": amount,
        "redirect_url": None,
    }
    if captured:
        fields["captured_at"] = now
    return fields


def _declined_authorization(kind: MethodKind, stage: DeclineStage) -> Event:
    if stage is DeclineStage.REGISTER:
        return Event.REGISTER_FAILED
    if stage is DeclineStage.SYSTEM:
        return Event.PAYMENT_ERROR
    return Event.CREDIT_CHECK_FAILED if kind is MethodKind.DEFERRED else Event.AUTHORIZE_FAILED


def settle_outcome(
    operation: str,
    outcome: Outcome,
    *,
    kind: MethodKind,
    amount: int | None,
    new_tax: int | None,
    now: datetime,
) -> Settlement:
    """Map a direct answer of the provider to an event and order fields."""
    k = outcome.kind
    if k is OutcomeKind.NOT_SENT:
        if operation == Operation.CAPTURE and kind is MethodKind.DEFERRED:
            return Settlement(None, _NO_SLIP)  # the 出荷報告 never left: no slip is linked
        return Settlement(None)
    if k is OutcomeKind.UNKNOWN:
        # A 後払い 出荷報告 without an answer is shown as 出荷報告依頼中 (seed 004).
        if operation == Operation.CAPTURE and kind is MethodKind.DEFERRED:
            return Settlement(Event.SHIPMENT_REPORT_SENT, keep_in_flight=True)
        return Settlement(None, keep_in_flight=True)
    if operation in (
        Operation.AUTHORIZE,
        Operation.AUTHORIZE_CAPTURE,
        Operation.COMPLETE_CHALLENGE,
    ):
        captured = operation == Operation.AUTHORIZE_CAPTURE or outcome.captured
        if k is OutcomeKind.SUCCEEDED:
            if kind is MethodKind.DEFERRED:
                return Settlement(
                    Event.CREDIT_CHECK_PASSED,
                    _authorized_fields(outcome.transaction_id, amount, now, captured=False),
                )
            return Settlement(
                Event.AUTHORIZED_CAPTURED if captured else Event.AUTHORIZED,
                _authorized_fields(outcome.transaction_id, amount, now, captured=captured),
            )
        if k is OutcomeKind.PENDING:
            pending: dict[str, Any] = {
                "provider_transaction_id": outcome.transaction_id,
                "payment_due_at": outcome.due_at,
            }
            if outcome.slip is not None:
                # コンビニ・銀行振込: 決済準備中 with the slip until the customer pays.
                return Settlement(None, {**pending, "payment_slip": dict(outcome.slip)})
            if outcome.redirect_url:
                # The customer must act (3-D Secure, or a wallet's own page such as PayPay's):
                # 決済準備中 until they come back.
                pending["redirect_url"] = outcome.redirect_url
                if kind is MethodKind.CARD:
                    pending["three_d_secure"] = True
                return Settlement(None, pending)
            return Settlement(Event.CREDIT_CHECK_STARTED, pending)
        return Settlement(
            _declined_authorization(kind, outcome.stage),
            {"provider_transaction_id": outcome.transaction_id, "redirect_url": None},
        )
    if operation == Operation.CAPTURE:
        if k is OutcomeKind.SUCCEEDED:
            return Settlement(Event.CAPTURED, {"captured_at": now})
        if kind is MethodKind.DEFERRED:
            return Settlement(Event.SHIPMENT_REPORT_FAILED, _NO_SLIP)
        return Settlement(Event.CAPTURE_FAILED)
    if operation == Operation.CANCEL:
        return Settlement(Event.CANCELED if k is OutcomeKind.SUCCEEDED else Event.CANCEL_FAILED)
    if operation == Operation.CHANGE_AMOUNT:
        if k is OutcomeKind.SUCCEEDED:
            fields: dict[str, Any] = {"amount": amount, "authorized_amount": amount}
            if new_tax is not None:
                fields["tax"] = new_tax
            if outcome.transaction_id:
                fields["provider_transaction_id"] = outcome.transaction_id
            return Settlement(Event.AMOUNT_CHANGED, fields)
        return Settlement(Event.AMOUNT_CHANGE_FAILED)
    if operation == Operation.VOID:
        if k is OutcomeKind.SUCCEEDED:
            return Settlement(Event.REAUTHORIZATION_STARTED, _cleared())
        return Settlement(None)
    raise ValueError(f"unknown operation {operation}")


# 伝票番号連携済 is undone when the provider never took the slip (seed 003: 共通インターフェース
# changes the amount only before 伝票番号連携).
_NO_SLIP: dict[str, Any] = {"tracking_reported": False}


def _cleared() -> dict[str, Any]:
    """A new authorization follows (再オーソリ): nothing of the old one, no slip sent to it."""
    return {
        "provider_transaction_id": None,
        "authorized_at": None,
        "authorized_amount": None,
        **_NO_SLIP,
    }


def settle_lookup(
    operation: str,
    found: Lookup,
    *,
    kind: MethodKind,
    amount: int | None,
    now: datetime,
    new_tax: int | None = None,
) -> Settlement:
    """Map what the provider holds for our reference to the event the lost answer meant.

    `operation` is the unsettled attempt's, or "pending" for a credit check or a
    customer step that the provider finishes on its own.
    """
    st = found.state
    if operation in (
        Operation.AUTHORIZE,
        Operation.AUTHORIZE_CAPTURE,
        Operation.COMPLETE_CHALLENGE,
        "pending",
    ):
        if st is ProviderState.NONE:
            return Settlement(None)
        if st is ProviderState.PENDING:
            if operation == "pending":
                return Settlement(None)
            return Settlement(
                Event.CREDIT_CHECK_STARTED, {"provider_transaction_id": found.transaction_id}
            )
        if st in (ProviderState.DECLINED, ProviderState.CANCELED):
            # Declined, or cancelled at the provider meanwhile: no live authorization either way.
            return Settlement(
                _declined_authorization(kind, DeclineStage.PAYMENT),
                {"provider_transaction_id": found.transaction_id, "redirect_url": None},
            )
        captured = st is ProviderState.CAPTURED
        fields = _authorized_fields(found.transaction_id, found.amount, now, captured=captured)
        if kind is MethodKind.DEFERRED:
            fields.pop("captured_at", None)
            return Settlement(Event.CREDIT_CHECK_PASSED, fields)
        return Settlement(Event.AUTHORIZED_CAPTURED if captured else Event.AUTHORIZED, fields)
    if operation == Operation.CAPTURE:
        if st is ProviderState.CAPTURED:
            return Settlement(Event.CAPTURED, {"captured_at": now})
        if kind is MethodKind.DEFERRED:
            # The provider says no 出荷報告 arrived: no slip is linked, the next one is the first.
            return Settlement(Event.SHIPMENT_REPORT_FAILED, _NO_SLIP)
        return Settlement(None)
    if operation == Operation.CANCEL:
        return Settlement(Event.CANCELED if st is ProviderState.CANCELED else None)
    if operation == Operation.CHANGE_AMOUNT:
        if found.amount == amount and st in (ProviderState.AUTHORIZED, ProviderState.CAPTURED):
            changed: dict[str, Any] = {
                "amount": amount,
                "authorized_amount": amount,
                "provider_transaction_id": found.transaction_id,
            }
            if new_tax is not None:
                changed["tax"] = new_tax
            return Settlement(Event.AMOUNT_CHANGED, changed)
        return Settlement(None)
    if operation == Operation.VOID:
        if st in (ProviderState.CANCELED, ProviderState.NONE):
            return Settlement(Event.REAUTHORIZATION_STARTED, _cleared())
        return Settlement(None)
    raise ValueError(f"unknown operation {operation}")
