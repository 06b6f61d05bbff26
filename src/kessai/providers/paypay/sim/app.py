"""The ASGI app: the Open Payment API under /v2 (signature checked first), the customer's
side of a QR code (/qr/<codeId>), Transaction webhooks with retries, and the simulator
base's fault switches (/_control, /_calls, /_webhooks)."""

import asyncio
import html
import json
import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import aiohttp
from starlette.applications import Starlette
from starlette.datastructures import URL
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from kessai.providers.paypay import signing
from kessai.providers.paypay.sim import api, state
from kessai.providers.paypay.sim.api import Answer, Ctx, Handler, Refused
from kessai.providers.paypay.sim.state import (
    Payment,
    PayPayRateLimit,
    SimClock,
    SimulatorConfig,
    State,
)
from kessai.providers.simulator.faults import (
    LoseResponse,
    RateLimiter,
    ServerError,
    apply_faults,
    faults_json,
    take,
)

log = logging.getLogger("kessai.providers.paypay.sim")

# (method, path pattern, operationId, handler): the spec's operation ids name the calls.
ROUTES: list[tuple[str, re.Pattern[str], str, Handler]] = [
    (m, re.compile(p), name, h)
    for m, p, name, h in (
        ("POST", r"/v2/codes", "createQRCode", api.create_qr_code),
        ("DELETE", r"/v2/codes/(?P<codeId>[^/]+)", "deleteQRCode", api.delete_qr_code),
        (
            "GET",
            r"/v2/codes/payments/(?P<merchantPaymentId>[^/]+)",
            "getCodePaymentDetails",
            api.payment_details,
        ),
        ("POST", r"/v2/payments/preauthorize", "preauthorizePayment", api.preauthorize),
        ("POST", r"/v2/payments/preauthorize/revert", "revertAuth", api.revert),
        ("POST", r"/v2/payments/capture", "capturePaymentAuth", api.capture),
        ("POST", r"/v2/payments/reauthorize", "reauthorizePayment", api.reauthorize),
        ("POST", r"/v2/payments", "createPayment", api.create_payment),
        (
            "GET",
            r"/v2/payments/(?P<merchantPaymentId>[^/]+)",
            "getPaymentDetails",
            api.payment_details,
        ),
        ("DELETE", r"/v2/payments/(?P<merchantPaymentId>[^/]+)", "cancelPayment", api.cancel),
        ("POST", r"/v2/refunds", "refundPayment", api.refund),
    )
]
_READ_ONLY = {"getCodePaymentDetails", "getPaymentDetails"}


class ResponseLost(ConnectionResetError):
    """Raised after the response headers went out: the connection drops, no body follows."""


def _iso(epoch: int | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC).isoformat()


