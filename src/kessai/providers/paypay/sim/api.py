"""The Open Payment API's operations as the simulator answers them: PayPay's status codes,
result codes and JSON, its rules (who may be captured, reverted, cancelled or refunded and
until when), and which answer moves a payment so that a webhook follows."""

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from kessai.providers.paypay import errors, limits
from kessai.providers.paypay.sim.state import USER_DECLINES, Payment, State

SUCCESS_CODE_ID = "08100001"  # PayPay's codeId of SUCCESS / REQUEST_ACCEPTED


class Refused(Exception):
    """PayPay's refusal: its result code (and HTTP status from its table)."""

    def __init__(self, code: str, message: str | None = None, status: int | None = None) -> None:
        known = errors.lookup(code)
        super().__init__(code)
        self.code = code
        self.status = status or (known.status if known else 400)
        self.message = message or (known.description if known else code)


@dataclass
class Answer:
    status: int
    data: Any
    code: str = "SUCCESS"
    message: str = "Success"
    code_id: str | None = SUCCESS_CODE_ID
    moved: list[Payment] = field(default_factory=list)  # payments this call changed
    notify: list[Payment] = field(default_factory=list)  # whose webhook follows

    def body(self) -> dict[str, Any]:
        info: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.code_id:
            info["codeId"] = self.code_id
        return {"resultInfo": info, "data": self.data}


@dataclass
class Ctx:
    state: State
    base_url: str
    qr_minutes: int

    def now(self) -> int:
        return self.state.epoch()


Handler = Callable[[Ctx, Mapping[str, Any], Mapping[str, str]], Answer]


# --- reading requests ------------------------------------------------------------------------
def _text(body: Mapping[str, Any], key: str, *, required: bool = True, size: int = 64) -> str:
    value = body.get(key)
    if value is None or value == "":
        if required:
            raise Refused("MISSING_REQUEST_PARAMS", f"{key} is required")
        return ""
    if not isinstance(value, str) or len(value) > size:
        raise Refused("INVALID_PARAMS", f"{key} is invalid")
    return value


def _money(body: Mapping[str, Any], key: str) -> int:
    value = body.get(key)
    if not isinstance(value, Mapping) or "amount" not in value:
        raise Refused("MISSING_REQUEST_PARAMS", f"{key} is required")
    amount = value.get("amount")
    if value.get("currency") != "JPY":
        raise Refused("INVALID_REQUEST_PARAMS", "unsupported currency")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 1:
        raise Refused("INVALID_PARAMS", f"{key}.amount is invalid")
    return amount


def _epoch(body: Mapping[str, Any], key: str, *, required: bool = True) -> int | None:
    value = body.get(key)
    if value is None:
        if required:
            raise Refused("MISSING_REQUEST_PARAMS", f"{key} is required")
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise Refused("INVALID_PARAMS", f"{key} is invalid")
    return value


def _expire(ctx: Ctx, payment: Payment) -> Payment | None:
    """An authorization past its end lapses (EXPIRED) when next looked at."""
    if payment.status == "AUTHORIZED" and payment.expires_at and ctx.now() > payment.expires_at:
        payment.status = "EXPIRED"
        return payment
    return None


def _payment(ctx: Ctx, merchant_payment_id: str) -> Payment | None:
    return ctx.state.payments.get(merchant_payment_id)


def _by_id(ctx: Ctx, body: Mapping[str, Any]) -> Payment:
    payment = ctx.state.by_payment_id(_text(body, "paymentId"))
    if payment is None:
        raise Refused("RESOURCE_NOT_FOUND")
    return payment


