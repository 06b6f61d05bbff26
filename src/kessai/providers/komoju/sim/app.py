"""The ASGI app: KOMOJU's API paths under /api/v1 with Basic auth checked like KOMOJU, the
customer's session page, webhooks sent back signed, fault control."""

import asyncio
import base64
import binascii
import html
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import aiohttp
from starlette.applications import Starlette
from starlette.datastructures import URL
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from kessai.providers.komoju.sim.state import WALLETS, Answer, ApiError, State
from kessai.providers.komoju.webhook import signature
from kessai.providers.simulator.faults import (
    InjectError,
    LoseResponse,
    RateLimit,
    RateLimiter,
    ServerError,
    apply_faults,
    faults_json,
    take,
)
from kessai.providers.simulator.store import SimulatorStore

log = logging.getLogger("kessai.sim.komoju")

SIMULATOR = "komoju"
TEST_SECRET_KEY = "sk_test_kessaisimulator0001"  # noqa: S105 - the simulator's public test key
TEST_PUBLISHABLE_KEY = "pk_test_kessaisimulator0001"
ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("POST", re.compile(r"sessions"), "CreateSession"),
    ("GET", re.compile(r"sessions/(?P<id>[^/]+)"), "GetSession"),
    ("POST", re.compile(r"tokens"), "CreateToken"),
    ("POST", re.compile(r"payments"), "CreatePayment"),
    ("GET", re.compile(r"payments"), "ListPayments"),
    ("GET", re.compile(r"payments/(?P<id>[^/]+)"), "GetPayment"),
    ("POST", re.compile(r"payments/(?P<id>[^/]+)/capture"), "CapturePayment"),
    ("POST", re.compile(r"payments/(?P<id>[^/]+)/cancel"), "CancelPayment"),
    ("POST", re.compile(r"payments/(?P<id>[^/]+)/refund"), "RefundPayment"),
]


@dataclass
class SimulatorConfig:
    now: Callable[[], datetime] | None = None
    store: SimulatorStore | None = None
    latency_seconds: float = 0.0
    lose_response: LoseResponse | None = None
    rate_limit: RateLimit | None = None
    inject_error: InjectError | None = None
    server_error: ServerError | None = None
    webhook_url: str | None = None
    webhook_secret: str | None = None
    webhook_retries: int = 3
    webhook_delay_seconds: float = 60.0
    sleep: Callable[[float], Awaitable[None]] | None = None


@dataclass
class Delivery:
    event_id: str
    event: str
    attempts: int = 0
    delivered: bool = False


class ResponseLost(ConnectionResetError):
    """Raised after the response headers went out: the connection drops, no body follows."""


