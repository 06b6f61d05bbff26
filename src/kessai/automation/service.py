"""自動化設定 rules: add, change, reorder (並び順), 有効/無効, remove, and the dry run that lists
the orders a rule would match today. Never commits."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kessai.accounts.models import PaymentMethod
from kessai.automation.models import AutomationRule
from kessai.automation.rules import Conditions, EventKind, RuleIn, RulePatch
from kessai.core.errors import InvalidInput, NotFound
from kessai.customers.models import Customer
from kessai.notifications.models import MailTemplate
from kessai.notifications.templates import BUILTIN, MailKind
from kessai.orders.models import Order, OrderLabel
from kessai.payments.deadlines import DeadlineKind, closing_soon

DRY_RUN_LIMIT = 100


def not_found(rule_id: int) -> NotFound:
    return NotFound(
        f"自動化設定のルールが見つかりませんでした (id: {rule_id})",
        code="automation_rule_not_found",
    )


async def get_rule(s: AsyncSession, rule_id: int) -> AutomationRule:
    rule = await s.get(AutomationRule, rule_id, populate_existing=True)
    if rule is None:
        raise not_found(rule_id)
    return rule


async def list_rules(s: AsyncSession) -> list[AutomationRule]:
    rows = await s.scalars(
        select(AutomationRule).order_by(AutomationRule.position, AutomationRule.id)
    )
    return list(rows.all())


def template_kinds(event: EventKind) -> frozenset[MailKind]:
    """The built-in templates a rule on this event may mail: 自動化設定's own, and on a card
    event the 決済方法変更のご案内 that names the card."""
    if event is EventKind.CARD_UPDATER_NG:
        return frozenset({MailKind.AUTOMATION, MailKind.CARD_UPDATER_NG})
    return frozenset({MailKind.AUTOMATION})


async def _check_templates(s: AsyncSession, data: RuleIn) -> None:
    """Each mail names a template this kind of mail can use: 自動化設定's own or the shop's."""
    kinds = template_kinds(data.event.kind)
    for action in data.actions:
        code = action.template
        if code is None:
            continue
        ok = code in BUILTIN and BUILTIN[code].kind in kinds
        if not ok and code.startswith("custom_"):
            ok = await s.get(MailTemplate, code) is not None
        if not ok:
            raise InvalidInput(
                f"メールテンプレート「{code}」はイベント「{data.event.kind.label}」では使えません",
                code="unknown_mail_template",
                detail={"template": code},
            )


def _values(data: RuleIn) -> dict[str, Any]:
    return {
        "name": data.name,
        "enabled": data.enabled,
        "event": data.event.model_dump(),
        "conditions": data.conditions.model_dump(exclude_defaults=True),
        "actions": [a.model_dump(exclude_none=True) for a in data.actions],
    }


async def create_rule(s: AsyncSession, data: RuleIn, now: datetime) -> AutomationRule:
    await _check_templates(s, data)
    last = await s.scalar(select(func.max(AutomationRule.position)))
    rule = AutomationRule(
        **_values(data), position=int(last or 0) + 1, version=0, created_at=now, updated_at=now
    )
    s.add(rule)
    await s.flush()
    return rule


async def update_rule(
    s: AsyncSession, rule_id: int, patch: RulePatch, now: datetime
) -> AutomationRule:
    rule = await get_rule(s, rule_id)
    merged = RuleIn.model_validate(
        {
            "name": patch.name if patch.name is not None else rule.name,
            "enabled": patch.enabled if patch.enabled is not None else rule.enabled,
            "event": patch.event.model_dump() if patch.event else rule.event,
            "conditions": patch.conditions.model_dump() if patch.conditions else rule.conditions,
            "actions": [a.model_dump() for a in patch.actions] if patch.actions else rule.actions,
        }
    )
    await _check_templates(s, merged)
    for name, value in _values(merged).items():
        setattr(rule, name, value)
    rule.version += 1
    rule.updated_at = now
    await s.flush()
    return rule


async def reorder(s: AsyncSession, ids: list[int], now: datetime) -> list[AutomationRule]:
    """並び順: `ids` is every rule, first to last."""
    rules = await list_rules(s)
    if sorted(ids) != sorted(r.id for r in rules) or len(set(ids)) != len(ids):
        raise InvalidInput(
            "並び順にはすべてのルールのIDを1回ずつ指定してください",
            code="invalid_rule_order",
            detail={"rule_ids": [r.id for r in rules]},
        )
    for position, rule_id in enumerate(ids, start=1):
        await s.execute(
            update(AutomationRule)
            .where(AutomationRule.id == rule_id)
            .values(position=position, updated_at=now)
            .execution_options(synchronize_session=False)
        )
    return await list_rules(s)


async def delete_rule(s: AsyncSession, rule_id: int) -> None:
    await s.delete(await get_rule(s, rule_id))


@dataclass(frozen=True)
class Match:
    order_id: int
    number: str
    payment_status: str
    handling_status: str
    amount: int
    deadline: datetime | None = None  # 期限のイベント: the deadline that closes


async def dry_run(s: AsyncSession, rule: AutomationRule, now: datetime) -> list[Match]:
    """The orders the rule would act on today: those already in the rule's state (決済状況 /
    対応状況), or whose deadline closes within the rule's days, that meet its 条件. Events
    that are moments (応答不明, jobs, 定期受注, 洗替) match no standing order."""
    event = rule.event
    kind = EventKind(event["kind"])
    deadlines: dict[int, datetime] = {}
    if kind is EventKind.PAYMENT_STATUS:
        query = select(Order).where(Order.payment_status == event["status"])
    elif kind is EventKind.HANDLING_STATUS:
        query = select(Order).where(Order.handling_status == event["status"])
    elif kind is EventKind.DEADLINE_CLOSING:
        closing = await closing_soon(
            s, now, timedelta(days=event["days"]), DeadlineKind(event["deadline"])
        )
        deadlines = {c.order_id: c.deadline for c in closing}
        query = select(Order).where(Order.id.in_(list(deadlines)))
    else:
        return []
    c = Conditions.model_validate(rule.conditions)
    if c.payment_methods:
        query = query.join(PaymentMethod, PaymentMethod.id == Order.payment_method_id).where(
            PaymentMethod.code.in_(c.payment_methods)
        )
    if c.amount_min is not None:
        query = query.where(Order.amount >= c.amount_min)
    if c.amount_max is not None:
        query = query.where(Order.amount <= c.amount_max)
    if c.subscription is not None:
        query = query.where(
            Order.subscription_id.is_not(None)
            if c.subscription
            else Order.subscription_id.is_(None)
        )
    for label in c.labels:
        query = query.where(
            select(OrderLabel.id)
            .where(OrderLabel.order_id == Order.id, OrderLabel.label == label)
            .exists()
        )
    if c.customer_email_domain:
        query = query.join(Customer, Customer.id == Order.customer_id).where(
            func.lower(Customer.email).like(f"%@{c.customer_email_domain.lower()}")
        )
    rows = await s.scalars(query.order_by(Order.id.desc()).limit(DRY_RUN_LIMIT))
    found = [
        Match(o.id, o.number, o.payment_status, o.handling_status, o.amount, deadlines.get(o.id))
        for o in rows.all()
    ]
    if deadlines:  # soonest first, as the dashboard lists them
        found.sort(key=lambda m: (m.deadline, m.order_id))
    return found
