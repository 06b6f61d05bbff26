"""The ASGI app: Amazon Pay API v2 paths, request signatures checked like Amazon, the
Sandbox buyer's checkout page, IPN sent back over SNS, fault control."""

import asyncio
import base64
import hashlib
import html
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from typing import Any
from urllib.parse import urlencode

import aiohttp
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from starlette.applications import Starlette
from starlette.datastructures import URL
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from kessai.providers.amazon_pay import ipn, signing
from kessai.providers.amazon_pay.sim.state import PAYMENT_METHODS, Answer, ApiError, State
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

log = logging.getLogger("kessai.sim.amazon_pay")

SIMULATOR = "amazon_pay"
SANDBOX_PUBLIC_KEY_ID = "SANDBOX-KESSAISIMULATORKEY01"
SANDBOX_MERCHANT_ID = "A1KESSAISIM01"
SANDBOX_STORE_ID = "amzn1.application-oa2-client.0123456789abcdef0123456789abcdef"
TOPIC_ARN = "arn:aws:sns:us-west-2:000000000000:A1KESSAISIM01"
MAX_CLOCK_SKEW = timedelta(minutes=15)

# (method, path pattern) → API name; the path is what follows /v2/ (or /sandbox/v2/, /live/v2/).
ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("POST", re.compile(r"checkoutSessions"), "CreateCheckoutSession"),
    ("GET", re.compile(r"checkoutSessions/(?P<id>[^/]+)"), "GetCheckoutSession"),
    ("POST", re.compile(r"checkoutSessions/(?P<id>[^/]+)/complete"), "CompleteCheckoutSession"),
    ("GET", re.compile(r"chargePermissions/(?P<id>[^/]+)"), "GetChargePermission"),
    ("POST", re.compile(r"charges"), "CreateCharge"),
    ("GET", re.compile(r"charges/(?P<id>[^/]+)"), "GetCharge"),
    ("POST", re.compile(r"charges/(?P<id>[^/]+)/capture"), "CaptureCharge"),
    ("DELETE", re.compile(r"charges/(?P<id>[^/]+)/cancel"), "CancelCharge"),
    ("POST", re.compile(r"refunds"), "CreateRefund"),
    ("GET", re.compile(r"refunds/(?P<id>[^/]+)"), "GetRefund"),
]
_API_PATH = re.compile(r"/(?:(?:sandbox|live)/)?v2/(?P<rest>.+)")


def _pem(name: str) -> bytes:
    return files("kessai.providers.amazon_pay.sim").joinpath(name).read_bytes()


def sandbox_private_key_pem() -> str:
    """The Sandbox test merchant's key pair (public: registered under SANDBOX_PUBLIC_KEY_ID)."""
    return _pem("sandbox_merchant_key.pem").decode()


def sns_certificate_pem() -> str:
    """The certificate the simulator's SNS signs IPN with (configured in sandbox accounts)."""
    return _pem("sns_signing_cert.pem").decode()