class Simulator:
    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.clock = SimClock(config.now)
        self.state = State(self.clock)
        self.sleep = config.sleep or asyncio.sleep
        self._limiter = RateLimiter()
        self._limiter.reseed(config.rate_limit)
        self._loaded = config.store is None
        self._loading = asyncio.Lock()
        self._sending: set[asyncio.Task[None]] = set()

    def reseed(self) -> None:
        self._limiter.reseed(self.config.rate_limit)

    async def ready(self) -> None:
        """With a store: read back what an earlier run held, once."""
        if self._loaded:
            return
        async with self._loading:
            if not self._loaded and self.config.store is not None:
                state.restore(self.state, await self.config.store.load())
                self._loaded = True

    async def reset(self) -> None:
        self.state.reset()
        if self.config.store is not None:
            await self.config.store.clear()

    def ctx(self, base_url: str) -> Ctx:
        return Ctx(self.state, self.config.public_url or base_url, self.config.qr_minutes)

    # --- the signature, as PayPay checks it ----------------------------------------------
    def check_signature(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes, query: str
    ) -> Refused | None:
        signed = signing.parse(headers.get("authorization"))
        if signed is None or signed.api_key != state.TEST_API_KEY:
            return Refused("UNAUTHORIZED")
        wall = int(self.config.wall())
        if abs(wall - signed.epoch) > signing.MAX_SKEW_SECONDS:
            return Refused(
                "UNAUTHORIZED", "The request is expired (epoch more than 2 minutes away)"
            )
        content_type = headers.get("content-type", "")
        if not signing.verify(signed, state.TEST_API_SECRET, method, path, content_type, body):
            return Refused("UNAUTHORIZED")
        seen = self.state.nonces
        for key in [k for k, at in seen.items() if at < wall - 2 * signing.MAX_SKEW_SECONDS]:
            del seen[key]
        if (signed.api_key, signed.nonce) in seen:
            return Refused("UNAUTHORIZED", "The nonce was used already")
        seen[(signed.api_key, signed.nonce)] = signed.epoch
        merchant = parse_qs(query).get("assumeMerchant", [headers.get("x-assume-merchant", "")])
        if merchant[0] and merchant[0] != state.TEST_MERCHANT_ID:
            return Refused("OP_OUT_OF_SCOPE")
        return None

    # --- one call --------------------------------------------------------------------------
    async def call(
        self,
        api_name: str,
        handler: Handler,
        body: Mapping[str, Any],
        params: Mapping[str, str],
        base_url: str,
    ) -> tuple[Answer, LoseResponse | ServerError | None]:
        await self.ready()
        ref = str(body.get("merchantPaymentId") or params.get("merchantPaymentId") or "")
        if self.config.latency_seconds > 0:
            await self.sleep(self.config.latency_seconds)
        limited = self._limiter.limited(self.config.rate_limit, api_name)
        if limited:
            self.state.log(api_name, ref, "rate_limited", "RATE_LIMIT")
            return _error(Refused("RATE_LIMIT")), None
        server = take(self.config.server_error, api_name)
        if server and not server.commit:
            self.state.log(api_name, ref, "server_error", str(server.status))
            return _error(Refused("INTERNAL_SERVER_ERROR")), server
        lose = server or take(self.config.lose_response, api_name)
        inject = take(self.config.inject_error, api_name)
        if isinstance(lose, LoseResponse) and not lose.commit:
            self.state.log(api_name, ref, "lost")
            return _error(Refused("INTERNAL_SERVER_ERROR")), lose
        if inject and not inject.commit:
            self.state.log(api_name, ref, "injected", inject.info)
            return _error(Refused(inject.info)), lose
        try:
            answer = handler(self.ctx(base_url), body, params)
            result = "ok" if answer.status < 300 else "error"
        except Refused as refused:
            answer, result = _error(refused), "error"
        await state.save(self.config.store, answer.moved)
        for payment in answer.notify:
            self.notify(payment)
        if inject:  # acted on it; the client is told something else
            answer, result = _error(Refused(inject.info)), "injected"
        if isinstance(lose, ServerError):
            result = "server_error"
        elif lose:
            result = "lost"
        code = answer.code if answer.code not in ("SUCCESS", "REQUEST_ACCEPTED") else ""
        self.state.log(api_name, ref, result, code)
        return answer, lose

    # --- webhooks ----------------------------------------------------------------------------
    def notify(self, payment: Payment) -> None:
        """A Transaction event to the merchant's webhook URL, resent until it is taken."""
        url = self.config.webhook_url
        if not url:
            return
        event: dict[str, Any] = {
            "notification_type": "Transaction",
            "merchant_id": state.TEST_MERCHANT_ID,
            "store_id": "",
            "pos_id": "",
            "order_id": payment.payment_id,
            "merchant_order_id": payment.merchant_payment_id,
            "authorized_at": _iso(payment.accepted_at),
            "expires_at": _iso(payment.expires_at),
            "paid_at": _iso(payment.captures[-1]["acceptedAt"] if payment.captures else None)
            if payment.is_authorization
            else _iso(payment.accepted_at if payment.status == "COMPLETED" else None),
            "order_amount": str(payment.amount),
            "state": payment.status,
        }
        if payment.reauth_request_id and payment.status == "AUTHORIZED":
            event["reauth_request_id"] = payment.reauth_request_id
        record: dict[str, Any] = {"url": url, "event": event, "attempts": 0, "delivered": False}
        self.state.webhooks.append(record)
        task = asyncio.get_running_loop().create_task(self._deliver(record))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _deliver(self, record: dict[str, Any]) -> None:
        body = json.dumps(record["event"]).encode()
        headers = {"Content-Type": "application/json"}
        for attempt in range(self.config.webhook_retries + 1):
            record["attempts"] = attempt + 1
            try:
                async with (
                    aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
                    session.post(record["url"], data=body, headers=headers) as reply,
                ):
                    record["last_status"] = reply.status
                    if reply.status == 200:
                        record["delivered"] = True
                        return
            except (aiohttp.ClientError, TimeoutError) as exc:
                record["last_status"] = type(exc).__name__
            await self.sleep(self.config.webhook_backoff_seconds * (2**attempt))

    async def drain(self) -> None:
        """Wait for the webhooks on their way (tests, shutdown)."""
        while self._sending:
            await asyncio.gather(*list(self._sending), return_exceptions=True)


