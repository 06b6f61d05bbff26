"""Helpers for the simulator tests: a client that speaks idPass the way GMO's module does.

(No tests here; the simulator test modules import it.)
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from starlette.applications import Starlette

from kessai.providers.gmo_pg import codec
from kessai.providers.gmo_pg.simulator import (
    TEST_SHOP_ID,
    TEST_SHOP_PASS,
    TEST_SITE_ID,
    TEST_SITE_PASS,
    GmoSimulator,
    SimulatorConfig,
    create_simulator,
)

SHOP = {"ShopID": TEST_SHOP_ID, "ShopPass": TEST_SHOP_PASS}
SITE = {"SiteID": TEST_SITE_ID, "SitePass": TEST_SITE_PASS}
VISA = "4111111111111111"


class Gmo:
    """idPass calls against the simulator, answers parsed with kessai's own codec."""

    def __init__(self, client: httpx.AsyncClient, app: Starlette) -> None:
        self.client = client
        self.app = app
        self._orders = 0

    @property
    def sim(self) -> GmoSimulator:
        sim = self.app.state.simulator
        assert isinstance(sim, GmoSimulator)
        return sim

    async def post(self, api: str, params: dict[str, Any]) -> httpx.Response:
        response = await self.client.post(
            f"/payment/{api}.idPass",
            content=codec.encode_request(params),
            headers={"Content-Type": codec.CONTENT_TYPE},
        )
        assert response.status_code == 200  # GMO answers 200, errors included
        assert response.headers["content-type"] == codec.RESPONSE_CONTENT_TYPE
        return response

    async def call(self, api: str, **params: Any) -> dict[str, str]:
        """A shop API call (ShopID/ShopPass added unless given)."""
        return codec.parse_response((await self.post(api, {**SHOP, **params})).content)

    async def site_call(self, api: str, **params: Any) -> dict[str, str]:
        return codec.parse_response((await self.post(api, {**SITE, **params})).content)

    def order_id(self) -> str:
        self._orders += 1
        return f"sim-test-{self._orders}"

    async def entry(self, order_id: str, amount: int = 1000, job: str = "AUTH") -> dict[str, str]:
        reply = await self.call("EntryTran", OrderID=order_id, JobCd=job, Amount=amount)
        assert set(reply) == {"AccessID", "AccessPass"}, reply
        return reply

    async def authorize(
        self, card: str = VISA, amount: int = 1000, job: str = "AUTH", **extra: Any
    ) -> tuple[str, dict[str, str], dict[str, str]]:
        """EntryTran + ExecTran with a card number: (OrderID, access, ExecTran answer)."""
        order_id = self.order_id()
        access = await self.entry(order_id, amount, job)
        params = {"Method": "1", "CardNo": card, "Expire": "3012", **extra}
        reply = await self.call("ExecTran", OrderID=order_id, **access, **params)
        return order_id, access, reply

    async def search(self, order_id: str) -> dict[str, str]:
        return await self.call("SearchTrade", OrderID=order_id)

    async def token(self, cardno: str = VISA, **fields: Any) -> str:
        body = {"cardno": cardno, "expire": "3012", "securitycode": "123", **fields}
        answer = (await self.client.post("/token", json=body)).json()
        assert answer["resultCode"] == "000", answer
        token = answer["tokenObject"]["token"][0]
        assert isinstance(token, str)
        return token

    async def member_with_card(self, member_id: str, card: str = VISA) -> None:
        assert (await self.site_call("SaveMember", MemberID=member_id))["MemberID"] == member_id
        saved = await self.site_call("SaveCard", MemberID=member_id, Token=await self.token(card))
        assert "ErrCode" not in saved, saved

    async def control(self, **body: Any) -> dict[str, Any]:
        response = await self.client.post("/_control", json=body)
        assert response.status_code == 200, response.text
        answer = response.json()
        assert isinstance(answer, dict)
        return answer

    async def calls(self, api: str | None = None) -> list[dict[str, Any]]:
        params = {"api": api} if api else {}
        calls = (await self.client.get("/_calls", params=params)).json()["calls"]
        assert isinstance(calls, list)
        return calls


def errors(reply: dict[str, str]) -> list[str]:
    """The ErrInfo of an answer, in GMO's order."""
    return codec.split_multi(reply.get("ErrInfo"))


@asynccontextmanager
async def simulator(config: SimulatorConfig | None = None) -> AsyncIterator[Gmo]:
    app = create_simulator(config)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gmo.test") as client:
        yield Gmo(client, app)
