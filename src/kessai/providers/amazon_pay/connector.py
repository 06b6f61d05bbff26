"""Amazon Pay API v2 (Japan): checkout session → complete → charge permission → charge.

One connector per account (AmazonPayConfig) and the account's ReferenceStore, keyed by our
reference for the attempt:
- authorize: the customer finished Amazon's checkout (source `checkout_session_id`, the
  amazonCheckoutSessionId the storefront received). Complete Checkout Session with the
  amount (paymentIntent Confirm: a OneTime charge permission), then Create Charge on that
  permission with captureNow for オーソリ時確定. Each id is stored as soon as Amazon gives it,
  before the next call, so a retry never opens a second charge;
- capture: Capture Charge with the order's amount now: an amount lowered in kessai since the
  authorization (seed 003: 減額のみ, 金額変更時には連携せず) is settled here;
- cancel: Cancel Charge before capture; after capture a Create Refund (the payment core
  refuses a cancel after オーソリ確定 for Amazon Pay before it gets here, seed 003);
- lookup: Get Charge (or Get Refund) by the stored ids; without a charge id, Get Checkout
  Session and Get Charge Permission say whether a charge exists (see `_recover`).
Amounts are integer JPY sent as strings ("1000"); Amazon refuses decimals in JPY.
Every POST carries an x-amz-pay-idempotency-key derived from our reference and the step.
"""

import hashlib
import logging
import re
from collections.abc import Mapping
from typing import Any

from kessai.providers.amazon_pay import declines
from kessai.providers.amazon_pay.config import AmazonPayConfig
from kessai.providers.amazon_pay.http import (
    AmazonPayClient,
    Reply,
    TransportError,
    reason_of,
)
from kessai.providers.contract import (
    AuthorizeRequest,
    DeclineStage,
    Lookup,
    Outcome,
    OutcomeKind,
    ProviderState,
    Shipment,
    Transaction,
    not_sent,
    refused,
)
from kessai.providers.rest import outcome_of_transport
from kessai.providers.store import ReferenceStore
from kessai.providers.vault import ProviderError, ProviderUnreachable

log = logging.getLogger("kessai.providers.amazon_pay")

CURRENCY = "JPY"
SESSION_ID = re.compile(r"[A-Za-z0-9-]{1,64}")
MAX_REFERENCE = 60

CHARGE_STATES: dict[str, ProviderState] = {
    "AuthorizationInitiated": ProviderState.PENDING,
    "Authorized": ProviderState.AUTHORIZED,
    "CaptureInitiated": ProviderState.AUTHORIZED,
    "Captured": ProviderState.CAPTURED,
    "Canceled": ProviderState.CANCELED,
    "Declined": ProviderState.DECLINED,
}


def money(amount: int) -> dict[str, str]:
    return {"amount": str(amount), "currencyCode": CURRENCY}


def idempotency_key(reference: str, step: str) -> str:
    """Unique per reference and step, the same on every retry (Amazon: at most 32 chars)."""
    return hashlib.sha256(f"{reference}:{step}".encode()).hexdigest()[:32]


def _state(body: Mapping[str, Any]) -> str:
    details = body.get("statusDetails") or {}
    return str(details.get("state") or "")


def _reason(body: Mapping[str, Any]) -> str | None:
    details = body.get("statusDetails") or {}
    reason = details.get("reasonCode")
    return str(reason) if reason else None


def _amount(value: Any) -> int | None:
    if not isinstance(value, Mapping):
        return None
    text = str(value.get("amount") or "")
    return int(text) if text.isdigit() else None


def outcome_of_error(reply: Reply, stage: DeclineStage = DeclineStage.PAYMENT) -> Outcome:
    """Amazon's refusal, its reasonCode and message verbatim."""
    code, message = reason_of(reply)
    if not declines.is_decline(code):
        stage = DeclineStage.SYSTEM
    return Outcome(
        OutcomeKind.DECLINED,
        code=code,
        message=declines.message_for(code, message),
        stage=stage,
        hard=declines.is_final_decline(code),
    )