class Simulator:
    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.offset = timedelta()
        self.state = State(self.now)
        self.calls: list[dict[str, Any]] = []
        self.deliveries: list[Delivery] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._limiter = RateLimiter()
        self.sleep = config.sleep or asyncio.sleep
        self._loaded = config.store is None
        self._loading = asyncio.Lock()

    def now(self) -> datetime:
        return (self.config.now() if self.config.now else datetime.now(UTC)) + self.offset

    async def ready(self) -> None:
        if self._loaded:
            return
        async with self._loading:
            if not self._loaded and self.config.store is not None:
                self.state.restore(await self.config.store.load())
                self._loaded = True

    async def settle(self, answer: Answer) -> None:
        """Write what a call changed, then send its webhooks."""
        if self.config.store is not None and answer.changed:
            kinds = self.state.records
            await self.config.store.put({(k, i): kinds[k][i] for k, i in answer.changed})
        for event, payment in answer.events:
            self._send(event, self.state.kind("payment")[payment])

    def log(self, api: str, key: str, result: str) -> None:
        self.calls.append({"api": api, "key": key, "result": result, "at": self.now().isoformat()})
        del self.calls[:-1000]

    # --- one API call ----------------------------------------------------------------------
    async def call(
        self,
        method: str,
        rest: str,
        query: Mapping[str, str],
        payload: dict[str, Any],
        headers: Mapping[str, str],
        base_url: str,
    ) -> tuple[Answer, LoseResponse | ServerError | None]:
        await self.ready()
        api, params = _route(method, rest)
        _check_auth(api, headers.get("authorization", ""))
        key = headers.get("x-komoju-idempotency", "")
        if self.config.latency_seconds > 0:
            await self.sleep(self.config.latency_seconds)
        if self._limiter.limited(self.config.rate_limit, api):
            self.log(api, key, "rate_limited")
            raise ApiError(429, "too_many_requests", "Too many requests")
        server = take(self.config.server_error, api)
        if server and not server.commit:
            self.log(api, key, "server_error")
            return Answer(server.status, {}), server
        lose = server or take(self.config.lose_response, api)
        if isinstance(lose, LoseResponse) and not lose.commit:
            self.log(api, key, "lost")
            return Answer(200, {}), lose
        inject = take(self.config.inject_error, api)
        if inject and not inject.commit:
            self.log(api, key, f"injected {inject.info}")
            raise ApiError(422, inject.info, "injected")
        remembered = self.state.kind("idempotency").get(f"{api}:{key}") if key else None
        if remembered is not None:  # the same request again: the same answer, nothing done
            answer = Answer(remembered["status"], remembered["body"])
        else:
            answer = self._act(api, params, query, payload, base_url)
            if key and method == "POST":
                self.state.kind("idempotency")[f"{api}:{key}"] = {
                    "status": answer.status,
                    "body": answer.body,
                }
                answer.changed.append(("idempotency", f"{api}:{key}"))
            await self.settle(answer)
        if inject:
            raise ApiError(422, inject.info, "injected after processing")
        self.log(api, key, "server_error" if server else "lost" if lose else str(answer.status))
        return answer, lose

    def _act(
        self,
        api: str,
        params: dict[str, str],
        query: Mapping[str, str],
        payload: dict[str, Any],
        base_url: str,
    ) -> Answer:
        s = self.state
        try:
            if api == "CreateSession":
                return s.create_session(payload, lambda i: f"{base_url}/sessions/{i}")
            if api == "GetSession":
                return Answer(200, s.session(params["id"]))
            if api == "CreateToken":
                return s.token(payload)
            if api == "CreatePayment":
                return s.create_payment(payload)
            if api == "ListPayments":
                return s.list_payments(query.get("external_order_num"))
            if api == "GetPayment":
                return s.get_payment(params["id"])
            if api == "CapturePayment":
                return s.capture(params["id"])
            if api == "CancelPayment":
                return s.cancel(params["id"])
            return s.refund(params["id"], payload)
        except ApiError as refused:
            return Answer(refused.status, refused.json())

    # --- webhooks --------------------------------------------------------------------------
    def event(self, kind: str, payment: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "id": f"evt_{self.state.new_id()}",
            "type": kind,
            "resource": "event",
            "data": dict(payment),
            "created_at": self.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "reason": None,
        }

    def signed(self, event: Mapping[str, Any]) -> tuple[bytes, dict[str, str]]:
        body = json.dumps(event).encode()
        headers = {
            "content-type": "application/json",
            "x-komoju-id": str(event["id"]),
            "x-komoju-event": str(event["type"]),
            "x-komoju-signature": signature(self.config.webhook_secret or "", body),
        }
        return body, headers

    def _send(self, kind: str, payment: Mapping[str, Any]) -> None:
        if not (self.config.webhook_url and self.config.webhook_secret):
            return
        event = self.event(kind, payment)
        delivery = Delivery(event["id"], kind)
        self.deliveries.append(delivery)
        task = asyncio.get_running_loop().create_task(
            self._deliver(self.config.webhook_url, event, delivery)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, url: str, event: dict[str, Any], delivery: Delivery) -> None:
        """The first try, then `webhook_retries` more while kessai's answer is not 2xx."""
        body, headers = self.signed(event)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as client:
            for attempt in range(self.config.webhook_retries + 1):
                if attempt:
                    await self.sleep(self.config.webhook_delay_seconds)
                delivery.attempts += 1
                try:
                    async with client.post(url, data=body, headers=headers) as response:
                        if 200 <= response.status < 300:
                            delivery.delivered = True
                            return
                except (aiohttp.ClientError, TimeoutError):
                    pass
        log.info("webhook %s not delivered after %d attempts", delivery.event_id, attempt + 1)

    async def idle(self) -> None:
        """Wait until every webhook has been delivered or given up (tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


def _check_auth(api: str, header: str) -> None:
    """HTTP Basic with the key as user name: the secret key, or the publishable one for
    tokens (the browser's). KOMOJU answers 401 unauthorized otherwise."""
    wanted = TEST_PUBLISHABLE_KEY if api == "CreateToken" else TEST_SECRET_KEY
    scheme, _, encoded = header.partition(" ")
    try:
        user = base64.b64decode(encoded, validate=True).decode().partition(":")[0]
    except (binascii.Error, UnicodeDecodeError):
        user = ""
    if scheme.lower() != "basic" or user != wanted:
        raise ApiError(401, "unauthorized", "User authorization failed")


def _route(method: str, rest: str) -> tuple[str, dict[str, str]]:
    for verb, pattern, api in ROUTES:
        found = pattern.fullmatch(rest)
        if found and verb == method:
            return api, found.groupdict()
    raise ApiError(404, "not_found", "The requested resource could not be found")


def _base_url(scope: Scope) -> str:
    root = scope.get("root_path", "")
    return str(URL(scope={**scope, "path": root, "query_string": b""})).rstrip("/")


class ApiEndpoint:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        raw = await request.body()
        lose: LoseResponse | ServerError | None = None
        try:
            rest = request.path_params["rest"]
            try:
                payload = json.loads(raw) if raw else {}
            except ValueError:
                raise ApiError(400, "bad_request", "the body is not JSON") from None
            if not isinstance(payload, dict):
                raise ApiError(400, "bad_request", "the body must be a JSON object")
            headers = {k.lower(): v for k, v in request.headers.items()}
            answer, lose = await self.sim.call(
                scope["method"],
                rest,
                dict(request.query_params),
                payload,
                headers,
                _base_url(scope),
            )
            status, body = answer.status, answer.body
        except ApiError as refused:
            status, body = refused.status, refused.json()
        if isinstance(lose, ServerError):
            page = HTMLResponse("<html><body>Service Unavailable</body></html>", lose.status)
            await page(scope, receive, send)
            return
        data = json.dumps(body).encode()
        headers_out = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(data)).encode()),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers_out})
        if lose is not None:
            if lose.mode == "hang":
                await self.sim.sleep(lose.hang_seconds)
            raise ResponseLost("simulated: the response was lost")
        await send({"type": "http.response.body", "body": data})


