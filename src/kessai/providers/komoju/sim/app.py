"""The ASGI app on the simulator base: KOMOJU's API paths under /api/v1 with Basic auth
checked like KOMOJU, the customer's session page, webhooks sent back signed;
/_control, /_records and /_calls come from the base."""

import base64
import binascii
import html
import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.datastructures import URL
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Scope

from kessai.providers.kit import AsgiApp, SimulatorContext
from kessai.providers.komoju.sim.state import CARDS, WALLETS, Answer, ApiError, State
from kessai.providers.komoju.webhook import signature
from kessai.providers.simulator import base
from kessai.providers.simulator.base import Call, Records, ResponseLost, Scenarios
from kessai.providers.simulator.faults import InjectError, LoseResponse, RateLimit, ServerError
from kessai.providers.simulator.notify import Notice, Resend
from kessai.providers.simulator.store import SimulatorStore

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
# A webhook not answered 2xx is posted again three times, a minute apart (the simulator's
# schedule, not one read from KOMOJU).
RESEND = Resend((60.0, 60.0, 60.0))


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
    sleep: Callable[[float], Awaitable[None]] | None = None


class Simulator(base.Simulator):
    """KOMOJU's test mode on the simulator base: /api/v1 calls go through its fault switches,
    sessions, payments, tokens and answered idempotency keys through its store."""

    name = SIMULATOR
    rate_limit_code = "too_many_requests"  # HTTP 429
    scenarios = Scenarios(cards={card: code for card, code in CARDS.items() if code != "ok"})
    resend = RESEND

    def __init__(
        self, config: SimulatorConfig | None = None, ctx: SimulatorContext | None = None
    ) -> None:
        config = config or SimulatorConfig(now=ctx.now if ctx else None)
        super().__init__(ctx, config=config)
        self.config = config
        self.state = State(self.now)

    def now(self) -> datetime:
        return self.clock.now()

    # --- what the base asks ----------------------------------------------------------------
    def routes(self) -> list[BaseRoute]:
        return [
            Route("/sessions/{id}", self.session_page, methods=["GET", "POST"]),
            Route("/api/v1/{rest:path}", self.api, methods=["GET", "POST"]),
        ]

    def error(self, api: str, code: str) -> Response:
        status = 429 if code == self.rate_limit_code else 422
        return _json(status, ApiError(status, code, "simulated").json())

    def restore(self, records: Records) -> None:
        self.state.restore(records)

    def forget(self) -> None:
        self.state.records.clear()

    def control(self, body: Mapping[str, Any]) -> dict[str, Any]:
        names = ("webhook_url", "webhook_secret")
        for name in names:
            if name in body:
                setattr(self.config, name, body[name])
        return {n: getattr(self.config, n) for n in names if n != "webhook_secret"}

    async def settle(self, answer: Answer) -> None:
        """Keep what a call changed (the base writes it), then send its webhooks."""
        for kind, ident in answer.changed:
            self.keep(kind, ident, self.state.records[kind][ident])
        for event, payment in answer.events:
            self._send(event, self.state.kind("payment")[payment])

    # --- one API call ----------------------------------------------------------------------
    async def api(self, request: Request) -> Response:
        """Everything under /api/v1: KOMOJU's JSON in and out, with its HTTP statuses."""
        raw = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        key = headers.get("x-komoju-idempotency", "")
        try:
            api, params = _route(request.method, request.path_params["rest"])
            _check_auth(api, headers.get("authorization", ""))
            try:
                payload = json.loads(raw) if raw else {}
            except ValueError:
                raise ApiError(400, "bad_request", "the body is not JSON") from None
            if not isinstance(payload, dict):
                raise ApiError(400, "bad_request", "the body must be a JSON object")
        except ApiError as refused:
            return _json(refused.status, refused.json())
        query, base_url = dict(request.query_params), _base_url(request.scope)

        async def act(call: Call) -> Response:
            remembered = self.state.kind("idempotency").get(f"{api}:{key}") if key else None
            if remembered is not None:  # the same request again: the same answer, nothing done
                answer = Answer(remembered["status"], remembered["body"])
            else:
                answer = self._act(api, params, query, payload, base_url)
                if key and request.method == "POST":
                    self.state.kind("idempotency")[f"{api}:{key}"] = {
                        "status": answer.status,
                        "body": answer.body,
                    }
                    answer.changed.append(("idempotency", f"{api}:{key}"))
                await self.settle(answer)
            if answer.status >= 300:
                call.result, call.info = "error", str(answer.body.get("error", {}).get("code"))
            return _json(answer.status, answer.body)

        # The request's own reference at KOMOJU is its idempotency key.
        return await self.answer(api, act, key)

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

    # --- the customer's side -------------------------------------------------------------------
    async def session_page(self, request: Request) -> Response:
        await self.ready()
        ident = request.path_params["id"]
        try:
            if request.method == "GET":
                return HTMLResponse(_session_page(self.state.session(ident)))
            form = await request.form()
            kind = str(form.get("payment_type") or WALLETS[0])
            answer = self.state.customer_pays(ident, kind, str(form.get("outcome") or "pay"))
        except ApiError as refused:
            return JSONResponse(refused.json(), status_code=refused.status)
        await self.settle(answer)
        await self.flush()
        target = answer.body.get("return_url")
        if not target:
            return JSONResponse({"session_id": ident, "status": answer.body["status"]})
        joiner = "&" if "?" in target else "?"
        return RedirectResponse(f"{target}{joiner}{urlencode({'session_id': ident})}", 303)

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
        """The event posted after the call's answer, again on RESEND while not 2xx."""
        if not (self.config.webhook_url and self.config.webhook_secret):
            return
        event = self.event(kind, payment)
        body, headers = self.signed(event)
        self.notices.start(
            Notice(
                api=kind,
                key=str(event["id"]),
                ref=str(payment.get("id") or ""),
                url=self.config.webhook_url,
                body=body,
                headers=headers,
                taken=_taken,
            )
        )


def _taken(status: int, _answer: str) -> bool:
    return 200 <= status < 300


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


def _json(status: int, body: Mapping[str, Any]) -> Response:
    return JSONResponse(dict(body), status_code=status)


def create_simulator(config: SimulatorConfig | None = None) -> Starlette:
    """The KOMOJU simulator as an ASGI app; app.state.simulator holds it."""
    return Simulator(config).app()


def simulator(ctx: SimulatorContext) -> AsgiApp:
    """What the provider declares: kessai's clock and database (its store)."""
    app: AsgiApp = Simulator(ctx=ctx).app()
    return app


__all__ = ["ResponseLost"]
