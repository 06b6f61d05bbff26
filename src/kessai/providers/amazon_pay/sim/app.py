"""The ASGI app on the simulator base: Amazon Pay API v2 paths, request signatures checked
like Amazon, the Sandbox buyer's checkout page, IPN sent back over SNS; /_control, /_records
and /_calls come from the base."""

import base64
import hashlib
import html
import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from typing import Any
from urllib.parse import urlencode

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.datastructures import URL
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Scope

from kessai.providers.amazon_pay import ipn, signing
from kessai.providers.amazon_pay.sim import registration
from kessai.providers.amazon_pay.sim.state import PAYMENT_METHODS, Answer, ApiError, State
from kessai.providers.kit import AsgiApp, SimulatorContext
from kessai.providers.simulator import base
from kessai.providers.simulator.base import Call, LostResponse, Records, ResponseLost
from kessai.providers.simulator.faults import InjectError, LoseResponse, RateLimit, ServerError
from kessai.providers.simulator.notify import Notice, Resend
from kessai.providers.simulator.store import SimulatorStore

SIMULATOR = "amazon_pay"
SANDBOX_PUBLIC_KEY_ID = "SANDBOX-KESSAISIMULATORKEY01"
SANDBOX_MERCHANT_ID = "A1KESSAISIM01"
SANDBOX_STORE_ID = "amzn1.application-oa2-client.0123456789abcdef0123456789abcdef"
TOPIC_ARN = "arn:aws:sns:us-west-2:000000000000:A1KESSAISIM01"
IPN = "IPN"  # the notices' name in the call log
# SNS's default delivery policy for an HTTP(S) endpoint: three retries, 20 seconds apart.
RESEND = Resend((20.0, 20.0, 20.0))
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
    sleep: Callable[[float], Awaitable[None]] | None = None


