"""再オーソリバッチ (job kind "reauthorization"): orders whose payment failed are authorized
again once per shipping day, for 30 days, with the customer's current card (seed 004).

- Selected: 仮売上失敗, 与信審査エラー or 取引修正失敗 with an order date in the last 30 days;
  the first try labels the order 再与信対象, a paid one 再与信完了 (its 定期受注 back to 有効,
  next dates recomputed).
- Once per shipping day: the try is claimed by a conditional UPDATE that records the day, so a
  second run that day, a redelivered chunk or a second worker finds it taken.
- Stops: a decline the provider's error table calls final (再与信停止(カード利用不可), until
  the customer registers another card), the provider's limit of 再オーソリ per order
  (SBPS: 4), a refusal by a rule; the end of the 30 days (再与信期限切れ, 定期受注 キャンセル).
  A card whose last 洗替 result is 有効性NG, 照合エラー or 入力データエラー is never charged.
- A failed try queues 決済方法変更のご案内 to the customer and the shop, once per order, in
  the transaction that records the failure; the outbox is sent after it commits.

Every step reads the order as it is now (status, label, its last authorization in 決済履歴),
so a chunk run twice, or after a crash between the provider call and the bookkeeping,
completes what the first run left and repeats nothing.
"""

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from kessai.accounts.models import PaymentMethod, ProviderAccount
from kessai.core.clock import TOKYO, to_tokyo, tokyo_date
from kessai.core.db import database_failure, read_transaction, transaction
from kessai.core.errors import InProgress, KessaiError, ProviderUnavailable, in_words
from kessai.customers.models import Customer, CustomerCard
from kessai.customers.updater import blocks_charging, updater_label
from kessai.jobs.kinds import ItemResult, register
from kessai.jobs.status import ItemStatus
from kessai.notifications.delivery import deliver_pending
from kessai.notifications.templates import MailKind
from kessai.orders.models import Order
from kessai.payments.capabilities.reauthorization import (
    max_reauthorizations,
    reauthorization_allowed,
)
from kessai.payments.holds import await_release
from kessai.payments.models import PaymentAttempt
from kessai.payments.plans import ActionRequest, Operation
from kessai.payments.status import HandlingStatus, PaymentStatus, ReauthorizationLabel
from kessai.providers.installed import PROVIDERS
from kessai.shop.schemas import ShopSettings
from kessai.shop.service import get_shop_settings
from kessai.subscriptions.change_request import queue_change_request
from kessai.subscriptions.models import Subscription
from kessai.subscriptions.service import cancel_unpaid, resume_after_payment
from kessai.subscriptions.status import SubscriptionStatus

if TYPE_CHECKING:
    from kessai.jobs.models import Job
    from kessai.services import Services

log = logging.getLogger("kessai.subscriptions")

KIND = "reauthorization"
NAME = "再オーソリバッチ"
WINDOW_DAYS = 30  # an order is retried while its order date is within the last 30 days
CHUNK_SIZE = 20


L = ReauthorizationLabel
# Labels of orders the batch still looks after.
OPEN_LABELS = frozenset({L.TARGET, L.CARD_DECLINED})

S = PaymentStatus
# Seed 004: where the batch takes an order up.
START_STATUSES = frozenset({S.AUTHORIZE_FAILED, S.CREDIT_CHECK_FAILED, S.MODIFY_FAILED})
# Once taken up, every status a failed try can end in is tried again the next shipping day
# (決済準備中: a try that stopped before the provider answered; the engine settles it first).
RETRY_STATUSES = START_STATUSES | {S.REGISTER_FAILED, S.PAYMENT_ERROR, S.PENDING}
# The provider is still deciding: wait for its answer.
WAITING_STATUSES = frozenset({S.CREDIT_CHECK_PENDING})
# Paid (or past the authorization): 再与信完了.
PAID_STATUSES = frozenset(
    {
        S.AUTHORIZED,
        S.CAPTURED,
        S.CAPTURE_FAILED,
        S.CREDIT_CHECK_PASSED,
        S.AWAITING_SHIPMENT_REPORT,
        S.SHIPMENT_REPORT_REQUESTED,
        S.SHIPMENT_REPORT_FAILED,
        S.RECURRING_WAITING,
        S.RECURRING_PAID,
        S.RECURRING_REPORTED,
    }
)
# Ended by an operator's 取消: nothing to retry.
ENDED_STATUSES = frozenset({S.CANCELED, S.CANCEL_FAILED})

