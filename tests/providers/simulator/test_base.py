"""The simulator base, through a small provider built on it the way a connector's room
builds its own (see docs/providers.md, "The simulator"): every shared fault mode over real
loopback HTTP, its records kept across a restart, one control endpoint, test amounts."""

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from kessai.providers.kit import SimulatorContext
from kessai.providers.simulator.base import Call, Records, Scenarios, Simulator, closed_port_url
from tests.loopback import serve


class CoinSimulator(Simulator):
    """A provider whose API is POST /charges {"id", "amount"} and GET /charges/{id}."""

    name = "coin-test"
    rate_limit_code = "too_many_requests"
    scenarios = Scenarios(amounts={9001: "card_declined"})

    def __init__(self, ctx: SimulatorContext | None = None, **kw: Any) -> None:
        super().__init__(ctx, **kw)
        self.charges: dict[str, dict[str, Any]] = {}

    def routes(self) -> list[BaseRoute]:
        return [
            self.call_route("/charges", self.charge, "charge", methods=["POST"]),
            self.call_route("/charges/{id}", self.lookup, "lookup", methods=["GET"]),
        ]

    async def charge(self, request: Request, call: Call) -> Response:
        body = await request.json()
        call.ref = body["id"]
        declined = self.scenarios.pick(amount=body["amount"])
        if declined:
            call.result, call.info = "error", declined
            return self.error("charge", declined)
        charge = {"id": body["id"], "amount": body["amount"], "at": self.clock.now().isoformat()}
        self.charges[body["id"]] = charge
        self.keep("charge", body["id"], charge)
        return JSONResponse(charge, status_code=201)

    async def lookup(self, request: Request, call: Call) -> Response:
        call.ref = request.path_params["id"]
        found = self.charges.get(call.ref)
        return JSONResponse(found) if found else self.error("lookup", "not_found")

    def error(self, api: str, code: str) -> Response:
        status = 429 if code == self.rate_limit_code else 402
        return JSONResponse({"error": {"code": code}}, status_code=status)

    def restore(self, records: Records) -> None:
        self.charges = dict(records.get("charge", {}))

    def forget(self) -> None:
        self.charges.clear()


class Sleeps:
    def __init__(self) -> None:
        self.seconds: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)


async def control(http: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    reply = await http.post("/_control", json=body)
    assert reply.status_code == 200, reply.text
    shown: dict[str, Any] = reply.json()
    return shown


async def test_a_restarted_simulator_answers_from_kessais_database(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    ctx = SimulatorContext(sessions=sessions)
    async with serve(CoinSimulator.create(ctx)) as url, httpx.AsyncClient(base_url=url) as http:
        assert (await http.post("/charges", json={"id": "c-1", "amount": 500})).status_code == 201
    async with serve(CoinSimulator.create(ctx)) as url, httpx.AsyncClient(base_url=url) as http:
        assert (await http.get("/charges/c-1")).json()["amount"] == 500
        assert (await control(http))["records"] == {"charge": 1}
        assert (await http.get("/_records", params={"kind": "charge"})).json()["charge"]["c-1"]
        await control(http, reset=True)
    async with serve(CoinSimulator.create(ctx)) as url, httpx.AsyncClient(base_url=url) as http:
        assert (await http.get("/charges/c-1")).status_code == 402  # forgotten, in the DB too


async def test_every_shared_fault_mode_over_loopback(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    sim = CoinSimulator(SimulatorContext(sessions=sessions))
    async with serve(sim.app()) as url, httpx.AsyncClient(base_url=url) as http:
        # response lost after commit: the client sees the connection drop, the charge exists
        await control(http, lose_response={"api": "charge", "count": 1, "commit": True})
        with pytest.raises(httpx.HTTPError):
            await http.post("/charges", json={"id": "lost", "amount": 100})
        assert (await http.get("/charges/lost")).status_code == 200
        # lost before the provider acted: nothing exists
        await control(http, lose_response={"api": "charge", "commit": False})
        with pytest.raises(httpx.HTTPError):
            await http.post("/charges", json={"id": "dropped", "amount": 100})
        assert (await http.get("/charges/dropped")).status_code == 402
        # rate limit: the provider's own answer, nothing done
        await control(http, rate_limit={"count": 1, "api": "charge"})
        limited = await http.post("/charges", json={"id": "rl", "amount": 100})
        assert (limited.status_code, limited.json()) == (
            429,
            {"error": {"code": "too_many_requests"}},
        )
        assert (await http.get("/charges/rl")).status_code == 402
        # a 5xx from the provider's front, processed behind it (commit) or not
        await control(http, server_error={"status": 502, "api": "charge", "commit": True})
        assert (await http.post("/charges", json={"id": "5xx", "amount": 1})).status_code == 502
        assert (await http.get("/charges/5xx")).status_code == 200
        await control(http, server_error={"status": 503, "api": "charge"})
        assert (await http.post("/charges", json={"id": "5xx-2", "amount": 1})).status_code == 503
        assert (await http.get("/charges/5xx-2")).status_code == 402
        # an injected provider error
        await control(http, inject_error={"info": "processing_error", "api": "charge"})
        injected = await http.post("/charges", json={"id": "inj", "amount": 1})
        assert injected.json() == {"error": {"code": "processing_error"}}
        results = [
            (c["api"], c["ref"], c["result"]) for c in (await http.get("/_calls")).json()["calls"]
        ]
    assert ("charge", "lost", "lost") in results
    assert ("charge", "", "rate_limited") in results
    assert ("charge", "5xx", "server_error") in results
    assert ("charge", "", "injected") in results
    # connection refused needs no switch: nothing listens there
    async with httpx.AsyncClient(base_url=closed_port_url()) as http:
        with pytest.raises(httpx.ConnectError):
            await http.get("/charges/x")


async def test_latency_is_spent_before_each_call() -> None:
    sleeps = Sleeps()
    sim = CoinSimulator(sleep=sleeps)
    async with serve(sim.app()) as url, httpx.AsyncClient(base_url=url) as http:
        await control(http, latency_seconds=0.25)
        await http.post("/charges", json={"id": "slow", "amount": 1})
        await http.get("/charges/slow")
    assert sleeps.seconds == [0.25, 0.25]


async def test_test_amounts_pick_the_scenario_and_control_shows_them() -> None:
    async with serve(CoinSimulator().app()) as url, httpx.AsyncClient(base_url=url) as http:
        declined = await http.post("/charges", json={"id": "d", "amount": 9001})
        assert declined.json() == {"error": {"code": "card_declined"}}
        shown = await control(http)
    assert shown["simulator"] == "coin-test"
    assert shown["scenarios"] == {"cards": {}, "amounts": {"9001": "card_declined"}}


async def test_the_clock_moves_and_bad_control_changes_nothing() -> None:
    async with serve(CoinSimulator().app()) as url, httpx.AsyncClient(base_url=url) as http:
        moved = await control(http, now="2030-01-01T09:00:00+09:00")
        assert moved["now"].startswith("2030-01-01T00:00:00")
        assert (await control(http, advance_seconds=3600))["now"].startswith("2030-01-01T01:00")
        charged = await http.post("/charges", json={"id": "t", "amount": 1})
        assert charged.json()["at"].startswith("2030-01-01T01:00")
        for bad in ({"rate_limit": {"bogus": 1}}, {"now": "2030-01-01T09:00"}, [1]):
            refused = await http.post("/_control", json=bad)
            assert refused.status_code == 400
        assert (await control(http))["faults"]["rate_limit"] is None
