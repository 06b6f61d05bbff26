"""自動化設定 in the admin: the rules in their order (有効/無効, 上へ・下へ), a form for one rule
(イベント, 条件, up to three アクション) and its dry run. The rules' own checks (RuleIn) give
the form's Japanese errors."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from kessai.automation import service
from kessai.automation.deadlines import shown
from kessai.automation.endpoints import RuleOut
from kessai.automation.rules import ACTION_LABELS, DEADLINES, EVENT_LABELS, RuleIn, RulePatch
from kessai.core.db import transaction
from kessai.core.errors import InvalidInput
from kessai.notifications import repository as mail_repo
from kessai.notifications.templates import BUILTIN, MailKind
from kessai.payments.status import HandlingStatus, PaymentStatus
from kessai.users.service import Permission, Principal
from kessai.web.admin.core import AdminContext, read_form, redirect, render

RuleId = Annotated[int, Path(ge=1, le=2**63 - 1)]
ACTION_ROWS = 3
BASE = "/admin/settings/automation"


def _list(form: FormData, name: str) -> list[str]:
    return [p.strip() for p in str(form.get(name) or "").split(",") if p.strip()]


def _int(form: FormData, name: str) -> int | None:
    raw = str(form.get(name) or "").strip()
    return int(raw) if raw.isdigit() else None if not raw else -1


def rule_body(form: FormData) -> dict[str, Any]:
    """The form as the API's rule body (RuleIn), blanks left out."""
    event: dict[str, Any] = {"kind": str(form.get("event_kind") or "")}
    if form.get("event_status"):
        event["status"] = str(form.get("event_status"))
    if form.get("event_deadline"):
        event["deadline"] = str(form.get("event_deadline"))
    if (days := _int(form, "event_days")) is not None:
        event["days"] = days
    conditions: dict[str, Any] = {
        "payment_methods": _list(form, "payment_methods"),
        "labels": _list(form, "labels"),
    }
    for name in ("amount_min", "amount_max"):
        if (value := _int(form, name)) is not None:
            conditions[name] = value
    if form.get("subscription") in ("true", "false"):
        conditions["subscription"] = form.get("subscription") == "true"
    if form.get("customer_email_domain"):
        conditions["customer_email_domain"] = str(form.get("customer_email_domain"))
    actions = []
    for n in range(ACTION_ROWS):
        kind = str(form.get(f"action_kind_{n}") or "")
        if not kind:
            continue
        action: dict[str, Any] = {"kind": kind}
        for key in ("template", "status", "label"):
            text = str(form.get(f"action_{key}_{n}") or "").strip()
            if text:
                action[key] = text
        actions.append(action)
    return {
        "name": str(form.get("name") or ""),
        "enabled": form.get("enabled") == "on",
        "event": event,
        "conditions": conditions,
        "actions": actions,
    }


FIELD_LABELS = {
    "name": "ルール名",
    "event": "イベント",
    "conditions": "条件",
    "actions": "アクション",
    "amount_min": "金額の下限",
    "amount_max": "金額の上限",
    "customer_email_domain": "メールアドレスのドメイン",
    "label": "受注ラベル",
    "kind": "種類",
}


def errors_of(exc: ValidationError) -> list[str]:
    """Our own checks' Japanese messages; for the rest, which field is wrong."""
    messages = []
    for e in exc.errors():
        msg = str(e["msg"])
        if msg.startswith("Value error, "):
            messages.append(msg.removeprefix("Value error, "))
            continue
        names = [FIELD_LABELS[str(p)] for p in e["loc"] if str(p) in FIELD_LABELS]
        where = names[-1] if names else "入力"
        messages.append(f"「{where}」の入力が正しくありません")
    return list(dict.fromkeys(messages))