def _declined_charge(body: Mapping[str, Any]) -> Outcome:
    code = _reason(body) or "Declined"
    details = body.get("statusDetails") or {}
    return Outcome(
        OutcomeKind.DECLINED,
        code=code,
        message=declines.message_for(code, str(details.get("reasonDescription") or "")),
        hard=declines.is_final_decline(code),
    )


class AmazonPayConnector:
    """Authorizer, Capturer, Canceller and Reconciler for one Amazon Pay (v2) account. No
    AmountChanger: seed 003 settles an amount change at capture, with no call before it."""

    def __init__(self, account_id: int, settings: Mapping[str, Any], store: ReferenceStore) -> None:
        self.account_id = account_id
        self.config = AmazonPayConfig.from_settings(settings)
        self.store = store
        self.client = AmazonPayClient(self.config)
        self.client.now = store.clock.now  # x-amz-pay-date on kessai's (sandbox) clock

    def __repr__(self) -> str:
        return f"AmazonPayConnector(account_id={self.account_id}, config={self.config!r})"

    async def aclose(self) -> None:
        await self.client.aclose()

    # ------------------------------------------------------------------ authorize
    async def authorize(self, request: AuthorizeRequest) -> Outcome:
        ref = request.reference
        if len(ref) > MAX_REFERENCE:
            return refused("invalid_reference", "参照番号が長すぎます")
        session = request.source.get("checkout_session_id") or ""
        if not SESSION_ID.fullmatch(session):
            return refused(
                "checkout_session_missing",
                "Amazon Payのチェックアウトセッション(checkout_session_id)を指定してください",
            )
        stored = await self.store.get(ref) or {}
        if stored and (stored.get("amount"), stored.get("capture")) != (
            request.amount,
            request.capture,
        ):
            return refused(
                "reference_reused",
                f"参照番号 {ref} は別の金額・処理区分で使われています。"
                "新しい参照番号で決済してください",
            )
        if not stored:
            await self.store.put(
                ref, session=session, amount=request.amount, capture=request.capture
            )
        permission = stored.get("permission")
        if not permission:
            completed = await self._complete(ref, session, request.amount)
            if isinstance(completed, Outcome):
                return completed
            permission = completed
        return await self._charge(ref, permission, request.amount, request.capture, request)

    async def _complete(self, ref: str, session: str, amount: int) -> str | Outcome:
        """Complete Checkout Session → the charge permission's id (stored at once)."""
        try:
            reply = await self.client.call(
                "CompleteCheckoutSession",
                "POST",
                f"checkoutSessions/{session}/complete",
                {"chargeAmount": money(amount)},
                idempotency_key=idempotency_key(ref, "complete"),
            )
        except TransportError as exc:
            return outcome_of_transport(exc)
        if not reply.ok:
            return outcome_of_error(reply)
        state = _state(reply.body)
        permission = reply.body.get("chargePermissionId")
        if state == "Canceled":
            return _declined_charge(reply.body)
        if state != "Completed" or not permission:
            return Outcome(OutcomeKind.UNKNOWN, message=f"チェックアウトセッションの状態: {state}")
        await self.store.put(ref, permission=str(permission))
        return str(permission)

    async def _charge(
        self, ref: str, permission: str, amount: int, capture: bool, request: AuthorizeRequest
    ) -> Outcome:
        simulation = request.options.get("amazon_simulation")
        try:
            reply = await self.client.call(
                "CreateCharge",
                "POST",
                "charges",
                self._charge_body(permission, amount, capture),
                idempotency_key=idempotency_key(ref, "charge"),
                simulation=simulation,
            )
        except TransportError as exc:
            return outcome_of_transport(exc)
        if not reply.ok:
            return outcome_of_error(reply)
        return await self._charge_outcome(ref, permission, reply.body)

    @staticmethod
    def _charge_body(permission: str, amount: int, capture: bool) -> dict[str, Any]:
        return {
            "chargePermissionId": permission,
            "chargeAmount": money(amount),
            "captureNow": capture,
            "canHandlePendingAuthorization": False,
        }

    async def _charge_outcome(self, ref: str, permission: str, body: Mapping[str, Any]) -> Outcome:
        charge = body.get("chargeId")
        if charge:
            await self.store.put(ref, charge=str(charge))
        state = _state(body)
        if state == "Declined":
            return _declined_charge(body)
        if state in ("Authorized", "Captured", "CaptureInitiated"):
            return Outcome(
                OutcomeKind.SUCCEEDED, transaction_id=permission, captured=state != "Authorized"
            )
        if state == "AuthorizationInitiated":
            return Outcome(OutcomeKind.PENDING, transaction_id=permission)
        return Outcome(OutcomeKind.UNKNOWN, message=f"Chargeの状態: {state}")

    # ------------------------------------------------------------------ after authorize
    async def _charge_id(self, ref: str) -> str | Outcome:
        stored = await self.store.get(ref) or {}
        if stored.get("charge"):
            return str(stored["charge"])
        try:
            await self._recover(ref, stored)
        except (ProviderUnreachable, ProviderError) as exc:
            return not_sent("charge_unknown", f"Chargeを確認できませんでした: {exc}")
        stored = await self.store.get(ref) or {}
        if stored.get("charge"):
            return str(stored["charge"])
        return Outcome(
            OutcomeKind.DECLINED,
            code="charge_not_found",
            message="Amazon PayにこのオーダーのChargeがありません",
            stage=DeclineStage.SYSTEM,
        )

    async def capture(self, txn: Transaction, shipment: Shipment | None) -> Outcome:
        """Capture Charge with the order's current amount (a 減額 is settled here)."""
        charge = await self._charge_id(txn.reference)
        if isinstance(charge, Outcome):
            return charge
        try:
            reply = await self.client.call(
                "CaptureCharge",
                "POST",
                f"charges/{charge}/capture",
                {"captureAmount": money(txn.amount)},
                idempotency_key=idempotency_key(txn.reference, f"capture:{txn.amount}"),
            )
        except TransportError as exc:
            return outcome_of_transport(exc)
        if not reply.ok:
            return outcome_of_error(reply)
        state = _state(reply.body)
        if state in ("Captured", "CaptureInitiated"):
            permission = str(reply.body.get("chargePermissionId") or "") or None
            return Outcome(OutcomeKind.SUCCEEDED, transaction_id=permission, captured=True)
        if state == "Declined":
            return _declined_charge(reply.body)
        return Outcome(OutcomeKind.UNKNOWN, message=f"Chargeの状態: {state}")

    async def cancel(self, txn: Transaction, *, captured: bool) -> Outcome:
        """Cancel Charge (before capture) or Create Refund for the whole amount (after)."""
        charge = await self._charge_id(txn.reference)
        if isinstance(charge, Outcome):
            return charge
        if captured:
            return await self._refund(txn, charge)
        try:
            reply = await self.client.call(
                "CancelCharge",
                "DELETE",
                f"charges/{charge}/cancel",
                {"cancellationReason": "受注取消"},
            )
        except TransportError as exc:
            return outcome_of_transport(exc)
        if not reply.ok:
            return outcome_of_error(reply, DeclineStage.SYSTEM)
        if _state(reply.body) == "Canceled":
            return Outcome(OutcomeKind.SUCCEEDED)
        return Outcome(OutcomeKind.UNKNOWN, message=f"Chargeの状態: {_state(reply.body)}")

    async def _refund(self, txn: Transaction, charge: str) -> Outcome:
        try:
            reply = await self.client.call(
                "CreateRefund",
                "POST",
                "refunds",
                {"chargeId": charge, "refundAmount": money(txn.amount)},
                idempotency_key=idempotency_key(txn.reference, f"refund:{txn.amount}"),
            )
        except TransportError as exc:
            return outcome_of_transport(exc)
        if not reply.ok:
            return outcome_of_error(reply, DeclineStage.SYSTEM)
        refund = reply.body.get("refundId")
        if refund:
            await self.store.put(txn.reference, refund=str(refund))
        state = _state(reply.body)
        if state in ("RefundInitiated", "Refunded"):
            return Outcome(OutcomeKind.SUCCEEDED, transaction_id=str(refund or "") or None)
        return Outcome(
            OutcomeKind.DECLINED,
            code=_reason(reply.body) or state,
            message=declines.message_for(_reason(reply.body) or state),
            stage=DeclineStage.SYSTEM,
        )

    # ------------------------------------------------------------------ reconcile
    async def _get(self, api: str, resource: str) -> Reply:
        try:
            reply = await self.client.call(api, "GET", resource)
        except TransportError as exc:
            raise ProviderUnreachable(exc.reason) from None
        if reply.status == 404:
            return reply
        if not reply.ok:
            raise ProviderError(*reason_of(reply))
        return reply

    async def _recover(self, ref: str, stored: Mapping[str, Any]) -> Lookup | None:
        """No charge id stored: what became of the checkout and the charge.

        Get Checkout Session names the charge permission once it is completed. Get Charge
        Permission then says whether a charge holds it: a OneTime permission is Chargeable
        until a charge is authorized on it. When it is not, the charge's answer was lost, and
        Create Charge is asked again with the same idempotency key: Amazon answers a repeated
        key with the charge it made, and can make no other on a permission a charge holds."""
        permission = stored.get("permission")
        session = stored.get("session")
        if not permission and session:
            found = await self._get("GetCheckoutSession", f"checkoutSessions/{session}")
            state = _state(found.body)
            if state == "Canceled":
                return Lookup(ProviderState.DECLINED, code=_reason(found.body))
            permission = found.body.get("chargePermissionId") if state == "Completed" else None
            if permission:
                await self.store.put(ref, permission=str(permission))
        if not permission:
            return Lookup(ProviderState.NONE)
        held = await self._get("GetChargePermission", f"chargePermissions/{permission}")
        if _state(held.body) == "Chargeable" or held.status == 404:
            return Lookup(ProviderState.NONE, transaction_id=str(permission))
        amount, capture = stored.get("amount"), stored.get("capture")
        if not isinstance(amount, int):
            raise ProviderError("charge_unknown", "Chargeの金額が記録されていません")
        try:
            reply = await self.client.call(
                "CreateCharge",
                "POST",
                "charges",
                self._charge_body(str(permission), amount, bool(capture)),
                idempotency_key=idempotency_key(ref, "charge"),
            )
        except TransportError as exc:
            raise ProviderUnreachable(exc.reason) from None
        if reply.ok and reply.body.get("chargeId"):
            await self.store.put(ref, charge=str(reply.body["chargeId"]))
            return None
        raise ProviderError(*reason_of(reply))

    async def lookup(self, reference: str) -> Lookup:
        stored = await self.store.get(reference) or {}
        if not stored.get("charge"):
            recovered = await self._recover(reference, stored)
            if recovered is not None:
                return recovered
            stored = await self.store.get(reference) or {}
        permission = stored.get("permission")
        if stored.get("refund"):
            refund = await self._get("GetRefund", f"refunds/{stored['refund']}")
            if _state(refund.body) in ("RefundInitiated", "Refunded"):
                return Lookup(ProviderState.CANCELED, _amount(refund.body.get("refundAmount")))
        charge = await self._get("GetCharge", f"charges/{stored['charge']}")
        if charge.status == 404:
            return Lookup(ProviderState.NONE, transaction_id=permission)
        state = _state(charge.body)
        found = CHARGE_STATES.get(state)
        if found is None:
            raise ProviderError(
                f"state={state}", f"Amazon PayのChargeの状態「{state}」は扱えません"
            )
        amount = (
            _amount(charge.body.get("captureAmount")) if found is ProviderState.CAPTURED else None
        )
        return Lookup(
            found,
            amount=amount or _amount(charge.body.get("chargeAmount")),
            transaction_id=str(charge.body.get("chargePermissionId") or permission or ""),
            code=_reason(charge.body),
        )
