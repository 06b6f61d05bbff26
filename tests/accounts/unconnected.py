"""Accounts of integrations kessai has no connector for (connector "none" in production),
their methods, and the orders and 定期受注 a database may hold on them from before kessai
refused them (written straight into it: neither can be made through kessai any more)."""

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from kessai.core.db import transaction
from kessai.customers.models import Customer
from kessai.orders.models import Order
from kessai.orders.service import new_order_values
from kessai.services import Services
from kessai.subscriptions.models import Subscription

NOTICE = "決済代行会社との接続: 未対応"
CODE = "provider_not_connected"
NP_WORDS = (
    "外部連携アカウント「NP 後払い」はkessaiから決済代行会社へ接続できません(未対応)。"
    "NP後払いは「NP 後払いリアルタイム」の外部連携アカウント(SHOP_CODE・SP_CODE・端末ID)を"
    "登録し、その支払い方法でご利用ください"
)
PAIDY_WORDS = (
    "外部連携アカウント「Paidy」はkessaiから決済代行会社へ接続できません(未対応)。"
    "この外部連携アカウントの支払い方法では、オーソリ・売上・取消・金額変更を行えません"
)
NP_REALTIME = {"shop_code": "akt0123456", "sp_code": "SP0001", "terminal_id": "T01"}


@dataclass(frozen=True)
class Kind:
    """An integration kessai has no connector for, with a method of it."""

    integration: str
    values: dict[str, Any]
    method_type: str
    words: str
    amount_linked: bool  # seed 003 links 金額変更 of an authorized order to the provider


NP = Kind("np_atobarai", {"sp_code": "SP0001", "terminal_id": "T01"}, "np_atobarai", NP_WORDS, True)
PAIDY = Kind(
    "paidy", {"public_key": "pk_live_1", "secret_key": "sk_live_1"}, "paidy", PAIDY_WORDS, False
)


async def account(api: httpx.AsyncClient, integration: str, values: dict[str, Any]) -> Any:
    r = await api.post(
        "/api/v1/provider-accounts",
        json={"integration": integration, "name": f"{integration} 本番", "values": values},
    )
    assert r.status_code == 201, r.text
    return r.json()


async def method(api: httpx.AsyncClient, kind: Kind) -> Any:
    """An enabled method on a new account of `kind` (both through the API)."""
    acc = await account(api, kind.integration, kind.values)
    r = await api.post(
        "/api/v1/payment-methods",
        json={
            "code": f"{kind.integration}-pay",
            "name": f"{kind.integration} 決済",
            "account_id": acc["id"],
            "method_type": kind.method_type,
            "enabled": True,
            "flags": {"cancel_api_link": True},  # 取消 is linked: it would be sent
        },
    )
    assert r.status_code == 201, r.text
    return r.json()


async def stored_order(prod: Services, method_id: int, *, authorized: bool = False) -> int:
    """An order of this method kept from before kessai refused them: 決済準備中, or 仮売上完了
    as if the provider had authorized it."""
    now = prod.clock.now()
    async with transaction(prod.sessions) as s:
        customer = Customer(name="山田 太郎", email="taro@example.jp", created_at=now)
        s.add(customer)
        await s.flush()
        count = await s.scalar(select(func.count()).select_from(Order))
        number = f"OLD-{(count or 0) + 1:04d}"
        values = new_order_values(
            now,
            number=number,
            customer_id=customer.id,
            payment_method_id=method_id,
            amount=5_500,
            tax=500,
            payment_source={},
        )
        if authorized:
            values.update(
                payment_status="authorized",
                provider_reference=number,
                provider_transaction_id=f"TX-{number}",
                authorized_at=now - timedelta(days=1),
                authorized_amount=5_500,
                shipped_on=date(2026, 3, 2),
                tracking_number="4412-3456-7890",
            )
        order = Order(**values)
        s.add(order)
        await s.flush()
        return order.id


async def stored_subscription(prod: Services, method_id: int, ship_on: date) -> int:
    now = prod.clock.now()
    async with transaction(prod.sessions) as s:
        customer = Customer(name="定期 花子", email="hanako@example.jp", created_at=now)
        s.add(customer)
        await s.flush()
        sub = Subscription(
            number="1000000001",
            customer_id=customer.id,
            payment_method_id=method_id,
            items=[{"name": "青汁 30包", "sku": "AOJIRU-30", "quantity": 1, "unit_price": 5_500}],
            amount=5_500,
            tax=500,
            cycle_kind="months",
            cycle_interval=1,
            next_ship_on=ship_on,
            status="active",
            cycle=0,
            version=0,
            created_at=now,
            updated_at=now,
        )
        s.add(sub)
        await s.flush()
        return sub.id


def refused(r: httpx.Response, kind: Kind) -> None:
    assert r.status_code == 409, r.text
    body = r.json()
    assert (body["code"], body["message"]) == (CODE, kind.words)
    assert body["detail"]["integration"] == kind.integration
