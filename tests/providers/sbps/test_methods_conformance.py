"""The conformance promises for SBPS キャリア決済 (d払い, auかんたん決済,
ソフトバンクまとめて支払い) on the conformance harness: kessai on SQLite and on
PostgreSQL, SBPS's simulator over real loopback HTTP, the declared connector.

For each carrier: authorize leaves the order waiting for the customer, who pays on the
simulator's purchase page; 決済結果参照 settles it; then 売上 (alone: carriers have no 確定),
lookup and 取消返金. An answer
lost after SBPS acted is settled by a lookup and never registers a second 売上; a refused
connection sends nothing; 金額変更, which キャリア決済 lacks, is refused before any call; the
account's secrets never reach the database or the logs. (tests/providers/sbps/test_carrier.py
takes one carrier through kessai's API and SBPS's result notice.)
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import text

from kessai.core.errors import Conflict, ProviderUnavailable
from kessai.providers.sbps.provider import PROVIDER
from kessai.providers.sbps.requests import CARRIERS
from kessai.providers.sbps.sandbox import TEST_BASIC_PASSWORD, TEST_ENCRYPTION_KEY, TEST_HASH_KEY
from kessai.services import Services
from tests.providers.conformance.harness import Harness, harness_on

RETURN = "https://shop.example/thanks"
# Where kessai's inbox would be: nothing listens, the lookup settles (test_carrier.py has the
# notice itself).
NO_INBOX = "http://127.0.0.1:9"


@dataclass
class Case:
    h: Harness
    carrier: str

    @property
    def method(self) -> str:
        return CARRIERS[self.carrier][0]

    def api(self, name: str) -> str:
        return f"{name}-{self.method}"

    def held(self, reference: str) -> dict[str, Any]:
        """What SBPS holds for our order_id."""
        held = self.h.sim_app.state.simulator.transactions.values()
        (found,) = [t for t in held if t["order_id"] == reference]
        return dict(found)

    async def authorized(self) -> int:
        order = await self.h.order_paid_with({"carrier": self.carrier}, amount=1000)
        first = await self.h.run(order, "authorize")
        assert first.outcome == "pending", first
        assert await self.h.status(order) == "pending"
        redirect = await self.h.redirect_url(order)
        page = await self.h.sim("GET", redirect)
        assert "1,000円" in page.text
        reference = await self.h.reference(order)
        paid = await self.h.sim("GET", "/f01/pay", params={"order_id": reference, "result": "OK"})
        assert (paid.status_code, paid.headers["location"]) == (303, RETURN)
        settled = await self.h.run(order, "reconcile")
        assert settled.outcome == "succeeded", settled
        assert await self.h.status(order) == "authorized"
        return order

    async def lookup(self, order: int) -> Any:
        connector: Any = self.h.real_connector()
        return await connector.lookup(await self.h.reference(order))


@pytest.fixture(params=sorted(CARRIERS))
async def case(request: pytest.FixtureRequest, live_services: Services) -> AsyncIterator[Case]:
    async with harness_on(PROVIDER, live_services) as h:
        carrier = await h.with_method(
            "conformance-sbps-carrier", "carrier", kessai_url=NO_INBOX, return_url=RETURN
        )
        yield Case(carrier, request.param)


async def test_authorize_customer_settle_capture_lookup_cancel(case: Case) -> None:
    order = await case.authorized()
    reference = await case.h.reference(order)
    assert (case.held(reference)["method"], case.held(reference)["status"]) == (case.method, "2")
    assert (await case.h.run(order, "capture")).outcome == "succeeded"
    assert case.held(reference)["status"] == "3"
    assert len(await case.h.calls(case.api("ST02-00201"))) == 1
    assert await case.h.calls(case.api("ST02-00101")) == []  # no 確定 for a carrier
    found = await case.lookup(order)
    assert (found.state.value, found.amount) == ("captured", 1000)
    assert (await case.h.run(order, "cancel")).outcome == "succeeded"
    assert case.held(reference)["status"] == "4"
    assert await case.h.status(order) == "canceled"


async def test_capture_is_sales_alone_whatever_the_lookup_said(case: Case) -> None:
    """Carriers have no 確定 (SBPS answers ST02-00101-40x with 40x05000): capture sends none
    even when no 決済結果参照 has marked the step done."""
    order = await case.authorized()
    reference = await case.h.reference(order)
    connector: Any = case.h.real_connector()
    await connector.store.put(reference, committed=False)
    assert (await case.h.run(order, "capture")).outcome == "succeeded"
    assert await case.h.calls(case.api("ST02-00101")) == []
    assert len(await case.h.calls(case.api("ST02-00201"))) == 1
    assert case.held(reference)["status"] == "3"


async def test_a_lost_answer_never_registers_a_second_sale(case: Case) -> None:
    order = await case.authorized()
    fault = {"count": 1, "api": case.api("ST02-00201"), "mode": "close", "commit": True}
    await case.h.control(lose_response=fault)
    first = await case.h.run(order, "capture")
    assert first.outcome == "unknown", first
    again = await case.h.run(order, "reconcile")  # 決済結果参照 first: SBPS sold it
    assert again.outcome == "succeeded", again
    assert await case.h.status(order) == "captured"
    assert len(await case.h.calls(case.api("ST02-00201"))) == 1
    assert await case.h.calls(case.api("ST02-00101")) == []
    assert case.held(await case.h.reference(order))["status"] == "3"
    assert len(case.h.sim_app.state.simulator.transactions) == 1


async def test_connection_refused_sends_nothing(case: Case) -> None:
    order = await case.authorized()
    async with case.h.connection_refused():
        with pytest.raises(ProviderUnavailable):
            await case.h.run(order, "capture")
    assert (await case.h.history(order))[-1].outcome == "not_sent"
    assert await case.h.calls(case.api("ST02-00201")) == []
    assert case.held(await case.h.reference(order))["status"] == "2"
    assert await case.h.status(order) == "authorized"


async def test_an_amount_change_is_refused_before_any_call(case: Case) -> None:
    order = await case.authorized()
    before = len((await case.h.sim("GET", "/_calls")).json()["calls"])
    with pytest.raises(Conflict) as refused:  # the matrix: キャリア決済 has no 金額変更
        await case.h.run(order, "change-amount", amount=900, tax=0)
    assert "金額変更" in refused.value.message
    assert len((await case.h.sim("GET", "/_calls")).json()["calls"]) == before
    assert await case.h.status(order) == "authorized"


async def test_no_secret_in_the_database_or_logs(
    case: Case, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    order = await case.authorized()
    await case.h.run(order, "capture")
    async with case.h.services.sessions() as s:
        rows = []
        for table in ("orders", "payment_attempts", "provider_references", "provider_accounts"):
            rows += [str(tuple(r)) for r in (await s.execute(text(f"SELECT * FROM {table}")))]  # noqa: S608
    dump = "\n".join(rows) + caplog.text
    for secret in (TEST_BASIC_PASSWORD, TEST_HASH_KEY, TEST_ENCRYPTION_KEY):
        assert secret not in dump
