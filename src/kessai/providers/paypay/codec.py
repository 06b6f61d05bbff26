"""PayPay's JSON shapes: money, epoch seconds, and a payment's status in kessai's words.

Amounts travel as {"amount": <integer yen>, "currency": "JPY"}; times as epoch seconds.
A payment's details (Get payment details) say its status: CREATED (a QR code nobody paid
yet), AUTHORIZED / REAUTHORIZING (held), COMPLETED (captured), REFUNDED, CANCELED
(reverted), FAILED (refused, or cancelled by Cancel a payment), EXPIRED (the
authorization lapsed). A partial refund leaves a payment COMPLETED with its refunds listed.
"""

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from kessai.providers.contract import ProviderState

MERCHANT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
MERCHANT_ID_RULE = "PayPayの加盟店決済ID(merchantPaymentId)は64文字以内の半角英数字・-・_です"

STATES: dict[str, ProviderState] = {
    "CREATED": ProviderState.PENDING,
    "AUTHORIZED": ProviderState.AUTHORIZED,
    "REAUTHORIZING": ProviderState.AUTHORIZED,
    "COMPLETED": ProviderState.CAPTURED,
    "REFUNDED": ProviderState.CANCELED,
    "CANCELED": ProviderState.CANCELED,
    "EXPIRED": ProviderState.CANCELED,
    "FAILED": ProviderState.DECLINED,
}


def money(amount: int) -> dict[str, Any]:
    return {"amount": amount, "currency": "JPY"}


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def from_epoch(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        return None
    return datetime.fromtimestamp(value, UTC)


def amount_of(value: Any) -> int | None:
    if isinstance(value, Mapping):
        inner = value.get("amount")
        if isinstance(inner, int) and not isinstance(inner, bool):
            return inner
    return None


def refunded(data: Mapping[str, Any]) -> int:
    """What the payment's refunds took back (accepted or done)."""
    refunds = data.get("refunds")
    items = refunds.get("data") if isinstance(refunds, Mapping) else None
    total = 0
    for item in items if isinstance(items, list) else []:
        if isinstance(item, Mapping) and item.get("status") in ("CREATED", "REFUNDED"):
            total += amount_of(item.get("amount")) or 0
    return total


def paid_at(data: Mapping[str, Any]) -> datetime | None:
    """When the money moved: the capture's time for a pre-authorization, else acceptedAt."""
    captures = data.get("captures")
    items = captures.get("data") if isinstance(captures, Mapping) else None
    for item in items if isinstance(items, list) else []:
        if isinstance(item, Mapping) and item.get("status") == "COMPLETED":
            found = from_epoch(item.get("acceptedAt"))
            if found is not None:
                return found
    return from_epoch(data.get("acceptedAt"))


def remaining(data: Mapping[str, Any]) -> int | None:
    amount = amount_of(data.get("amount"))
    return None if amount is None else amount - refunded(data)
