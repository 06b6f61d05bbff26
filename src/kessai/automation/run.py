"""Rules at work: the relay's listener starts a 自動化設定 job for the events that match an
enabled rule (in the relay's transaction, so after the change committed and exactly once);
the job runs each (rule, event): checks the 条件, takes the アクション in one transaction with
a run marker and a 変更履歴 row naming the rule, then any 再オーソリ. A failing action fails
the chunk, which the job runner runs again with a growing pause (ジョブ管理 shows it).

A change made by a rule carries the chain of rules behind it in its actor (automation:3>5);
a rule never runs on a change its own chain made, and no chain grows past MAX_CHAIN.
"""

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from kessai.automation import facts as facts_
from kessai.automation.models import AutomationRule, AutomationRun
from kessai.automation.rules import (
    MAX_CHAIN,
    ActionKind,
    ActionSpec,
    Conditions,
    EventSpec,
    actor_for,
    chain_of,
)
from kessai.core.db import transaction
from kessai.core.errors import InProgress
from kessai.core.upsert import dialect_insert
from kessai.history.repository import record_changes
from kessai.jobs import repository as jobs_repo
from kessai.jobs.kinds import ItemResult, register
from kessai.jobs.status import ItemStatus, JobStatus
from kessai.notifications.delivery import deliver_pending
from kessai.notifications.service import MailTo, queue_mail
from kessai.notifications.templates import BUILTIN, MailKind, Recipient
from kessai.orders.models import Order, OrderLabel
from kessai.payments import repository as payments_repo
from kessai.payments.plans import ActionRequest, ShipmentInput
from kessai.payments.status import HandlingStatus
from kessai.shop.service import get_shop_settings
from kessai.webhooks.events import emit, event_row, state_of
from kessai.webhooks.listeners import listen
from kessai.webhooks.models import Event

if TYPE_CHECKING:
    from kessai.jobs.models import Job
    from kessai.services import Services

KIND = "automation"


@listen
async def start_rules(services: "Services", s: AsyncSession, events: Sequence[Event]) -> list[int]:
    """A job for the (rule, event) pairs that match; its id, to send after commit."""
    rules = (
        await s.scalars(
            select(AutomationRule)
            .where(AutomationRule.enabled.is_(True))
            .order_by(AutomationRule.position, AutomationRule.id)
        )
    ).all()
    if not rules:
        return []
    specs = [(r.id, EventSpec.model_validate(r.event)) for r in rules]
    pairs: list[list[int]] = []
    for e in events:
        chain = chain_of(e.data.get("actor"))
        if len(chain) >= MAX_CHAIN or e.data.get("job", {}).get("kind") == KIND:
            continue  # a chain too long, or 自動化設定's own job ending: rules never loop
        pairs.extend(
            [rule_id, e.id]
            for rule_id, spec in specs
            if rule_id not in chain and spec.matches(e.type, e.data)
        )
    if not pairs:
        return []
    job_id = await jobs_repo.insert_job(
        s,
        {
            "kind": KIND,
            "name": AutomationKind.name,
            "status": JobStatus.QUEUED.value,
            "params": {"pairs": pairs},
            "dedupe_key": f"{KIND}:events:{events[0].id}-{events[-1].id}",
            "total": 0,
            "processed": 0,
            "succeeded": 0,
            "failed": 0,
            "skipped": 0,
            "created_by": "自動化設定",
            "created_at": services.clock.now(),
        },
    )
    return [] if job_id is None else [job_id]


class AutomationKind:
    kind = KIND
    name = "自動化設定"
    columns: Sequence[tuple[str, str]] = (
        ("rule", "ルール"),
        ("subject", "対象"),
        ("actions", "アクション"),
    )
    chunk_size = 20

    async def plan(self, services: "Services", job: "Job") -> list[Any]:
        return [f"{rule}:{event}" for rule, event in job.params.get("pairs", [])]

    async def run(self, services: "Services", job: "Job", keys: list[Any]) -> list[ItemResult]:
        results = []
        for key in keys:
            rule_id, event_id = (int(p) for p in str(key).split(":"))
            results.append(await run_rule(services, str(key), rule_id, event_id))
        await deliver_pending(services)  # the mails queued above, now committed
        return results


register(AutomationKind())