# --- Create a QRCode / Delete a QRCode / the customer pays -----------------------------------
def create_qr_code(ctx: Ctx, body: Mapping[str, Any], _q: Mapping[str, str]) -> Answer:
    ref = _text(body, "merchantPaymentId")
    amount = _money(body, "amount")
    if body.get("codeType") != "ORDER_QR":
        raise Refused("DYNAMIC_QR_BAD_REQUEST", "codeType must be ORDER_QR")
    requested = _epoch(body, "requestedAt", required=False) or ctx.now()
    is_auth = body.get("isAuthorization") is True
    expiry = _epoch(body, "authorizationExpiry", required=False)
    if is_auth and expiry is not None and expiry > ctx.now() + limits.PREAUTH_MAX_DAYS * 86400:
        raise Refused("PRE_AUTH_CAPTURE_INVALID_EXPIRY_DATE")
    if ref in ctx.state.payments:
        raise Refused("DUPLICATE_DYNAMIC_QR_REQUEST")
    code_id = f"04-{secrets.token_hex(8)}"
    code_ends = ctx.now() + ctx.qr_minutes * 60
    payment = Payment(
        merchant_payment_id=ref,
        payment_id=ctx.state.new_payment_id(),
        amount=amount,
        is_authorization=is_auth,
        status="CREATED",
        requested_at=requested,
        order_description=_text(body, "orderDescription", required=False, size=255) or None,
        code_id=code_id,
        expires_at=expiry if is_auth else None,
        code_ends=code_ends,
    )
    ctx.state.payments[ref] = payment
    ctx.state.codes[code_id] = ref
    data = {
        "codeId": code_id,
        "url": f"{ctx.base_url}/qr/{code_id}",
        "deeplink": f"paypay://payment?link_key={code_id}",
        "expiryDate": code_ends,
        "merchantPaymentId": ref,
        "amount": {"amount": amount, "currency": "JPY"},
        "orderDescription": payment.order_description,
        "codeType": "ORDER_QR",
        "requestedAt": requested,
        "redirectUrl": body.get("redirectUrl"),
        "redirectType": body.get("redirectType"),
        "isAuthorization": is_auth,
        "authorizationExpiry": payment.expires_at,
    }
    return Answer(201, data, moved=[payment])


def delete_qr_code(ctx: Ctx, _body: Mapping[str, Any], q: Mapping[str, str]) -> Answer:
    ref = ctx.state.codes.get(q["codeId"])
    payment = _payment(ctx, ref) if ref else None
    if payment is None or payment.status != "CREATED":
        raise Refused("DYNAMIC_QR_NOT_FOUND")
    payment.status = "DELETED"
    return Answer(200, {"qrStatus": "DELETED"}, moved=[payment])


def customer_pays(ctx: Ctx, code_id: str, *, pay: bool) -> Payment | None:
    """The customer scans the code and pays (or their wallet refuses); None when the code
    cannot be paid any more."""
    ref = ctx.state.codes.get(code_id)
    payment = _payment(ctx, ref) if ref else None
    if payment is None or payment.status != "CREATED":
        return None
    if ctx.now() > (payment.code_ends or 0):
        return None
    payment.user = "sandbox-customer"
    if not pay:
        payment.status = "FAILED"
        return payment
    payment.charged = True
    payment.accepted_at = ctx.now()
    payment.status = "AUTHORIZED" if payment.is_authorization else "COMPLETED"
    if payment.is_authorization and payment.expires_at is None:
        payment.expires_at = ctx.now() + limits.PREAUTH_MAX_DAYS * 86400
    return payment


# --- Get payment details -----------------------------------------------------------------------
def payment_details(ctx: Ctx, _body: Mapping[str, Any], q: Mapping[str, str]) -> Answer:
    payment = _payment(ctx, q["merchantPaymentId"])
    if payment is None or payment.status == "DELETED":
        raise Refused("DYNAMIC_QR_PAYMENT_NOT_FOUND")
    if payment.status == "CREATED" and ctx.now() > (payment.code_ends or 0):
        raise Refused("DYNAMIC_QR_PAYMENT_NOT_FOUND")
    lapsed = _expire(ctx, payment)
    moved = [lapsed] if lapsed else []
    return Answer(200, payment.details(), moved=moved, notify=moved)


