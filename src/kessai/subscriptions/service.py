"""定期受注: creating, changing and reading subscriptions. Never commits.

Also the three calls the 再オーソリ and card-change flows make: `resume_after_payment`,
`cancel_unpaid` and `switch_card`.
"""

import secrets
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kessai.accounts.methods import require_connector
from kessai.accounts.models import PaymentMethod, ProviderAccount
from kessai.core.clock import tokyo_date
from kessai.core.errors import Conflict, InvalidInput
from kessai.customers.models import Customer, CustomerCard
from kessai.orders.service import find_method
from kessai.payments import capabilities as caps
from kessai.payments.decide import validate_amount
from kessai.payments.status import PaymentStatus
from kessai.subscriptions import cycles
from kessai.subscriptions import repository as repo
from kessai.subscriptions.cycles import Cycle, CycleKind
from kessai.subscriptions.models import Subscription
from kessai.subscriptions.repository import SubscriptionSearch, SubscriptionView
from kessai.subscriptions.schemas import CycleIn, SubscriptionCreate, SubscriptionPatch, item_dicts
from kessai.subscriptions.status import SubscriptionStatus, parse_status, require_transition

NUMBER_TRIES = 20
# Methods a subscription can be billed with unattended: a stored card, or 後払い.
BILLABLE_KINDS = frozenset({caps.MethodKind.CARD, caps.MethodKind.DEFERRED})
# A child order in one of these has been paid (or is with the provider's credit check).
PAID_STATUSES = frozenset(
    {
        PaymentStatus.AUTHORIZED,
        PaymentStatus.CAPTURED,
        PaymentStatus.CREDIT_CHECK_PASSED,
        PaymentStatus.AWAITING_SHIPMENT_REPORT,
        PaymentStatus.SHIPMENT_REPORT_REQUESTED,
        PaymentStatus.RECURRING_WAITING,
        PaymentStatus.RECURRING_PAID,
        PaymentStatus.RECURRING_REPORTED,
    }
)


def cycle_of(sub: Subscription) -> Cycle:
    return Cycle(CycleKind(sub.cycle_kind), sub.cycle_interval, sub.cycle_day)


def _cycle(data: CycleIn, ship_on: date) -> Cycle:
    day = data.day
    if data.kind is CycleKind.MONTHS and day is None:
        day = ship_on.day  # the anchor: 31日 stays 31日 after a short month
    cycle = Cycle(data.kind, data.interval, day)
    _check_ship_day(cycle, ship_on)
    return cycle


def _check_ship_day(cycle: Cycle, ship_on: date) -> None:
    if cycle.kind is CycleKind.DAY_OF_MONTH and cycles.first_on_or_after(cycle, ship_on) != ship_on:
        assert cycle.day is not None
        raise InvalidInput(
            f"次回発送予定日({ship_on:%Y-%m-%d})がサイクルの日付({cycle.day}日)と一致しません",
            code="ship_day_mismatch",
            detail={"next_ship_on": ship_on.isoformat(), "day": cycle.day},
        )


def _check_dates(ship_on: date, delivery_on: date | None) -> None:
    if delivery_on is not None and delivery_on < ship_on:
        raise InvalidInput(
            "次回配送予定日は次回発送予定日以降の日付を指定してください",
            code="delivery_before_ship",
            detail={
                "next_ship_on": ship_on.isoformat(),
                "next_delivery_on": delivery_on.isoformat(),
            },
        )


async def _card_for(
    s: AsyncSession, customer_id: int, card_id: int, method: PaymentMethod
) -> CustomerCard:
    card = await s.get(CustomerCard, card_id)
    if (
        card is None
        or card.customer_id != customer_id
        or card.deleted_at is not None
        or card.account_id != method.account_id
    ):
        raise InvalidInput(
            f"この顧客の登録カードが見つかりませんでした (card_id: {card_id})",
            code="unknown_card",
            detail={"card_id": card_id},
        )
    return card


def _method_kind(method: PaymentMethod) -> caps.MethodKind:
    try:
        return caps.row(method.provider, method.method_type).kind
    except ValueError:
        return caps.MethodKind.OFFLINE


def _new_number() -> str:
    return str(1_000_000_000 + secrets.randbelow(9_000_000_000))


