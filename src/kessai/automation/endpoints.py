"""/api/v1/automation-rules: 自動化設定 (ordered rules, 有効/無効, dry run)."""

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from kessai.automation import service
from kessai.automation.models import AutomationRule
from kessai.automation.rules import (
    ACTION_LABELS,
    DEADLINES,
    EVENT_LABELS,
    ActionKind,
    EventKind,
    RuleIn,
    RulePatch,
)
from kessai.core.db import read_transaction, transaction
from kessai.payments.status import HandlingStatus, PaymentStatus
from kessai.web.deps import PrincipalDep, ServicesDep

router = APIRouter(prefix="/api/v1/automation-rules", tags=["自動化設定"])


class RuleOut(BaseModel):
    id: int
    name: str
    position: int = Field(description="並び順 (小さいほど先に実行)")
    enabled: bool
    event: dict[str, Any]
    event_label: str
    conditions: dict[str, Any]
    actions: list[dict[str, Any]]
    action_labels: list[str]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, r: AutomationRule) -> "RuleOut":
        kind = EventKind(r.event["kind"])
        status = r.event.get("status")
        label = kind.label
        if status and kind is EventKind.PAYMENT_STATUS:
            label = f"決済状況が「{PaymentStatus(status).label}」になったとき"
        elif status and kind is EventKind.HANDLING_STATUS:
            label = f"対応状況が「{HandlingStatus(status).label}」になったとき"
        elif kind is EventKind.DEADLINE_CLOSING:
            label = f"{DEADLINES[r.event['deadline']]}が{r.event['days']}日以内になったとき"
        return cls(
            id=r.id,
            name=r.name,
            position=r.position,
            enabled=r.enabled,
            event=r.event,
            event_label=label,
            conditions=r.conditions,
            actions=r.actions,
            action_labels=[ActionKind(a["kind"]).label for a in r.actions],
            created_at=r.created_at,
            updated_at=r.updated_at,
        )


class OrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rule_ids: list[int] = Field(max_length=1000, description="すべてのルールのID (先に実行する順)")


class DryRunOut(BaseModel):
    rule_id: int
    count: int
    limited: bool = Field(description=f"{service.DRY_RUN_LIMIT}件で打ち切ったか")
    orders: list[dict[str, Any]]


@router.get("/choices", summary="イベントとアクションの一覧")
async def choices(_: PrincipalDep) -> dict[str, Any]:
    return {
        "events": [{"kind": k.value, "label": v} for k, v in EVENT_LABELS.items()],
        "actions": [{"kind": k.value, "label": v} for k, v in ACTION_LABELS.items()],
        "payment_statuses": [{"code": p.value, "label": p.label} for p in PaymentStatus],
        "handling_statuses": [{"code": h.value, "label": h.label} for h in HandlingStatus],
        "deadlines": [{"code": k, "label": v} for k, v in DEADLINES.items()],
    }


@router.get("", response_model=list[RuleOut], summary="自動化設定の一覧 (実行順)")
async def list_rules(services: ServicesDep, _: PrincipalDep) -> list[RuleOut]:
    async with read_transaction(services.sessions) as s:
        return [RuleOut.of(r) for r in await service.list_rules(s)]


@router.post("", response_model=RuleOut, status_code=201, summary="ルールの追加 (最後に実行)")
async def create_rule(data: RuleIn, services: ServicesDep, _: PrincipalDep) -> RuleOut:
    async with transaction(services.sessions) as s:
        return RuleOut.of(await service.create_rule(s, data, services.clock.now()))


@router.put("/order", response_model=list[RuleOut], summary="並び順の変更")
async def reorder(data: OrderIn, services: ServicesDep, _: PrincipalDep) -> list[RuleOut]:
    async with transaction(services.sessions) as s:
        rules = await service.reorder(s, data.rule_ids, services.clock.now())
        return [RuleOut.of(r) for r in rules]


@router.get("/{rule_id}", response_model=RuleOut, summary="ルール")
async def get_rule(rule_id: int, services: ServicesDep, _: PrincipalDep) -> RuleOut:
    async with read_transaction(services.sessions) as s:
        return RuleOut.of(await service.get_rule(s, rule_id))


@router.patch("/{rule_id}", response_model=RuleOut, summary="ルールの変更・有効/無効")
async def update_rule(
    rule_id: int, data: RulePatch, services: ServicesDep, _: PrincipalDep
) -> RuleOut:
    async with transaction(services.sessions) as s:
        return RuleOut.of(await service.update_rule(s, rule_id, data, services.clock.now()))


@router.delete("/{rule_id}", status_code=204, summary="ルールの削除")
async def delete_rule(rule_id: int, services: ServicesDep, _: PrincipalDep) -> Response:
    async with transaction(services.sessions) as s:
        await service.delete_rule(s, rule_id)
    return Response(status_code=204)


@router.get(
    "/{rule_id}/dry-run",
    response_model=DryRunOut,
    summary="ドライラン: 今日このルールに一致する受注 (何も実行しません)",
)
async def dry_run(rule_id: int, services: ServicesDep, _: PrincipalDep) -> DryRunOut:
    async with read_transaction(services.sessions) as s:
        rule = await service.get_rule(s, rule_id)
        found = await service.dry_run(s, rule, services.clock.now())
    return DryRunOut(
        rule_id=rule_id,
        count=len(found),
        limited=len(found) >= service.DRY_RUN_LIMIT,
        orders=[
            {
                "id": m.order_id,
                "number": m.number,
                "payment_status": m.payment_status,
                "payment_status_label": PaymentStatus(m.payment_status).label,
                "handling_status": m.handling_status,
                "handling_status_label": HandlingStatus(m.handling_status).label,
                "amount": m.amount,
                "deadline": m.deadline,
            }
            for m in found
        ],
    )
