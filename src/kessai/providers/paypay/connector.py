"""PayPay over the Open Payment API, one connector per provider account.

- authorize: a dynamic QR code (Create a QRCode, isAuthorization + authorizationExpiry for
  a pre-authorization, or an instant payment for オーソリ時確定) → pending until the customer
  pays it in the PayPay app; or, for a customer who linked PayPay (source
  `user_authorization_id`), Create a payment authorization (or Create a payment) at once.
  Our reference is the merchantPaymentId, remembered before the call: PayPay answers the
  same merchantPaymentId with the payment it already holds, never a second one;
- capture: Capture a payment authorization; cancel: Revert (authorized), Delete a QRCode
  (nobody paid yet), Cancel a payment (an instant payment until 00:14:59 the next day) or
  Refund a payment (captured); change_amount: Update a payment authorization (decrease)
  before capture, a partial refund after it;
- lookup: Get payment details by merchantPaymentId.
PayPay's own limits (limits.py) are checked before anything is sent.
"""

import logging
from collections.abc import Mapping
from datetime import datetime
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
from kessai.providers.paypay import codec, errors, limits
from kessai.providers.paypay.config import PayPayConfig
from kessai.providers.paypay.http import OpaClient, Reply
from kessai.providers.store import ReferenceStore
from kessai.providers.transport import NotSent, TransportError
from kessai.providers.vault import ProviderError, ProviderUnreachable

log = logging.getLogger("kessai.providers.paypay")

_SHOP_SIDE = frozenset({"UNAUTHORIZED", "OP_OUT_OF_SCOPE", "PRE_AUTH_CAPTURE_UNSUPPORTED_MERCHANT"})


def outcome_of(reply: Reply, stage: DeclineStage) -> Outcome:
    """PayPay's refusal → an Outcome, its code and message verbatim."""
    code = reply.code or f"HTTP{reply.status}"
    known = errors.lookup(reply.code)
    message = reply.message or (known.description if known else f"HTTP {reply.status}")
    handling = reply.handling
    if handling is errors.Handling.UNKNOWN:
        return Outcome(OutcomeKind.UNKNOWN, code=code, message=message)
    if handling is errors.Handling.RETRY or reply.code == "MAINTENANCE_MODE":
        return Outcome(OutcomeKind.NOT_SENT, code=code, message=message)
    if handling is errors.Handling.NOT_PROCESSED or reply.code in _SHOP_SIDE:
        stage = DeclineStage.SYSTEM
    return Outcome(
        OutcomeKind.DECLINED,
        code=code,
        message=message,
        stage=stage,
        hard=bool(known and known.hard),
    )


def outcome_of_transport(exc: TransportError) -> Outcome:
    if isinstance(exc, NotSent):
        return Outcome(OutcomeKind.NOT_SENT, message=exc.reason)
    return Outcome(OutcomeKind.UNKNOWN, message=exc.reason)


def _sub_id(ref: str, kind: str, n: int) -> str:
    """Our id of a capture / revert / refund / reauthorization of `ref` (≤ 64 characters)."""
    return f"{ref[:54]}_{kind}{n}"