def _error(refused: Refused) -> Answer:
    return Answer(refused.status, None, refused.code, refused.message, None)


def _base_url(scope: Scope) -> str:
    root = scope.get("root_path", "")
    return str(URL(scope={**scope, "path": root, "query_string": b""})).rstrip("/")


def _relative(scope: Scope) -> str:
    """The request path as the client signed it: without the mount prefix."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


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


class OpaEndpoint:
    """Everything under /v2: PayPay's JSON in and out, with its HTTP statuses."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await _read_body(receive)
        path, method = _relative(scope), scope["method"]
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        query = scope.get("query_string", b"").decode()
        answer, lose = await self._answer(scope, method, path, headers, body, query)
        if isinstance(lose, ServerError):
            page = b"<html><body>503 Service Temporarily Unavailable</body></html>"
            start = [(b"content-type", b"text/html"), (b"content-length", str(len(page)).encode())]
            await send({"type": "http.response.start", "status": lose.status, "headers": start})
            await send({"type": "http.response.body", "body": page})
            return
        payload = json.dumps(answer.body(), ensure_ascii=False).encode()
        start = [
            (b"content-type", b"application/json;charset=UTF-8"),
            (b"content-length", str(len(payload)).encode()),
            (b"x-request-id", f"OPA{abs(hash(payload)) % 10**20:020d}".encode()),
        ]
        await send({"type": "http.response.start", "status": answer.status, "headers": start})
        if lose is not None:
            if lose.mode == "hang":
                await self.sim.sleep(lose.hang_seconds)
            raise ResponseLost("simulated: the response was lost")
        await send({"type": "http.response.body", "body": payload})

    async def _answer(
        self,
        scope: Scope,
        method: str,
        path: str,
        headers: Mapping[str, str],
        body: bytes,
        query: str,
    ) -> tuple[Answer, LoseResponse | ServerError | None]:
        refused = self.sim.check_signature(method, path, headers, body, query)
        if refused is not None:
            self.sim.state.log("auth", "", "unauthorized", refused.code)
            return _error(refused), None
        found = _route(method, path)
        if found is None:
            return _error(Refused("DYNAMIC_QR_BAD_REQUEST", "No such API", status=404)), None
        name, handler, matched = found
        try:
            parsed = json.loads(body) if body else {}
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            return _error(Refused("INVALID_REQUEST_PARAMS", "The body is not a JSON object")), None
        params = {**parse_qs_flat(query), **matched}
        return await self.sim.call(name, handler, parsed, params, _base_url(scope))


def _route(method: str, path: str) -> tuple[str, Handler, dict[str, str]] | None:
    for route_method, route, name, handler in ROUTES:
        matched = route.fullmatch(path)
        if matched and route_method == method:
            return name, handler, matched.groupdict()
    return None


