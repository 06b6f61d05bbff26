"""Fixtures for the REST API tests: an API key, a client that sends it, and DB snapshots.

Everything a test checks goes through HTTP; the database is read directly only to prove
that nothing changed (or that a secret never reached it).
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from kessai.accounts.models import PaymentMethod
from kessai.all_models import Base
from kessai.apikeys.service import create_key
from kessai.core.db import transaction
from kessai.history.models import ChangeRecord
from kessai.orders.models import Order
from kessai.payments.models import PaymentAttempt
from kessai.services import Services
from kessai.web.app import create_app
from tests.factories import make_method

BASE_URL = "http://kessai.test"
KEY_NAME = "storefront"


async def new_key(services: Services, name: str = KEY_NAME) -> str:
    async with transaction(services.sessions) as s:
        return await create_key(s, name, services.clock.now())


def client_for(services: Services, key: str | None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    transport = httpx.ASGITransport(app=create_app(services))
    return httpx.AsyncClient(transport=transport, base_url=BASE_URL, headers=headers)


@pytest.fixture
async def api_key(services: Services) -> str:
    return await new_key(services)


@pytest.fixture
async def api(services: Services, api_key: str) -> AsyncIterator[httpx.AsyncClient]:
    """An integrator's client: every request carries `Authorization: Bearer <key>`."""
    async with client_for(services, api_key) as client:
        yield client


async def card_method(services: Services, **flags: Any) -> PaymentMethod:
    """GMO PG クレジットカード (与信期限 60日) on the fake connector."""
    return await make_method(services, provider="gmo_pg", method_type="credit_card", **flags)


async def deferred_method(services: Services, **flags: Any) -> PaymentMethod:
    """GMO後払い: 売上処理 is the 出荷報告 and needs 発送完了日 and 配送伝票番号."""
    return await make_method(services, provider="gmo_ps", method_type="atobarai", **flags)


def order_body(method_code: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "customer": {"name": "山田 太郎", "email": "taro@example.jp"},
        "payment_method": method_code,
        "amount": 5_500,
        "tax": 500,
        "payment_source": {"token": "tok_test"},
    }
    body.update(overrides)
    return body


async def new_order(api: httpx.AsyncClient, method_code: str, **overrides: Any) -> dict[str, Any]:
    r = await api.post("/api/v1/orders", json=order_body(method_code, **overrides))
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def act(
    api: httpx.AsyncClient, order_id: int, action: str, body: dict[str, Any] | None = None
) -> httpx.Response:
    return await api.post(f"/api/v1/orders/{order_id}/payment/{action}", json=body or {})


async def authorized_order(api: httpx.AsyncClient, method_code: str, **kw: Any) -> dict[str, Any]:
    order = await new_order(api, method_code, **kw)
    r = await act(api, order["id"], "authorize")
    assert r.status_code == 200, r.text
    assert r.json()["outcome"] == "succeeded"
    out: dict[str, Any] = r.json()["order"]
    return out


@dataclass(frozen=True)
class Snapshot:
    """What an integrator could see change: the order row and both histories."""

    order: dict[str, Any] | None
    attempts: int
    changes: int
    orders: int


async def snapshot(services: Services, order_id: int | None = None) -> Snapshot:
    async with transaction(services.sessions) as s:
        row = None
        if order_id is not None:
            found = await s.get(Order, order_id, populate_existing=True)
            if found is not None:
                row = {c.name: getattr(found, c.key) for c in Order.__table__.columns}
        attempts = await s.scalar(select(func.count()).select_from(PaymentAttempt))
        changes = await s.scalar(select(func.count()).select_from(ChangeRecord))
        orders = await s.scalar(select(func.count()).select_from(Order))
    return Snapshot(row, int(attempts or 0), int(changes or 0), int(orders or 0))


async def database_text(services: Services) -> str:
    """Every row of every table as text, to prove a secret never reached the database."""
    parts: list[str] = []
    async with transaction(services.sessions) as s:
        for table in Base.metadata.sorted_tables:
            rows = (await s.execute(select(table))).all()
            parts.extend(repr(tuple(r)) for r in rows)
    return "\n".join(parts)
