"""/api/v1/orders: create, read, search 受注."""

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from kessai.core.db import transaction
from kessai.orders.present import order_out
from kessai.orders.schemas import MAX_ID, OrderCreate, OrderOut, OrderPage
from kessai.orders.search import search_moment
from kessai.orders.service import (
    OrderSearch,
    OrderView,
    create_order,
    get_order_view,
    search_orders,
)
from kessai.payments.repository import read_seen
from kessai.web.deps import OrderIdPath, PrincipalDep, ServicesDep
from kessai.web.idempotency import run_idempotent

router = APIRouter(prefix="/api/v1/orders", tags=["受注"])

MOMENT_HELP = (
    "日付 (2026-11-01: 東京の暦日、両端を含む) またはタイムゾーン付き日時 "
    "(2026-11-01T10:00:00+09:00)"
)


@router.post(
    "",
    status_code=201,
    response_model=OrderOut,
    summary="受注を登録",
    responses={409: {"description": "受注番号が重複"}, 422: {"description": "入力の誤り"}},
)
async def post_order(
    data: OrderCreate, request: Request, services: ServicesDep, principal: PrincipalDep
) -> JSONResponse:
    async def handler() -> tuple[int, object]:
        async with transaction(services.sessions) as s:
            order = await create_order(s, data, services.clock.now())
            # Read as the payment engine reads it, so its first action needs no load.
            seen = await read_seen(s, order.id)
        services.payments.seen.put(seen)
        o = seen.loaded
        return 201, order_out(
            OrderView(o.order, o.customer, o.method, o.account), services.clock.now()
        )

    return await run_idempotent(request, services, principal, handler)


@router.get(
    "/{order_id}",
    response_model=OrderOut,
    summary="受注を取得",
    responses={404: {"description": "受注がない (order_not_found)"}},
)
async def get_order(order_id: OrderIdPath, services: ServicesDep, _: PrincipalDep) -> OrderOut:
    async with transaction(services.sessions) as s:
        return order_out(await get_order_view(s, order_id), services.clock.now())


@router.get("", response_model=OrderPage, summary="受注を検索 (新しい順)")
async def list_orders(
    services: ServicesDep,
    _: PrincipalDep,
    payment_status: Annotated[
        str | None, Query(description="決済状況: コード (authorized) または表示名 (仮売上完了)")
    ] = None,
    ordered_from: Annotated[str | None, Query(description=f"受注日時(から): {MOMENT_HELP}")] = None,
    ordered_to: Annotated[str | None, Query(description=f"受注日時(まで): {MOMENT_HELP}")] = None,
    number: Annotated[str | None, Query(description="受注番号")] = None,
    payment_method: Annotated[str | None, Query(description="支払い方法コード")] = None,
    handling_status: Annotated[
        str | None, Query(max_length=40, description="対応状況: コード (shipped) または表示名")
    ] = None,
    subscription: Annotated[
        bool | None, Query(description="定期: true は定期受注の受注のみ、false は通常の受注のみ")
    ] = None,
    updater_result: Annotated[
        str | None,
        Query(max_length=40, description="定期受注のカードの洗替ステータス: 0-3・表示名・none"),
    ] = None,
    label: Annotated[
        str | None,
        Query(max_length=40, description="再オーソリバッチのラベル (target / 再与信対象 …)"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> OrderPage:
    q = OrderSearch(
        payment_status,
        search_moment("ordered_from", ordered_from, end=False),
        search_moment("ordered_to", ordered_to, end=True),
        number,
        payment_method,
        limit,
        offset,
        handling_status=handling_status,
        subscription=subscription,
        updater_result=updater_result,
        label=label,
    )
    async with transaction(services.sessions) as s:
        views, total = await search_orders(s, q)
    now = services.clock.now()
    items = [order_out(v, now) for v in views]
    return OrderPage(items=items, total=total, limit=limit, offset=offset)