# "Is this decline final?", one rule per connector, declared in its provider's folder. A
# connector without a rule has no final declines: its orders are retried until the window ends.
FINAL_DECLINE_RULES: dict[str, Callable[[str | None], bool]] = {
    p.name: p.final_decline for p in PROVIDERS if p.final_decline is not None
}


# What the shop's copy of 決済方法変更のご案内 says happens next.
RETRY_STEP = "次回の発送日に再度オーソリを実行します。"
FINAL_DECLINE_STEP = (
    "決済会社がこのカードでの決済を受け付けないため、自動の再オーソリを停止しました。"
    "顧客がカードを変更すると、次回の発送日に新しいカードで再オーソリします。"
)


def is_final_decline(connector: str, code: str | None) -> bool:
    rule = FINAL_DECLINE_RULES.get(connector)
    return rule is not None and rule(code)


# ------------------------------------------------------------------------ the calendar


def dedupe_key(day: date) -> str:
    return f"{KIND}:{day.isoformat()}"


def due_on(shop: ShopSettings, now_tokyo: datetime) -> str | None:
    """The run due at this Tokyo moment: on a shipping day from the shop's time on."""
    now = to_tokyo(now_tokyo)
    if not shop.is_shipping_day(now.date()) or now.time() < shop.reauthorization_time:
        return None
    return dedupe_key(now.date())


async def reauthorization_due(services: "Services", now_tokyo: datetime) -> str | None:
    """The scheduler's due rule: `reauthorization:YYYY-MM-DD` on a shipping day (weekday and
    the shop's 発送日 calendar) from the shop's time (default 05:00), else None."""
    async with read_transaction(services.sessions) as s:
        shop = await get_shop_settings(s)
    return due_on(shop, now_tokyo)


def reauthorization_params(now_tokyo: datetime) -> dict[str, Any]:
    """The shipping day the run is for: its tries count for that day even if it runs late."""
    return {"date": to_tokyo(now_tokyo).date().isoformat()}


def window_start(day: date) -> date:
    return day - timedelta(days=WINDOW_DAYS)


def in_window(ordered_at: datetime, day: date) -> bool:
    """Ordered in the 30 days up to the run's day: never after it (a run for a past day,
    e.g. with the sandbox clock moved back, leaves later orders alone)."""
    return window_start(day) <= tokyo_date(ordered_at) <= day


def window_end(day: date) -> datetime:
    """The first moment after the run's day (Asia/Tokyo), in UTC."""
    return datetime.combine(day + timedelta(days=1), time(0), TOKYO).astimezone(UTC)


def deadline(ordered_at: datetime) -> date:
    """The last shipping day the order can be retried on."""
    return tokyo_date(ordered_at) + timedelta(days=WINDOW_DAYS)


# ------------------------------------------------------------------------ the job


@dataclass(frozen=True)
class _Order:
    """One order with what the batch needs to decide about it."""

    order: Order
    method: PaymentMethod
    account: ProviderAccount | None
    customer: Customer
    subscription: Subscription | None

    @property
    def status(self) -> PaymentStatus:
        return PaymentStatus(self.order.payment_status)

    @property
    def label(self) -> ReauthorizationLabel | None:
        raw = self.order.reauthorization_label
        return None if raw is None else ReauthorizationLabel(raw)


@dataclass(frozen=True)
class _Source:
    """The card to try: the 定期受注's card, else the customer's newest on the account."""

    source: dict[str, str] | None  # None: the order's own payment source
    card: CustomerCard | None