class PayPayConnector:
    """Authorizer, Capturer, Canceller, AmountChanger and Reconciler for one PayPay account."""

    def __init__(self, account_id: int, settings: Mapping[str, Any], store: ReferenceStore) -> None:
        self.account_id = account_id
        self.config = PayPayConfig.from_settings(settings)
        self.store = store
        self._client = OpaClient(self.config)

    def __repr__(self) -> str:
        return f"PayPayConnector(account_id={self.account_id}, config={self.config!r})"

    async def aclose(self) -> None:
        await self._client.aclose()

    def _now(self) -> datetime:
        return self.store.clock.now()

    async def _send(
        self, api: str, method: str, path: str, ref: str, body: Mapping[str, Any] | None = None
    ) -> Reply | Outcome:
        try:
            return await self._client.call(api, method, path, body, ref=ref)
        except TransportError as exc:
            return outcome_of_transport(exc)

    # ------------------------------------------------------------------ authorize
    async def authorize(self, request: AuthorizeRequest) -> Outcome:
        ref = request.reference
        if not codec.MERCHANT_ID.fullmatch(ref):
            return refused("invalid_merchant_payment_id", codec.MERCHANT_ID_RULE)
        problem = limits.amount_refusal(request.amount)
        if problem:
            return refused("paypay_amount_limit", problem)
        user = request.source.get("user_authorization_id")
        flow = "qr" if not user else ("direct" if request.capture else "preauth")
        stored = await self.store.get(ref) or {}
        if stored.get("flow") and (stored.get("flow"), stored.get("amount")) != (
            flow,
            request.amount,
        ):
            return refused(
                "reference_reused",
                f"加盟店決済ID {ref} は別の金額・支払い方法で使用済みです。"
                "新しいIDで決済してください",
            )
        if stored.get("qr_url"):  # the code exists: the customer pays that one
            return Outcome(OutcomeKind.PENDING, redirect_url=stored["qr_url"])
        now = self._now()
        expiry = limits.authorization_expiry(now, self.config.authorization_days)
        body: dict[str, Any] = {
            "merchantPaymentId": ref,
            "amount": codec.money(request.amount),
            "requestedAt": codec.epoch(now),
            "orderDescription": f"ご注文 {ref}",
        }
        await self.store.put(
            ref,
            flow=flow,
            amount=request.amount,
            pre_auth=not request.capture,
            expires_at=None if request.capture else codec.epoch(expiry),
        )
        if flow == "qr":
            return await self._create_code(ref, body, capture=request.capture, expiry=expiry)
        body["userAuthorizationId"] = user
        if flow == "direct":
            api, path = "createPayment", "/v2/payments"
        else:
            api, path = "preauthorizePayment", "/v2/payments/preauthorize"
            body["expiresAt"] = codec.epoch(expiry)
        reply = await self._send(api, "POST", path, ref, body)
        if isinstance(reply, Outcome):
            return reply
        if not reply.ok:
            return outcome_of(reply, DeclineStage.PAYMENT)
        return await self._held(ref, reply.data)

    async def _create_code(
        self, ref: str, body: dict[str, Any], *, capture: bool, expiry: datetime
    ) -> Outcome:
        body |= {"codeType": "ORDER_QR", "isAuthorization": not capture}
        if not capture:
            body["authorizationExpiry"] = codec.epoch(expiry)
        if self.config.redirect_url:
            body |= {"redirectUrl": self.config.redirect_url, "redirectType": "WEB_LINK"}
        reply = await self._send("createQRCode", "POST", "/v2/codes", ref, body)
        if isinstance(reply, Outcome):
            return reply
        if reply.code == "DUPLICATE_DYNAMIC_QR_REQUEST":  # ours, its answer lost: look it up
            return Outcome(OutcomeKind.UNKNOWN, code=reply.code, message=reply.message)
        if not reply.ok:
            return outcome_of(reply, DeclineStage.REGISTER)
        url = reply.data.get("url")
        if not isinstance(url, str) or not url:
            return Outcome(OutcomeKind.UNKNOWN, message="Create a QRCodeの応答にURLがありません")
        await self.store.put(ref, qr_url=url, code_id=reply.data.get("codeId"))
        return Outcome(OutcomeKind.PENDING, redirect_url=url)

    async def _held(self, ref: str, data: Mapping[str, Any]) -> Outcome:
        """A payment PayPay answered with: authorized, captured, or not settled yet."""
        status = data.get("status")
        payment_id = data.get("paymentId") if isinstance(data.get("paymentId"), str) else None
        await self.store.put(ref, payment_id=payment_id)
        if status == "AUTHORIZED":
            return Outcome(OutcomeKind.SUCCEEDED, transaction_id=payment_id)
        if status == "COMPLETED":
            return Outcome(OutcomeKind.SUCCEEDED, transaction_id=payment_id, captured=True)
        if status == "FAILED":
            return Outcome(
                OutcomeKind.DECLINED, code="FAILED", message="PayPayで決済が失敗しました"
            )
        # CREATED: the same merchantPaymentId is still being processed
        return Outcome(OutcomeKind.UNKNOWN, code=str(status), message="PayPayで処理中です")

    # ------------------------------------------------------------------ after authorize
    async def _details(self, ref: str) -> Reply | Outcome:
        """Get payment details; any failure means nothing was changed yet."""
        if not codec.MERCHANT_ID.fullmatch(ref):
            return refused("invalid_merchant_payment_id", codec.MERCHANT_ID_RULE)
        stored = await self.store.get(ref) or {}
        if stored.get("flow") in ("preauth", "direct"):
            api, path = "getPaymentDetails", f"/v2/payments/{ref}"
        else:
            api, path = "getCodePaymentDetails", f"/v2/codes/payments/{ref}"
        reply = await self._send(api, "GET", path, ref)
        if isinstance(reply, Outcome):
            return not_sent(reply.code or "paypay_unreachable", reply.message or "")
        return reply

    async def _next(self, ref: str, kind: str) -> str:
        """A new id for the next capture / revert / refund / reauthorization of `ref`,
        counted in the store before the call."""
        stored = await self.store.get(ref) or {}
        n = int(stored.get(f"n_{kind}", 0)) + 1
        await self.store.put(ref, **{f"n_{kind}": n})
        return _sub_id(ref, kind, n)

    async def capture(self, txn: Transaction, shipment: Shipment | None) -> Outcome:
        ref = txn.reference
        if not codec.MERCHANT_ID.fullmatch(ref):
            return refused("invalid_merchant_payment_id", codec.MERCHANT_ID_RULE)
        problem = limits.amount_refusal(txn.amount)
        if problem:
            return refused("paypay_amount_limit", problem)
        stored = await self.store.get(ref) or {}
        expires = codec.from_epoch(stored.get("expires_at"))
        if expires is not None and self._now() > expires:
            return refused(
                "paypay_authorization_expired",
                f"PayPayの与信期限({limits.PREAUTH_MAX_DAYS}日以内)を過ぎているため売上確定できません",
            )
        body = {
            "merchantPaymentId": ref,
            "amount": codec.money(txn.amount),
            "merchantCaptureId": await self._next(ref, "c"),
            "requestedAt": codec.epoch(self._now()),
            "orderDescription": f"ご注文 {ref}",
        }
        reply = await self._send("capturePaymentAuth", "POST", "/v2/payments/capture", ref, body)
        if isinstance(reply, Outcome):
            return reply
        if reply.code == "USER_CONFIRMATION_REQUIRED":  # an increase the customer must accept
            return Outcome(OutcomeKind.PENDING, code=reply.code, message=reply.message)
        if not reply.ok:
            return outcome_of(reply, DeclineStage.PAYMENT)
        return Outcome(
            OutcomeKind.SUCCEEDED, transaction_id=str(reply.data.get("paymentId")), captured=True
        )

    async def cancel(self, txn: Transaction, *, captured: bool) -> Outcome:
        """What PayPay holds decides the call: revert an authorization, delete an unpaid
        code, cancel an instant payment within its window, else refund what remains."""
        ref = txn.reference
        details = await self._details(ref)
        if isinstance(details, Outcome):
            return details
        if details.code in errors.NOT_FOUND:
            return Outcome(OutcomeKind.SUCCEEDED, message="PayPayでは未決済のため取消は不要です")
        if not details.ok:
            return not_sent(details.code or "paypay_lookup_failed", details.message or "")
        data = details.data
        status = data.get("status")
        payment_id = str(data.get("paymentId") or "")
        if status == "CREATED":
            return await self._delete_code(ref)
        if status in ("AUTHORIZED", "REAUTHORIZING"):
            body = {
                "merchantRevertId": await self._next(ref, "r"),
                "paymentId": payment_id,
                "requestedAt": codec.epoch(self._now()),
                "reason": "受注取消",
            }
            return await self._change("revertAuth", "/v2/payments/preauthorize/revert", ref, body)
        left = codec.remaining(data) or 0
        if status != "COMPLETED" or left <= 0:  # reverted, refunded, expired or failed
            return Outcome(OutcomeKind.SUCCEEDED, transaction_id=payment_id or None)
        stored = await self.store.get(ref) or {}
        paid = codec.paid_at(data)
        if not stored.get("pre_auth") and paid and limits.can_cancel(paid, self._now()):
            await self.store.put(ref, n_x=1)  # FAILED will then mean our cancel
            reply = await self._send("cancelPayment", "DELETE", f"/v2/payments/{ref}", ref)
            if isinstance(reply, Outcome):
                return reply
            if reply.ok:
                return Outcome(OutcomeKind.SUCCEEDED, transaction_id=payment_id or None)
            if reply.code != "ORDER_NOT_REVERSIBLE":
                return outcome_of(reply, DeclineStage.PAYMENT)
        return await self._refund(ref, payment_id, left, paid)

    async def _delete_code(self, ref: str) -> Outcome:
        stored = await self.store.get(ref) or {}
        code_id = stored.get("code_id")
        if not code_id:
            return refused("paypay_code_unknown", "削除するPayPayのQRコードが分かりません")
        reply = await self._send("deleteQRCode", "DELETE", f"/v2/codes/{code_id}", ref)
        if isinstance(reply, Outcome):
            return reply
        if reply.ok or reply.code == "DYNAMIC_QR_NOT_FOUND":
            return Outcome(OutcomeKind.SUCCEEDED, message="PayPayのQRコードを削除しました")
        return outcome_of(reply, DeclineStage.PAYMENT)

    async def _refund(
        self, ref: str, payment_id: str, amount: int, paid: datetime | None
    ) -> Outcome:
        if paid is not None:
            problem = limits.refund_refusal(paid, self._now())
            if problem:
                return refused("paypay_refund_window", problem)
        body = {
            "merchantRefundId": await self._next(ref, "f"),
            "paymentId": payment_id,
            "amount": codec.money(amount),
            "requestedAt": codec.epoch(self._now()),
            "reason": "返金",
        }
        return await self._change("refundPayment", "/v2/refunds", ref, body)

    async def _change(self, api: str, path: str, ref: str, body: Mapping[str, Any]) -> Outcome:
        reply = await self._send(api, "POST", path, ref, body)
        if isinstance(reply, Outcome):
            return reply
        if not reply.ok:
            return outcome_of(reply, DeclineStage.PAYMENT)
        return Outcome(OutcomeKind.SUCCEEDED, transaction_id=str(body.get("paymentId") or ""))

    async def change_amount(self, txn: Transaction, new_amount: int, *, captured: bool) -> Outcome:
        """Decrease only: PayPay asks the customer to accept an increase in the app."""
        ref = txn.reference
        if new_amount > txn.amount:
            return refused(
                "paypay_increase_not_supported",
                "PayPayの決済金額はお客様の承認なしに増額できません (減額のみ可能)",
            )
        problem = limits.amount_refusal(new_amount)
        if problem:
            return refused("paypay_amount_limit", problem)
        details = await self._details(ref)
        if isinstance(details, Outcome):
            return details
        if not details.ok:
            return outcome_of(details, DeclineStage.PAYMENT)
        data = details.data
        payment_id = str(data.get("paymentId") or "")
        if captured:
            left = codec.remaining(data) or 0
            return await self._refund(ref, payment_id, left - new_amount, codec.paid_at(data))
        body = {
            "requestId": await self._next(ref, "a"),
            "paymentId": payment_id,
            "updatedAmount": codec.money(new_amount),
            "requestedAt": codec.epoch(self._now()),
        }
        reply = await self._send(
            "reauthorizePayment", "POST", "/v2/payments/reauthorize", ref, body
        )
        if isinstance(reply, Outcome):
            return reply
        if reply.code == "USER_CONFIRMATION_REQUIRED":
            return Outcome(OutcomeKind.PENDING, code=reply.code, message=reply.message)
        if not reply.ok:
            return outcome_of(reply, DeclineStage.PAYMENT)
        return Outcome(OutcomeKind.SUCCEEDED, transaction_id=payment_id or None)

    # ------------------------------------------------------------------ reconcile
    async def lookup(self, reference: str) -> Lookup:
        """Get payment details by merchantPaymentId. Raises ProviderUnreachable /
        ProviderError when PayPay cannot say: the engine then keeps the order held."""
        if not codec.MERCHANT_ID.fullmatch(reference):
            return Lookup(ProviderState.NONE, message=codec.MERCHANT_ID_RULE)
        details = await self._details(reference)
        if isinstance(details, Outcome):
            raise ProviderUnreachable(details.message or "PayPayに接続できませんでした")
        if details.code in errors.NOT_FOUND or details.status == 404:
            return Lookup(ProviderState.NONE, code=details.code, message=details.message)
        if not details.ok:
            code = details.code or f"HTTP{details.status}"
            if details.handling in (errors.Handling.UNKNOWN, errors.Handling.RETRY):
                raise ProviderUnreachable(f"{code}: {details.message}")
            raise ProviderError(code, details.message or code)
        data = details.data
        status = str(data.get("status") or "")
        state = codec.STATES.get(status)
        if state is None:
            raise ProviderError(f"status={status}", f"PayPayの決済状態「{status}」は扱えません")
        stored = await self.store.get(reference) or {}
        if status == "FAILED" and stored.get("n_x"):
            state = ProviderState.CANCELED  # our Cancel a payment: FAILED is its result
        payment_id = data.get("paymentId") if isinstance(data.get("paymentId"), str) else None
        return Lookup(
            state,
            amount=codec.remaining(data),
            transaction_id=payment_id,
            code=status if state is ProviderState.DECLINED else None,
        )