async def create_subscription(
    s: AsyncSession, data: SubscriptionCreate, now: datetime, actor: str
) -> Subscription:
    customer = await s.get(Customer, data.customer_id)
    if customer is None:
        raise InvalidInput(
            f"顧客が見つかりませんでした (id: {data.customer_id})", code="unknown_customer"
        )
    method = await find_method(s, data.payment_method)
    if not method.enabled:
        raise InvalidInput(
            f"支払い方法「{method.name}」は無効になっています", code="payment_method_disabled"
        )
    kind = _method_kind(method)
    if kind not in BILLABLE_KINDS:
        raise InvalidInput(
            f"支払い方法「{method.name}」は定期受注に利用できません",
            code="payment_method_not_recurring",
        )
    account = None if method.account_id is None else await s.get(ProviderAccount, method.account_id)
    require_connector(method, account)  # no cycle of it could ever be billed
    card_id: int | None = None
    if kind is caps.MethodKind.CARD:
        if data.card_id is None:
            raise InvalidInput(
                "クレジットカードの定期受注には登録カード(card_id)を指定してください",
                code="card_required",
            )
        card_id = (await _card_for(s, customer.id, data.card_id, method)).id
    elif data.card_id is not None:
        raise InvalidInput(
            f"支払い方法「{method.name}」には登録カードを指定できません", code="card_not_applicable"
        )
    amount = data.amount
    if amount is None:
        amount = sum(i.quantity * i.unit_price for i in data.items)
    validate_amount(method, amount, data.tax)
    cycle = _cycle(data.cycle, data.next_ship_on)
    _check_dates(data.next_ship_on, data.next_delivery_on)
    if data.number is not None and await repo.number_taken(s, data.number):
        raise _duplicate(data.number)
    sub = Subscription(
        number=data.number or _new_number(),
        customer_id=customer.id,
        payment_method_id=method.id,
        card_id=card_id,
        items=item_dicts(data.items),
        amount=amount,
        tax=data.tax,
        cycle_kind=cycle.kind.value,
        cycle_interval=cycle.interval,
        cycle_day=cycle.day,
        next_ship_on=data.next_ship_on,
        next_delivery_on=data.next_delivery_on,
        status=SubscriptionStatus.ACTIVE.value,
        cycle=0,
        version=0,
        created_at=now,
        updated_at=now,
    )
    for _ in range(NUMBER_TRIES):
        if await repo.insert(s, sub):
            await repo.record_created(s, sub, actor=actor, at=now)
            return sub
        if data.number is not None:  # taken by a concurrent request since the check
            raise _duplicate(data.number)
        sub.number = _new_number()
    raise Conflict(
        "定期受注番号を採番できませんでした。もう一度お試しください",
        code="subscription_number_unavailable",
    )


def _duplicate(number: str) -> Conflict:
    return Conflict(
        f"定期受注番号「{number}」は既に使われています", code="duplicate_subscription_number"
    )


async def get_subscription(s: AsyncSession, subscription_id: int) -> SubscriptionView:
    return await repo.get_view(s, subscription_id)


async def search_subscriptions(
    s: AsyncSession, q: SubscriptionSearch
) -> tuple[Sequence[SubscriptionView], int]:
    return await repo.search(s, q)


async def update_subscription(
    s: AsyncSession, subscription_id: int, patch: SubscriptionPatch, now: datetime, actor: str
) -> SubscriptionView:
    """Apply an operator's change whole or not at all (every check runs before the write)."""
    view = await repo.get_view(s, subscription_id)
    sub = view.subscription
    values: dict[str, Any] = {}
    current = SubscriptionStatus(sub.status)
    target = current
    if patch.status is not None:
        target = parse_status(patch.status)
        if target is not current:
            require_transition(current, target)
            values["status"] = target.value
    editing = (
        patch.cycle is not None
        or patch.next_ship_on is not None
        or patch.next_delivery_on is not None
        or patch.card_id is not None
    )
    if editing and target is SubscriptionStatus.CANCELED:
        raise Conflict("キャンセルの定期受注は変更できません", code="subscription_canceled")
    ship_on = patch.next_ship_on or sub.next_ship_on
    if patch.next_ship_on is not None:
        values["next_ship_on"] = patch.next_ship_on
    if patch.next_delivery_on is not None:
        values["next_delivery_on"] = patch.next_delivery_on
    elif patch.next_ship_on is not None:
        shifted = cycles.shift_delivery(sub.next_ship_on, sub.next_delivery_on, ship_on)
        values["next_delivery_on"] = shifted
    _check_dates(ship_on, values.get("next_delivery_on", sub.next_delivery_on))
    if patch.cycle is not None:
        cycle = _cycle(patch.cycle, ship_on)
        values.update(
            cycle_kind=cycle.kind.value, cycle_interval=cycle.interval, cycle_day=cycle.day
        )
    elif patch.next_ship_on is not None:
        _check_ship_day(cycle_of(sub), ship_on)
    if patch.card_id is not None and patch.card_id != sub.card_id:
        if _method_kind(view.method) is not caps.MethodKind.CARD:
            raise InvalidInput(
                f"支払い方法「{view.method.name}」には登録カードを指定できません",
                code="card_not_applicable",
            )
        values["card_id"] = (await _card_for(s, sub.customer_id, patch.card_id, view.method)).id
    if values and not await repo.compare_and_set(
        s, sub, values, actor=actor, at=now, reason=patch.reason
    ):
        raise Conflict(
            "定期受注は同時に更新されました。もう一度お試しください",
            code="subscription_changed",
        )
    return await repo.get_view(s, subscription_id)


