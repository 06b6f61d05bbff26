"""The conformance promises for every GMO PG method beside the card (PayPay, キャリア決済,
楽天ペイ, LINE Pay, au PAY, コンビニ, Pay-easy, 銀行振込), on the conformance harness: kessai
on SQLite and on PostgreSQL, GMO's simulator over real loopback HTTP with its records in that
database, the declared connector.

Each method, where the customer acts at the provider (approves at the wallet, pays a slip):
authorize leaves the order waiting, the customer acts, 決済照会 settles it; then capture,
lookup and cancel where the method has them; an answer lost after GMO acted is settled by a
lookup with our own reference and never registers a second transaction; a refused
connection sends nothing; an operation the method does not have is refused before any
call; the account's secrets never reach the database or the logs.
"""

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from kessai.core.db import transaction
from kessai.core.errors import Conflict, ProviderUnavailable
from kessai.orders.models import Order
from kessai.providers.gmo_pg.methods import BY_KEY, SLIP_BY_KEY, pay_type_of
from kessai.providers.gmo_pg.provider import PROVIDER
from kessai.providers.gmo_pg.sim.config import TEST_SHOP_PASS
from kessai.services import Services
from tests.factories import make_order
from tests.providers.conformance.harness import Harness, harness_on

CUSTOMER = {
    "customer_name": "山田花子",
    "customer_kana": "ヤマダハナコ",
    "tel_no": "0312345678",
    "shop_contact": "kessai ショップ",
    "shop_contact_tel": "0300000000",
    "shop_contact_hours": "09:00-18:00",
}
RETURN = {"return_url": "https://shop.example/return"}
# (method type, payment source, the method's key in methods.py)
METHODS: list[tuple[str, dict[str, str], str]] = [
    ("paypay", RETURN, "paypay"),
    ("carrier", {**RETURN, "carrier": "d_barai"}, "d_barai"),
    ("carrier", {**RETURN, "carrier": "au_easy"}, "au_easy"),
    ("carrier", {**RETURN, "carrier": "softbank_b"}, "softbank_b"),
    ("rakuten_pay", RETURN, "rakuten_pay"),
    ("line_pay", RETURN, "line_pay"),
    ("au_pay", RETURN, "au_pay"),
    ("rakuten_pay_v2", RETURN, "rakuten_pay_v2"),
    ("recruit", RETURN, "recruit"),
    ("epos", RETURN, "epos"),
    ("cvs", {"convenience": "00001", **CUSTOMER}, "cvs"),
    ("pay_easy", CUSTOMER, "pay_easy"),
    ("bank_transfer", {}, "bank_transfer"),
]
IDS = [key for _, _, key in METHODS]
# Seed 003 lists no 取消 for リクルートかんたん支払い, and 金額変更 before capture for 楽天ペイ V2.
NO_CANCEL = {"recruit"}
CHANGES_BEFORE_CAPTURE = {"rakuten_pay_v2"}


@dataclasses.dataclass
class Case:
    h: Harness
    method_type: str
    source: dict[str, str]
    key: str

    @property
    def slip(self) -> bool:
        return self.key in SLIP_BY_KEY

    @property
    def entry_api(self) -> str:
        return (BY_KEY.get(self.key) or SLIP_BY_KEY[self.key]).entry

    @property
    def exec_api(self) -> str:
        return (BY_KEY.get(self.key) or SLIP_BY_KEY[self.key]).exec

    async def order(self) -> int:
        order_id = await make_order(self.h.services, self.h.method, amount=1000, tax=0)
        async with transaction(self.h.services.sessions) as s:
            row = await s.get(Order, order_id)
            assert row is not None
            row.payment_source = dict(self.source)
        return order_id

    async def sim(self, method: str, path: str, **kw: Any) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.h.sim_url, timeout=10) as client:
            return await client.request(method, path, **kw)

    async def customer_acts(self, order_id: int) -> None:
        """The customer approves at the wallet, or pays the slip."""
        async with transaction(self.h.services.sessions) as s:
            row = await s.get(Order, order_id)
            assert row is not None
            url, number = row.redirect_url, row.provider_reference or row.number
        if self.slip:
            r = await self.sim("POST", "/_sandbox/pay", json={"OrderID": number})
            assert r.status_code == 200, r.text
            return
        assert url is not None
        r = await self.sim("GET", f"{url}&result=approve")
        assert r.status_code == 303, r.text

    async def calls(self, api: str) -> list[dict[str, Any]]:
        return list((await self.sim("GET", "/_calls", params={"api": api})).json()["calls"])

    async def authorized(self) -> int:
        order = await self.order()
        first = await self.h.run(order, "authorize")
        assert first.outcome == "pending", first
        assert await self.h.status(order) == "pending"
        await self.customer_acts(order)
        settled = await self.h.run(order, "reconcile")
        assert settled.outcome == "succeeded", settled
        return order

    async def gmo_status(self, order: int) -> str:
        from kessai.providers.gmo_pg import codec

        r = await self.sim(
            "POST",
            "/payment/SearchTradeMulti.idPass",
            content=codec.encode_request(
                {
                    "ShopID": self.h.account.settings["shop_id"],
                    "ShopPass": TEST_SHOP_PASS,
                    "OrderID": await self.h.reference(order),
                    "PayType": pay_type_of(self.key),
                }
            ),
            headers={"Content-Type": codec.CONTENT_TYPE},
        )
        return codec.parse_response(r.content)["Status"]


