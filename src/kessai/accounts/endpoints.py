"""/api/v1/payment-methods: the shop's 支払い方法, what each can do, and 支払い方法管理."""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from kessai.accounts import connection_tests  # noqa: F401 - registers the 接続テスト
from kessai.accounts import methods as svc
from kessai.accounts.integrations import Channel
from kessai.core.db import transaction
from kessai.core.inputs import Yen
from kessai.history.repository import list_changes
from kessai.orders.schemas import MAX_ID
from kessai.payments import capabilities as caps
from kessai.payments.schemas import ChangeHistoryOut
from kessai.providers.installed import is_simulated
from kessai.web.deps import PrincipalDep, ServicesDep
from kessai.web.idempotency import run_idempotent

router = APIRouter(prefix="/api/v1", tags=["支払い方法"])

FLAG_NAMES = svc.FLAG_NAMES
MethodIdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="支払い方法ID")]


class PaymentMethodOut(BaseModel):
    id: int
    code: str
    name: str
    provider: str
    provider_name: str
    method_type: str
    kind: str
    account_id: int | None
    account_name: str | None
    integration: str | None
    enabled: bool
    channels: list[str] = Field(
        description="利用可能な画面: lp (LP), shop (ショップ), order_entry (受注作成)"
    )
    simulated: bool
    connected: bool = Field(
        description="決済代行会社へ接続できる (false: 受注登録・決済処理は provider_not_connected)"
    )
    connection_notice: str | None = Field(description="接続できない場合の説明")
    min_amount: int
    max_amount: int
    recurring: bool
    authorization_days: int | None
    flags: dict[str, bool]
    offered_flags: list[str] = Field(description="この決済で設定できるフラグ (seed 003)")
    missing: list[str] = Field(
        description="外部連携アカウントに未設定の項目 (空でなければ有効にできません)"
    )


Flags = dict[str, StrictBool]


class PaymentMethodPatch(BaseModel):
    """Only the fields sent are changed."""

    model_config = ConfigDict(extra="forbid")
    enabled: StrictBool | None = None
    channels: list[Channel] | None = None
    name: str | None = None
    min_amount: Yen | None = None
    max_amount: Yen | None = None
    cancel_api_link: StrictBool | None = Field(default=None, description="取消API連携フラグ")
    terminate_api_link: StrictBool | None = Field(default=None, description="解約API連携フラグ")
    capture_on_authorize: StrictBool | None = Field(
        default=None, description="オーソリ時確定フラグ"
    )
    post_capture_amount_change_link: StrictBool | None = Field(
        default=None, description="オーソリ確定後金額変更連携フラグ"
    )
    gmops_cancel_link: StrictBool | None = Field(
        default=None, description="GMOPS後払い キャンセルAPI連携フラグ"
    )
    gmops_modify_link: StrictBool | None = Field(
        default=None, description="GMOPS後払い 取引修正API連携フラグ"
    )
    atobarai_com_modify_link: StrictBool | None = Field(
        default=None, description="後払い.com 取引修正連携"
    )
    reduce_link: StrictBool | None = Field(default=None, description="減額連携")
    security_code_required: StrictBool | None = Field(
        default=None, description="クレジットカードセキュリティコードチェック 必須"
    )


class PaymentMethodCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(description="支払い方法コード (受注登録で指定する値)")
    name: str = Field(description="支払い方法名")
    account_id: Annotated[int, Field(ge=1, le=MAX_ID)] | None = Field(
        default=None, description="外部連携アカウントID (決済代行会社と連携しない方法は省略)"
    )
    method_type: str = Field(description="決済種別 (seed 003 の行、例: credit_card)")
    enabled: StrictBool = Field(
        default=False, description="有効にする (アカウントが揃っている場合のみ)"
    )
    channels: list[Channel] | None = Field(
        default=None, description="利用可能な画面 (省略時はアカウントが対応するすべて)"
    )
    min_amount: Yen = svc.MIN_AMOUNT
    max_amount: Yen = svc.MAX_AMOUNT
    flags: Flags = Field(default_factory=dict, description="seed 003 のフラグ (名前: true/false)")


def method_out(view: svc.MethodView) -> PaymentMethodOut:
    method, account = view.method, view.account
    row = caps.row(method.provider, method.method_type)
    return PaymentMethodOut(
        id=method.id,
        code=method.code,
        name=method.name,
        provider=method.provider,
        provider_name=caps.PROVIDERS.get(method.provider, method.provider),
        method_type=method.method_type,
        kind=row.kind.value,
        account_id=method.account_id,
        account_name=account.name if account else None,
        integration=account.integration if account else None,
        enabled=method.enabled,
        channels=list(method.channels or []),
        simulated=account is not None and is_simulated(account.connector),
        connected=view.connection_notice is None,
        connection_notice=view.connection_notice,
        min_amount=method.min_amount,
        max_amount=method.max_amount,
        recurring=method.recurring,
        authorization_days=caps.authorization_days_for(
            method.provider,
            method.method_type,
            account.authorization_days if account else None,
        ),
        flags={name: bool(getattr(method, name)) for name in FLAG_NAMES},
        offered_flags=svc.offered_flags(method.provider, method.method_type),
        missing=view.missing,
    )