# --- Create a payment authorization / Create a payment (a linked user) ------------------------
def _user_payment(ctx: Ctx, body: Mapping[str, Any], *, authorize: bool) -> Answer:
    ref = _text(body, "merchantPaymentId")
    user = _text(body, "userAuthorizationId")
    amount = _money(body, "amount")
    requested = _epoch(body, "requestedAt")
    assert requested is not None
    expires = _epoch(body, "expiresAt", required=authorize)
    known = _payment(ctx, ref)
    if known is not None:  # the same merchantPaymentId: the payment it already is
        if known.status == "FAILED":
            raise Refused(USER_DECLINES.get(known.user or "", "UNACCEPTABLE_OP"))
        return Answer(201, known.details())
    if authorize and expires is not None and expires > ctx.now() + limits.PREAUTH_MAX_DAYS * 86400:
        raise Refused("PRE_AUTH_CAPTURE_INVALID_EXPIRY_DATE")
    payment = Payment(
        merchant_payment_id=ref,
        payment_id=ctx.state.new_payment_id(),
        amount=amount,
        is_authorization=authorize,
        status="FAILED",
        requested_at=requested,
        order_description=_text(body, "orderDescription", required=False, size=255) or None,
        user=user,
        expires_at=expires if authorize else None,
    )
    ctx.state.payments[ref] = payment
    declined = USER_DECLINES.get(user)
    if declined is not None:
        return _refusal(declined, payment)
    if amount > limits.MAX_AMOUNT:
        return _refusal("LIMIT_EXCEEDED", payment)
    payment.charged = True
    payment.accepted_at = ctx.now()
    payment.status = "AUTHORIZED" if authorize else "COMPLETED"
    return Answer(201, payment.details(), moved=[payment], notify=[payment])


def _refusal(code: str, payment: Payment) -> Answer:
    refused = Refused(code)
    return Answer(
        refused.status, None, code, refused.message, None, moved=[payment], notify=[payment]
    )


def preauthorize(ctx: Ctx, body: Mapping[str, Any], _q: Mapping[str, str]) -> Answer:
    return _user_payment(ctx, body, authorize=True)


def create_payment(ctx: Ctx, body: Mapping[str, Any], _q: Mapping[str, str]) -> Answer:
    return _user_payment(ctx, body, authorize=False)


# --- Capture / Revert / Update / Cancel / Refund -----------------------------------------------
def capture(ctx: Ctx, body: Mapping[str, Any], _q: Mapping[str, str]) -> Answer:
    payment = _payment(ctx, _text(body, "merchantPaymentId"))
    if payment is None:
        raise Refused("RESOURCE_NOT_FOUND")
    amount = _money(body, "amount")
    capture_id = _text(body, "merchantCaptureId")
    _text(body, "orderDescription", size=255)
    requested = _epoch(body, "requestedAt")
    lapsed = _expire(ctx, payment)
    if lapsed is not None:
        return _refusal("ORDER_EXPIRED", lapsed)
    if payment.status == "COMPLETED":
        raise Refused("ALREADY_CAPTURED")
    if payment.status == "EXPIRED":
        raise Refused("ORDER_EXPIRED")
    if payment.status != "AUTHORIZED":
        raise Refused("ORDER_NOT_CAPTURABLE")
    if amount > payment.amount:  # an increase needs the customer's consent
        return Answer(
            202,
            None,
            "USER_CONFIRMATION_REQUIRED",
            "User confirmation required as requested amount is above allowed limit",
            "08300103",
        )
    payment.amount = amount
    payment.status = "COMPLETED"
    payment.captures.append(
        {
            "acceptedAt": ctx.now(),
            "merchantCaptureId": capture_id,
            "amount": {"amount": amount, "currency": "JPY"},
            "orderDescription": body.get("orderDescription"),
            "requestedAt": requested,
            "expiresAt": payment.expires_at,
            "status": "COMPLETED",
        }
    )
    return Answer(200, payment.details(), moved=[payment], notify=[payment])


def revert(ctx: Ctx, body: Mapping[str, Any], _q: Mapping[str, str]) -> Answer:
    revert_id = _text(body, "merchantRevertId")
    payment = _by_id(ctx, body)
    requested = _epoch(body, "requestedAt")
    _expire(ctx, payment)
    if payment.status != "AUTHORIZED":
        raise Refused("ORDER_NOT_CANCELABLE")
    payment.status = "CANCELED"
    payment.revert = {
        "acceptedAt": ctx.now(),
        "merchantRevertId": revert_id,
        "requestedAt": requested,
        "reason": body.get("reason"),
    }
    data = {
        "status": "CANCELED",
        "acceptedAt": ctx.now(),
        "paymentId": payment.payment_id,
        "requestedAt": requested,
        "reason": body.get("reason"),
    }
    return Answer(200, data, moved=[payment], notify=[payment])