class Simulator(base.Simulator):
    """Amazon Pay's Sandbox on the simulator base: API calls go through its fault switches,
    sessions, charge permissions, charges, refunds and answered idempotency keys through its
    store; the signature is checked before anything else."""

    name = SIMULATOR
    rate_limit_code = "TooManyRequests"  # HTTP 429
    resend = RESEND

    def __init__(
        self, config: SimulatorConfig | None = None, ctx: SimulatorContext | None = None
    ) -> None:
        config = config or SimulatorConfig(now=ctx.now if ctx else None)
        super().__init__(ctx, config=config)
        self.config = config
        self.state = State(self.now)
        self.keys: dict[str, rsa.RSAPublicKey] = {
            SANDBOX_PUBLIC_KEY_ID: _public_key(_pem("sandbox_merchant_key.pem"))
        }
        sns_key = load_pem_private_key(_pem("sns_signing_key.pem"), password=None)
        assert isinstance(sns_key, rsa.RSAPrivateKey)
        self.sns_key = sns_key

    def now(self) -> datetime:
        return self.clock.now()

    # --- what the base asks ----------------------------------------------------------------
    def routes(self) -> list[BaseRoute]:
        api = ["GET", "POST", "DELETE", "PATCH"]
        return [
            Route("/checkout/{id}", self.checkout, methods=["GET", "POST"]),
            Route("/register", self.register, methods=["POST"]),
            Route("/register/{id}/complete", self.register_complete, methods=["POST"]),
            Route("/v2/{rest:path}", self.api, methods=api),
            Route("/sandbox/v2/{rest:path}", self.api, methods=api),
            Route("/live/v2/{rest:path}", self.api, methods=api),
        ]

    def error(self, api: str, code: str) -> Response:
        status = 429 if code == self.rate_limit_code else 400
        return _json(status, _error(ApiError(status, code, "simulated")))

    def restore(self, records: Records) -> None:
        self.state.restore(records)
        for record in self.state.kind(registration.KIND).values():
            if record.get("publicKeyId"):
                self.keys[record["publicKeyId"]] = registration.public_key(record)

    def forget(self) -> None:
        self.state.records.clear()

    def control(self, body: Mapping[str, Any]) -> dict[str, Any]:
        names = ("ipn_url",)
        for name in names:
            if name in body:
                setattr(self.config, name, body[name])
        return {n: getattr(self.config, n) for n in names}

    def kept(self, changed: list[tuple[str, str]]) -> None:
        for kind, ident in changed:
            self.keep(kind, ident, self.state.records[kind][ident])

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
    async def api(self, request: Request) -> Response:
        """An API call: the signature first, then Amazon's JSON in and out."""
        raw = await request.body()
        scope = request.scope
        root = scope.get("root_path", "")
        path = scope["path"][len(root) :] if scope["path"].startswith(root) else scope["path"]
        headers = {k.lower(): v for k, v in request.headers.items()}
        method = request.method
        try:
            matched = _API_PATH.fullmatch(path)
            if matched is None:
                raise ApiError(404, "ResourceNotFound", "no such operation")
            query = {k: request.query_params.getlist(k) for k in request.query_params}
            self.check_signature(method, path, query, headers, raw)
            try:
                payload = json.loads(raw) if raw else {}
            except ValueError:
                raise ApiError(400, "InvalidRequestFormat", "the body is not JSON") from None
            if not isinstance(payload, dict):
                raise ApiError(400, "InvalidRequestFormat", "the body must be a JSON object")
            api, params = _route(method, matched["rest"])
            key = headers.get("x-amz-pay-idempotency-key", "")
            if method == "POST" and not key:
                raise ApiError(400, "MissingHeader", "x-amz-pay-idempotency-key is required")
        except ApiError as refused:  # refused before the simulator acts on anything
            return _json(refused.status, _error(refused))
        base_url = _base_url(scope)
        changes: list[tuple[str, str, str]] = []  # what the IPN will tell

        async def act(call: Call) -> Response:
            remembered = self.state.kind("idempotency").get(key) if key else None
            if remembered is not None:  # the same request again: the same answer
                answer = Answer(remembered["status"], remembered["body"])
            else:
                answer = self._act(api, params, payload, headers, base_url)
                if key:
                    self.state.kind("idempotency")[key] = {
                        "status": answer.status,
                        "body": answer.body,
                    }
                    answer.changed.append(("idempotency", key))
                self.kept(answer.changed)
                changes.extend(answer.notify)
            if answer.status >= 300:
                call.result, call.info = "error", str(answer.body.get("reasonCode", ""))
            return _json(answer.status, _public(answer.body))

        # A call's own reference at Amazon is its x-amz-pay-idempotency-key.
        response = await self.answer(api, act, key)
        if changes:  # Amazon notifies once it has answered (a lost answer: at once)
            if isinstance(response, LostResponse):
                await self._notify(changes)
            else:
                response.background = BackgroundTask(self._notify, changes)
        return response

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

    # --- the buyer's side ---------------------------------------------------------------------
    async def checkout(self, request: Request) -> Response:
        ident = request.path_params["id"]
        await self.ready()
        if request.method == "GET":
            return HTMLResponse(_checkout_page(ident))
        form = await request.form()
        try:
            session = self.state.buyer_chooses(ident, str(form.get("payment_method") or ""))
        except ApiError as refused:
            return JSONResponse(_error(refused), status_code=refused.status)
        self.kept([("session", ident)])
        await self.flush()
        target = session["webCheckoutDetails"].get("checkoutResultReturnUrl")
        if not target:
            return JSONResponse({"amazonCheckoutSessionId": ident})
        joiner = "&" if "?" in target else "?"
        query = urlencode({"amazonCheckoutSessionId": ident})
        return RedirectResponse(f"{target}{joiner}{query}", status_code=303)

    # --- the merchant's registration (Automatic Key Exchange) ---------------------------------
    async def register(self, request: Request) -> Response:
        await self.ready()
        form = {k: str(v) for k, v in (await request.form()).items()}
        try:
            record = registration.begin(form, self.state.new_id)
        except registration.RegistrationError as refused:
            return HTMLResponse(registration.error_page(refused.message), status_code=400)
        self.state.kind(registration.KIND)[record["id"]] = record
        self.kept([(registration.KIND, record["id"])])
        await self.flush()
        return HTMLResponse(registration.form_page(record))

    async def register_complete(self, request: Request) -> Response:
        """The merchant's button: the key registered, the credentials sent to keyShareURL."""
        await self.ready()
        record = self.state.kind(registration.KIND).get(request.path_params["id"])
        if record is None:
            return HTMLResponse(registration.error_page("unknown registration"), 404)
        record["publicKeyId"] = registration.public_key_id(record)
        self.keys[record["publicKeyId"]] = registration.public_key(record)
        body = registration.payload(record, SANDBOX_MERCHANT_ID, SANDBOX_STORE_ID)
        status, said = await registration.share_keys(record, body)
        record["answer_status"], record["answer"] = status, said
        record["status"] = "KeysShared" if status == 200 else "KeyShareFailed"
        self.kept([(registration.KIND, record["id"])])
        await self.flush()
        return HTMLResponse(registration.result_page(record), 200 if status == 200 else 502)

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

    async def _notify(self, changes: list[tuple[str, str, str]]) -> None:
        for object_type, object_id, permission in changes:
            self._send_ipn(object_type, object_id, permission)

    def _send_ipn(self, object_type: str, object_id: str, permission: str) -> None:
        """POST like SNS, again on RESEND while the answer is no 2xx."""
        url = self.config.ipn_url
        if not url:
            return
        envelope = self.envelope(object_type, object_id, permission)
        self.notices.start(
            Notice(
                api=IPN,
                key=envelope["MessageId"],
                ref=object_id,
                url=url,
                body=json.dumps(envelope).encode(),
                headers={
                    "content-type": "text/plain; charset=UTF-8",
                    "x-amz-sns-message-type": "Notification",
                    "x-amz-sns-message-id": envelope["MessageId"],
                    "x-amz-sns-topic-arn": TOPIC_ARN,
                },
                taken=_taken,
            )
        )


def _taken(status: int, _answer: str) -> bool:
    return 200 <= status < 300


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


def _json(status: int, body: dict[str, Any]) -> Response:
    payload = json.dumps(body).encode()
    request_id = hashlib.sha1(payload).hexdigest()  # noqa: S324
    return Response(payload, status, {"x-amz-pay-request-id": request_id}, "application/json")


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
    """The Amazon Pay simulator as an ASGI app; app.state.simulator holds it."""
    return Simulator(config).app()


def simulator(ctx: SimulatorContext) -> AsgiApp:
    """What the provider declares: kessai's clock and database (its store)."""
    app: AsgiApp = Simulator(ctx=ctx).app()
    return app


__all__ = ["ResponseLost"]
