"""Demo data for the sandbox: a payment method for every row of seed 003 (all on the
simulated connector), a few customers, orders in a spread of 決済状況, a fresh tour order
and a demo API key. Safe to run again: what exists is kept, nothing is duplicated."""

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kessai.accounts.models import PaymentMethod, ProviderAccount
from kessai.apikeys.service import create_key
from kessai.cardupdater.sandbox import seed_card_updater_demo
from kessai.core.db import transaction
from kessai.core.errors import Conflict
from kessai.core.settings import Settings
from kessai.customers.models import Customer
from kessai.orders.models import Order
from kessai.orders.schemas import OrderCreate
from kessai.orders.service import create_order
from kessai.payments import capabilities as caps
from kessai.payments.plans import ActionRequest, ShipmentInput
from kessai.payments.status import PaymentStatus
from kessai.providers.installed import SIMULATED
from kessai.services import Services, build_services

DEMO_ACTOR = "demo"
TOUR_PREFIX = "TOUR-"
TOUR_METHOD = "gmo-pg-credit-card"

# Defaults a shop would pick, so the demo shows cancellation and 後払い linking.
DEMO_FLAGS = {"cancel_api_link": True, "gmops_cancel_link": True, "gmops_modify_link": True}

DEMO_CUSTOMERS = [
    ("山田 花子", "hanako@example.jp"),
    ("佐藤 健", "ken.sato@example.jp"),
    ("鈴木 一郎", "ichiro@example.jp"),
    ("高橋 美咲", "misaki@example.jp"),
]


@dataclass(frozen=True)
class DemoOrder:
    number: str
    method: str
    amount: int
    # The actions (with an optional sandbox scenario) that bring it to its demo status.
    steps: tuple[tuple[str, str | None], ...] = ()


AUTH = ("authorize", None)
CARD = TOUR_METHOD
NP = "net-protections-np-atobarai"

DEMO_ORDERS = [
    DemoOrder("DEMO-0001", CARD, 5_500),  # 決済準備中
    DemoOrder("DEMO-0002", CARD, 3_980, (AUTH,)),  # 仮売上完了
    DemoOrder("DEMO-0003", CARD, 12_800, (AUTH, ("capture", None))),  # 売上完了
    DemoOrder("DEMO-0004", CARD, 2_200, (("authorize", "decline"),)),  # 仮売上失敗
    DemoOrder("DEMO-0005", CARD, 7_700, (AUTH, ("cancel", None))),  # 取消完了
    DemoOrder("DEMO-0006", CARD, 4_400, (("authorize", "unknown"),)),  # 応答不明: 照会待ち
    DemoOrder("DEMO-0007", NP, 6_600, (("authorize", "pending"),)),  # 与信審査中
    DemoOrder("DEMO-0008", NP, 8_800, (AUTH,)),  # 与信審査完了
    DemoOrder("DEMO-0009", NP, 3_300, (("authorize", "decline"),)),  # 与信審査エラー
    DemoOrder(
        "DEMO-0010", "gmo-ps-atobarai", 5_060, (AUTH, ("capture", "unknown"))
    ),  # 出荷報告依頼中
    DemoOrder("DEMO-0011", CARD, 6_050, (AUTH, ("capture", "decline"))),  # 売上失敗
    DemoOrder("DEMO-0012", CARD, 1_100, (("authorize", "register_fail"),)),  # 取引登録失敗
    DemoOrder("DEMO-0013", CARD, 2_750, (("authorize", "error"),)),  # 決済エラー
    DemoOrder("DEMO-0014", CARD, 9_900, (AUTH, ("cancel", "decline"))),  # 取引キャンセル失敗
    DemoOrder("DEMO-0015", "gmo-pg-paypay", 1_650, (AUTH,)),  # 仮売上完了 (PayPay)
    DemoOrder("DEMO-0016", "amazon-amazon-pay", 4_980, (AUTH,)),  # 仮売上完了 (Amazon Pay)
    DemoOrder("DEMO-0017", "komoju-wechat-pay", 3_200, (AUTH,)),  # 売上完了 (オーソリ時確定)
    DemoOrder("DEMO-0018", "gmo-pg-credit-card-recurring", 2_980, (AUTH,)),  # 決済待ち
    DemoOrder("DEMO-0019", "offline-bank-transfer", 4_000, (("force-capture", None),)),  # 入金済
]


@dataclass(frozen=True)
class DemoSeed:
    api_key: str
    tour_order_id: int
    tour_order_number: str
    # 決済状況 label -> number of demo orders, in the order of PaymentStatus.
    statuses: dict[str, int]
    held: int  # orders holding an unknown outcome until the next action reconciles it


def method_code(row: caps.CapabilityRow) -> str:
    return f"{row.provider}-{row.method_type}".replace("_", "-")