def add_automation_routes(router: APIRouter, ctx: AdminContext) -> None:
    edit = Depends(ctx.require(Permission.SETTINGS_EDIT))
    post = Depends(ctx.require(Permission.SETTINGS_EDIT, csrf=True))

    async def templates() -> list[tuple[str, str]]:
        async with transaction(ctx.services.sessions) as s:
            custom = [(r.code, r.name) for r in await mail_repo.list_templates(s)]
        kinds = {MailKind.AUTOMATION, MailKind.CARD_UPDATER_NG}  # which fits: service
        builtin = [(c, t.name) for c, t in BUILTIN.items() if t.kind in kinds]
        return builtin + [c for c in custom if c[0].startswith("custom_")]

    async def form_page(
        request: Request, body: dict[str, Any], rule_id: int | None, errors: list[str]
    ) -> Response:
        return render(
            request,
            "automation_form.html",
            {
                "nav": "automation",
                "body": body,
                "rule_id": rule_id,
                "errors": errors,
                "events": EVENT_LABELS,
                "action_kinds": ACTION_LABELS,
                "payment_statuses": list(PaymentStatus),
                "handling_statuses": list(HandlingStatus),
                "deadlines": DEADLINES,
                "templates": await templates(),
                "rows": range(ACTION_ROWS),
            },
            status_code=422 if errors else 200,
        )

    @router.get("/settings/automation", summary="自動化設定")
    async def rules(request: Request, _: Annotated[Principal, edit]) -> Response:
        async with transaction(ctx.services.sessions) as s:
            rows = [RuleOut.of(r) for r in await service.list_rules(s)]
        return render(request, "automation.html", {"nav": "automation", "rows": rows})

    @router.get("/settings/automation/new", summary="自動化設定: ルールの追加")
    async def new_rule(request: Request, _: Annotated[Principal, edit]) -> Response:
        blank = {"name": "", "enabled": True, "event": {}, "conditions": {}, "actions": []}
        return await form_page(request, blank, None, [])

    @router.post("/settings/automation/new", summary="自動化設定: ルールを追加")
    async def create(request: Request, _: Annotated[Principal, post]) -> Response:
        body = rule_body(await read_form(request))
        try:
            data = RuleIn.model_validate(body)
            async with transaction(ctx.services.sessions) as s:
                await service.create_rule(s, data, ctx.services.clock.now())
        except ValidationError as exc:
            return await form_page(request, body, None, errors_of(exc))
        except InvalidInput as exc:
            return await form_page(request, body, None, [exc.message])
        return redirect(BASE, flash="saved")

    @router.get("/settings/automation/{rule_id}", summary="自動化設定: ルールの編集")
    async def show(request: Request, rule_id: RuleId, _: Annotated[Principal, edit]) -> Response:
        async with transaction(ctx.services.sessions) as s:
            rule = await service.get_rule(s, rule_id)
            body = {
                "name": rule.name,
                "enabled": rule.enabled,
                "event": rule.event,
                "conditions": rule.conditions,
                "actions": rule.actions,
            }
        return await form_page(request, body, rule_id, [])

    @router.post("/settings/automation/{rule_id}", summary="自動化設定: ルールを保存")
    async def save(request: Request, rule_id: RuleId, _: Annotated[Principal, post]) -> Response:
        body = rule_body(await read_form(request))
        try:
            patch = RulePatch.model_validate(body)
            async with transaction(ctx.services.sessions) as s:
                await service.update_rule(s, rule_id, patch, ctx.services.clock.now())
        except ValidationError as exc:
            return await form_page(request, body, rule_id, errors_of(exc))
        except InvalidInput as exc:
            return await form_page(request, body, rule_id, [exc.message])
        return redirect(BASE, flash="saved")

    @router.post("/settings/automation/{rule_id}/toggle", summary="自動化設定: 有効/無効")
    async def toggle(rule_id: RuleId, _: Annotated[Principal, post]) -> Response:
        async with transaction(ctx.services.sessions) as s:
            rule = await service.get_rule(s, rule_id)
            patch = RulePatch(enabled=not rule.enabled)
            await service.update_rule(s, rule_id, patch, ctx.services.clock.now())
        return redirect(BASE, flash="saved")

    @router.post("/settings/automation/{rule_id}/move", summary="自動化設定: 並び順")
    async def move(request: Request, rule_id: RuleId, _: Annotated[Principal, post]) -> Response:
        up = (await read_form(request)).get("direction") == "up"
        async with transaction(ctx.services.sessions) as s:
            ids = [r.id for r in await service.list_rules(s)]
            at = ids.index(rule_id) if rule_id in ids else -1
            other = at - 1 if up else at + 1
            if at >= 0 and 0 <= other < len(ids):
                ids[at], ids[other] = ids[other], ids[at]
                await service.reorder(s, ids, ctx.services.clock.now())
        return redirect(BASE, flash="saved")

    @router.post("/settings/automation/{rule_id}/delete", summary="自動化設定: ルールを削除")
    async def remove(rule_id: RuleId, _: Annotated[Principal, post]) -> Response:
        async with transaction(ctx.services.sessions) as s:
            await service.delete_rule(s, rule_id)
        return redirect(BASE, flash="saved")

    @router.get("/settings/automation/{rule_id}/dry-run", summary="自動化設定: ドライラン")
    async def dry_run(request: Request, rule_id: RuleId, _: Annotated[Principal, edit]) -> Response:
        async with transaction(ctx.services.sessions) as s:
            rule = await service.get_rule(s, rule_id)
            found = await service.dry_run(s, rule, ctx.services.clock.now())
        return render(
            request,
            "automation_dry_run.html",
            {
                "nav": "automation",
                "rule": RuleOut.of(rule),
                "found": found,
                "limit": service.DRY_RUN_LIMIT,
                "PaymentStatus": PaymentStatus,
                "HandlingStatus": HandlingStatus,
                "shown": shown,
            },
        )
