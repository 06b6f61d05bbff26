"""Demo data for the sandbox: an account and a payment method for every row of seed 003
(all on the simulated connector), orders in a spread of 決済状況, and a demo API key."""

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kessai.accounts.models import PaymentMethod, ProviderAccount
from kessai.apikeys.service import create_key
from kessai.core.db import transaction
from kessai.core.services import build_services
from kessai.core.settings import Settings
from kessai.customers.models import Customer
from kessai.orders.models import Order
from kessai.orders.schemas import CustomerIn, OrderCreate
from kessai.orders.service import create_order
from kessai.payments import capabilities as caps
from kessai.payments.plans import ActionRequest, ShipmentInput

DEMO_ACTOR = "demo"

# Sensible defaults a shop would pick, so the demo shows cancellation and capture linking.
DEMO_FLAGS = {"cancel_api_link": True, "gmops_cancel_link": True, "gmops_modify_link": True}


def method_code(row: caps.CapabilityRow) -> str:
    return f"{row.provider}-{row.method_type}".replace("_", "-")


async def seed_methods(sessions: async_sessionmaker[AsyncSession], now: datetime) -> None:
    async with transaction(sessions) as s:
        accounts: dict[str, int] = {}
        for provider, name in caps.PROVIDERS.items():
            if provider == "offline":
                continue
            account = ProviderAccount(
                provider=provider,
                name=f"{name} (シミュレーター)",
                connector="fake",
                settings={},
                created_at=now,
                updated_at=now,
            )
            s.add(account)
            await s.flush()
            accounts[provider] = account.id
        for row in caps.ROWS:
            s.add(
                PaymentMethod(
                    code=method_code(row),
                    name=caps.label(row),
                    provider=row.provider,
                    method_type=row.method_type,
                    account_id=accounts.get(row.provider),
                    enabled=True,
                    min_amount=1,
                    max_amount=9_999_999,
                    recurring=False,
                    created_at=now,
                    updated_at=now,
                    **DEMO_FLAGS,
                )
            )


# (受注番号, 支払い方法, 金額, the actions that bring it to its demo status)
DEMO_ORDERS: list[tuple[str, str, int, list[tuple[str, dict[str, str]]]]] = [
    ("DEMO-0001", "gmo-pg-credit-card", 5_500, []),
    ("DEMO-0002", "gmo-pg-credit-card", 3_980, [("authorize", {})]),
    ("DEMO-0003", "gmo-pg-credit-card", 12_800, [("authorize", {}), ("capture", {})]),
    ("DEMO-0004", "gmo-pg-credit-card", 2_200, [("authorize", {"scenario": "decline"})]),
    ("DEMO-0005", "gmo-pg-credit-card", 7_700, [("authorize", {}), ("cancel", {})]),
    ("DEMO-0006", "gmo-pg-credit-card", 4_400, [("authorize", {"scenario": "unknown"})]),
    ("DEMO-0007", "net-protections-np-atobarai", 6_600, [("authorize", {"scenario": "pending"})]),
    ("DEMO-0008", "net-protections-np-atobarai", 8_800, [("authorize", {})]),
    ("DEMO-0009", "gmo-pg-paypay", 1_650, [("authorize", {})]),
    ("DEMO-0010", "amazon-amazon-pay", 9_900, [("authorize", {})]),
]


async def seed_demo(settings: Settings) -> str:
    services = build_services(settings)
    try:
        await services.load_clock()
        now = services.clock.now()
        async with transaction(services.sessions) as s:
            have = await s.scalar(select(func.count()).select_from(PaymentMethod))
        if not have:
            await seed_methods(services.sessions, now)
        async with transaction(services.sessions) as s:
            existing = set((await s.scalars(select(Order.number))).all())
            codes = set((await s.scalars(select(PaymentMethod.code))).all())
        for number, code, amount, steps in DEMO_ORDERS:
            if number in existing or code not in codes:
                continue
            async with transaction(services.sessions) as s:
                customer = await s.scalar(select(Customer).limit(1))
                order = await create_order(
                    s,
                    OrderCreate(
                        number=number,
                        customer_id=customer.id if customer else None,
                        customer=None
                        if customer
                        else CustomerIn(name="山田 花子", email="hanako@example.jp"),
                        payment_method=code,
                        amount=amount,
                        tax=amount // 11,
                        ordered_at=now - timedelta(days=1),
                        payment_source={"token": f"demo-token-{number}"},
                    ),
                    now,
                )
                order_id = order.id
            for action, options in steps:
                await services.payments.run(
                    order_id,
                    ActionRequest(
                        action=action,
                        actor=DEMO_ACTOR,
                        options=options,
                        shipment=ShipmentInput(now.date(), "1234-5678-9012", "ヤマト運輸")
                        if action == "capture"
                        else ShipmentInput(),
                    ),
                )
        async with transaction(services.sessions) as s:
            return await create_key(s, "demo", now)
    finally:
        await services.close()
