"""Demo data for the sandbox: a payment method for every row of seed 003, a few customers,
orders in a spread of 決済状況, a fresh tour order and a demo API key. Safe to run again:
what exists is kept, nothing is duplicated.

A method runs on its own provider's simulator (mounted at /sim/<provider> by `kessai serve`)
where one serves it, the others on the simulated connector (kessai.demo_sims); the demo
orders are made through those simulators, the way a storefront would."""

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kessai import demo_sims
from kessai.accounts.models import PaymentMethod, ProviderAccount
from kessai.accounts.secrets import write_values
from kessai.apikeys.service import create_key
from kessai.cardupdater.sandbox import seed_card_updater_demo
from kessai.core.crypto import Keyring
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
from kessai.providers.installed import PROVIDERS, SIMULATED
from kessai.providers.kit import Provider
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
NP = "net-protections-np-atobarai-instant-common"

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
    DemoOrder("DEMO-0016", "amazon-amazon-pay-v2", 4_980, (AUTH,)),  # 仮売上完了 (Amazon Pay)
    DemoOrder("DEMO-0017", "komoju-wechat-pay", 3_200, (AUTH,)),  # 売上完了 (オーソリ時確定)
    DemoOrder("DEMO-0018", "gmo-pg-credit-card-recurring", 2_980, (AUTH,)),  # 決済待ち
    DemoOrder("DEMO-0019", "offline-bank-transfer", 4_000, (("force-capture", None),)),  # 入金済
    DemoOrder("DEMO-0020", "paypay-paypay", 2_400, (AUTH,)),  # 仮売上完了 (PayPay)
    DemoOrder("DEMO-0021", "sbps-credit-card", 3_600, (AUTH,)),  # 仮売上完了 (SBPS)
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


async def seed_demo(settings: Settings, host: str = "127.0.0.1", port: int = 8000) -> DemoSeed:
    if not settings.sandbox:
        raise Conflict(
            "デモデータはサンドボックス環境でのみ登録できます "
            "(KESSAI_ENV=production では使えません)",
            code="sandbox_only",
        )
    services = build_services(settings)
    base = f"http://{host}:{port}"
    try:
        await services.load_clock()
        now = services.clock.now()
        async with transaction(services.sessions) as s:
            await _seed_methods(s, now, services.keyring, base)
            customers = await _seed_customers(s, now)
        async with demo_sims.simulators_served(services) as private:
            await _point_accounts(services, private)
            try:
                for i, demo in enumerate(DEMO_ORDERS):
                    await _seed_order(services, private, demo, customers[i % len(customers)], now)
                tour_id, tour_number = await _tour_order(services, private, customers[0], now)
            finally:
                await _point_accounts(services, base)
        await seed_card_updater_demo(services, customers, now)
        async with transaction(services.sessions) as s:
            key = await create_key(s, "demo", now)
            statuses, held = await _demo_statuses(s)
        return DemoSeed(key, tour_id, tour_number, statuses, held)
    finally:
        await services.close()


async def _point_accounts(services: Services, base: str) -> None:
    """The demo's simulator accounts talk to the simulators at `base` (the private port
    while seeding, then the sandbox the banner prints)."""
    pointed = []
    async with transaction(services.sessions) as s:
        for account in (await s.scalars(select(ProviderAccount))).all():
            provider = next(
                (p for p in PROVIDERS if p.name == account.connector and p.sim_path), None
            )
            if provider is not None and account.name == _account_name(account.provider, provider):
                _configure(account, provider, services.keyring, base)
                pointed.append(account.id)
    for account_id in pointed:
        await services.registry.forget(account_id)


def _on_simulator(demo: DemoOrder) -> bool:
    """Can the demo order's own method make its scenario on its provider's simulator?"""
    row = _row_of(demo.method)
    provider = demo_sims.simulator_of(row) if row else None
    return row is None or provider is None or demo_sims.make(provider, row, demo.steps) is not None


def _row_of(code: str) -> caps.CapabilityRow | None:
    return next((r for r in caps.ROWS if method_code(r) == code), None)


async def _seed_methods(s: AsyncSession, now: datetime, keyring: Keyring, base: str) -> None:
    """One account per provider and connector, and one method per seed-003 row, where
    missing: on the provider's own simulator where one serves the row, else on the simulated
    connector. A demo order whose scenario the simulator cannot make gets a 擬似決済 twin."""
    have = set((await s.scalars(select(PaymentMethod.code))).all())
    accounts = {
        (a.provider, a.connector): a.id for a in (await s.scalars(select(ProviderAccount))).all()
    }

    async def account_for(code: str, provider: Provider | None) -> int:
        connector = provider.name if provider else SIMULATED
        found = accounts.get((code, connector))
        if found is not None:
            return found
        account = _new_account(code, provider, now)
        s.add(account)
        await s.flush()
        if provider is not None:
            _configure(account, provider, keyring, base)
        accounts[(code, connector)] = account.id
        return account.id

    twins = {d.method for d in DEMO_ORDERS if not _on_simulator(d)}
    for row in caps.ROWS:
        code = method_code(row)
        offline = row.kind is caps.MethodKind.OFFLINE  # 銀行振込・代金引換: no provider at all
        provider = None if offline else demo_sims.simulator_of(row)
        if code not in have:
            account_id = None if offline else await account_for(row.provider, provider)
            s.add(_new_method(code, caps.label(row), row, account_id, now))
        twin = code + demo_sims.FAKE_SUFFIX
        if provider is not None and code in twins and twin not in have:
            label = f"{caps.label(row)}({demo_sims.FAKE_NOTE})"
            s.add(_new_method(twin, label, row, await account_for(row.provider, None), now))


