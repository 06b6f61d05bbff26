"""/api/v1/customers: 顧客 and their stored cards."""

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from kessai.core.db import transaction
from kessai.customers.card_change import change_card
from kessai.customers.models import Customer, CustomerCard
from kessai.customers.schemas import (
    CardChange,
    CardChangeOut,
    CardCreate,
    CardOut,
    CustomerCreate,
    CustomerOut,
)
from kessai.customers.service import (
    create_customer,
    delete_card,
    get_customer,
    list_cards,
    register_card,
)
from kessai.web.deps import IdPath, PrincipalDep, ServicesDep
from kessai.web.idempotency import run_idempotent

router = APIRouter(prefix="/api/v1/customers", tags=["顧客"])


def _customer_out(c: Customer) -> CustomerOut:
    return CustomerOut(id=c.id, name=c.name, email=c.email, created_at=c.created_at)


def _card_out(card: CustomerCard, method_code: str) -> CardOut:
    return CardOut(
        id=card.id,
        payment_method=method_code,
        member_id=card.member_id,
        card_seq=card.card_seq,
        masked_number=card.masked_number,
        expire=card.expire,
        holder=card.holder,
        brand=card.brand,
        created_at=card.created_at,
    )


@router.post("", status_code=201, response_model=CustomerOut, summary="顧客を登録")
async def post_customer(
    data: CustomerCreate, request: Request, services: ServicesDep, principal: PrincipalDep
) -> JSONResponse:
    async def handler() -> tuple[int, object]:
        async with transaction(services.sessions) as s:
            return 201, _customer_out(await create_customer(s, data, services))

    return await run_idempotent(request, services, principal, handler)


@router.get("/{customer_id}", response_model=CustomerOut, summary="顧客を取得")
async def get_customer_endpoint(
    customer_id: IdPath, services: ServicesDep, _: PrincipalDep
) -> CustomerOut:
    async with transaction(services.sessions) as s:
        return _customer_out(await get_customer(s, customer_id))


@router.post(
    "/{customer_id}/cards",
    status_code=201,
    response_model=CardOut,
    summary="カードを登録 (カードトークンから。カード番号は受け付けません)",
)
async def post_card(
    customer_id: IdPath,
    data: CardCreate,
    request: Request,
    services: ServicesDep,
    principal: PrincipalDep,
) -> JSONResponse:
    async def handler() -> tuple[int, object]:
        card, code = await register_card(services, customer_id, data)
        return 201, _card_out(card, code)

    return await run_idempotent(request, services, principal, handler)


@router.get("/{customer_id}/cards", response_model=list[CardOut], summary="登録カード一覧")
async def get_cards(customer_id: IdPath, services: ServicesDep, _: PrincipalDep) -> list[CardOut]:
    async with transaction(services.sessions) as s:
        await get_customer(s, customer_id)
        return [_card_out(card, code) for card, code in await list_cards(s, customer_id)]


@router.delete("/{customer_id}/cards/{card_id}", status_code=204, summary="登録カードを削除")
async def remove_card(
    customer_id: IdPath, card_id: IdPath, services: ServicesDep, _: PrincipalDep
) -> Response:
    await delete_card(services, customer_id, card_id)
    return Response(status_code=204)


@router.post(
    "/{customer_id}/cards/change",
    response_model=CardChangeOut,
    summary="クレジットカード変更 (マイページ: ショップ設定で「許可する」のときのみ)",
    responses={403: {"description": "クレジットカード変更が「許可しない」に設定されています"}},
)
async def change_card_endpoint(
    customer_id: IdPath,
    data: CardChange,
    request: Request,
    services: ServicesDep,
    principal: PrincipalDep,
) -> JSONResponse:
    async def handler() -> tuple[int, object]:
        done = await change_card(services, customer_id, data)
        return 200, CardChangeOut(
            card=_card_out(done.card, done.method_code),
            replaced_card_id=done.replaced_card_id,
            subscriptions_switched=done.subscriptions_switched,
            old_card_deleted=done.old_card_deleted,
            old_card_message=done.old_card_message,
            reauthorization_orders=done.reauthorization_orders,
        )

    return await run_idempotent(request, services, principal, handler)