async def seed_demo(settings: Settings) -> DemoSeed:
    if not settings.sandbox:
        raise Conflict(
            "デモデータはサンドボックス環境でのみ登録できます "
            "(KESSAI_ENV=production では使えません)",
            code="sandbox_only",
        )
    services = build_services(settings)
    try:
        await services.load_clock()
        now = services.clock.now()
        async with transaction(services.sessions) as s:
            await _seed_methods(s, now)
            customers = await _seed_customers(s, now)
        for i, demo in enumerate(DEMO_ORDERS):
            await _seed_order(services, demo, customers[i % len(customers)], now)
        tour_id, tour_number = await _tour_order(services, customers[0], now)
        await seed_card_updater_demo(services, customers, now)
        async with transaction(services.sessions) as s:
            key = await create_key(s, "demo", now)
            statuses, held = await _demo_statuses(s)
        return DemoSeed(key, tour_id, tour_number, statuses, held)
    finally:
        await services.close()


async def _seed_methods(s: AsyncSession, now: datetime) -> None:
    """One simulated account per provider and one method per seed-003 row, where missing."""
    have = set((await s.scalars(select(PaymentMethod.code))).all())
    accounts = {
        a.provider: a.id
        for a in (
            await s.scalars(select(ProviderAccount).where(ProviderAccount.connector == SIMULATED))
        ).all()
    }
    for row in caps.ROWS:
        code = method_code(row)
        if code in have:
            continue
        account_id = None
        if row.kind is not caps.MethodKind.OFFLINE:  # 銀行振込・代金引換: no provider at all
            account_id = accounts.get(row.provider)
            if account_id is None:
                account = ProviderAccount(
                    provider=row.provider,
                    name=f"{caps.PROVIDERS[row.provider]} (シミュレーター)",
                    connector=SIMULATED,
                    settings={},
                    created_at=now,
                    updated_at=now,
                )
                s.add(account)
                await s.flush()
                account_id = accounts[row.provider] = account.id
        s.add(
            PaymentMethod(
                code=code,
                name=caps.label(row),
                provider=row.provider,
                method_type=row.method_type,
                account_id=account_id,
                enabled=True,
                min_amount=1,
                max_amount=9_999_999,
                recurring=row.method_type == "credit_card_recurring",  # GMO 継続課金
                created_at=now,
                updated_at=now,
                **DEMO_FLAGS,
            )
        )


async def _seed_customers(s: AsyncSession, now: datetime) -> list[int]:
    ids = []
    for name, email in DEMO_CUSTOMERS:
        customer = await s.scalar(select(Customer).where(Customer.email == email).limit(1))
        if customer is None:
            customer = Customer(name=name, email=email, created_at=now)
            s.add(customer)
            await s.flush()
        ids.append(customer.id)
    return ids


def _new_order(
    number: str, method: str, amount: int, customer_id: int, now: datetime
) -> OrderCreate:
    return OrderCreate(
        number=number,
        customer_id=customer_id,
        payment_method=method,
        amount=amount,
        tax=amount // 11,  # 10% 税込
        ordered_at=now - timedelta(hours=1),
        payment_source={"token": f"tok_demo_{number}"},
    )


async def _seed_order(services: Services, demo: DemoOrder, customer_id: int, now: datetime) -> None:
    async with transaction(services.sessions) as s:
        if await s.scalar(select(Order.id).where(Order.number == demo.number)) is not None:
            return
        order = await create_order(
            s, _new_order(demo.number, demo.method, demo.amount, customer_id, now), now
        )
        order_id = order.id
    for action, scenario in demo.steps:
        await services.payments.run(
            order_id,
            ActionRequest(
                action=action,
                actor=DEMO_ACTOR,
                options={"scenario": scenario} if scenario else {},
                # 後払い capture is the 出荷報告: it needs the shipment.
                shipment=ShipmentInput(services.clock.today(), "1234-5678-9012", "ヤマト運輸")
                if action == "capture"
                else ShipmentInput(),
            ),
        )


async def _tour_order(services: Services, customer_id: int, now: datetime) -> tuple[int, str]:
    """A 決済準備中 order for the tour the banner prints: the last one if still untouched,
    else the next TOUR-nnnn (its authorization must happen in the serving process)."""
    async with transaction(services.sessions) as s:
        tours = Order.number.like(f"{TOUR_PREFIX}%")
        ready = await s.scalar(
            select(Order)
            .where(
                tours,
                Order.payment_status == PaymentStatus.PENDING.value,
                Order.in_flight_attempt_id.is_(None),
                Order.authorization_count == 0,
            )
            .order_by(Order.id.desc())
            .limit(1)
        )
        if ready is None:
            n = (await s.scalar(select(func.count()).select_from(Order).where(tours)) or 0) + 1
            number = f"{TOUR_PREFIX}{n:04d}"
            ready = await create_order(
                s, _new_order(number, TOUR_METHOD, 5_500, customer_id, now), now
            )
        return ready.id, ready.number


async def _demo_statuses(s: AsyncSession) -> tuple[dict[str, int], int]:
    rows = (
        await s.execute(
            select(Order.payment_status, Order.in_flight_attempt_id).where(
                Order.number.in_([d.number for d in DEMO_ORDERS])
            )
        )
    ).all()
    counts = Counter(status for status, _ in rows)
    statuses = {st.label: counts[st.value] for st in PaymentStatus if counts[st.value]}
    return statuses, sum(1 for _, held in rows if held is not None)
