"""The shop every benchmark bills for: a GMO PG card method on one provider account (the
simulator or the fake connector) and one customer, written through the models."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kessai.accounts.models import PaymentMethod, ProviderAccount
from kessai.customers.models import Customer


@dataclass(frozen=True)
class BenchShop:
    account_id: int
    method_id: int
    customer_id: int


async def add_shop(
    s: AsyncSession, *, connector: str, settings: dict[str, Any], code: str, now: datetime
) -> BenchShop:
    account = ProviderAccount(
        provider="gmo_pg",
        name=f"{'擬似決済' if connector == 'fake' else 'GMO PG'} (bench)",
        connector=connector,
        settings=settings,
        created_at=now,
        updated_at=now,
    )
    s.add(account)
    await s.flush()
    method = PaymentMethod(
        code=code,
        name="クレジットカード (bench)",
        provider="gmo_pg",
        method_type="credit_card",
        account_id=account.id,
        cancel_api_link=True,
        created_at=now,
        updated_at=now,
    )
    customer = Customer(name="山田 太郎", email="bench@example.jp", created_at=now)
    s.add_all([method, customer])
    await s.flush()
    return BenchShop(account.id, method.id, customer.id)