def parse_qs_flat(query: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(query).items()}


def _pay_page(code_id: str, payment: Payment | None, done: str | None = None) -> str:
    title = "PayPay でお支払い(シミュレーター)"
    if payment is None:
        text = "<p>このQRコードは見つからないか、有効期限が切れています。</p>"
    elif done is not None:
        text = f"<p>{html.escape(done)}</p>"
    else:
        q = html.escape(code_id)
        text = (
            f"<p>{html.escape(payment.order_description or '')}</p>"
            f"<p>お支払い金額: ¥{payment.amount:,}</p>"
            f'<form method="post" action="{q}"><button name="action" value="pay">'
            '支払う</button> <button name="action" value="fail">残高不足にする</button></form>'
        )
    return (
        f'<!doctype html><html lang="ja"><meta charset="utf-8"><title>{title}</title>'
        f"<h1>{title}</h1>{text}</html>"
    )


def create_simulator(config: SimulatorConfig | None = None) -> Starlette:
    """The PayPay simulator as an ASGI app; app.state.simulator holds its state."""
    sim = Simulator(config or SimulatorConfig())

    async def qr_page(request: Request) -> Response:
        await sim.ready()
        code_id = request.path_params["codeId"]
        ref = sim.state.codes.get(code_id)
        payment = sim.state.payments.get(ref) if ref else None
        if request.method == "GET":
            shown = payment if payment is not None and payment.status == "CREATED" else None
            return HTMLResponse(_pay_page(code_id, shown), 200 if shown else 404)
        form = parse_qs_flat((await request.body()).decode())
        paid = api.customer_pays(
            sim.ctx(_base_url(request.scope)), code_id, pay=form.get("action", "pay") != "fail"
        )
        if paid is None:
            return HTMLResponse(_pay_page(code_id, None), 404)
        await state.save(sim.config.store, [paid])
        sim.notify(paid)
        text = (
            "お支払いが完了しました。"
            if paid.charged
            else "残高が不足しているためお支払いできませんでした。"
        )
        return HTMLResponse(_pay_page(code_id, paid, text))

    async def control(request: Request) -> Response:
        if request.method == "POST":
            try:
                body = json.loads(await request.body() or b"{}")
                if not isinstance(body, dict):
                    raise ValueError("a JSON object is expected")
                apply_faults(sim.config, dict(body), PayPayRateLimit)
                if "rate_limit" in body:
                    sim.reseed()
                for key in ("webhook_url", "webhook_retries", "webhook_backoff_seconds"):
                    if key in body:
                        setattr(sim.config, key, body[key])
                if body.get("advance_seconds"):
                    sim.clock.offset += timedelta(seconds=float(body["advance_seconds"]))
                if body.get("reset"):
                    await sim.reset()
            except (ValueError, TypeError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(
            {
                "faults": faults_json(sim.config),
                "webhook_url": sim.config.webhook_url,
                "now": sim.clock.now().isoformat(),
            }
        )

    async def calls(request: Request) -> Response:
        if request.method == "DELETE":
            sim.state.calls.clear()
        name = request.query_params.get("api")
        return JSONResponse(
            {"calls": [c.json() for c in sim.state.calls if name is None or c.api == name]}
        )

    async def webhooks(_request: Request) -> Response:
        await sim.drain()
        return JSONResponse({"webhooks": sim.state.webhooks})

    app = Starlette(
        routes=[
            Route("/qr/{codeId}", qr_page, methods=["GET", "POST"]),
            Route("/_control", control, methods=["GET", "POST"]),
            Route("/_calls", calls, methods=["GET", "DELETE"]),
            Route("/_webhooks", webhooks, methods=["GET"]),
            Route("/v2/{rest:path}", OpaEndpoint(sim), methods=["GET", "POST", "DELETE"]),
        ]
    )
    app.state.simulator = sim
    return app