@pytest.fixture(params=METHODS, ids=IDS)
async def case(request: pytest.FixtureRequest, live_services: Services) -> AsyncIterator[Case]:
    method_type, source, key = request.param
    async with harness_on(PROVIDER, live_services) as h:
        yield Case(
            await h.with_method(f"conformance-gmo-{key}", method_type), method_type, source, key
        )


async def test_authorize_customer_settle_capture_lookup_cancel(case: Case) -> None:
    order = await case.authorized()
    status = await case.h.status(order)
    if case.slip:  # paid: the money is in
        assert status == "captured"
        assert await case.gmo_status(order) == "PAYSUCCESS"
        return
    assert status == "authorized"
    assert await case.gmo_status(order) == "AUTH"
    assert (await case.h.run(order, "capture")).outcome == "succeeded"
    assert await case.gmo_status(order) == "SALES"
    found = await case.h.real_connector().lookup(await case.h.reference(order))  # type: ignore[attr-defined]
    assert (found.state.value, found.amount) == ("captured", 1000)
    if case.key in NO_CANCEL:  # refused by the matrix, nothing sent
        with pytest.raises(Conflict):
            await case.h.run(order, "cancel")
        assert await case.gmo_status(order) == "SALES"
        return
    assert (await case.h.run(order, "cancel")).outcome == "succeeded"
    assert await case.gmo_status(order) == "RETURN"
    assert await case.h.status(order) == "canceled"


async def test_a_lost_answer_never_registers_a_second_transaction(case: Case) -> None:
    order = await case.order()
    fault = {"count": 1, "api": case.exec_api, "mode": "close", "commit": True}
    assert (await case.sim("POST", "/_control", json={"lose_response": fault})).status_code == 200
    first = await case.h.run(order, "authorize")
    assert first.outcome == "unknown", first
    again = await case.h.run(order, "authorize")  # settled by a lookup first
    assert again.outcome in ("pending", "not_sent"), again
    assert len(await case.calls(case.entry_api)) == 1
    references = {a.reference for a in await case.h.history(order)}
    assert len(references) == 1


async def test_connection_refused_sends_nothing(case: Case) -> None:
    order = await case.order()
    async with case.h.connection_refused():
        with pytest.raises(ProviderUnavailable):
            await case.h.run(order, "authorize")
    assert [a.outcome for a in await case.h.history(order)] == ["not_sent"]
    assert await case.calls(case.entry_api) == []
    assert await case.h.status(order) == "pending"


async def test_an_operation_the_method_lacks_is_refused_before_any_call(case: Case) -> None:
    order = await case.authorized()
    status = await case.h.status(order)
    before = len((await case.sim("GET", "/_calls")).json()["calls"])
    if case.key in CHANGES_BEFORE_CAPTURE:  # this method has it: GMO's amount follows
        assert (await case.h.run(order, "change-amount", amount=900, tax=0)).outcome == "succeeded"
        found = await case.h.real_connector().lookup(await case.h.reference(order))  # type: ignore[attr-defined]
        assert found.amount == 900
        return
    with pytest.raises(Conflict) as refused:  # the matrix, or the connector: 409 either way
        await case.h.run(order, "change-amount", amount=900, tax=0)
    assert "金額変更" in refused.value.message
    assert len((await case.sim("GET", "/_calls")).json()["calls"]) == before
    assert await case.h.status(order) == status


async def test_no_secret_in_the_database_or_logs(
    case: Case, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    await case.authorized()
    async with transaction(case.h.services.sessions) as s:
        rows = []
        for table in ("orders", "payment_attempts", "provider_references", "provider_accounts"):
            rows += [str(tuple(r)) for r in (await s.execute(text(f"SELECT * FROM {table}")))]  # noqa: S608
    dump = "\n".join(rows) + caplog.text
    assert TEST_SHOP_PASS not in dump