class Reauthorization:
    kind: str = KIND
    name: str = NAME
    columns: Sequence[tuple[str, str]] = (
        ("order_id", "受注ID"),
        ("order_number", "受注番号"),
        ("subscription_id", "定期受注ID"),
        ("payment_status", "決済状況"),
        ("label", "再与信ステータス"),
        ("tries", "再与信回数"),
        ("card", "利用カード"),
        ("provider_code", "エラーコード"),
    )
    chunk_size: int = CHUNK_SIZE

    async def plan(self, services: "Services", job: "Job") -> list[Any]:
        day = run_date(services, job)
        cutoff = datetime.combine(window_start(day), time(0), TOKYO).astimezone(UTC)
        end = window_end(day)
        async with read_transaction(services.sessions) as s:
            rows = await s.scalars(
                select(Order.id)
                .where(
                    Order.ordered_at < end,
                    or_(
                        Order.reauthorization_label.in_([label.value for label in OPEN_LABELS]),
                        and_(
                            Order.payment_status.in_([st.value for st in START_STATUSES]),
                            or_(
                                Order.reauthorization_label.is_(None),
                                Order.reauthorization_label == L.COMPLETED.value,
                            ),
                            Order.ordered_at >= cutoff,
                            Order.handling_status != HandlingStatus.CANCELED.value,
                        ),
                    ),
                )
                .order_by(Order.id)
            )
            return [int(i) for i in rows.all()]

    async def run(self, services: "Services", job: "Job", keys: list[Any]) -> list[ItemResult]:
        day = run_date(services, job)
        actor = f"job:{job.id}"
        results = [await _one(services, day, actor, int(key)) for key in keys]
        await deliver_pending(services)  # the mails queued above, now committed
        return results


def run_date(services: "Services", job: "Job") -> date:
    raw = (job.params or {}).get("date")
    return date.fromisoformat(str(raw)) if raw else services.clock.today()


register(Reauthorization())


# ------------------------------------------------------------------------ one order


async def _one(services: "Services", day: date, actor: str, order_id: int) -> ItemResult:
    """One order's result; an error stays with its order, the chunk's others still count."""
    try:
        return await _process(services, day, actor, order_id)
    except KessaiError as exc:
        return ItemResult(str(order_id), ItemStatus.FAILED, exc.message, {"order_id": order_id})
    except Exception as exc:
        if database_failure(exc):
            raise  # the chunk runs again and finishes this order from what it finds
        log.exception("reauthorization of order %s failed", order_id)
        return ItemResult(
            str(order_id),
            ItemStatus.FAILED,
            f"処理中にエラーが発生しました: {in_words(exc)}",
            {"order_id": order_id},
        )


async def _process(services: "Services", day: date, actor: str, order_id: int) -> ItemResult:
    async with transaction(services.sessions) as s:
        found = await _load(s, order_id)
        if found is None:
            return ItemResult(str(order_id), ItemStatus.SKIPPED, "受注が見つかりませんでした")
    # Today's try was claimed, its call written ahead and never recorded (the run died, or
    # the database went away): unless a live run settles it meanwhile, what the provider
    # did is settled by a lookup, and the claim keeps it from being tried again today.
    claimed = found.order.reauthorization_tried_on == day
    if claimed and found.order.in_flight_attempt_id and await await_release(services, order_id):
        await services.payments.run(order_id, ActionRequest(action="reconcile", actor=actor))
    async with transaction(services.sessions) as s:
        found = await _load(s, order_id)
        assert found is not None
        before = await _before_try(s, services, found, day)
        if isinstance(before, ItemResult):
            return before
        source = before
    error: KessaiError | None = None
    try:
        await services.payments.run(
            order_id, ActionRequest(action="reauthorize", actor=actor, source=source.source)
        )
    except KessaiError as exc:  # refused, held or unreachable: the order says what is true
        error = exc
    async with transaction(services.sessions) as s:
        found = await _load(s, order_id)
        assert found is not None
        shop = await get_shop_settings(s)
        return await _after_try(s, services, shop, found, day, error)


