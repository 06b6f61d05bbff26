"""PayPay's own limits, beside seed 003's windows (決済日時から30日/180日, which the payment
core applies): each is checked before anything is sent.

- ¥500,000: the most one payment may be (PayPay's per-payment cap);
- a pre-authorization stays open at most 30 days (authorizationExpiry; PayPay answers
  PRE_AUTH_CAPTURE_INVALID_EXPIRY_DATE beyond it);
- Cancel a payment: until 00:14:59 (Japan time) the day after the payment; later a captured
  payment is refunded instead;
- Refund a payment: within 365 days of the payment (REFUND_WINDOW_EXCEED after).
"""

from datetime import datetime, time, timedelta

from kessai.core.clock import TOKYO

MAX_AMOUNT = 500_000
PREAUTH_MAX_DAYS = 30
REFUND_DAYS = 365
CANCEL_UNTIL = time(0, 14, 59)


def amount_refusal(amount: int) -> str | None:
    if amount > MAX_AMOUNT:
        return f"PayPayの1回の決済金額の上限は{MAX_AMOUNT:,}円です (指定: {amount:,}円)"
    if amount < 1:
        return "PayPayの決済金額は1円以上で指定してください"
    return None


def cancel_deadline(paid_at: datetime) -> datetime:
    """00:14:59 of the next day in Japan time: the last moment Cancel a payment works."""
    day = paid_at.astimezone(TOKYO).date() + timedelta(days=1)
    return datetime.combine(day, CANCEL_UNTIL, tzinfo=TOKYO)


def can_cancel(paid_at: datetime, now: datetime) -> bool:
    return now <= cancel_deadline(paid_at)


def refund_refusal(paid_at: datetime, now: datetime) -> str | None:
    if now > paid_at + timedelta(days=REFUND_DAYS):
        return (
            f"PayPayの返金は決済日時から{REFUND_DAYS}日以内に限られます "
            f"(決済日時: {paid_at.astimezone(TOKYO):%Y-%m-%d %H:%M})"
        )
    return None


def authorization_expiry(now: datetime, days: int) -> datetime:
    return now + timedelta(days=min(days, PREAUTH_MAX_DAYS))