def _session_page(session: Mapping[str, Any]) -> str:
    ident = html.escape(str(session["id"]))
    buttons = "".join(
        f'<p><button name="payment_type" value="{t}">{t} で支払う</button></p>'
        for t in session["payment_types"]
    )
    return (
        '<!doctype html><html lang="ja"><meta charset="utf-8">'
        "<title>KOMOJU (シミュレーター)</title>"
        f"<h1>お支払い {int(session['amount']):,}円</h1>"
        f'<form method="post" action="{ident}">{buttons}'
        '<p><label><input type="radio" name="outcome" value="pay" checked>支払う</label>'
        '<label><input type="radio" name="outcome" value="fail">失敗させる</label>'
        '<label><input type="radio" name="outcome" value="cancel">キャンセル</label></p>'
        "</form></html>"
    )


def create_simulator(config: SimulatorConfig | None = None) -> Starlette:
    sim = Simulator(config or SimulatorConfig())

    async def session_page(request: Request) -> Response:
        await sim.ready()
        ident = request.path_params["id"]
        try:
            if request.method == "GET":
                return HTMLResponse(_session_page(sim.state.session(ident)))
            form = await request.form()
            kind = str(form.get("payment_type") or WALLETS[0])
            answer = sim.state.customer_pays(ident, kind, str(form.get("outcome") or "pay"))
        except ApiError as refused:
            return JSONResponse(refused.json(), status_code=refused.status)
        await sim.settle(answer)
        target = answer.body.get("return_url")
        if not target:
            return JSONResponse({"session_id": ident, "status": answer.body["status"]})
        joiner = "&" if "?" in target else "?"
        return RedirectResponse(f"{target}{joiner}{urlencode({'session_id': ident})}", 303)

    async def control(request: Request) -> Response:
        if request.method == "POST":
            try:
                body = json.loads(await request.body() or b"{}")
                if not isinstance(body, dict):
                    raise ValueError("a JSON object is expected")
                apply_faults(sim.config, body)
                if "rate_limit" in body:
                    sim._limiter.reseed(sim.config.rate_limit)
                for name in (
                    "webhook_url",
                    "webhook_secret",
                    "webhook_retries",
                    "webhook_delay_seconds",
                ):
                    if name in body:
                        setattr(sim.config, name, body[name])
                if body.get("advance_seconds"):
                    sim.offset += timedelta(seconds=float(body["advance_seconds"]))
                if body.get("reset"):
                    sim.state.records.clear()
                    if sim.config.store is not None:
                        await sim.config.store.clear()
            except (ValueError, TypeError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(
            {
                "faults": faults_json(sim.config),
                "webhook_url": sim.config.webhook_url,
                "now": sim.now().isoformat(),
            }
        )

    async def calls(request: Request) -> Response:
        if request.method == "DELETE":
            sim.calls.clear()
        api = request.query_params.get("api")
        return JSONResponse({"calls": [c for c in sim.calls if api in (None, c["api"])]})

    app = Starlette(
        routes=[
            Route("/sessions/{id}", session_page, methods=["GET", "POST"]),
            Route("/_control", control, methods=["GET", "POST"]),
            Route("/_calls", calls, methods=["GET", "DELETE"]),
            Route("/api/v1/{rest:path}", ApiEndpoint(sim), methods=["GET", "POST"]),
        ]
    )
    app.state.simulator = sim
    return app