async def _before_try(
    s: AsyncSession, services: "Services", o: _Order, day: date
) -> "ItemResult | _Source":
    """Everything short of calling the provider; the source to try when a try is due."""
    now = services.clock.now()
    label = o.label
    shop = await get_shop_settings(s)
    tried_today = o.order.reauthorization_tried_on == day
    if o.status in PAID_STATUSES:
        if label in OPEN_LABELS or (label is L.COMPLETED and tried_today):
            return await _complete(s, o, now)  # today's try paid it (a chunk run again)
        return _item(o, ItemStatus.SKIPPED, "決済済みのため対象外です")
    if o.status in ENDED_STATUSES or o.order.handling_status == HandlingStatus.CANCELED.value:
        if label in OPEN_LABELS:
            await _set_label(s, o, L.STOPPED)
        return _item(o, ItemStatus.SKIPPED, "取消済みの受注のため再オーソリしません")
    if o.status in WAITING_STATUSES:
        return _item(o, ItemStatus.SKIPPED, f"決済状況「{o.status.label}」: 結果を待っています")
    taken_up = label in OPEN_LABELS or (o.status in START_STATUSES and label in (None, L.COMPLETED))
    if not taken_up or o.status not in RETRY_STATUSES:
        return _item(o, ItemStatus.SKIPPED, "再オーソリの対象外です")
    if tokyo_date(o.order.ordered_at) > day:
        return _item(o, ItemStatus.SKIPPED, "実行日より後の受注のため対象外です")
    if not in_window(o.order.ordered_at, day):
        if label not in OPEN_LABELS:
            return _item(o, ItemStatus.SKIPPED, "受注日から30日を過ぎているため対象外です")
        return await _expire(s, o, now)
    if o.subscription is not None and o.subscription.status == SubscriptionStatus.CANCELED.value:
        await _set_label(s, o, L.STOPPED)
        return _item(o, ItemStatus.SKIPPED, "定期受注がキャンセルされているため再オーソリしません")
    if tried_today:
        # Tried today already: finish what a run that stopped after the call left undone.
        return await _after_try(s, services, shop, o, day, None, again=True)
    source = await _current_source(s, o)
    if label is L.CARD_DECLINED and _same_card(source.source, o.order.payment_source):
        return _item(
            o,
            ItemStatus.SKIPPED,
            "決済会社がこのカードでの決済を受け付けないため、カードが変更されるまで"
            "再オーソリしません",
        )
    if not reauthorization_allowed(o.method.provider, o.order.authorization_count):
        limit = max_reauthorizations(o.method.provider)
        await _set_label(s, o, L.STOPPED)
        text = f"決済会社の再オーソリ上限({limit}回)に達したため、自動の再オーソリを停止しました。"
        await _queue_change_request(
            s, shop, o, next_step=text + "別の支払い方法でのご請求をご検討ください。", now=now
        )
        return _item(o, ItemStatus.FAILED, text)
    if source.card is not None and blocks_charging(source.card.updater_result):
        await _set_label(s, o, L.TARGET)
        text = (
            f"洗替結果が「{updater_label(source.card.updater_result)}」のカードには請求しません。"
        )
        await _queue_change_request(
            s,
            shop,
            o,
            next_step=text
            + "顧客がカードを変更すると、次回の発送日に新しいカードで再オーソリします。",
            now=now,
        )
        return _item(o, ItemStatus.FAILED, text + "カードの変更を待っています", card=source.card)
    if not await _claim(s, o, day):
        return _item(o, ItemStatus.SKIPPED, "同時に別の処理が再オーソリしました")
    return source


