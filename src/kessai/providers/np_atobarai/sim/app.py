"""The ASGI app: NP's JSON endpoints under /v1, fault control, the call log."""

import asyncio
import base64
import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from kessai.core.clock import utcnow
from kessai.providers.kit import AsgiApp, SimulatorContext
from kessai.providers.np_atobarai.sandbox import TEST_SHOP_CODE, TEST_SP_CODE, TEST_TERMINAL_ID
from kessai.providers.np_atobarai.sim import rules
from kessai.providers.simulator.faults import (
    InjectError,
    LoseResponse,
    RateLimit,
    ServerError,
    apply_faults,
    faults_json,
    take,
)
from kessai.providers.simulator.store import SimulatorStore

SIMULATOR = "np_atobarai"
_READ_ONLY = {"transactions/find", "authorizations/find"}


class ResponseLost(ConnectionResetError):
    """Raised after the response headers went out: the connection drops, no body follows."""


@dataclass
class Faults:
    latency_seconds: float = 0.0
    lose_response: LoseResponse | None = None
    rate_limit: RateLimit | None = None
    inject_error: InjectError | None = None
    server_error: ServerError | None = None


@dataclass
class Call:
    seq: int
    api: str
    shop_transaction_id: str
    result: str
    at: str

    def json(self) -> dict[str, Any]:
        return self.__dict__.copy()


@dataclass
class Simulator:
    store: SimulatorStore | None
    now: Callable[[], datetime]
    faults: Faults = field(default_factory=Faults)
    transactions: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    loaded: bool = False
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    async def ready(self) -> None:
        if self.loaded:
            return
        if self.store is not None:
            records = await self.store.load()
            self.transactions.update(records.get("transaction", {}))
        self.loaded = True

    async def save(self, changed: list[dict[str, Any]]) -> None:
        if self.store is not None and changed:
            await self.store.put({("transaction", t["np_transaction_id"]): t for t in changed})

    def by_shop_id(self, shop_id: str) -> dict[str, Any] | None:
        for t in self.transactions.values():
            if t["shop_transaction_id"] == shop_id:
                return t
        return None

    def new_id(self) -> str:
        while True:
            candidate = f"NP{self.now():%y%m%d}{next(self._ids):06d}"
            if candidate not in self.transactions:
                return candidate

    def log(self, api: str, shop_id: str, result: str) -> None:
        self.calls.append(Call(len(self.calls) + 1, api, shop_id, result, self.now().isoformat()))

    # --- the APIs -------------------------------------------------------------------
    def register(self, t: dict[str, Any]) -> tuple[int, dict[str, Any], list[dict[str, Any]]]:
        codes = rules.registration_errors(t)
        if codes:
            return 400, {"errors": [{"codes": codes}]}, []
        shop_id = str(t["shop_transaction_id"])
        if self.by_shop_id(shop_id) is not None:
            return 400, {"errors": [{"codes": ["E0100118"]}]}, []
        record = {
            "np_transaction_id": self.new_id(),
            "shop_transaction_id": shop_id,
            "billed_amount": t["billed_amount"],
            "goods": t["goods"],
            "status": "registered",
            "shipments_reported": 0,
            **rules.credit_check(int(t["billed_amount"])),
        }
        self.transactions[record["np_transaction_id"]] = record
        return 200, {"results": [_result(record)]}, [record]

    def find(
        self, t: dict[str, Any], *, full: bool
    ) -> tuple[int, dict[str, Any], list[dict[str, Any]]]:
        np_id = str(t.get("np_transaction_id") or "")
        shop_id = str(t.get("shop_transaction_id") or "")
        record = self.transactions.get(np_id) if np_id else self.by_shop_id(shop_id)
        if record is None:
            return 400, {"errors": [{"codes": ["E0100119"]}]}, []
        changed = []
        later = record.pop("later", None)
        if later is not None:  # NP has looked again since
            record["authori_result"], reason = later
            record.pop("authori_hold", None)
            if reason:
                record["authori_ng"] = reason
            changed.append(record)
        answer = _result(record)
        if full:
            answer |= {
                "shop_transaction_id": record["shop_transaction_id"],
                "billed_amount": record["billed_amount"],
                "status": record["status"],
            }
        return 200, {"results": [answer]}, changed

    def update(self, t: dict[str, Any]) -> tuple[int, dict[str, Any], list[dict[str, Any]]]:
        record = self.transactions.get(str(t.get("np_transaction_id") or ""))
        if record is None:
            return 400, {"errors": [{"codes": ["E0100119"]}]}, []
        if record["status"] != "registered":
            return 400, {"errors": [{"codes": ["E0100115"]}]}, []
        codes = rules.registration_errors(t, update=True)
        if codes:
            return 400, {"errors": [{"codes": codes}]}, []
        for key in ("authori_hold", "authori_ng", "later"):
            record.pop(key, None)
        record |= {"billed_amount": t["billed_amount"], "goods": t["goods"]}
        record |= rules.credit_check(int(t["billed_amount"]))
        return 200, {"results": [_result(record)]}, [record]

    def cancel(self, t: dict[str, Any]) -> tuple[int, dict[str, Any], list[dict[str, Any]]]:
        record = self.transactions.get(str(t.get("np_transaction_id") or ""))
        if record is None:
            return 400, {"errors": [{"codes": ["E0100119"]}]}, []
        if record["status"] == "canceled":
            return 400, {"errors": [{"codes": ["E0100115"]}]}, []
        record["status"] = "canceled"
        return 200, {"results": [{"np_transaction_id": record["np_transaction_id"]}]}, [record]

    def ship(self, t: dict[str, Any]) -> tuple[int, dict[str, Any], list[dict[str, Any]]]:
        record = self.transactions.get(str(t.get("np_transaction_id") or ""))
        if record is None:
            return 400, {"errors": [{"codes": ["E0100119"]}]}, []
        codes = rules.shipment_errors(t)
        if codes:
            return 400, {"errors": [{"codes": codes}]}, []
        if record["status"] != "registered" or record["authori_result"] != "00":
            return 400, {"errors": [{"codes": ["E0100115"]}]}, []
        record |= {
            "status": "shipped",
            "pd_company_code": t["pd_company_code"],
            "slip_no": t["slip_no"],
            "shipments_reported": record["shipments_reported"] + 1,
        }
        return 200, {"results": [{"np_transaction_id": record["np_transaction_id"]}]}, [record]