def _account_name(code: str, provider: Provider | None) -> str:
    if provider is None:
        return f"{caps.PROVIDERS[code]} (擬似決済: 決済代行会社のシミュレーターは未対応)"
    return f"{provider.title} (シミュレーター /sim/{provider.sim_path})"


def _new_account(code: str, provider: Provider | None, now: datetime) -> ProviderAccount:
    return ProviderAccount(
        provider=code,
        integration=provider.integration if provider else None,
        name=_account_name(code, provider),
        connector=provider.name if provider else SIMULATED,
        settings={},
        secrets={},
        created_at=now,
        updated_at=now,
    )


def _configure(account: ProviderAccount, provider: Provider, keyring: Keyring, base: str) -> None:
    """The settings of the simulator's test merchant, secrets sealed as the admin would
    (merged: settings added since, such as 自動洗替's SFTP side, stay)."""
    assert provider.sandbox is not None
    write_values(
        keyring, account, provider.sandbox.account_settings(demo_sims.sim_url(base, provider))
    )


def _new_method(
    code: str, name: str, row: caps.CapabilityRow, account_id: int | None, now: datetime
) -> PaymentMethod:
    return PaymentMethod(
        code=code,
        name=name,
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
    number: str, method: str, amount: int, customer_id: int, now: datetime, source: dict[str, str]
) -> OrderCreate:
    return OrderCreate(
        number=number,
        customer_id=customer_id,
        payment_method=method,
        amount=amount,
        tax=amount // 11,  # 10% 税込
        ordered_at=now - timedelta(hours=1),
        payment_source=source,
    )


async def _seed_order(
    services: Services, base: str, demo: DemoOrder, customer_id: int, now: datetime
) -> None:
    async with transaction(services.sessions) as s:
        if await s.scalar(select(Order.id).where(Order.number == demo.number)) is not None:
            return
    row = _row_of(demo.method)
    provider = demo_sims.simulator_of(row) if row else None
    made = demo_sims.make(provider, row, demo.steps) if provider and row else None
    method, amount = demo.method, demo.amount
    source = {"token": f"tok_demo_{demo.number}"}
    first = next((m for m in made or [] if m is not None), None)
    if provider is None or made is None:
        if provider is not None:  # its simulator cannot make this scenario: the twin
            method += demo_sims.FAKE_SUFFIX
        made = [None] * len(demo.steps)
    elif first is not None:
        amount = demo_sims.amount_for(provider, first.given, amount)
        source = await demo_sims.source_for(provider, base, first.given, amount)
    async with transaction(services.sessions) as s:
        order = await create_order(
            s, _new_order(demo.number, method, amount, customer_id, now, source), now
        )
        order_id = order.id
    for (action, scenario), step in zip(demo.steps, made, strict=True):
        if step is not None and step.fault and provider is not None:
            await demo_sims.set_fault(provider, base, step.fault)
        fake_scenario = scenario if provider is None or method != demo.method else None
        await services.payments.run(
            order_id,
            ActionRequest(
                action=action,
                actor=DEMO_ACTOR,
                options={"scenario": fake_scenario} if fake_scenario else {},
                # 後払い capture is the 出荷報告: it needs the shipment.
                shipment=ShipmentInput(services.clock.today(), "1234-5678-9012", "ヤマト運輸")
                if action == "capture"
                else ShipmentInput(),
            ),
        )


async def _tour_source(base: str) -> dict[str, str]:
    """A fresh payment source for the tour order (GMO: a token of the simulator's test card,
    good for its 30 minutes)."""
    row = _row_of(TOUR_METHOD)
    provider = demo_sims.simulator_of(row) if row else None
    if provider is None or provider.sandbox is None:
        return {"token": "tok_demo_tour"}
    return await demo_sims.source_for(provider, base, provider.sandbox.succeed)


async def _tour_order(
    services: Services, base: str, customer_id: int, now: datetime
) -> tuple[int, str]:
    """A 決済準備中 order for the tour the banner prints: the last one if still untouched
    (with a fresh payment source), else the next TOUR-nnnn (its authorization must happen
    in the serving process)."""
    source = await _tour_source(base)
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
                s, _new_order(number, TOUR_METHOD, 5_500, customer_id, now, source), now
            )
        else:
            ready.payment_source = source
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
