"""KOMOJU: WeChat Pay and Alipay through a session the customer pays on KOMOJU's page, and
credit card payments by token.

One connector per account (KomojuConfig) and the account's ReferenceStore, keyed by our
reference for the attempt:
- authorize, wallet (source `session_id`: the session the storefront opened and the customer
  came back from): Get Session; its payment is taken as it is (WeChat Pay and Alipay are
  captured when paid, seed 003's デフォルトでオーソリ確定). A session still waiting is pending
  (the customer goes to its session_url); a failed payment or a cancelled session is
  KOMOJU's word for the decline;
- authorize, card (source `token`): Create Payment with capture = オーソリ時確定 and our
  reference as external_order_num; X-KOMOJU-IDEMPOTENCY is our reference, so a retry after a
  lost answer gets the same payment;
- capture: Capture Payment; cancel: Cancel Payment before capture, Refund Payment (the whole
  amount) after — WeChat Pay / Alipay link the cancel by default (seed 003);
- lookup: Get Payment by the stored id, else through the session, else List Payments by
  external_order_num.
"""

import re
from collections.abc import Mapping
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
    not_sent,
    refused,
)
from kessai.providers.komoju import declines
from kessai.providers.komoju.config import KomojuConfig
from kessai.providers.komoju.http import KomojuClient, Reply, error_of
from kessai.providers.rest import outcome_of_transport
from kessai.providers.store import ReferenceStore
from kessai.providers.transport import TransportError
from kessai.providers.vault import ProviderError, ProviderUnreachable

CURRENCY = "JPY"
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")

STATES: dict[str, ProviderState] = {
    "pending": ProviderState.PENDING,
    "authorized": ProviderState.AUTHORIZED,
    "captured": ProviderState.CAPTURED,
    "refunded": ProviderState.CANCELED,
    "cancelled": ProviderState.CANCELED,
    "expired": ProviderState.CANCELED,
    "failed": ProviderState.DECLINED,
}


def outcome_of_error(reply: Reply, stage: DeclineStage = DeclineStage.PAYMENT) -> Outcome:
    code, message = error_of(reply)
    if not declines.is_decline(code):
        stage = DeclineStage.SYSTEM
    return Outcome(
        OutcomeKind.DECLINED,
        code=code,
        message=declines.message_for(code, message),
        stage=stage,
        hard=declines.is_final_decline(code),
    )


def _declined(code: str) -> Outcome:
    return Outcome(
        OutcomeKind.DECLINED,
        code=code,
        message=declines.message_for(code),
        hard=declines.is_final_decline(code),
    )


def _payment_outcome(payment: Mapping[str, Any]) -> Outcome:
    status = str(payment.get("status") or "")
    ident = str(payment.get("id") or "") or None
    if status in ("authorized", "captured"):
        return Outcome(OutcomeKind.SUCCEEDED, transaction_id=ident, captured=status == "captured")
    if status in declines.REASONS:
        return _declined(status)
    if status == "pending":
        return Outcome(OutcomeKind.PENDING, transaction_id=ident)
    return Outcome(OutcomeKind.UNKNOWN, message=f"KOMOJUの決済の状態: {status}")


def _amount(payment: Mapping[str, Any]) -> int | None:
    value = payment.get("amount")
    return value if isinstance(value, int) else None


