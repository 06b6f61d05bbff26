"""The simulator base: one class every provider's simulator subclasses.

A subclass says what its provider answers; the base gives it, the same way for every provider:

- the fault switches of faults.py (latency, response lost before/after the provider acted,
  the provider's rate-limit answer, an injected error code, a 5xx from the provider's front),
  applied around each call made through `answer()` / `call_route()`;
- its records in kessai's database (store.py): `keep()` during a call, written before the
  answer goes out; `restore()` reads them back when a restarted process gets its first call;
- a clock (kessai's sandbox clock when mounted) that /_control can move;
- its notices to the merchant, posted again on the provider's schedule (`resend`) while not
  taken (notify.py): `await self.notices.send(Notice(…))`;
- one control endpoint: GET /_control shows faults, clock, scenarios and record counts;
  POST /_control sets them; GET /_records?kind= shows the records; GET/DELETE /_calls is the
  call log;
- `create(ctx)` to declare it: `Provider(simulator=MySimulator.create, sim_path="my")` mounts
  it at /sim/my in sandbox mode and `kessai simulate my --port N` serves it alone.

Connection refused needs no switch: point the account at `closed_port_url()`.
"""

import asyncio
import itertools
import json
import socket
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Protocol

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from kessai.core.clock import to_tokyo
from kessai.providers.kit import AsgiApp, SimulatorContext
from kessai.providers.simulator import faults
from kessai.providers.simulator.faults import Faulty, LoseResponse, RateLimiter, ServerError, take
from kessai.providers.simulator.notify import Notifier, Resend
from kessai.providers.simulator.store import SimulatorStore

Records = dict[str, dict[str, dict[str, Any]]]  # kind → key → data


class ResponseLost(ConnectionResetError):
    """Raised after the response headers went out: the connection drops, no body follows."""


class SimClock:
    """The simulator's time: a source (system by default) plus an offset /_control can move."""

    def __init__(self, source: Callable[[], datetime] | None) -> None:
        self._source = source or (lambda: datetime.now(UTC))
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return self._source() + self.offset


@dataclass
class Call:
    """One entry of the call log; a route fills in `ref`, `result` and `info`. Never card data."""

    seq: int
    api: str
    at: datetime
    ref: str = ""  # what the call was about: the provider's order or payment id
    result: str = "ok"  # ok, error, rate_limited, injected, lost, server_error, …
    info: str = ""  # the provider's code when not ok

    def json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "api": self.api,
            "ref": self.ref,
            "result": self.result,
            "info": self.info,
            "at": to_tokyo(self.at).isoformat(timespec="milliseconds"),
        }


@dataclass
class Faults:
    """The fault switches of a simulator that has no configuration of its own."""

    latency_seconds: float = 0.0
    lose_response: LoseResponse | None = None
    rate_limit: faults.RateLimit | None = None
    inject_error: faults.InjectError | None = None
    server_error: ServerError | None = None


@dataclass(frozen=True)
class Scenarios:
    """The provider's test environment, as its documentation states it: test cards and test
    amounts that answer a known code (a decline, a challenge …). Shown by GET /_control."""

    cards: Mapping[str, str] = field(default_factory=dict)
    amounts: Mapping[int, str] = field(default_factory=dict)

    def pick(self, *, card: str | None = None, amount: int | None = None) -> str | None:
        """The code a test card or test amount answers; None: the call goes through."""
        if card is not None and card in self.cards:
            return self.cards[card]
        if amount is not None:
            return self.amounts.get(amount)
        return None

    def json(self) -> dict[str, Any]:
        return {"cards": dict(self.cards), "amounts": {str(k): v for k, v in self.amounts.items()}}


class LostResponse(Response):
    """The headers go out, then the connection drops (after `hang_seconds` for mode hang)."""

    def __init__(self, lose: LoseResponse, sleep: Callable[[float], Awaitable[None]]) -> None:
        super().__init__(b"", headers={"content-length": "1"})  # the client waits for a body
        self.lose, self.sleep = lose, sleep

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        if self.lose.mode == "hang":
            await self.sleep(self.lose.hang_seconds)
        raise ResponseLost("simulated: the response was lost")


def front_error(status: int) -> Response:
    """What the provider's load balancer or maintenance page answers."""
    return HTMLResponse("<html><body>Service Temporarily Unavailable</body></html>", status)


Act = Callable[[Call], Awaitable[Response]]
RouteAct = Callable[[Request, Call], Awaitable[Response]]


class Configured(Faulty, Protocol):
    """A room's simulator configuration: the fault switches, and the clock, store and sleep
    a test may hand in (None: kessai's clock and database, asyncio's sleep)."""

    @property
    def now(self) -> Callable[[], datetime] | None: ...

    @property
    def store(self) -> SimulatorStore | None: ...

    @property
    def sleep(self) -> Callable[[float], Awaitable[Any]] | None: ...


