"""PayPay's own result codes (resultInfo.code), as the Open Payment API spec lists them
(/work/shared/anchors/paypay/paypay-opa-openapi.json, "Error handling": the common codes and
each API's table; tests/providers/paypay/test_errors.py holds every code here to it), and
what each means for kessai.

- RETRY: nothing happened, ask again after a pause (RATE_LIMIT);
- UNKNOWN: PayPay may have acted (its own server errors): settle by a lookup;
- NOT_PROCESSED: PayPay refused before acting on anything (maintenance, our request);
- DECLINED: the user's wallet or the order said no; `hard` when the same payment can never
  pass (a cancelled user, a suspicious one), soft when it might later (balance, daily limit).
"""

from dataclasses import dataclass
from enum import StrEnum


class Handling(StrEnum):
    RETRY = "retry"
    UNKNOWN = "unknown"
    NOT_PROCESSED = "not_processed"
    DECLINED = "declined"


@dataclass(frozen=True)
class Code:
    status: int
    handling: Handling
    description: str  # the spec's words (two shortened)
    hard: bool = False


D, N, U = Handling.DECLINED, Handling.NOT_PROCESSED, Handling.UNKNOWN

CODES: dict[str, Code] = {
    # Common response codes
    "INVALID_REQUEST_PARAMS": Code(
        400,
        N,
        "The infomation provided by the request contains invalid data, e.g., unsupported currency.",
    ),
    "OP_OUT_OF_SCOPE": Code(401, N, "The operation is not permitted."),
    "MISSING_REQUEST_PARAMS": Code(400, N, "The required parameter is not set."),
    "INVALID_PARAMS": Code(400, N, "The set parameter is invalid."),
    "UNAUTHORIZED": Code(401, N, "No valid api key and secret provided"),
    "RATE_LIMIT": Code(429, Handling.RETRY, "Too many requests."),
    "SERVICE_ERROR": Code(500, U, "Something went wrong on PayPay service side."),
    "INTERNAL_SERVER_ERROR": Code(500, U, "Something went wrong on PayPay service side."),
    "MAINTENANCE_MODE": Code(503, N, "Sorry, we are down for scheduled maintenance."),
    # Create a QRCode
    "DUPLICATE_DYNAMIC_QR_REQUEST": Code(400, N, "Duplicate Dynamic QR request error"),
    "PRE_AUTH_CAPTURE_UNSUPPORTED_MERCHANT": Code(
        400, N, "Merchant do not support Pre-Auth-Capture."
    ),
    "PRE_AUTH_CAPTURE_INVALID_EXPIRY_DATE": Code(
        400, N, "Provided Expiry Date is above the allowed limit of Max allowed expiry days."
    ),
    "DYNAMIC_QR_BAD_REQUEST": Code(
        400, N, "Indicates that the request header, query parameter, or request body is invalid."
    ),
    # Delete a QRCode / Get payment details
    "DYNAMIC_QR_NOT_FOUND": Code(404, N, "The specified QR code cannot be found."),
    "DYNAMIC_QR_PAYMENT_NOT_FOUND": Code(400, N, "The specified transaction is not found."),
    # Cancel a payment
    "ORDER_NOT_REVERSIBLE": Code(
        400,
        D,
        "The status of the target order does not allow a cancel, or the cancellation "
        "window has passed.",
        hard=True,
    ),
    "ORDER_NO_LONGER_AVAILABLE": Code(
        400,
        D,
        "The order existed before, but it is no longer available due to the data retention policy.",
        hard=True,
    ),
    # Update a payment authorization
    "REAUTHORIZE_REJECTED": Code(
        400,
        D,
        "The order state, order type or payment method does not allow a reauthorization.",
        hard=True,
    ),
    "PAY_METHOD_INVALIDATED": Code(400, D, "When paymentMethod is no longer valid.", hard=True),
    "REAUTH_AMOUNT_UNCHANGED": Code(
        400, D, "The amount of reauthorize is the same as the amount during authorization"
    ),
    "REAUTH_MAX_LIMIT_EXCEEDED": Code(
        400, D, "Maximum number of reauthorize attempts exceeded.", hard=True
    ),
    "REAUTHORIZE_FAILED": Code(400, D, "When the order state is failed to be updated"),
    "RESOURCE_NOT_FOUND": Code(404, D, "Order not found", hard=True),
    # Capture a payment authorization
    "UNACCEPTABLE_OP": Code(
        400,
        D,
        "The requested operation is not able to be processed due to the current condition, "
        "e.g., the user is suspicious.",
        hard=True,
    ),
    "LIMIT_EXCEEDED": Code(400, D, "The payment amount exceeded upper limit.", hard=True),
    "USER_DEFINED_DAILY_LIMIT_EXCEEDED": Code(
        400, D, "The payment amount exceeded user 24 hours defined limit."
    ),
    "USER_DEFINED_MONTHLY_LIMIT_EXCEEDED": Code(
        400, D, "The payment amount exceeded user 30 days defined limit."
    ),
    "ALREADY_CAPTURED": Code(400, D, "Cannot capture already captured acquiring order.", hard=True),
    "CANCELED_USER": Code(400, D, "Canceled user", hard=True),
    "ORDER_EXPIRED": Code(
        400, D, "Order cannot be captured or updated as it has already expired.", hard=True
    ),
    "ORDER_NOT_CAPTURABLE": Code(400, D, "Order is not capturable.", hard=True),
    "REAUTHORIZATION_IN_PROGRESS": Code(400, D, "Order is being reauthorized"),
    "TOO_CLOSE_TO_EXPIRY": Code(
        400, D, "Order cannot be reauthorized as request is too close to expiry time", hard=True
    ),
    "NO_SUFFICIENT_FUND": Code(400, D, "The user's balance is insufficient to make payment."),
    # Revert a payment authorization
    "ORDER_NOT_CANCELABLE": Code(400, D, "Order is not cancelable.", hard=True),
    # Refund a payment
    "THROTTLED_MULTIPLE_REFUND_REJECTED": Code(
        400,
        D,
        "Rejected refund request as similar request is in progress, you can retry after 1 minute.",
    ),
    "REFUND_LIMIT_EXCEEDED": Code(
        400, D, "Order has reached maximum number of allowed refunds.", hard=True
    ),
    "REFUND_WINDOW_EXCEED": Code(400, D, "Refund window exceeded.", hard=True),
    "USER_STATE_IS_NOT_ACTIVE": Code(
        401, D, "The request cannot be accepted because the user status is inactive.", hard=True
    ),
    "MERCHANT_MULTIPLE_REFUND_REJECTED": Code(
        403, D, "Merchant multiple refund not enabled.", hard=True
    ),
    "NO_SUCH_REFUND_ORDER": Code(
        404, D, "The specified refund payment could not be found.", hard=True
    ),
}

NOT_FOUND = frozenset(
    {"DYNAMIC_QR_PAYMENT_NOT_FOUND", "RESOURCE_NOT_FOUND", "DYNAMIC_QR_NOT_FOUND"}
)


def lookup(code: str | None) -> Code | None:
    return CODES.get(code or "")


def handling(code: str | None, status: int) -> Handling:
    """What a reply means; a code PayPay does not list is judged by its HTTP status."""
    known = lookup(code)
    if known is not None:
        return known.handling
    if status == 429:
        return Handling.RETRY
    if status >= 500:
        return Handling.UNKNOWN
    return Handling.DECLINED


def is_final_decline(code: str | None) -> bool:
    """A decline no retry with the same user can pass (再オーソリ stops)."""
    known = lookup(code)
    return known is not None and known.handling is Handling.DECLINED and known.hard
