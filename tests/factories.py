"""Small builders for test data: accounts, payment methods and orders, straight into the DB."""

from datetime import datetime
from typing import Any

from kessai.accounts.models import PaymentMethod, ProviderAccount
from kessai.core.db import transaction
from kessai.core.services import Services
from kessai.orders.schemas import CustomerIn, OrderCreate
from kessai.orders.service import create_order
from kessai.payments.plans import ActionRequest, ShipmentInput


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