async def _after_try(
    s: AsyncSession,
    services: "Services",
    shop: ShopSettings,
    o: _Order,
    day: date,
    error: KessaiError | None,
    *,
    again: bool = False,
) -> ItemResult:
    """Record what the try came to, read from the order and its last authorization."""
    now = services.clock.now()
    if o.status in PAID_STATUSES:
        return await _complete(s, o, now)
    if o.status in ENDED_STATUSES:
        await _set_label(s, o, L.STOPPED)
        return _item(o, ItemStatus.SKIPPED, "取消済みの受注のため再オーソリしません")
    if error is not None and not isinstance(error, InProgress | ProviderUnavailable):
        # Refused by the status table or a provider rule: no later day changes that.
        await _set_label(s, o, L.STOPPED)
        return _item(o, ItemStatus.FAILED, f"再オーソリできません: {error.message}")
    if o.status in WAITING_STATUSES or o.status is S.PENDING:
        # No answer yet (与信審査中, 3-D Secure, unreachable or unknown): nothing is known
        # to have failed; the engine settles it before the next try.
        waiting = error.message if error is not None else "決済サービスの結果を待っています"
        status = ItemStatus.SKIPPED if again or error is None else ItemStatus.FAILED
        return _item(o, status, f"決済状況「{o.status.label}」: {waiting}")
    code, message = await _last_decline(s, o.order.id)
    final = code is not None and is_final_decline(_connector(o), code)
    if o.label in OPEN_LABELS:
        await _set_label(s, o, L.CARD_DECLINED if final else L.TARGET)
    next_step = FINAL_DECLINE_STEP if final else RETRY_STEP
    await _queue_change_request(
        s, shop, o, next_step=next_step, now=now, code=code, message=message
    )
    if again:
        return _item(o, ItemStatus.SKIPPED, "本日は再オーソリ済みです", code=code)
    reason = " ".join(p for p in (code, message) if p) or o.status.label
    text = f"再オーソリに失敗しました: {reason}"
    if final:
        text += "(カードが変更されるまで再オーソリしません)"
    return _item(o, ItemStatus.FAILED, text, code=code)


# ------------------------------------------------------------------------ steps


async def _complete(s: AsyncSession, o: _Order, now: datetime) -> ItemResult:
    """再与信完了; the 定期受注 back to 有効 — once, by the label's compare-and-set."""
    if await _set_label(s, o, L.COMPLETED) and o.subscription is not None:
        await resume_after_payment(s, o.subscription.id, now)
    return _item(o, ItemStatus.SUCCEEDED, "再与信完了", label=L.COMPLETED)


async def _expire(s: AsyncSession, o: _Order, now: datetime) -> ItemResult:
    """The 30 days ended unpaid: 再与信期限切れ, and the 定期受注 is キャンセル."""
    if await _set_label(s, o, L.EXPIRED) and o.subscription is not None:
        await cancel_unpaid(s, o.subscription.id, now)
    cancelled = "。定期受注をキャンセルしました" if o.subscription is not None else ""
    return _item(
        o,
        ItemStatus.FAILED,
        f"再与信期間(受注日から{WINDOW_DAYS}日)が終了しました{cancelled}",
        label=L.EXPIRED,
    )


async def _set_label(s: AsyncSession, o: _Order, label: ReauthorizationLabel) -> bool:
    """Move the label from what was read; False when it already was (or moved meanwhile)."""
    seen = o.order.reauthorization_label
    if seen == label.value:
        return False
    result = await s.execute(
        update(Order)
        .where(
            Order.id == o.order.id,
            Order.reauthorization_label.is_(None)
            if seen is None
            else Order.reauthorization_label == seen,
        )
        .values(reauthorization_label=label.value)
        .execution_options(synchronize_session=False)
    )
    changed = bool(result.rowcount == 1)  # type: ignore[attr-defined]
    if changed:  # what was written, without marking the object for another UPDATE
        set_committed_value(o.order, "reauthorization_label", label.value)
    return changed