def _public_key(pem: bytes) -> rsa.RSAPublicKey:
    key = load_pem_private_key(pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key.public_key()


@dataclass
class SimulatorConfig:
    now: Callable[[], datetime] | None = None
    store: SimulatorStore | None = None
    latency_seconds: float = 0.0
    lose_response: LoseResponse | None = None
    rate_limit: RateLimit | None = None
    inject_error: InjectError | None = None
    server_error: ServerError | None = None
    ipn_url: str | None = None
    ipn_retries: int = 3  # SNS's immediate-retry phase for an HTTP endpoint
    ipn_delay_seconds: float = 20.0
    sleep: Callable[[float], Awaitable[None]] | None = None


@dataclass
class Call:
    seq: int
    api: str
    key: str
    result: str
    at: str

    def json(self) -> dict[str, Any]:
        return self.__dict__.copy()


@dataclass
class IpnDelivery:
    message_id: str
    object_type: str
    object_id: str
    attempts: int = 0
    delivered: bool = False


class Simulator:
    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.offset = timedelta()
        self.state = State(self.now)
        self.keys: dict[str, rsa.RSAPublicKey] = {
            SANDBOX_PUBLIC_KEY_ID: _public_key(_pem("sandbox_merchant_key.pem"))
        }
        sns_key = load_pem_private_key(_pem("sns_signing_key.pem"), password=None)
        assert isinstance(sns_key, rsa.RSAPrivateKey)
        self.sns_key = sns_key
        self.calls: list[Call] = []
        self.ipn: list[IpnDelivery] = []
        self._ipn_tasks: set[asyncio.Task[None]] = set()
        self._limiter = RateLimiter()
        self.sleep = config.sleep or asyncio.sleep
        self._loaded = config.store is None
        self._loading = asyncio.Lock()

    def now(self) -> datetime:
        base = self.config.now() if self.config.now else datetime.now(UTC)
        return base + self.offset

    async def ready(self) -> None:
        if self._loaded:
            return
        async with self._loading:
            if not self._loaded and self.config.store is not None:
                self.state.restore(await self.config.store.load())
                self._loaded = True

    async def save(self, changed: list[tuple[str, str]]) -> None:
        if self.config.store is not None and changed:
            kinds = self.state.records
            await self.config.store.put({(k, i): kinds[k][i] for k, i in changed})

    def log(self, api: str, key: str, result: str) -> None:
        self.calls.append(Call(len(self.calls) + 1, api, key, result, self.now().isoformat()))
        del self.calls[:-1000]

    # --- signatures, as Amazon checks them -------------------------------------------------
    def check_signature(
        self,
        method: str,
        path: str,
        query: Mapping[str, list[str]],
        headers: Mapping[str, str],
        body: bytes,
    ) -> None:
        given = headers.get("authorization")
        if not given:
            raise ApiError(400, "MissingHeader", "the authorization header is missing")
        auth = signing.parse_authorization(given)
        if auth is None:
            raise ApiError(400, "InvalidHeaderValue", "the authorization header is malformed")
        key = self.keys.get(auth.public_key_id)
        if key is None:
            raise ApiError(401, "UnauthorizedAccess", "unknown PublicKeyId")
        for needed in ("x-amz-pay-date", "x-amz-pay-region", "x-amz-pay-host"):
            if needed not in auth.signed_headers or needed not in headers:
                raise ApiError(400, "MissingHeader", f"the {needed} header must be signed")
        try:
            sent = datetime.strptime(headers["x-amz-pay-date"], "%Y%m%dT%H%M%SZ")
        except ValueError:
            raise ApiError(400, "InvalidHeaderValue", "x-amz-pay-date is malformed") from None
        if abs(sent.replace(tzinfo=UTC) - self.now()) > MAX_CLOCK_SKEW:
            raise ApiError(400, "InvalidHeaderValue", "x-amz-pay-date is too far from now")
        signed = {h: headers.get(h, "") for h in auth.signed_headers}
        canonical = signing.canonical_request(method, path, query, signed, body)
        to_sign = signing.string_to_sign(auth.algorithm, canonical.request)
        if not signing.verify(key, auth.algorithm, to_sign, auth.signature):
            raise ApiError(401, "InvalidRequestSignature", "the request signature does not match")

    # --- one API call ------------------------------------------------------------------------
    async def call(
        self,
        method: str,
        rest: str,
        payload: dict[str, Any],
        headers: Mapping[str, str],
        base_url: str,
    ) -> tuple[Answer, LoseResponse | ServerError | None]:
        await self.ready()
        api, params = _route(method, rest)
        key = headers.get("x-amz-pay-idempotency-key", "")
        if method == "POST" and not key:
            raise ApiError(400, "MissingHeader", "x-amz-pay-idempotency-key is required")
        if self.config.latency_seconds > 0:
            await self.sleep(self.config.latency_seconds)
        if self._limiter.limited(self.config.rate_limit, api):
            self.log(api, key, "rate_limited")
            raise ApiError(429, "TooManyRequests", "the request was throttled")
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
            raise ApiError(400, inject.info, "injected")
        remembered = self.state.kind("idempotency").get(key) if key else None
        if remembered is not None:  # the same request again: the same answer
            answer = Answer(remembered["status"], remembered["body"])
        else:
            answer = self._act(api, params, payload, headers, base_url)
            if key:
                self.state.kind("idempotency")[key] = {"status": answer.status, "body": answer.body}
                answer.changed.append(("idempotency", key))
            await self.save(answer.changed)
            for object_type, object_id, permission in answer.notify:
                self._send_ipn(object_type, object_id, permission)
        if inject:
            raise ApiError(400, inject.info, "injected after processing")
        self.log(api, key, "server_error" if server else "lost" if lose else str(answer.status))
        return answer, lose

    def _act(
        self,
        api: str,
        params: dict[str, str],
        payload: dict[str, Any],
        headers: Mapping[str, str],
        base_url: str,
    ) -> Answer:
        s = self.state
        try:
            if api == "CreateCheckoutSession":
                return s.create_session(payload, lambda i: f"{base_url}/checkout/{i}")
            if api == "GetCheckoutSession":
                return s.get_session(params["id"])
            if api == "CompleteCheckoutSession":
                return s.complete(params["id"], payload)
            if api == "GetChargePermission":
                return s.get_permission(params["id"])
            if api == "CreateCharge":
                return s.create_charge(payload, headers.get("x-amz-pay-simulation-code"))
            if api == "GetCharge":
                return s.get_charge(params["id"])
            if api == "CaptureCharge":
                return s.capture(params["id"], payload)
            if api == "CancelCharge":
                return s.cancel(params["id"], payload)
            if api == "CreateRefund":
                return s.refund(payload)
            return s.get_refund(params["id"])
        except ApiError as refused:  # an answered refusal is remembered like any answer
            return Answer(refused.status, _error(refused))

    # --- IPN over SNS ----------------------------------------------------------------------
    def envelope(self, object_type: str, object_id: str, permission: str) -> dict[str, str]:
        message = {
            "ReleaseEnvironment": "Sandbox",
            "MockNotification": False,
            "MerchantID": SANDBOX_MERCHANT_ID,
            "ObjectType": object_type,
            "ObjectId": object_id,
            "ChargePermissionId": permission,
            "NotificationType": "STATE_CHANGE",
            "NotificationId": self.state.new_id("N"),
            "NotificationVersion": "V1",
        }
        envelope = {
            "Type": "Notification",
            "MessageId": hashlib.sha256(json.dumps(message).encode()).hexdigest()[:36],
            "TopicArn": TOPIC_ARN,
            "Message": json.dumps(message),
            "Timestamp": self.now().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "SignatureVersion": "2",
            "SigningCertURL": "https://sns.simulator.kessai.invalid/SimpleNotificationService.pem",
        }
        raw = self.sns_key.sign(
            ipn.string_to_sign(envelope).encode(), padding.PKCS1v15(), hashes.SHA256()
        )
        envelope["Signature"] = base64.b64encode(raw).decode()
        return envelope

    def _send_ipn(self, object_type: str, object_id: str, permission: str) -> None:
        url = self.config.ipn_url
        if not url:
            return
        envelope = self.envelope(object_type, object_id, permission)
        delivery = IpnDelivery(envelope["MessageId"], object_type, object_id)
        self.ipn.append(delivery)
        task = asyncio.get_running_loop().create_task(self._deliver(url, envelope, delivery))
        self._ipn_tasks.add(task)
        task.add_done_callback(self._ipn_tasks.discard)

    async def _deliver(self, url: str, envelope: dict[str, str], delivery: IpnDelivery) -> None:
        """POST like SNS: the first try and `ipn_retries` more while the answer is no 2xx."""
        body = json.dumps(envelope).encode()
        headers = {
            "content-type": "text/plain; charset=UTF-8",
            "x-amz-sns-message-type": "Notification",
            "x-amz-sns-message-id": envelope["MessageId"],
            "x-amz-sns-topic-arn": TOPIC_ARN,
        }
        timeout = aiohttp.ClientTimeout(total=15)
        async with aiohttp.ClientSession(timeout=timeout) as client:
            for attempt in range(self.config.ipn_retries + 1):
                if attempt:
                    await self.sleep(self.config.ipn_delay_seconds)
                delivery.attempts += 1
                try:
                    async with client.post(url, data=body, headers=headers) as response:
                        if 200 <= response.status < 300:
                            delivery.delivered = True
                            return
                except (aiohttp.ClientError, TimeoutError):
                    pass
        log.info("IPN %s not delivered after %d attempts", delivery.message_id, attempt + 1)

    async def ipn_idle(self) -> None:
        """Wait until every IPN has been delivered or given up (tests)."""
        while self._ipn_tasks:
            await asyncio.gather(*list(self._ipn_tasks), return_exceptions=True)


def _error(refused: ApiError) -> dict[str, Any]:
    return {"reasonCode": refused.code, "message": refused.message}


def _route(method: str, rest: str) -> tuple[str, dict[str, str]]:
    for verb, pattern, api in ROUTES:
        found = pattern.fullmatch(rest)
        if found and verb == method:
            return api, found.groupdict()
    raise ApiError(404, "ResourceNotFound", "no such operation")


def _public(body: dict[str, Any]) -> dict[str, Any]:
    """What Amazon shows: the simulator's own bookkeeping (keys starting "_") left out."""
    return {k: v for k, v in body.items() if not k.startswith("_")}


def _base_url(scope: Scope) -> str:
    root = scope.get("root_path", "")
    return str(URL(scope={**scope, "path": root, "query_string": b""})).rstrip("/")


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


class ResponseLost(ConnectionResetError):
    """Raised after the response headers went out: the connection drops, no body follows."""


class ApiEndpoint:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope)
        raw = await _read_body(receive)
        root = scope.get("root_path", "")
        path = scope["path"][len(root) :] if scope["path"].startswith(root) else scope["path"]
        headers = {k.lower(): v for k, v in request.headers.items()}
        lose: LoseResponse | ServerError | None = None
        try:
            matched = _API_PATH.fullmatch(path)
            if matched is None:
                raise ApiError(404, "ResourceNotFound", "no such operation")
            query = {k: request.query_params.getlist(k) for k in request.query_params}
            self.sim.check_signature(scope["method"], path, query, headers, raw)
            try:
                payload = json.loads(raw) if raw else {}
            except ValueError:
                raise ApiError(400, "InvalidRequestFormat", "the body is not JSON") from None
            if not isinstance(payload, dict):
                raise ApiError(400, "InvalidRequestFormat", "the body must be a JSON object")
            answer, lose = await self.sim.call(
                scope["method"], matched["rest"], payload, headers, _base_url(scope)
            )
            status, body = answer.status, _public(answer.body)
        except ApiError as refused:
            status, body = refused.status, _error(refused)
        if isinstance(lose, ServerError):
            page = b"<html><body>Service Unavailable</body></html>"
            start = {"type": "http.response.start", "status": lose.status, "headers": []}
            await send(start)
            await send({"type": "http.response.body", "body": page})
            return
        payload_bytes = json.dumps(body).encode()
        response_headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload_bytes)).encode()),
            (b"x-amz-pay-request-id", hashlib.sha1(payload_bytes).hexdigest().encode()),  # noqa: S324
        ]
        await send({"type": "http.response.start", "status": status, "headers": response_headers})
        if lose is not None:
            if lose.mode == "hang":
                await self.sim.sleep(lose.hang_seconds)
            raise ResponseLost("simulated: the response was lost")
        await send({"type": "http.response.body", "body": payload_bytes})