def _result(record: dict[str, Any]) -> dict[str, Any]:
    out = {
        "np_transaction_id": record["np_transaction_id"],
        "authori_result": record["authori_result"],
    }
    for key in ("authori_hold", "authori_ng"):
        if record.get(key):
            out[key] = record[key]
    return out


HANDLERS = {
    ("POST", "transactions"): Simulator.register,
    ("PATCH", "transactions/update"): Simulator.update,
    ("PATCH", "transactions/cancel"): Simulator.cancel,
    ("POST", "shipments"): Simulator.ship,
}


def _authorized(scope: Scope) -> bool:
    headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
    expected = base64.b64encode(f"{TEST_SHOP_CODE}:{TEST_SP_CODE}".encode()).decode()
    return (
        headers.get("authorization") == f"Basic {expected}"
        and headers.get("x-np-terminal-id") == TEST_TERMINAL_ID
    )


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


class ApiEndpoint:
    """/v1/<path>: JSON in, JSON out (200 results, 400 errors, 401 bad credentials)."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        api = str(scope.get("path_params", {}).get("path", ""))
        method = scope["method"]
        body = await _read_body(receive)
        status, answer, lose = await self.answer(method, api, body, scope)
        if isinstance(lose, ServerError):
            page = b"<html><body>Service Temporarily Unavailable</body></html>"
            headers = [
                (b"content-type", b"text/html"),
                (b"content-length", str(len(page)).encode()),
            ]
            await send({"type": "http.response.start", "status": lose.status, "headers": headers})
            await send({"type": "http.response.body", "body": page})
            return
        payload = json.dumps(answer, ensure_ascii=False).encode()
        headers = [
            (b"content-type", b"application/json; charset=utf-8"),
            (b"content-length", str(len(payload) or 1).encode()),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        if lose is not None:
            if lose.mode == "hang":
                await asyncio.sleep(lose.hang_seconds)
            raise ResponseLost(f"simulated: the {api} response was lost")
        await send({"type": "http.response.body", "body": payload})

    async def answer(
        self, method: str, api: str, body: bytes, scope: Scope
    ) -> tuple[int, dict[str, Any], LoseResponse | ServerError | None]:
        sim = self.sim
        await sim.ready()
        if not _authorized(scope):
            sim.log(api, "", "unauthorized")
            return 401, {"errors": [{"codes": ["E0100001"]}]}, None
        try:
            transactions = json.loads(body)["transactions"]
            first = transactions[0]
            if not isinstance(first, dict) or len(transactions) != 1:
                raise ValueError
        except (ValueError, KeyError, IndexError, TypeError):
            sim.log(api, "", "error")
            return 400, {"errors": [{"codes": ["E0100002"]}]}, None
        shop_id = str(first.get("shop_transaction_id") or "")
        f = sim.faults
        if f.latency_seconds > 0:
            await asyncio.sleep(f.latency_seconds)
        server = take(f.server_error, api)
        if server and not server.commit:
            sim.log(api, shop_id, "server_error")
            return 503, {}, server
        lose = server or take(f.lose_response, api)
        if isinstance(lose, LoseResponse) and not lose.commit:
            sim.log(api, shop_id, "lost")
            return 200, {}, lose
        inject = take(f.inject_error, api)
        if inject and not inject.commit:
            sim.log(api, shop_id, "injected")
            return 400, {"errors": [{"codes": [inject.info]}]}, lose
        if api in _READ_ONLY and method == "POST":
            status, answer, changed = sim.find(first, full=api == "transactions/find")
        elif (method, api) in HANDLERS:
            status, answer, changed = HANDLERS[(method, api)](sim, first)
        else:
            sim.log(api, shop_id, "unsupported")
            return 404, {"errors": [{"codes": ["E0100002"]}]}, None
        await sim.save(changed)
        if inject:
            status, answer = 400, {"errors": [{"codes": [inject.info]}]}
        result = "ok" if status == 200 else "error"
        if lose is not None:
            result = "server_error" if isinstance(lose, ServerError) else "lost"
        sim.log(api, shop_id or _np_shop_id(sim, first), result)
        return status, answer, lose


def _np_shop_id(sim: Simulator, t: dict[str, Any]) -> str:
    record = sim.transactions.get(str(t.get("np_transaction_id") or ""))
    return str(record["shop_transaction_id"]) if record else ""


def create_simulator(ctx: SimulatorContext | None = None) -> AsgiApp:
    ctx = ctx or SimulatorContext()
    store = None if ctx.sessions is None else SimulatorStore(ctx.sessions, SIMULATOR)
    sim = Simulator(store, ctx.now or utcnow)

    async def control(request: Request) -> Response:
        if request.method == "POST":
            try:
                body = json.loads(await request.body() or b"{}")
                if not isinstance(body, dict):
                    raise ValueError("a JSON object is expected")
                apply_faults(sim.faults, body)
                if body.get("reset"):
                    sim.transactions.clear()
                    if sim.store is not None:
                        await sim.store.clear()
            except (ValueError, TypeError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"faults": faults_json(sim.faults)})

    async def calls(request: Request) -> Response:
        if request.method == "DELETE":
            sim.calls.clear()
        api = request.query_params.get("api")
        return JSONResponse({"calls": [c.json() for c in sim.calls if api is None or c.api == api]})

    app = Starlette(
        routes=[
            Route("/v1/{path:path}", ApiEndpoint(sim), methods=["POST", "PATCH"]),
            Route("/_control", control, methods=["GET", "POST"]),
            Route("/_calls", calls, methods=["GET", "DELETE"]),
        ]
    )
    app.state.simulator = sim
    result: AsgiApp = app
    return result
