"""電算システム コンビニ郵貯後払い: each order gets a 17-digit 取引ID = 固有値7桁 + 乱数10桁."""

import re
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest

from kessai.accounts.integrations import integration
from kessai.accounts.models import ProviderAccount
from kessai.core.db import transaction
from kessai.core.errors import Conflict
from kessai.orders.models import Order
from kessai.orders.service import densan_transaction_id
from kessai.providers import densan
from kessai.services import Services
from tests.factories import make_method, make_order
from tests.web.conftest import client_for, new_key, order_body

UNIQUE = "0012345"


@pytest.fixture
async def api(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(services, await new_key(services)) as client:
        yield client


async def densan_account(services: Services, unique_value: str | None = UNIQUE) -> ProviderAccount:
    now = services.clock.now()
    async with transaction(services.sessions) as s:
        account = ProviderAccount(
            provider="densan",
            integration="densan",
            name=integration("densan").name,
            connector="fake",
            settings={} if unique_value is None else {"unique_value": unique_value},
            secrets={},
            created_at=now,
            updated_at=now,
        )
        s.add(account)
        await s.flush()
        return account


async def densan_method(api: httpx.AsyncClient, account: ProviderAccount) -> str:
    r = await api.post(
        "/api/v1/payment-methods",
        json={
            "code": "cvs_postal",
            "name": "コンビニ郵貯後払い",
            "account_id": account.id,
            "method_type": "external",
            "enabled": True,
        },
    )
    assert r.status_code == 201, r.text
    assert (r.json()["provider"], r.json()["kind"]) == ("offline", "offline")
    return "cvs_postal"


def draws(*values: int) -> Callable[[int], int]:
    """A random source answering `values` in turn, checking what it is asked for."""
    it: Iterator[int] = iter(values)

    def randbelow(n: int) -> int:
        assert n == 10**10
        return next(it)

    return randbelow


def test_the_id_is_the_unique_value_and_ten_random_digits() -> None:
    tid = densan.transaction_id(UNIQUE)
    assert re.fullmatch(r"[0-9]{17}", tid)
    assert tid.startswith(UNIQUE)
    # Leading zeros of the random part are kept: always 17 digits.
    assert densan.transaction_id("9876543", draws(42)) == "98765430000000042"
    assert densan.transaction_id("9876543", draws(10**10 - 1)) == "98765439999999999"
    with pytest.raises(ValueError, match="7桁"):
        densan.transaction_id("123456")


def test_ids_are_random() -> None:
    ids = {densan.transaction_id(UNIQUE) for _ in range(50)}
    assert len(ids) == 50


async def test_orders_get_a_17_digit_id_through_the_api(
    services: Services, api: httpx.AsyncClient
) -> None:
    code = await densan_method(api, await densan_account(services))
    orders = [await api.post("/api/v1/orders", json=order_body(code)) for _ in range(3)]
    refs = [o.json()["provider_reference"] for o in orders]
    assert all(o.status_code == 201 for o in orders)
    for ref in refs:
        assert re.fullmatch(rf"{UNIQUE}[0-9]{{10}}", ref)
    assert len(set(refs)) == 3
    # The same ID when the order is read back.
    again = await api.get(f"/api/v1/orders/{orders[0].json()['id']}")
    assert again.json()["provider_reference"] == refs[0]
    # A card order is not a 電算 order: no ID until the provider is called.
    card = await make_method(services, code="card")
    assert (await api.post("/api/v1/orders", json=order_body(card.code))).json()[
        "provider_reference"
    ] is None


async def test_a_collision_draws_again(
    services: Services, api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = await densan_method(api, await densan_account(services))
    monkeypatch.setattr(densan, "randbelow", draws(1, 1, 1, 7))
    first = (await api.post("/api/v1/orders", json=order_body(code))).json()
    assert first["provider_reference"] == f"{UNIQUE}0000000001"
    # The next draws repeat the first order's ID twice before a free one comes up.
    second = (await api.post("/api/v1/orders", json=order_body(code))).json()
    assert second["provider_reference"] == f"{UNIQUE}0000000007"


async def test_an_id_held_by_any_order_is_never_reused(services: Services) -> None:
    """Even a reference another method's order holds (a number typed by hand)."""
    card = await make_method(services, code="card")
    order_id = await make_order(services, card)
    async with transaction(services.sessions) as s:
        order = await s.get(Order, order_id)
        assert order is not None
        order.provider_reference = f"{UNIQUE}0000000005"
    account = await densan_account(services)
    async with transaction(services.sessions) as s:
        tid = await densan_transaction_id(s, account, draws(5, 6))
    assert tid == f"{UNIQUE}0000000006"


async def test_giving_up_after_repeated_collisions(services: Services) -> None:
    card = await make_method(services, code="card")
    order_id = await make_order(services, card)
    async with transaction(services.sessions) as s:
        order = await s.get(Order, order_id)
        assert order is not None
        order.provider_reference = f"{UNIQUE}0000000003"
    account = await densan_account(services)
    with pytest.raises(Conflict) as raised:
        async with transaction(services.sessions) as s:
            await densan_transaction_id(s, account, draws(*[3] * densan.MAX_TRIES))
    assert raised.value.code == "densan_transaction_id_unavailable"


async def test_without_the_unique_value_the_method_cannot_be_enabled(
    services: Services, api: httpx.AsyncClient
) -> None:
    account = await densan_account(services, unique_value=None)
    r = await api.post(
        "/api/v1/payment-methods",
        json={
            "code": "cvs_postal",
            "name": "コンビニ郵貯後払い",
            "account_id": account.id,
            "method_type": "external",
            "enabled": True,
        },
    )
    assert r.status_code == 409
    assert "「固有値7桁(数字)」が未設定です" in r.json()["message"]
    listed = await api.get("/api/v1/payment-methods")
    assert listed.json() == []


async def test_an_order_on_a_densan_method_whose_value_vanished_is_refused(
    services: Services, api: httpx.AsyncClient
) -> None:
    """The method was enabled, then the account lost its 固有値: no order without an ID."""
    account = await densan_account(services)
    code = await densan_method(api, account)
    async with transaction(services.sessions) as s:
        stored = await s.get(ProviderAccount, account.id)
        assert stored is not None
        stored.settings = {}
    r = await api.post("/api/v1/orders", json=order_body(code))
    assert r.status_code == 409
    assert r.json()["code"] == "account_incomplete"
    assert (await api.get("/api/v1/orders")).json()["total"] == 0


async def test_only_densan_methods_are_offered_kessai_only_types(
    services: Services, api: httpx.AsyncClient
) -> None:
    account = await densan_account(services)
    r = await api.post(
        "/api/v1/payment-methods",
        json={"code": "x", "name": "x", "account_id": account.id, "method_type": "cod"},
    )
    assert r.status_code == 422
    assert "external(外部決済)" in r.json()["message"]