def reauthorize(ctx: Ctx, body: Mapping[str, Any], _q: Mapping[str, str]) -> Answer:
    request_id = _text(body, "requestId", size=255)
    payment = _by_id(ctx, body)
    amount = _money(body, "updatedAmount")
    _expire(ctx, payment)
    if payment.status != "AUTHORIZED":
        raise Refused("REAUTHORIZE_REJECTED")
    if amount == payment.amount:
        raise Refused("REAUTH_AMOUNT_UNCHANGED")
    if payment.reauthorizations >= 10:
        raise Refused("REAUTH_MAX_LIMIT_EXCEEDED")
    if amount > payment.amount:
        data = {"expiresAt": ctx.now() + 6 * 3600, "url": f"{ctx.base_url}/reauth/{request_id}"}
        return Answer(
            201,
            data,
            "USER_CONFIRMATION_REQUIRED",
            "User confirmation required as requested amount is above the original "
            "authorized amount",
            "08300104",
        )
    payment.amount = amount
    payment.reauthorizations += 1
    payment.reauth_request_id = request_id
    data = {
        "requestId": request_id,
        "paymentId": payment.payment_id,
        "updatedAmount": {"amount": amount, "currency": "JPY"},
        "requestedAt": body.get("requestedAt"),
        "acceptedAt": ctx.now(),
        "expiresAt": payment.expires_at,
        "paymentMethods": [{"amount": {"amount": amount, "currency": "JPY"}, "type": "WALLET"}],
    }
    return Answer(200, data, moved=[payment], notify=[payment])


def cancel(ctx: Ctx, _body: Mapping[str, Any], q: Mapping[str, str]) -> Answer:
    """Cancel a payment (asynchronous at PayPay: 202 once accepted)."""
    payment = _payment(ctx, q["merchantPaymentId"])
    if payment is not None and payment.status not in ("CREATED", "FAILED"):
        _expire(ctx, payment)
        paid = payment.accepted_at or payment.requested_at
        window = limits.cancel_deadline(datetime.fromtimestamp(paid, UTC))
        late = ctx.state.clock.now() > window
        instant = payment.status == "COMPLETED" and not payment.is_authorization and not late
        if payment.status != "AUTHORIZED" and not instant:
            raise Refused("ORDER_NOT_REVERSIBLE")
        payment.status = "FAILED"
        payment.canceled_at = ctx.now()
    moved = [payment] if payment is not None else []
    return Answer(202, None, "REQUEST_ACCEPTED", "Request accepted", moved=moved)


def refund(ctx: Ctx, body: Mapping[str, Any], _q: Mapping[str, str]) -> Answer:
    refund_id = _text(body, "merchantRefundId")
    payment = _by_id(ctx, body)
    amount = _money(body, "amount")
    requested = _epoch(body, "requestedAt")
    done = next((r for r in payment.refunds if r["merchantRefundId"] == refund_id), None)
    if done is not None:  # the same merchantRefundId: the refund it already is
        return Answer(200, {**done, "status": "CREATED"})
    if payment.status != "COMPLETED":
        raise Refused("UNACCEPTABLE_OP", "The payment is not refundable")
    paid = payment.captures[-1]["acceptedAt"] if payment.captures else payment.accepted_at
    if paid is not None and ctx.now() > paid + int(
        timedelta(days=limits.REFUND_DAYS).total_seconds()
    ):
        raise Refused("REFUND_WINDOW_EXCEED")
    if amount > payment.amount - payment.refunded():
        raise Refused("INVALID_PARAMS", "The refund amount exceeds what remains")
    record = {
        "status": "REFUNDED",
        "acceptedAt": ctx.now(),
        "merchantRefundId": refund_id,
        "paymentId": payment.payment_id,
        "amount": {"amount": amount, "currency": "JPY"},
        "requestedAt": requested,
        "reason": body.get("reason"),
    }
    payment.refunds.append(record)
    if payment.refunded() >= payment.amount:
        payment.status = "REFUNDED"
    return Answer(200, {**record, "status": "CREATED"}, moved=[payment])