@router.get("/payment-methods", response_model=list[PaymentMethodOut], summary="支払い方法一覧")
async def list_payment_methods(services: ServicesDep, _: PrincipalDep) -> list[PaymentMethodOut]:
    async with transaction(services.sessions) as s:
        views = await svc.list_methods(s)
    return [method_out(v) for v in views]


@router.get(
    "/payment-methods/{method_id}",
    response_model=PaymentMethodOut,
    summary="支払い方法を取得",
    responses={404: {"description": "支払い方法がない (payment_method_not_found)"}},
)
async def get_payment_method(
    method_id: MethodIdPath, services: ServicesDep, _: PrincipalDep
) -> PaymentMethodOut:
    async with transaction(services.sessions) as s:
        return method_out(await svc.get_method(s, method_id))


@router.post(
    "/payment-methods",
    status_code=201,
    response_model=PaymentMethodOut,
    summary="支払い方法を登録",
    responses={
        409: {"description": "アカウントの設定が不足していて有効にできない (account_incomplete)"},
        422: {"description": "入力の誤り、決済種別やフラグが使えない (invalid_payment_method)"},
    },
)
async def post_payment_method(
    data: PaymentMethodCreate, request: Request, services: ServicesDep, principal: PrincipalDep
) -> JSONResponse:
    async def handler() -> tuple[int, object]:
        async with transaction(services.sessions) as s:
            view = await svc.create_method(
                s,
                svc.NewMethod(
                    code=data.code,
                    name=data.name,
                    method_type=data.method_type,
                    account_id=data.account_id,
                    enabled=data.enabled,
                    channels=None if data.channels is None else [c.value for c in data.channels],
                    min_amount=data.min_amount,
                    max_amount=data.max_amount,
                    flags=data.flags,
                ),
                actor=principal.actor,
                now=services.clock.now(),
            )
            return 201, jsonable_encoder(method_out(view))

    return await run_idempotent(request, services, principal, handler)


@router.patch(
    "/payment-methods/{method_id}",
    response_model=PaymentMethodOut,
    summary="支払い方法を変更 (有効/無効・利用可能な画面・フラグ …)",
    responses={
        404: {"description": "支払い方法がない (payment_method_not_found)"},
        409: {"description": "アカウントの設定が不足していて有効にできない (account_incomplete)"},
        422: {"description": "画面やフラグがこの決済で使えない (invalid_payment_method)"},
    },
)
async def patch_payment_method(
    method_id: MethodIdPath,
    data: PaymentMethodPatch,
    services: ServicesDep,
    principal: PrincipalDep,
) -> PaymentMethodOut:
    changes: dict[str, Any] = data.model_dump(exclude_unset=True)
    if "channels" in changes and changes["channels"] is not None:
        changes["channels"] = [Channel(c).value for c in changes["channels"]]
    async with transaction(services.sessions) as s:
        view = await svc.update_method(
            s, method_id, changes, actor=principal.actor, now=services.clock.now()
        )
        return method_out(view)


def _history_value(field: str, value: str | None) -> str | None:
    if value is None:
        return None
    if field == "channels":
        return "・".join(Channel(c).label for c in value.split(",") if c) or "なし"
    if field == "enabled":
        return {"True": "有効", "False": "無効"}.get(value, value)
    if field in FLAG_NAMES:
        return {"True": "ON", "False": "OFF"}.get(value, value)
    return value


@router.get(
    "/payment-methods/{method_id}/change-history",
    response_model=list[ChangeHistoryOut],
    summary="支払い方法の変更履歴",
)
async def payment_method_history(
    method_id: MethodIdPath, services: ServicesDep, _: PrincipalDep
) -> list[ChangeHistoryOut]:
    async with transaction(services.sessions) as s:
        await svc.get_method(s, method_id)
        records = await list_changes(s, svc.ENTITY, method_id)
    return [
        ChangeHistoryOut(
            id=r.id,
            field=r.field,
            field_label=svc.FIELD_LABELS.get(r.field, r.field),
            before=_history_value(r.field, r.before),
            after=_history_value(r.field, r.after),
            actor=r.actor,
            reason=r.reason,
            created_at=r.created_at,
        )
        for r in records
    ]
