"""Small builders for test data: accounts, payment methods and orders, straight into the DB."""

from datetime import date, datetime
from typing import Any

from kessai.accounts.models import PaymentMethod, ProviderAccount
from kessai.core.db import transaction
from kessai.history.repository import list_changes
from kessai.orders.present import order_out
from kessai.orders.schemas import CustomerIn, OrderCreate, OrderOut
from kessai.orders.service import create_order, get_order_view
from kessai.payments.models import PaymentAttempt
from kessai.payments.plans import ActionRequest, ShipmentInput
from kessai.payments.repository import list_attempts
from kessai.services import Services


async def make_method(
    services: Services,
    *,
    provider: str = "gmo_pg",
    method_type: str = "credit_card",
    code: str | None = None,
    authorization_days: int | None = None,
    **flags: Any,
) -> PaymentMethod:
    now = services.clock.now()
    async with transaction(services.sessions) as s:
        account = ProviderAccount(
            provider=provider,
            name=f"{provider} test",
            connector="fake",
            settings={},
            authorization_days=authorization_days,
            created_at=now,
            updated_at=now,
        )
        s.add(account)
        await s.flush()
        values: dict[str, Any] = {"cancel_api_link": True, **flags}
        method = PaymentMethod(
            code=code or f"{provider}-{method_type}-{account.id}",
            name=f"{provider} {method_type}",
            provider=provider,
            method_type=method_type,
            account_id=account.id,
            enabled=values.pop("enabled", True),
            min_amount=values.pop("min_amount", 1),
            max_amount=values.pop("max_amount", 9_999_999),
            recurring=values.pop("recurring", False),
            created_at=now,
            updated_at=now,
            **values,
        )
        s.add(method)
        await s.flush()
        return method


async def make_order(
    services: Services,
    method: PaymentMethod,
    *,
    amount: int = 5_000,
    tax: int = 454,
    number: str | None = None,
    ordered_at: datetime | None = None,
) -> int:
    async with transaction(services.sessions) as s:
        order = await create_order(
            s,
            OrderCreate(
                number=number,
                customer=CustomerIn(name="山田 太郎", email="taro@example.jp"),
                payment_method=method.code,
                amount=amount,
                tax=tax,
                ordered_at=ordered_at,
                payment_source={"token": "tok_test"},
            ),
            services.clock.now(),
        )
        return order.id


def act(action: str, *, scenario: str | None = None, **kw: Any) -> ActionRequest:
    shipment = ShipmentInput(
        kw.pop("shipped_on", None), kw.pop("tracking_number", None), kw.pop("carrier", None)
    )
    return ActionRequest(
        action=action,
        actor="test",
        shipment=shipment,
        options={"scenario": scenario} if scenario else {},
        **kw,
    )


SHIP = {"shipped_on": date(2026, 3, 2), "tracking_number": "4412-3456-7890"}


async def view(services: Services, order_id: int) -> OrderOut:
    """The order as the API shows it."""
    async with transaction(services.sessions) as s:
        return order_out(await get_order_view(s, order_id), services.clock.now())


async def attempts(services: Services, order_id: int) -> list[PaymentAttempt]:
    """The order's 決済履歴, oldest first."""
    async with transaction(services.sessions) as s:
        return list(await list_attempts(s, order_id))


async def changes(
    services: Services, order_id: int, field: str = "payment_status"
) -> list[tuple[str | None, str | None]]:
    """(before, after) of each 変更履歴 row of one field."""
    async with transaction(services.sessions) as s:
        rows = await list_changes(s, "order", order_id)
    return [(r.before, r.after) for r in rows if r.field == field]