def _checkout_page(session_id: str) -> str:
    choices = "".join(
        f'<p><button name="payment_method" value="{m}">Visa ****{m} ({html.escape(o)})</button></p>'
        for m, o in PAYMENT_METHODS.items()
    )
    return (
        '<!doctype html><html lang="ja"><meta charset="utf-8">'
        "<title>Amazon Pay (Sandbox シミュレーター)</title>"
        "<h1>Amazon Pay でお支払い</h1><p>お支払い方法を選んでください。</p>"
        f'<form method="post" action="{html.escape(session_id)}">{choices}</form></html>'
    )


def create_simulator(config: SimulatorConfig | None = None) -> Starlette:
    sim = Simulator(config or SimulatorConfig())

    async def checkout(request: Request) -> Response:
        ident = request.path_params["id"]
        await sim.ready()
        if request.method == "GET":
            return HTMLResponse(_checkout_page(ident))
        form = await request.form()
        try:
            session = sim.state.buyer_chooses(ident, str(form.get("payment_method") or ""))
        except ApiError as refused:
            return JSONResponse(_error(refused), status_code=refused.status)
        await sim.save([("session", ident)])
        target = session["webCheckoutDetails"].get("checkoutResultReturnUrl")
        if not target:
            return JSONResponse({"amazonCheckoutSessionId": ident})
        joiner = "&" if "?" in target else "?"
        query = urlencode({"amazonCheckoutSessionId": ident})
        return RedirectResponse(f"{target}{joiner}{query}", status_code=303)

    async def control(request: Request) -> Response:
        if request.method == "POST":
            try:
                body = json.loads(await request.body() or b"{}")
                if not isinstance(body, dict):
                    raise ValueError("a JSON object is expected")
                apply_faults(sim.config, body)
                if "rate_limit" in body:
                    sim._limiter.reseed(sim.config.rate_limit)
                for name in ("ipn_url", "ipn_retries", "ipn_delay_seconds"):
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
                "ipn_url": sim.config.ipn_url,
                "now": sim.now().isoformat(),
            }
        )

    async def calls(request: Request) -> Response:
        if request.method == "DELETE":
            sim.calls.clear()
        api = request.query_params.get("api")
        return JSONResponse({"calls": [c.json() for c in sim.calls if api in (None, c.api)]})

    app = Starlette(
        routes=[
            Route("/checkout/{id}", checkout, methods=["GET", "POST"]),
            Route("/_control", control, methods=["GET", "POST"]),
            Route("/_calls", calls, methods=["GET", "DELETE"]),
            Route("/{path:path}", ApiEndpoint(sim), methods=["GET", "POST", "DELETE", "PATCH"]),
        ]
    )
    app.state.simulator = sim
    return app
