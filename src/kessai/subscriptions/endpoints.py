"""/api/v1/subscriptions: 定期受注 — register, search, read (with child orders), change."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse

from kessai.core.db import transaction
from kessai.customers.updater import parse_updater_filter, updater_label
from kessai.orders.schemas import MAX_ID, CustomerOut, PaymentMethodRef
from kessai.payments.status import PaymentStatus
from kessai.subscriptions import repository as repo
from kessai.subscriptions.repository import SubscriptionSearch, SubscriptionView
from kessai.subscriptions.schemas import (
    CardRef,
    ChildOrderOut,
    CycleOut,
    ItemOut,
    SubscriptionCreate,
    SubscriptionOut,
    SubscriptionPage,
    SubscriptionPatch,
)
from kessai.subscriptions.service import (
    create_subscription,
    cycle_of,
    get_subscription,
    search_subscriptions,
    update_subscription,
)
from kessai.subscriptions.status import SubscriptionStatus, parse_status
from kessai.web.deps import PrincipalDep, ServicesDep
from kessai.web.idempotency import run_idempotent

router = APIRouter(prefix="/api/v1/subscriptions", tags=["定期受注"])

SubscriptionIdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="定期受注ID")]


def subscription_out(
    view: SubscriptionView, orders: list[ChildOrderOut] | None = None
) -> SubscriptionOut:
    sub, card = view.subscription, view.card
    cycle = cycle_of(sub)
    updater = card.updater_result if card is not None else None
    return SubscriptionOut(
        id=sub.id,
        number=sub.number,
        customer=CustomerOut(
            id=view.customer.id, name=view.customer.name, email=view.customer.email
        ),
        payment_method=PaymentMethodRef(
            code=view.method.code,
            name=view.method.name,
            provider=view.method.provider,
            method_type=view.method.method_type,
        ),
        card=None
        if card is None
        else CardRef(
            id=card.id,
            masked_number=card.masked_number,
            expire=card.expire,
            brand=card.brand,
            deleted=card.deleted_at is not None,
            updater_result=card.updater_result,
            updater_result_label=updater_label(card.updater_result),
            updater_checked_at=card.updater_checked_at,
        ),
        updater_result=updater,
        updater_result_label=updater_label(updater) if card is not None else "",
        items=[ItemOut(**{"sku": None, **i}) for i in sub.items],
        amount=sub.amount,
        tax=sub.tax,
        cycle=CycleOut(
            kind=cycle.kind.value, interval=cycle.interval, day=cycle.day, label=cycle.label
        ),
        next_ship_on=sub.next_ship_on,
        next_delivery_on=sub.next_delivery_on,
        status=sub.status,
        status_label=SubscriptionStatus(sub.status).label,
        cycle_count=sub.cycle,
        orders=orders,
        created_at=sub.created_at,
        updated_at=sub.updated_at,
    )


async def _detail(services: ServicesDep, subscription_id: int) -> SubscriptionOut:
    async with transaction(services.sessions) as s:
        view = await get_subscription(s, subscription_id)
        orders = [
            ChildOrderOut(
                id=o.id,
                number=o.number,
                subscription_cycle=o.subscription_cycle,
                amount=o.amount,
                payment_status=o.payment_status,
                payment_status_label=PaymentStatus(o.payment_status).label,
                ordered_at=o.ordered_at,
            )
            for o in await repo.child_orders(s, subscription_id)
        ]
    return subscription_out(view, orders)


@router.post(
    "",
    status_code=201,
    response_model=SubscriptionOut,
    summary="定期受注を登録",
    responses={409: {"description": "定期受注番号が重複"}, 422: {"description": "入力の誤り"}},
)
async def post_subscription(
    data: SubscriptionCreate, request: Request, services: ServicesDep, principal: PrincipalDep
) -> JSONResponse:
    async def handler() -> tuple[int, object]:
        async with transaction(services.sessions) as s:
            sub = await create_subscription(s, data, services.clock.now(), principal.actor)
            view = await get_subscription(s, sub.id)
            return 201, subscription_out(view, [])

    return await run_idempotent(request, services, principal, handler)


@router.get("", response_model=SubscriptionPage, summary="定期受注を検索 (新しい順)")
async def list_subscriptions(
    services: ServicesDep,
    _: PrincipalDep,
    status: Annotated[
        str | None,
        Query(description="ステータス: active / paused / canceled または 有効 / 停止 / キャンセル"),
    ] = None,
    updater_result: Annotated[
        str | None,
        Query(
            description="洗替ステータス: 0 (有効性OK) / 1 (有効性NG) / 2 (照合エラー) / "
            "3 (入力データエラー) / none (未洗替)、または表示名"
        ),
    ] = None,
    customer_id: Annotated[int | None, Query(ge=1, le=MAX_ID, description="顧客ID")] = None,
    next_ship_from: Annotated[date | None, Query(description="次回発送予定日(から)")] = None,
    next_ship_to: Annotated[date | None, Query(description="次回発送予定日(まで)")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> SubscriptionPage:
    q = SubscriptionSearch(
        status=parse_status(status) if status else None,
        updater_result=parse_updater_filter(updater_result) if updater_result else None,
        customer_id=customer_id,
        next_ship_from=next_ship_from,
        next_ship_to=next_ship_to,
        limit=limit,
        offset=offset,
    )
    async with transaction(services.sessions) as s:
        views, total = await search_subscriptions(s, q)
    return SubscriptionPage(
        items=[subscription_out(v) for v in views], total=total, limit=limit, offset=offset
    )


@router.get(
    "/{subscription_id}",
    response_model=SubscriptionOut,
    summary="定期受注を取得 (子受注と洗替ステータス付き)",
    responses={404: {"description": "定期受注がない (subscription_not_found)"}},
)
async def get_subscription_endpoint(
    subscription_id: SubscriptionIdPath, services: ServicesDep, _: PrincipalDep
) -> SubscriptionOut:
    return await _detail(services, subscription_id)


@router.patch(
    "/{subscription_id}",
    response_model=SubscriptionOut,
    summary="定期受注を変更 (ステータス・サイクル・次回日付・カード)",
    responses={
        404: {"description": "定期受注がない"},
        409: {"description": "このステータスからは変更できない、または同時に更新された"},
        422: {"description": "入力の誤り (何も変更されません)"},
    },
)
async def patch_subscription(
    subscription_id: SubscriptionIdPath,
    data: SubscriptionPatch,
    services: ServicesDep,
    principal: PrincipalDep,
) -> SubscriptionOut:
    async with transaction(services.sessions) as s:
        await update_subscription(s, subscription_id, data, services.clock.now(), principal.actor)
    return await _detail(services, subscription_id)
