"""/api/v1/orders: create, read, search 受注."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from kessai.core.db import transaction
from kessai.orders.present import order_out
from kessai.orders.schemas import OrderCreate, OrderOut, OrderPage
from kessai.orders.service import OrderSearch, create_order, get_order_view, search_orders
from kessai.web.deps import PrincipalDep, ServicesDep
from kessai.web.idempotency import run_idempotent

router = APIRouter(prefix="/api/v1/orders", tags=["受注"])


@router.post("", status_code=201, response_model=OrderOut, summary="受注を登録")
async def post_order(
    data: OrderCreate, request: Request, services: ServicesDep, principal: PrincipalDep
) -> JSONResponse:
    async def handler() -> tuple[int, object]:
        async with transaction(services.sessions) as s:
            order = await create_order(s, data, services.clock.now())
            view = await get_order_view(s, order.id)
            return 201, order_out(view)

    return await run_idempotent(request, services, principal, handler)


@router.get("/{order_id}", response_model=OrderOut, summary="受注を取得")
async def get_order(order_id: int, services: ServicesDep, _: PrincipalDep) -> OrderOut:
    async with transaction(services.sessions) as s:
        return order_out(await get_order_view(s, order_id))


@router.get("", response_model=OrderPage, summary="受注を検索")
async def list_orders(
    services: ServicesDep,
    _: PrincipalDep,
    payment_status: Annotated[str | None, Query(description="決済状況コード")] = None,
    ordered_from: Annotated[datetime | None, Query(description="受注日時(から)")] = None,
    ordered_to: Annotated[datetime | None, Query(description="受注日時(まで)")] = None,
    number: Annotated[str | None, Query(description="受注番号")] = None,
    payment_method: Annotated[str | None, Query(description="支払い方法コード")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> OrderPage:
    q = OrderSearch(payment_status, ordered_from, ordered_to, number, payment_method, limit, offset)
    async with transaction(services.sessions) as s:
        views, total = await search_orders(s, q)
    return OrderPage(items=[order_out(v) for v in views], total=total, limit=limit, offset=offset)