async def run_rule(services: "Services", key: str, rule_id: int, event_id: int) -> ItemResult:
    reauthorize: tuple[int, str] | None = None
    async with transaction(services.sessions) as s:
        rule = await s.get(AutomationRule, rule_id, populate_existing=True)
        event = await s.get(Event, event_id)
        if rule is None or not rule.enabled or event is None:
            return ItemResult(key, ItemStatus.SKIPPED, "ルールが削除されたか無効になっています")
        data = {"rule": rule.name, "subject": event.subject}
        facts = await facts_.load(s, event.subject)
        if not facts.meets(Conditions.model_validate(rule.conditions)):
            return ItemResult(key, ItemStatus.SKIPPED, "条件に一致しません", data)
        marker = (
            dialect_insert(s, AutomationRun)
            .values(rule_id=rule_id, event_id=event_id, at=services.clock.now())
            .on_conflict_do_nothing()
            .returning(AutomationRun.id)
        )
        if (await s.execute(marker)).scalar_one_or_none() is None:
            return ItemResult(key, ItemStatus.SKIPPED, "実行済みです", data)
        actor = actor_for([*chain_of(event.data.get("actor")), rule.id])
        done = []
        for action in (ActionSpec.model_validate(a) for a in rule.actions):
            if action.kind is ActionKind.REAUTHORIZE:
                assert facts.order is not None
                reauthorize = (facts.order.id, actor)
            else:
                await _act(services, s, action, rule, event, facts, actor)
            done.append(action.kind.label)
        data["actions"] = "、".join(done)
        if facts.order is not None:
            await record_changes(
                s,
                entity="order",
                entity_id=facts.order.id,
                changes={"automation": (None, data["actions"])},
                actor=actor,
                at=services.clock.now(),
                reason=f"自動化設定「{rule.name}」",
                state=state_of("order", facts.order, {}),
            )
        for sub in facts_.subscriptions_of(facts):  # no order: the 定期受注's 変更履歴
            await record_changes(
                s,
                entity="subscription",
                entity_id=sub.id,
                changes={"automation": (None, data["actions"])},
                actor=actor,
                at=services.clock.now(),
                reason=f"自動化設定「{rule.name}」",
                state=state_of("subscription", sub, {}),
            )
    if reauthorize is not None:
        order_id, by = reauthorize
        req = ActionRequest(
            action="reauthorize", actor=by, shipment=ShipmentInput(None, None, None)
        )
        result = await services.payments.run(order_id, req)
        data["actions"] += f" ({result.message})"
    return ItemResult(key, ItemStatus.SUCCEEDED, "実行しました", data)


async def _act(
    services: "Services",
    s: AsyncSession,
    action: ActionSpec,
    rule: AutomationRule,
    event: Event,
    facts: facts_.Facts,
    actor: str,
) -> None:
    now = services.clock.now()
    reason = f"自動化設定「{rule.name}」"
    if action.kind in (ActionKind.MAIL_CUSTOMER, ActionKind.MAIL_SHOP):
        shop = await get_shop_settings(s)
        to = (
            MailTo(Recipient.CUSTOMER, facts.customer.email if facts.customer else None)
            if action.kind is ActionKind.MAIL_CUSTOMER
            else MailTo(Recipient.SHOP, shop.notification_email)
        )
        await queue_mail(
            s,
            kind=BUILTIN[action.template].kind
            if action.template in BUILTIN
            else MailKind.AUTOMATION,
            to=to,
            shop=shop,
            context=facts_.mail_context(facts, rule.name, shop.card_change_allowed)
            | facts_.deadline_context(event.data),
            now=now,
            dedupe_key=f"{KIND}:{rule.id}:{event.id}:{action.template}",
            order_id=facts.order.id if facts.order else None,
            customer_id=facts.customer.id if facts.customer else None,
            template=action.template,
        )
        return
    if action.kind is ActionKind.WEBHOOK:
        state = state_of("order", facts.order, {}) if facts.order else {}
        row = event_row(
            "automation.fired",
            "order" if facts.order else event.subject.partition(":")[0],
            facts.order.id if facts.order else int(event.subject.partition(":")[2]),
            now,
            state=state,
            rule={"id": rule.id, "name": rule.name},
            trigger={"id": event.uid, "type": event.type},
            actor=actor,
        )
        await emit(s, [row])
        return
    order = facts.order
    assert order is not None
    if action.kind is ActionKind.SET_HANDLING_STATUS:
        if order.in_flight_attempt_id is not None:
            # A payment call owns the order until it settles: never write under it.
            raise InProgress("決済処理中の受注です。後で再実行します")
        current = await s.get(Order, order.id, populate_existing=True)
        assert current is not None
        assert action.status is not None
        if current.handling_status == action.status:
            return
        if not await payments_repo.compare_and_set(
            s,
            current,
            {"handling_status": HandlingStatus(action.status).value},
            actor=actor,
            at=now,
            reason=reason,
        ):
            raise InProgress("受注が同時に更新されました。後で再実行します")
        return
    label = action.label
    assert label is not None
    has = label in await facts_.labels_of(s, order.id)
    if action.kind is ActionKind.ADD_LABEL and not has:
        await s.execute(
            dialect_insert(s, OrderLabel)
            .values(order_id=order.id, label=label, created_at=now)
            .on_conflict_do_nothing()
        )
        await _label_change(s, order, None, label, actor, now, reason)
    elif action.kind is ActionKind.REMOVE_LABEL and has:
        await s.execute(
            delete(OrderLabel).where(OrderLabel.order_id == order.id, OrderLabel.label == label)
        )
        await _label_change(s, order, label, None, actor, now, reason)


async def _label_change(
    s: AsyncSession,
    order: Order,
    before: str | None,
    after: str | None,
    actor: str,
    now: Any,
    reason: str,
) -> None:
    await record_changes(
        s,
        entity="order",
        entity_id=order.id,
        changes={"label": (before, after)},
        actor=actor,
        at=now,
        reason=reason,
        state=state_of("order", order, {}),
    )
