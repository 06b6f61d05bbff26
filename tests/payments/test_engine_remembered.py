"""Orders remembered by the hot path (PaymentEngine.seen): the next action skips the load.

What is remembered may be out of date by the time it is used: any other writer (another
process, an operator, a batch that writes the order without moving its version) may have
changed the order, its payment method, account or customer. These tests change each of
them behind the engine's back and check that the action then decides on, and answers
with, what is stored, never with what was remembered.
"""

from typing import Any

import pytest
from sqlalchemy import Table, update

from kessai.accounts.models import PaymentMethod, ProviderAccount
from kessai.core.db import is_postgres, transaction
from kessai.core.errors import Conflict, InvalidInput
from kessai.customers.models import Customer
from kessai.orders.models import Order
from kessai.payments import repository as repo
from kessai.services import Services
from tests.factories import SHIP, act, attempts, make_method, make_order, view


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The order ids the hot path read from the database."""
    seen: list[int] = []
    for cls in (repo._PgHotPath, repo._CoreHotPath):
        original = cls.read

        async def read(self: Any, order_id: int, original: Any = original) -> repo.Seen:
            seen.append(order_id)
            return await original(self, order_id)

        monkeypatch.setattr(cls, "read", read)
    return seen


async def write(services: Services, model: type[Any], row_id: int, **values: Any) -> None:
    """Another writer: nothing of this reaches the engine."""
    table: Table = model.__table__
    async with transaction(services.sessions) as s:
        await s.execute(update(table).where(table.c.id == row_id).values(**values))


async def authorized(services: Services, **flags: Any) -> tuple[PaymentMethod, int]:
    method = await make_method(services, **flags)
    order_id = await make_order(services, method)
    r = await services.payments.run(order_id, act("authorize"))
    assert r.outcome == "succeeded"
    return method, order_id


async def test_the_next_action_skips_the_load_on_postgresql(
    services: Services, reads: list[int]
) -> None:
    _, order_id = await authorized(services)
    assert reads == [order_id]

    r = await services.payments.run(order_id, act("capture", **SHIP))

    assert r.outcome == "succeeded"
    if is_postgres(services.engine):
        assert reads == [order_id]  # the capture used the order as the authorize wrote it
    else:
        assert reads == [order_id, order_id]  # SQLite keeps no row versions: always read
    assert r.view is not None
    assert r.view.order.payment_status == "captured"
    assert (await view(services, order_id)).payment_status == "captured"


async def test_an_order_written_without_a_new_version_is_read_again(
    services: Services, reads: list[int]
) -> None:
    """The 再オーソリ batch writes its label without moving the order's version."""
    _, order_id = await authorized(services)
    await write(services, Order, order_id, reauthorization_label="target")

    r = await services.payments.run(order_id, act("capture", **SHIP))

    assert r.outcome == "succeeded"
    assert r.view is not None
    assert r.view.order.reauthorization_label == "target"
    assert reads == [order_id, order_id]
    assert (await view(services, order_id)).reauthorization_label == "target"


async def test_a_customer_changed_meanwhile_is_answered_as_stored(
    services: Services, reads: list[int]
) -> None:
    _, order_id = await authorized(services)
    customer_id = (await view(services, order_id)).customer.id
    await write(services, Customer, customer_id, name="山田 花子")

    r = await services.payments.run(order_id, act("capture", **SHIP))

    assert r.view is not None
    assert r.view.customer.name == "山田 花子"
    assert reads == [order_id, order_id]


async def test_a_method_limit_lowered_meanwhile_refuses(services: Services) -> None:
    """Remembered, the method still allows 8,000 yen; stored, it no longer does."""
    method, order_id = await authorized(services)
    await write(services, PaymentMethod, method.id, max_amount=6_000)

    with pytest.raises(InvalidInput):
        await services.payments.run(order_id, act("change-amount", amount=8_000, tax=727))

    assert (await view(services, order_id)).amount == 5_000
    assert [a.operation for a in await attempts(services, order_id)] == ["authorize"]


async def test_a_method_limit_raised_meanwhile_allows(services: Services) -> None:
    """Remembered, the method refuses 8,000 yen; stored, it allows it: not refused."""
    method, order_id = await authorized(services, max_amount=6_000)
    await write(services, PaymentMethod, method.id, max_amount=9_000)

    r = await services.payments.run(order_id, act("change-amount", amount=8_000, tax=727))

    assert r.outcome == "succeeded"
    assert (await view(services, order_id)).amount == 8_000


async def test_an_account_changed_meanwhile_is_read_again(
    services: Services, reads: list[int]
) -> None:
    method, order_id = await authorized(services)
    assert method.account_id is not None
    await write(services, ProviderAccount, method.account_id, authorization_days=7)

    r = await services.payments.run(order_id, act("cancel"))

    assert r.outcome == "succeeded"
    assert r.view is not None
    assert r.view.account is not None
    assert r.view.account.authorization_days == 7
    assert reads == [order_id, order_id]


async def test_an_order_moved_by_the_general_way_is_read_again(
    services: Services, reads: list[int]
) -> None:
    """強制取消 (no provider call) changes the order the general way, then a new action."""
    _, order_id = await authorized(services)
    r = await services.payments.run(order_id, act("force-cancel"))
    assert r.outcome == "local"

    with pytest.raises(Conflict) as refused:
        await services.payments.run(order_id, act("capture", **SHIP))

    assert refused.value.code == "illegal_transition", refused.value.code
    assert (await view(services, order_id)).payment_status == "canceled"


def test_only_so_many_orders_are_remembered() -> None:
    seen = repo.SeenOrders(size=2)

    def entry(order_id: int) -> repo.Seen:
        order = repo._instance(Order, {"id": order_id})
        loaded = repo.Loaded(order, None, None, None)  # type: ignore[arg-type]
        return repo.Seen(loaded, (1, 2, 3, 4))

    for order_id in (1, 2, 3):
        seen.put(entry(order_id))
    assert seen.take(1) is None  # the oldest went first
    taken = seen.take(3)
    assert taken is not None
    assert taken.loaded.order.id == 3
    assert seen.take(3) is None  # taken by the action that uses it
    seen.put(repo.Seen(entry(4).loaded, None))
    assert seen.take(4) is None  # no row versions: nothing to check it by