async def _claim(s: AsyncSession, o: _Order, day: date) -> bool:
    """Today's one try: recorded only if nobody tried today or touched the order since."""
    order = o.order
    result = await s.execute(
        update(Order)
        .where(
            Order.id == order.id,
            Order.version == order.version,
            or_(Order.reauthorization_tried_on.is_(None), Order.reauthorization_tried_on != day),
        )
        .values(
            reauthorization_label=L.TARGET.value,
            reauthorization_tries=Order.reauthorization_tries + 1,
            reauthorization_tried_on=day,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def _load(s: AsyncSession, order_id: int) -> _Order | None:
    row = (
        await s.execute(
            select(Order, PaymentMethod, ProviderAccount, Customer)
            .join(PaymentMethod, PaymentMethod.id == Order.payment_method_id)
            .outerjoin(ProviderAccount, ProviderAccount.id == PaymentMethod.account_id)
            .join(Customer, Customer.id == Order.customer_id)
            .where(Order.id == order_id)
            .execution_options(populate_existing=True)
        )
    ).one_or_none()
    if row is None:
        return None
    order = row[0]
    sub = None
    if order.subscription_id is not None:
        sub = await s.get(Subscription, order.subscription_id, populate_existing=True)
    return _Order(order, row[1], row[2], row[3], sub)


async def _current_source(s: AsyncSession, o: _Order) -> _Source:
    card: CustomerCard | None = None
    if o.subscription is not None and o.subscription.card_id is not None:
        card = await s.get(CustomerCard, o.subscription.card_id, populate_existing=True)
        if card is not None and card.deleted_at is not None:
            card = None
    if card is None and o.method.account_id is not None:
        card = await s.scalar(
            select(CustomerCard)
            .where(
                CustomerCard.customer_id == o.order.customer_id,
                CustomerCard.account_id == o.method.account_id,
                CustomerCard.deleted_at.is_(None),
            )
            .order_by(CustomerCard.id.desc())
            .limit(1)
        )
    if card is None:
        return _Source(None, None)
    source = {"card_id": str(card.id), "member_id": card.member_id, "card_seq": card.card_seq}
    return _Source(source, card)


def _same_card(source: dict[str, str] | None, used: dict[str, Any]) -> bool:
    if source is None:
        return True  # no other card to try than the order's own
    if "card_id" in source and "card_id" in used:
        return str(used["card_id"]) == source["card_id"]
    return source == used


async def _last_decline(s: AsyncSession, order_id: int) -> tuple[str | None, str | None]:
    """Provider code and message of the order's last authorization, if it was declined."""
    row = (
        await s.execute(
            select(
                PaymentAttempt.outcome,
                PaymentAttempt.provider_code,
                PaymentAttempt.provider_message,
            )
            .where(
                PaymentAttempt.order_id == order_id,
                PaymentAttempt.operation.in_((Operation.AUTHORIZE, Operation.AUTHORIZE_CAPTURE)),
            )
            .order_by(PaymentAttempt.id.desc())
            .limit(1)
        )
    ).one_or_none()
    if row is None or row.outcome != "declined":
        return None, None
    return row.provider_code, row.provider_message


def _connector(o: _Order) -> str:
    return o.account.connector if o.account is not None else ""


async def _queue_change_request(
    s: AsyncSession,
    shop: ShopSettings,
    o: _Order,
    *,
    next_step: str,
    now: datetime,
    code: str | None = None,
    message: str | None = None,
) -> None:
    """決済方法変更のご案内 to the customer and the shop: once per order, however many tries."""
    await queue_change_request(
        s,
        shop,
        o.order,
        o.customer,
        o.method,
        next_step=next_step,
        now=now,
        code=code,
        message=message,
        deadline=deadline(o.order.ordered_at),
        dedupe_key=f"{MailKind.PAYMENT_METHOD_CHANGE_REQUEST.value}:order:{o.order.id}",
    )


def _item(
    o: _Order,
    status: ItemStatus,
    message: str,
    *,
    label: ReauthorizationLabel | None = None,
    code: str | None = None,
    card: CustomerCard | None = None,
) -> ItemResult:
    order = o.order
    shown = label or o.label
    used = card.masked_number if card is not None else order.payment_source.get("card_id", "")
    if used and card is None:
        used = f"登録カードID {used}"
    return ItemResult(
        str(order.id),
        status,
        message,
        {
            "order_id": order.id,
            "order_number": order.number,
            "subscription_id": order.subscription_id or "",
            "payment_status": PaymentStatus(order.payment_status).label,
            "label": shown.label if shown is not None else "",
            "tries": order.reauthorization_tries,
            "card": used,
            "provider_code": code or "",
        },
    )
