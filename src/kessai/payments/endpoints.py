"""/api/v1/orders/{id}/payment/{action}, 決済履歴 and 変更履歴."""

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse

from kessai.apikeys.scopes import require_action
from kessai.apikeys.service import Principal
from kessai.core.db import read_transaction
from kessai.core.errors import InvalidInput, NotFound
from kessai.history.repository import list_changes
from kessai.orders.present import order_out
from kessai.orders.service import OrderView, get_order_view, reject_card_data
from kessai.payments.engine import ActionResult
from kessai.payments.import_lock import refuse_during_shipment_import
from kessai.payments.plans import OPERATION_LABELS, ActionRequest, ShipmentInput
from kessai.payments.repository import list_attempts
from kessai.payments.schemas import (
    ACTION_FIELDS,
    ActionResultOut,
    ChangeHistoryOut,
    PaymentActionIn,
    PaymentHistoryOut,
)
from kessai.payments.status import Action, HandlingStatus, PaymentStatus
from kessai.services import Services
from kessai.web.deps import OrderIdPath, PrincipalDep, ServicesDep
from kessai.web.idempotency import run_idempotent

router = APIRouter(prefix="/api/v1/orders", tags=["決済"])

FIELD_LABELS = {
    "payment_status": "決済状況",
    "handling_status": "対応状況",
    "amount": "合計金額",
    "tax": "消費税",
    "shipped_on": "発送完了日",
    "tracking_number": "配送伝票番号",
    "carrier": "配送業者",
    "shipment_count": "発送回数",
    "automation": "自動化設定",
    "label": "受注ラベル",
}


def change_value_label(field: str, value: str | None) -> str | None:
    """A 変更履歴 value as operators read it (決済状況 and 対応状況 by their labels)."""
    if value is None:
        return None
    if field == "payment_status":
        return PaymentStatus(value).label
    if field == "handling_status":
        return HandlingStatus(value).label
    return value


ActionPath = Annotated[
    str,
    # A plain string checked by hand: an unknown action is a 404 unknown_action (a path
    # that does not exist), while the schema still lists the actions.
    Path(
        description="authorize: オーソリ, capture: 売上処理(後払いは出荷報告), cancel: 取消処理, "
        "change-amount: 金額変更, force-capture: 強制売上処理, force-cancel: 強制取消処理, "
        "reauthorize: 再オーソリ, reconcile: 決済照会",
        json_schema_extra={"enum": [a.value for a in Action]},
    ),
]


def _action(raw: str) -> Action:
    try:
        return Action(raw)
    except ValueError:
        raise NotFound(
            f"決済処理「{raw}」はありません",
            code="unknown_action",
            detail={"allowed": [a.value for a in Action]},
        ) from None


def _check_fields(action: Action, body: PaymentActionIn) -> None:
    # null is taken as "not given": clients that send every field with null still work.
    given = {n for n in body.model_fields_set if getattr(body, n) is not None} - {"sandbox"}
    extra = sorted(given - ACTION_FIELDS[action.value])
    if extra:
        raise InvalidInput(
            f"{action.label}では指定できない項目です: {'、'.join(extra)}",
            code="field_not_applicable",
            detail={"fields": extra, "allowed": sorted(ACTION_FIELDS[action.value])},
        )


@router.post(
    "/{order_id}/payment/{action}",
    response_model=ActionResultOut,
    summary="決済処理 (オーソリ・売上・取消・金額変更・強制売上・強制取消・再オーソリ・照会)",
    responses={
        404: {"description": "受注がない (order_not_found) / 処理がない (unknown_action)"},
        409: {"description": "決済状況 (illegal_transition) や決済サービスのルールで不可"},
        422: {"description": "入力の誤り"},
        502: {"description": "決済サービスに接続できなかった (送信されていない)"},
    },
)
async def post_action(
    order_id: OrderIdPath,
    action: ActionPath,
    request: Request,
    services: ServicesDep,
    principal: PrincipalDep,
    data: PaymentActionIn | None = None,
) -> JSONResponse:
    return await run_action(request, services, principal, order_id, action, data)


async def run_action(
    request: Request,
    services: Services,
    principal: Principal,
    order_id: int,
    action: str,
    data: PaymentActionIn | None,
) -> JSONResponse:
    """The action, once FastAPI (or web.fast_actions) has read the request. Every check on
    the request itself runs here, before the Idempotency-Key is taken and before the
    engine writes anything, so a refused request leaves no trace."""
    act = _action(action)
    require_action(principal.scope, act.value)
    body = data or PaymentActionIn()
    _check_fields(act, body)
    if body.sandbox is not None and not services.settings.sandbox:
        raise InvalidInput("sandbox はサンドボックス環境でのみ指定できます", code="sandbox_only")
    if body.payment_source is not None:
        reject_card_data(body.payment_source)
    await refuse_during_shipment_import(services.sessions, [act])
    req = ActionRequest(
        action=act.value,
        actor=principal.actor,
        amount=body.amount,
        tax=body.tax,
        shipment=ShipmentInput(body.shipped_on, body.tracking_number, body.carrier),
        source=body.payment_source,
        options={"scenario": body.sandbox.scenario.value} if body.sandbox else {},
    )

    async def handler() -> tuple[int, object]:
        result = await services.payments.run(order_id, req)
        return 200, await _result_out(services, result)

    return await run_idempotent(request, services, principal, handler)


async def _result_out(services: Services, result: ActionResult) -> ActionResultOut:
    if result.view is not None:  # the engine knows the order as it left it
        known = result.view
        view = OrderView(known.order, known.customer, known.method, known.account)
    else:
        async with read_transaction(services.sessions) as s:
            view = await get_order_view(s, result.order_id)
    return ActionResultOut(
        outcome=result.outcome,
        message=result.message,
        attempt_id=result.attempt_id,
        provider_code=result.provider_code,
        provider_message=result.provider_message,
        redirect_url=result.redirect_url,
        order=order_out(view, services.clock.now()),
    )


@router.get(
    "/{order_id}/payment-history", response_model=list[PaymentHistoryOut], summary="決済履歴"
)
async def payment_history(
    order_id: OrderIdPath, services: ServicesDep, _: PrincipalDep
) -> list[PaymentHistoryOut]:
    async with read_transaction(services.sessions) as s:
        await get_order_view(s, order_id)
        attempts = await list_attempts(s, order_id)
    return [
        PaymentHistoryOut(
            id=a.id,
            operation=a.operation,
            operation_label=OPERATION_LABELS.get(a.operation, a.operation),
            amount=a.amount,
            reference=a.reference,
            outcome=a.outcome,
            provider_code=a.provider_code,
            provider_message=a.provider_message,
            provider_transaction_id=a.provider_transaction_id,
            refusal_code=(a.request or {}).get("refusal_code"),
            note=a.note,
            actor=a.actor,
            created_at=a.created_at,
            completed_at=a.completed_at,
        )
        for a in attempts
    ]


@router.get("/{order_id}/change-history", response_model=list[ChangeHistoryOut], summary="変更履歴")
async def change_history(
    order_id: OrderIdPath, services: ServicesDep, _: PrincipalDep
) -> list[ChangeHistoryOut]:
    async with read_transaction(services.sessions) as s:
        await get_order_view(s, order_id)
        records = await list_changes(s, "order", order_id)
    return [
        ChangeHistoryOut(
            id=r.id,
            field=r.field,
            field_label=FIELD_LABELS.get(r.field, r.field),
            before=change_value_label(r.field, r.before),
            after=change_value_label(r.field, r.after),
            actor=r.actor,
            reason=r.reason,
            created_at=r.created_at,
        )
        for r in records
    ]
