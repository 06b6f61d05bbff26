"""顧客 and their stored cards. A card is saved at the provider from a one-time token;
kessai keeps the member id, card seq and the masked number, nothing more."""

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kessai.accounts.models import PaymentMethod, ProviderAccount
from kessai.core.db import transaction
from kessai.core.errors import Conflict, InvalidInput, NotFound, ProviderUnavailable
from kessai.customers.models import Customer, CustomerCard
from kessai.customers.schemas import CardCreate, CustomerCreate
from kessai.payments import capabilities as caps
from kessai.providers.vault import CardVault, ProviderError, ProviderUnreachable

if TYPE_CHECKING:
    from kessai.services import Services


def member_id_for(customer_id: int) -> str:
    """The provider-side member id of a customer (GMO MemberID: ≤ 60 characters)."""
    return f"kessai-{customer_id:010d}"


async def create_customer(
    session: AsyncSession, data: CustomerCreate, services: "Services"
) -> Customer:
    customer = Customer(name=data.name, email=data.email, created_at=services.clock.now())
    session.add(customer)
    await session.flush()
    return customer


async def get_customer(session: AsyncSession, customer_id: int) -> Customer:
    customer = await session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(f"顧客が見つかりませんでした (id: {customer_id})", code="customer_not_found")
    return customer


async def list_cards(session: AsyncSession, customer_id: int) -> Sequence[tuple[CustomerCard, str]]:
    rows = await session.execute(
        select(CustomerCard, PaymentMethod.code)
        .join(PaymentMethod, PaymentMethod.id == CustomerCard.payment_method_id)
        .where(CustomerCard.customer_id == customer_id, CustomerCard.deleted_at.is_(None))
        .order_by(CustomerCard.id)
    )
    return [(card, code) for card, code in rows.all()]


async def _vault(
    session: AsyncSession, services: "Services", method_code: str
) -> tuple[PaymentMethod, ProviderAccount, CardVault]:
    method = await session.scalar(select(PaymentMethod).where(PaymentMethod.code == method_code))
    if method is None:
        raise InvalidInput(
            f"支払い方法「{method_code}」は登録されていません", code="unknown_payment_method"
        )
    account = await session.get(ProviderAccount, method.account_id) if method.account_id else None
    row = caps.row(method.provider, method.method_type)
    connector = (
        services.registry.connector_for(account)
        if account is not None and row.kind is caps.MethodKind.CARD
        else None
    )
    if account is None or not isinstance(connector, CardVault):
        raise Conflict(
            f"支払い方法「{method.name}」はカードの登録に対応していません",
            code="card_storage_unsupported",
        )
    return method, account, connector


def _provider_refused(exc: ProviderError) -> Conflict:
    return Conflict(
        f"カードを登録できませんでした: {exc.code} {exc.message}",
        code="provider_declined",
        detail={"provider_code": exc.code, "provider_message": exc.message},
    )


async def register_card(
    services: "Services", customer_id: int, data: CardCreate
) -> tuple[CustomerCard, str]:
    """Save the card behind a token at the provider, then remember its references."""
    async with transaction(services.sessions) as s:
        await get_customer(s, customer_id)
        method, account, vault = await _vault(s, services, data.payment_method)
    member_id = member_id_for(customer_id)
    try:
        if not await vault.find_member(member_id):
            await vault.save_member(member_id)
        stored = await vault.save_card(member_id, data.token)
    except ProviderError as exc:
        raise _provider_refused(exc) from None
    except ProviderUnreachable as exc:
        raise ProviderUnavailable(
            "決済サービスに接続できませんでした。時間をおいて再度お試しください",
            detail={"reason": str(exc)},
        ) from None
    async with transaction(services.sessions) as s:
        card = CustomerCard(
            customer_id=customer_id,
            account_id=account.id,
            payment_method_id=method.id,
            member_id=stored.member_id,
            card_seq=stored.card_seq,
            masked_number=stored.masked_number,
            expire=stored.expire,
            holder=stored.holder,
            brand=stored.brand,
            created_at=services.clock.now(),
        )
        s.add(card)
        await s.flush()
    return card, method.code


async def delete_card(services: "Services", customer_id: int, card_id: int) -> None:
    async with transaction(services.sessions) as s:
        card = await s.get(CustomerCard, card_id)
        if card is None or card.customer_id != customer_id or card.deleted_at is not None:
            raise NotFound(f"カードが見つかりませんでした (id: {card_id})", code="card_not_found")
        method = await s.get(PaymentMethod, card.payment_method_id)
        assert method is not None
        _, _, vault = await _vault(s, services, method.code)
    try:
        await vault.delete_card(card.member_id, card.card_seq)
    except ProviderError as exc:
        raise _provider_refused(exc) from None
    except ProviderUnreachable as exc:
        raise ProviderUnavailable(
            "決済サービスに接続できませんでした", detail={"reason": str(exc)}
        ) from None
    async with transaction(services.sessions) as s:
        stored = await s.get(CustomerCard, card_id)
        assert stored is not None
        stored.deleted_at = services.clock.now()


async def card_source(
    session: AsyncSession, customer_id: int, card_id: str, account_id: int | None
) -> dict[str, str]:
    """The payment source of an order paid with a stored card of the same provider account."""
    card = await session.get(CustomerCard, int(card_id)) if card_id.isdigit() else None
    if (
        card is None
        or card.customer_id != customer_id
        or card.deleted_at is not None
        or card.account_id != account_id
    ):
        raise InvalidInput(
            f"登録カードが見つかりませんでした (card_id: {card_id})", code="unknown_card"
        )
    return {"card_id": str(card.id), "member_id": card.member_id, "card_seq": card.card_seq}