async def _set_status(
    s: AsyncSession,
    sub: Subscription,
    target: SubscriptionStatus,
    extra: dict[str, Any],
    *,
    actor: str,
    at: datetime,
    reason: str,
) -> bool:
    current = SubscriptionStatus(sub.status)
    if target is not current:
        require_transition(current, target)
    values = {**extra}
    if target is not current:
        values["status"] = target.value
    if not values:
        return True
    return await repo.compare_and_set(s, sub, values, actor=actor, at=at, reason=reason)


async def _locked(s: AsyncSession, subscription_id: int) -> Subscription:
    sub = await s.scalar(
        select(Subscription)
        .where(Subscription.id == subscription_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if sub is None:
        raise repo.not_found(subscription_id)
    return sub


async def resume_after_payment(s: AsyncSession, subscription_id: int, now: datetime) -> None:
    """再オーソリ succeeded: back to 有効, next dates recomputed from the paid child order.

    The next ship date counts one cycle from the day the late payment came through (the
    day the order can ship), never before the date already planned. A キャンセル
    subscription stays cancelled.
    """
    sub = await _locked(s, subscription_id)
    if sub.status == SubscriptionStatus.CANCELED.value:
        return
    latest = await repo.latest_child_order(s, subscription_id)
    paid_on = tokyo_date(now)
    if latest is not None and PaymentStatus(latest.payment_status) in PAID_STATUSES:
        paid_on = tokyo_date(latest.authorized_at or latest.updated_at or now)
    cycle = cycle_of(sub)
    if cycle.kind is CycleKind.MONTHS:
        cycle = Cycle(cycle.kind, cycle.interval, paid_on.day)
    ship_on = max(cycles.after_payment(cycle, paid_on), sub.next_ship_on)
    extra: dict[str, Any] = {
        "next_ship_on": ship_on,
        "next_delivery_on": cycles.shift_delivery(sub.next_ship_on, sub.next_delivery_on, ship_on),
        "cycle_day": cycle.day,
    }
    if not await _set_status(
        s,
        sub,
        SubscriptionStatus.ACTIVE,
        extra,
        actor="system:reauthorize",
        at=now,
        reason="再オーソリ成功のため有効に戻しました",
    ):
        raise Conflict(
            "定期受注は同時に更新されました。もう一度お試しください",
            code="subscription_changed",
        )


async def cancel_unpaid(s: AsyncSession, subscription_id: int, now: datetime) -> None:
    """The 再オーソリ window ended unpaid: the subscription is キャンセル."""
    sub = await _locked(s, subscription_id)
    if sub.status == SubscriptionStatus.CANCELED.value:
        return
    if not await _set_status(
        s,
        sub,
        SubscriptionStatus.CANCELED,
        {},
        actor="system:reauthorize",
        at=now,
        reason="再オーソリ期間内に決済されなかったためキャンセルしました",
    ):
        raise Conflict(
            "定期受注は同時に更新されました。もう一度お試しください",
            code="subscription_changed",
        )


async def pause_unpaid(
    s: AsyncSession, subscription_id: int, now: datetime, *, actor: str, reason: str
) -> bool:
    """A cycle's payment failed: 停止 until it is paid (再オーソリ) or cancelled.

    Only an 有効 subscription is paused; False when it was not (or changed meanwhile).
    """
    sub = await _locked(s, subscription_id)
    if sub.status != SubscriptionStatus.ACTIVE.value:
        return False
    return await _set_status(
        s, sub, SubscriptionStatus.PAUSED, {}, actor=actor, at=now, reason=reason
    )


async def switch_card(
    s: AsyncSession, customer_id: int, old_card_id: int, new_card_id: int, now: datetime
) -> int:
    """The customer's new card replaces the old one on every subscription not cancelled."""
    new = await s.get(CustomerCard, new_card_id)
    if new is None or new.customer_id != customer_id or new.deleted_at is not None:
        raise InvalidInput(
            f"この顧客の登録カードが見つかりませんでした (card_id: {new_card_id})",
            code="unknown_card",
            detail={"card_id": new_card_id},
        )
    if new_card_id == old_card_id:
        return 0
    moved = 0
    for sub in await repo.active_on_card(s, customer_id, old_card_id):
        method = await s.get(PaymentMethod, sub.payment_method_id)
        assert method is not None
        if new.account_id != method.account_id:
            raise InvalidInput(
                f"新しいカードは定期受注 {sub.number} の支払い方法「{method.name}」では"
                "利用できません",
                code="card_account_mismatch",
                detail={"subscription_id": sub.id, "card_id": new_card_id},
            )
        if not await repo.compare_and_set(
            s,
            sub,
            {"card_id": new.id},
            actor=f"customer:{customer_id}",
            at=now,
            reason="クレジットカード変更",
        ):
            raise Conflict(
                "定期受注は同時に更新されました。もう一度お試しください",
                code="subscription_changed",
            )
        moved += 1
    return moved