class Simulator:
    """Subclass it: set `name` and `rate_limit_code`, write `routes()`, `error()`,
    `restore()` and `forget()`. See docs/providers.md, "The simulator"."""

    name: ClassVar[str]  # its records in simulator_records are under this name
    rate_limit_code: ClassVar[str] = "RATE_LIMIT"  # the provider's own rate-limit answer
    scenarios: ClassVar[Scenarios] = Scenarios()
    resend: ClassVar[Resend] = Resend()  # the provider's re-sends of a notice not taken

    def __init__(
        self,
        ctx: SimulatorContext | None = None,
        *,
        config: "Configured | None" = None,
        faults_from: Faulty | None = None,
        store: SimulatorStore | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        call_log_limit: int = 100_000,
    ) -> None:
        if config is not None:  # a room's configuration: its clock, store, sleep and faults
            sessions = ctx.sessions if ctx else None
            ctx = SimulatorContext(now=config.now, sessions=sessions)
            faults_from, store, sleep = config, config.store, config.sleep
        ctx = ctx or SimulatorContext()
        self.faults: Faulty = faults_from or Faults()
        self.clock = SimClock(ctx.now)
        if store is None and ctx.sessions is not None:
            store = SimulatorStore(ctx.sessions, self.name)
        self.store = store
        self.sleep = sleep or asyncio.sleep
        self.calls: deque[Call] = deque(maxlen=call_log_limit)
        self.records: Records = {}  # what keep() wrote, as the store holds it
        self._call_seq = itertools.count(1)
        self._limiter = RateLimiter()
        self._limiter.reseed(self.faults.rate_limit)
        self._pending: dict[tuple[str, str], dict[str, Any] | None] = {}
        self._loaded = self.store is None
        self._loading = asyncio.Lock()
        self.notices = Notifier(self, self.resend, self.sleep)

    # --- what a subclass writes ------------------------------------------------------------
    def routes(self) -> list[BaseRoute]:
        """The provider's own endpoints (use call_route for those the fault switches cover)."""
        return []

    def error(self, api: str, code: str) -> Response:
        """The provider's answer carrying one of its error codes (rate limit, injected)."""
        return JSONResponse(
            {"code": code}, status_code=429 if code == self.rate_limit_code else 400
        )

    def restore(self, records: Records) -> None:
        """Fill the (empty) memory from the records an earlier run kept."""

    def forget(self) -> None:
        """Empty the memory (POST /_control {"reset": true}); the store is cleared too."""

    def control(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """The subclass's own /_control switches (ValueError refuses); what GET shows."""
        return {}

    # --- calls -----------------------------------------------------------------------------
    def call_route(self, path: str, act: RouteAct, api: str, methods: list[str]) -> Route:
        """A route whose every call goes through `answer(api, …)`: `act(request, call)`."""

        async def endpoint(request: Request) -> Response:
            return await self.answer(api, lambda call: act(request, call))

        return Route(path, endpoint, methods=methods)

    async def answer(self, api: str, act: Act, ref: str = "") -> Response:
        """One provider call with the fault switches applied: latency, rate limit, 5xx, lost
        response, injected error, before or after `act` (the provider acting) as each says.
        What `act` kept reaches the database before the answer leaves."""
        await self.ready()
        call = Call(next(self._call_seq), api, self.clock.now(), ref)
        try:
            return await self._answer(api, act, call)
        finally:
            self.calls.append(call)

    async def _answer(self, api: str, act: Act, call: Call) -> Response:
        f = self.faults
        if f.latency_seconds > 0:
            await self.sleep(f.latency_seconds)
        limited = self._limiter.limited(f.rate_limit, api)
        if limited is not None:
            call.result, call.info = "rate_limited", limited or self.rate_limit_code
            return self.error(api, call.info)
        server = take(f.server_error, api)
        if server and not server.commit:
            call.result, call.info = "server_error", str(server.status)
            return front_error(server.status)
        lose = server or take(f.lose_response, api)
        inject = take(f.inject_error, api)
        if isinstance(lose, LoseResponse) and not lose.commit:
            call.result = "lost"
            return LostResponse(lose, self.sleep)
        if inject and not inject.commit:
            call.result, call.info = "injected", inject.info
            return self._lost_or(lose, self.error(api, inject.info))
        try:
            response = await act(call)
        finally:
            await self.flush()
        if inject:  # acted on it; the client is told something else
            call.result, call.info = "injected", inject.info
            response = self.error(api, inject.info)
        if isinstance(lose, ServerError):
            call.result, call.info = "server_error", str(lose.status)
            return front_error(lose.status)
        if lose is not None:
            call.result = "lost"
        return self._lost_or(lose, response)

    def _lost_or(self, lose: LoseResponse | ServerError | None, response: Response) -> Response:
        return LostResponse(lose, self.sleep) if isinstance(lose, LoseResponse) else response

    def log(self, api: str, ref: str = "", result: str = "ok", info: str = "") -> Call:
        """A call log entry for a call answered outside answer() (e.g. refused up front)."""
        call = Call(next(self._call_seq), api, self.clock.now(), ref, result, info)
        self.calls.append(call)
        return call

    # --- the store -------------------------------------------------------------------------
    def keep(self, kind: str, key: str, data: dict[str, Any] | None) -> None:
        """Remember a record (None: it is gone); written to the store by flush()."""
        if data is None:
            self.records.get(kind, {}).pop(key, None)
        else:
            self.records.setdefault(kind, {})[key] = data
        self._pending[(kind, key)] = data

    async def flush(self) -> None:
        """Write what keep() gathered (answer() does it before the answer goes out)."""
        pending, self._pending = self._pending, {}
        if pending and self.store is not None:
            await self.store.put(pending)

    async def ready(self) -> None:
        """With a store: read back what an earlier run held, once, before the first call."""
        if self._loaded:
            return
        async with self._loading:
            if not self._loaded and self.store is not None:
                self.records = await self.store.load()
                self.restore(self.records)
                self._loaded = True

    async def reset(self) -> None:
        await self.notices.close()
        self.notices.sent.clear()
        self.forget()
        self.records, self._pending = {}, {}
        if self.store is not None:
            await self.store.clear()

    # --- control ---------------------------------------------------------------------------
    async def set_control(self, body: Mapping[str, Any]) -> None:
        schedule = Resend.parse(body["resend_pauses"]) if "resend_pauses" in body else None
        faults.apply_faults(self.faults, dict(body))
        if "rate_limit" in body:
            self._limiter.reseed(self.faults.rate_limit)
        self.control(body)
        if body.get("advance_seconds"):
            self.clock.offset += timedelta(seconds=float(body["advance_seconds"]))
        if body.get("now"):  # the simulator's clock set to this moment (ISO 8601)
            target = datetime.fromisoformat(str(body["now"]))
            if target.tzinfo is None:
                raise ValueError("now needs a time zone, e.g. 2026-12-01T09:00:00+09:00")
            self.clock.offset += target - self.clock.now()
        if schedule is not None:
            self.notices.schedule = schedule
        if body.get("reset"):
            await self.reset()
        if body.get("clear_calls"):
            self.calls.clear()
        if body.get("resend_notice"):  # the provider posts a notice again though it was taken
            await self.notices.once(str(body["resend_notice"]))

    def shown(self) -> dict[str, Any]:
        return {
            "simulator": self.name,
            "faults": {**faults.faults_json(self.faults), **self.control({})},
            "now": self.clock.now().isoformat(),
            "offset_seconds": self.clock.offset.total_seconds(),
            "scenarios": self.scenarios.json(),
            "records": {kind: len(keyed) for kind, keyed in self.records.items()},
            "notices": self.notices.shown(),
        }

    def app(self) -> Starlette:
        """The ASGI app: routes() plus /_control, /_records and /_calls;
        app.state.simulator is this object."""

        async def control(request: Request) -> Response:
            await self.ready()
            if request.method == "POST":
                try:
                    body = json.loads(await request.body() or b"{}")
                    if not isinstance(body, dict):
                        raise ValueError("a JSON object is expected")
                    await self.set_control(body)
                except (ValueError, TypeError) as exc:
                    return JSONResponse({"error": str(exc)}, status_code=400)
            return JSONResponse(self.shown())

        async def records(request: Request) -> Response:
            await self.ready()
            kind = request.query_params.get("kind")
            return JSONResponse(
                {k: v for k, v in self.records.items() if kind is None or k == kind}
            )

        async def calls(request: Request) -> Response:
            if request.method == "DELETE":
                self.calls.clear()
            api = request.query_params.get("api")
            return JSONResponse(
                {"calls": [c.json() for c in self.calls if api is None or c.api == api]}
            )

        app = Starlette(
            routes=[
                *self.routes(),
                Route("/_control", control, methods=["GET", "POST"]),
                Route("/_records", records, methods=["GET"]),
                Route("/_calls", calls, methods=["GET", "DELETE"]),
            ]
        )
        app.state.simulator = self
        return app

    @classmethod
    def create(cls, ctx: SimulatorContext) -> AsgiApp:
        """What a provider declares as its `simulator`."""
        app: AsgiApp = cls(ctx).app()
        return app


def closed_port_url() -> str:
    """A loopback URL where nothing listens: connecting is refused (the not_sent fault)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
