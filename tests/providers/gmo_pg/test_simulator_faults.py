"""Fault modes, the call log and /_control; one test over real HTTP on loopback (uvicorn)."""

import asyncio
import json
import logging

import aiohttp
import pytest

from kessai.providers.gmo_pg import codec
from kessai.providers.gmo_pg.simulator import (
    DECLINE_CARDS,
    SUCCESS_CARDS,
    InjectError,
    LoseResponse,
    RateLimit,
    ResponseLost,
    SimulatorConfig,
    create_simulator,
)
from tests.loopback import serve
from tests.providers.gmo_pg.test_simulator_support import SHOP, VISA, errors, simulator


class Sleeps:
    """Records the waits the simulator asks for instead of waiting."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)


async def test_latency_is_spent_on_every_call() -> None:
    sleeps = Sleeps()
    async with simulator(SimulatorConfig(latency_seconds=0.05, sleep=sleeps)) as gmo:
        await gmo.authorize()
        assert sleeps.seconds == [0.05, 0.05]
        await gmo.control(latency_seconds=0)
        await gmo.search("anything")
        assert sleeps.seconds == [0.05, 0.05]


async def test_rate_limit_answers_e92_and_does_nothing() -> None:
    async with simulator(SimulatorConfig(rate_limit=RateLimit(count=2))) as gmo:
        for _ in range(2):
            reply = await gmo.call("EntryTran", OrderID="rl-1", JobCd="AUTH", Amount=100)
            assert errors(reply) == ["E92000001"]
            assert reply["ErrCode"] == "E92"
        # nothing was registered, so the same OrderID is still free
        assert "AccessID" in await gmo.call("EntryTran", OrderID="rl-1", JobCd="AUTH", Amount=1)
        results = [c["result"] for c in await gmo.calls()]
        assert results == ["rate_limited", "rate_limited", "ok"]


async def test_rate_limit_by_probability_is_repeatable() -> None:
    async def pattern() -> list[bool]:
        limit = RateLimit(probability=0.5, seed=7, api="SearchTrade")
        async with simulator(SimulatorConfig(rate_limit=limit)) as gmo:
            answers = [await gmo.search("x") for _ in range(20)]
            assert errors(await gmo.call("EntryTran", OrderID="a", JobCd="AUTH", Amount=1)) == []
            return [errors(a) == ["E92000001"] for a in answers]

    first = await pattern()
    assert first == await pattern()
    assert 0 < sum(first) < 20


async def test_lost_response_after_commit() -> None:
    config = SimulatorConfig(lose_response=LoseResponse(count=1, api="ExecTran"))
    async with simulator(config) as gmo:
        order_id = gmo.order_id()
        access = await gmo.entry(order_id)
        params = {"OrderID": order_id, **access, "Method": "1", "CardNo": VISA, "Expire": "3012"}
        with pytest.raises(ResponseLost):
            await gmo.call("ExecTran", **params)
        # the provider did charge: what a reconciliation would find
        assert (await gmo.search(order_id))["Status"] == "AUTH"
        assert errors(await gmo.call("ExecTran", **params)) == ["E11010001"]
        calls = [(c["api"], c["result"]) for c in await gmo.calls()]
        assert calls == [
            ("EntryTran", "ok"),
            ("ExecTran", "lost"),
            ("SearchTrade", "ok"),
            ("ExecTran", "error"),
        ]


async def test_lost_request_changes_nothing() -> None:
    config = SimulatorConfig(lose_response=LoseResponse(api="EntryTran", commit=False))
    async with simulator(config) as gmo:
        with pytest.raises(ResponseLost):
            await gmo.call("EntryTran", OrderID="lost-1", JobCd="AUTH", Amount=100)
        assert errors(await gmo.search("lost-1")) == ["E01110002"]


async def test_hanging_response_waits_then_drops() -> None:
    sleeps = Sleeps()
    lose = LoseResponse(count=None, mode="hang", hang_seconds=30)
    async with simulator(SimulatorConfig(lose_response=lose, sleep=sleeps)) as gmo:
        with pytest.raises(ResponseLost):
            await gmo.search("x")
        with pytest.raises(ResponseLost):
            await gmo.search("y")
        assert sleeps.seconds == [30, 30]


async def test_injected_error_after_commit_hides_the_outcome() -> None:
    inject = InjectError(info="E91099999", api="ExecTran", commit=True)
    async with simulator(SimulatorConfig(inject_error=inject)) as gmo:
        order_id, _, reply = await gmo.authorize()
        assert errors(reply) == ["E91099999"]
        assert (await gmo.search(order_id))["Status"] == "AUTH"
        _, _, second = await gmo.authorize()
        assert second["ACS"] == "0"  # count=1: the next one is answered normally


async def test_injected_error_without_commit() -> None:
    async with simulator() as gmo:
        await gmo.control(inject_error={"info": "42C010000", "api": "ExecTran"})
        order_id, _, reply = await gmo.authorize()
        assert errors(reply) == ["42C010000"]
        assert (await gmo.search(order_id))["Status"] == "UNPROCESSED"


async def test_control_endpoint() -> None:
    async with simulator() as gmo:
        state = await gmo.control(
            latency_seconds=0.01,
            rate_limit={"count": 1, "api": "EntryTran"},
            lose_response={"count": 2, "api": "ExecTran", "mode": "hang"},
        )
        assert state["faults"]["latency_seconds"] == 0.01
        assert state["faults"]["rate_limit"]["count"] == 1
        assert state["faults"]["lose_response"]["mode"] == "hang"
        state = await gmo.control(rate_limit=None, lose_response=None, latency_seconds=0)
        assert state["faults"]["rate_limit"] is None
        assert state["faults"]["lose_response"] is None
        refused = await gmo.client.post("/_control", json={"rate_limit": {"bogus": 1}})
        assert refused.status_code == 400
        assert (await gmo.client.get("/_control")).json()["faults"]["latency_seconds"] == 0


async def test_reset_and_clear_calls() -> None:
    async with simulator() as gmo:
        order_id, _, _ = await gmo.authorize()
        await gmo.control(reset=True, clear_calls=True)
        assert await gmo.calls() == []
        assert errors(await gmo.search(order_id)) == ["E01110002"]
        await gmo.client.delete("/_calls")
        assert [c["api"] for c in await gmo.calls()] == []


async def test_same_transaction_twice_at_once_is_a_double_submission() -> None:
    entered, gate = asyncio.Event(), asyncio.Event()

    async def held(_: float) -> None:
        entered.set()
        await gate.wait()

    async with simulator(SimulatorConfig(sleep=held)) as gmo:
        order_id = gmo.order_id()
        access = await gmo.entry(order_id)
        await gmo.control(latency_seconds=0.05)
        params = {"OrderID": order_id, **access, "Method": "1", "CardNo": VISA, "Expire": "3012"}
        first = asyncio.create_task(gmo.call("ExecTran", **params))
        await entered.wait()  # the first one is being processed
        second = await gmo.call("ExecTran", **params)
        gate.set()
        assert (await first)["ACS"] == "0"
        assert errors(second) == ["E90010001"]
        assert [c["result"] for c in await gmo.calls("ExecTran")] == ["double", "ok"]


async def test_card_numbers_never_reach_the_call_log_or_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with simulator() as gmo:
        for card in [*SUCCESS_CARDS, *DECLINE_CARDS]:
            await gmo.authorize(card=card)
            await gmo.member_with_card(f"scrub-{card[-4:]}", card)
        log = json.dumps(await gmo.calls())
        shown = repr(gmo.sim.state.tokens) + repr(gmo.sim.state.transactions)
    for card in [*SUCCESS_CARDS, *DECLINE_CARDS]:
        assert card not in log
        assert card not in caplog.text
        assert card not in shown


async def test_over_real_http_with_aiohttp() -> None:
    config = SimulatorConfig(lose_response=LoseResponse(count=1, api="ExecTran"))
    async with (
        serve(create_simulator(config)) as base,
        aiohttp.ClientSession(base_url=base) as http,
    ):

        async def call(api: str, **params: str) -> dict[str, str]:
            async with http.post(
                f"/payment/{api}.idPass",
                data=codec.encode_request({**SHOP, **params}),
                headers={"Content-Type": codec.CONTENT_TYPE},
            ) as response:
                assert response.status == 200
                return codec.parse_response(await response.read())

        access = await call("EntryTran", OrderID="wire-1", JobCd="AUTH", Amount="100")
        params = {"OrderID": "wire-1", **access, "Method": "1", "CardNo": VISA, "Expire": "3012"}
        with pytest.raises(aiohttp.ClientError):
            await call("ExecTran", **params, ClientField1="～①", ClientFieldFlag="1")
        found = await call("SearchTrade", OrderID="wire-1")
        assert found["Status"] == "AUTH"
        assert found["ClientField1"] == "～①"
        assert errors(await call("ExecTran", **params)) == ["E11010001"]
