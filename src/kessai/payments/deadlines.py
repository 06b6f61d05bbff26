"""Deadlines that close on an order by themselves: the provider's cancel window (seed 003:
PayPay 決済日時から30日, d払い 翌々月末20時 …) and the 与信期限 of an uncaptured authorization.

The same rows and windows as the rules that refuse the action once the deadline has passed;
this module only says when that will be, so a person can act before.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from kessai.accounts.models import PaymentMethod, ProviderAccount
from kessai.orders.models import Order
from kessai.payments import capabilities as caps
from kessai.payments.decide import OrderFacts
from kessai.payments.status import PaymentStatus

S = PaymentStatus
# Where a 取消処理 still reaches the provider's transaction.
CANCELLABLE = (
    S.AUTHORIZED,
    S.CAPTURED,
    S.CREDIT_CHECK_PASSED,
    S.AWAITING_SHIPMENT_REPORT,
    S.CAPTURE_FAILED,
    S.MODIFY_FAILED,
    S.SHIPMENT_REPORT_FAILED,
    S.CANCEL_FAILED,
)
# An authorization not yet captured, that a 与信期限 can end.
HELD = (S.AUTHORIZED, S.CREDIT_CHECK_PASSED, S.AWAITING_SHIPMENT_REPORT, S.CAPTURE_FAILED)
# No window of seed 003 is longer than this (PayPay オーソリ確定後 180日, 楽天ペイ 5ヵ月後の末日).
LONGEST = timedelta(days=200)
MAX_LISTED = 10_000
# 出荷報告依頼中 longer than this is stuck (seed 004: the answer was lost on the way back).
STUCK_AFTER = timedelta(days=1)


class DeadlineKind(StrEnum):
    CANCEL = "cancel"  # 取消期限
    AUTHORIZATION = "authorization"  # 与信期限

    @property
    def label(self) -> str:
        return "取消期限" if self is DeadlineKind.CANCEL else "与信期限"


def cancel_deadline(f: OrderFacts) -> datetime | None:
    """The last instant a 取消処理 can still be sent, when the row has a window."""
    try:
        rule = f.row.cancel_rule(f.phase)
    except caps.UnknownMethod:
        return None
    if rule is None or rule.window is None:
        return None
    anchor = {
        caps.Anchor.ORDERED_AT: f.order.ordered_at,
        caps.Anchor.AUTHORIZED_AT: f.order.authorized_at,
        caps.Anchor.CAPTURED_AT: f.order.captured_at,
    }[rule.window.anchor]
    return None if anchor is None else rule.window.deadline(anchor)


def authorization_deadline(f: OrderFacts) -> datetime | None:
    o = f.order
    if o.authorized_at is None or o.captured_at is not None:
        return None
    days = f.authorization_days()
    return None if days is None else o.authorized_at + timedelta(days=days)


@dataclass(frozen=True)
class Closing:
    order_id: int
    kind: DeadlineKind
    deadline: datetime


async def closing_soon(
    s: AsyncSession, now: datetime, within: timedelta, kind: DeadlineKind
) -> Sequence[Closing]:
    """Orders whose `kind` deadline is still ahead but within `within`, soonest first."""
    statuses = CANCELLABLE if kind is DeadlineKind.CANCEL else HELD
    rows = await s.execute(
        select(Order, PaymentMethod, ProviderAccount)
        .join(PaymentMethod, PaymentMethod.id == Order.payment_method_id)
        .outerjoin(ProviderAccount, ProviderAccount.id == PaymentMethod.account_id)
        .where(
            Order.payment_status.in_([st.value for st in statuses]),
            Order.authorized_at >= now - LONGEST,
        )
        .order_by(Order.authorized_at)
        .limit(MAX_LISTED)
    )
    found = []
    for order, method, account in rows.all():
        f = OrderFacts(order, method, account, now)
        deadline = cancel_deadline(f) if kind is DeadlineKind.CANCEL else authorization_deadline(f)
        if deadline is not None and now <= deadline <= now + within:
            found.append(Closing(order.id, kind, deadline))
    return sorted(found, key=lambda c: c.deadline)


def stuck_in_shipment_report(now: datetime) -> list[ColumnElement[bool]]:
    """出荷報告依頼中 for longer than STUCK_AFTER: the provider's answer never arrived."""
    return [
        Order.payment_status == S.SHIPMENT_REPORT_REQUESTED.value,
        Order.updated_at < now - STUCK_AFTER,
    ]