class KomojuConnector:
    """Authorizer, Capturer, Canceller and Reconciler for one KOMOJU account."""

    def __init__(self, account_id: int, settings: Mapping[str, Any], store: ReferenceStore) -> None:
        self.account_id = account_id
        self.config = KomojuConfig.from_settings(settings)
        self.store = store
        self.client = KomojuClient(self.config)

    def __repr__(self) -> str:
        return f"KomojuConnector(account_id={self.account_id}, config={self.config!r})"

    async def aclose(self) -> None:
        await self.client.aclose()

    # ------------------------------------------------------------------ authorize
    async def authorize(self, request: AuthorizeRequest) -> Outcome:
        ref = request.reference
        session, token = request.source.get("session_id"), request.source.get("token")
        if session and _ID.fullmatch(session):
            await self.store.put(ref, session=session, amount=request.amount)
            return await self._adopt(ref, session, request.amount)
        if token and _ID.fullmatch(token):
            return await self._pay(ref, token, request)
        return refused(
            "payment_source_missing",
            "KOMOJUの決済セッション(session_id)またはカードのトークン(token)を指定してください",
        )

    async def _adopt(self, ref: str, session: str, amount: int) -> Outcome:
        try:
            reply = await self.client.call("GetSession", "GET", f"sessions/{session}")
        except TransportError as exc:
            return outcome_of_transport(exc)
        if not reply.ok:
            return outcome_of_error(reply)
        status = str(reply.body.get("status") or "")
        payment = reply.body.get("payment")
        if status == "cancelled":
            return _declined("cancelled")
        if not isinstance(payment, dict):  # the customer has not paid yet
            url = reply.body.get("session_url")
            return Outcome(OutcomeKind.PENDING, redirect_url=str(url) if url else None)
        if _amount(payment) != amount:
            return Outcome(
                OutcomeKind.DECLINED,
                code="amount_mismatch",
                message=f"KOMOJUの決済金額({_amount(payment)}円)が受注の金額と一致しません",
                stage=DeclineStage.SYSTEM,
            )
        await self.store.put(ref, payment=str(payment.get("id")))
        return _payment_outcome(payment)

    async def _pay(self, ref: str, token: str, request: AuthorizeRequest) -> Outcome:
        await self.store.put(ref, amount=request.amount, capture=request.capture)
        try:
            reply = await self.client.call(
                "CreatePayment",
                "POST",
                "payments",
                {
                    "amount": request.amount,
                    "currency": CURRENCY,
                    "external_order_num": ref,
                    "capture": request.capture,
                    "payment_details": token,
                },
                idempotency_key=ref,
            )
        except TransportError as exc:
            return outcome_of_transport(exc)
        if not reply.ok:
            return outcome_of_error(reply)
        await self.store.put(ref, payment=str(reply.body.get("id")))
        return _payment_outcome(reply.body)

    # ------------------------------------------------------------------ after authorize
    async def _payment_id(self, ref: str) -> str | Outcome:
        stored = await self.store.get(ref) or {}
        if stored.get("payment"):
            return str(stored["payment"])
        try:
            found = await self._find(ref, stored)
        except (ProviderUnreachable, ProviderError) as exc:
            return not_sent("payment_unknown", f"KOMOJUの決済を確認できませんでした: {exc}")
        if found is None:
            return Outcome(
                OutcomeKind.DECLINED,
                code="not_found",
                message="KOMOJUにこのオーダーの決済がありません",
                stage=DeclineStage.SYSTEM,
            )
        return str(found["id"])

    async def _post(
        self, api: str, resource: str, payload: dict[str, Any], key: str, done: tuple[str, ...]
    ) -> Outcome:
        """One change to a payment; `done`: the statuses that say it happened."""
        try:
            reply = await self.client.call(api, "POST", resource, payload, idempotency_key=key)
        except TransportError as exc:
            return outcome_of_transport(exc)
        if not reply.ok:
            return outcome_of_error(reply, DeclineStage.SYSTEM)
        status = str(reply.body.get("status") or "")
        if status in done:
            return Outcome(
                OutcomeKind.SUCCEEDED,
                transaction_id=str(reply.body.get("id") or "") or None,
                captured=status == "captured",
            )
        return Outcome(OutcomeKind.UNKNOWN, message=f"KOMOJUの決済の状態: {status}")

    async def capture(self, txn: Transaction, shipment: Shipment | None) -> Outcome:
        payment = await self._payment_id(txn.reference)
        if isinstance(payment, Outcome):
            return payment
        return await self._post(
            "CapturePayment",
            f"payments/{payment}/capture",
            {},
            f"{txn.reference}-capture",
            ("captured",),
        )

    async def cancel(self, txn: Transaction, *, captured: bool) -> Outcome:
        payment = await self._payment_id(txn.reference)
        if isinstance(payment, Outcome):
            return payment
        if captured:
            return await self._post(
                "RefundPayment",
                f"payments/{payment}/refund",
                {"amount": txn.amount},
                f"{txn.reference}-refund",
                ("refunded",),
            )
        return await self._post(
            "CancelPayment",
            f"payments/{payment}/cancel",
            {},
            f"{txn.reference}-cancel",
            ("cancelled",),
        )

    # ------------------------------------------------------------------ reconcile
    async def _get(self, api: str, resource: str) -> Reply:
        try:
            reply = await self.client.call(api, "GET", resource)
        except TransportError as exc:
            raise ProviderUnreachable(exc.reason) from None
        if not reply.ok and reply.status != 404:
            raise ProviderError(*error_of(reply))
        return reply

    async def _find(self, ref: str, stored: Mapping[str, Any]) -> dict[str, Any] | None:
        """The payment of our reference: through its session, else by external_order_num."""
        if stored.get("session"):
            reply = await self._get("GetSession", f"sessions/{stored['session']}")
            payment = reply.body.get("payment")
            found = payment if isinstance(payment, dict) else None
        else:
            reply = await self._get("ListPayments", f"payments?external_order_num={ref}")
            items = reply.body.get("data")
            found = (
                next((p for p in items if p.get("external_order_num") == ref), None)
                if isinstance(items, list)
                else None
            )
        if found is not None:
            await self.store.put(ref, payment=str(found["id"]))
        return found

    async def lookup(self, reference: str) -> Lookup:
        if not _ID.fullmatch(reference):
            return Lookup(ProviderState.NONE)
        stored = await self.store.get(reference) or {}
        payment: dict[str, Any] | None
        if stored.get("payment"):
            reply = await self._get("GetPayment", f"payments/{stored['payment']}")
            payment = reply.body if reply.ok else None
        else:
            payment = await self._find(reference, stored)
        if payment is None:
            return Lookup(ProviderState.NONE)
        status = str(payment.get("status") or "")
        state = STATES.get(status)
        if state is None:
            raise ProviderError(f"status={status}", f"KOMOJUの決済の状態「{status}」は扱えません")
        return Lookup(
            state,
            amount=_amount(payment),
            transaction_id=str(payment.get("id") or "") or None,
            code=status if state is ProviderState.DECLINED else None,
        )
