"""The ASGI app on the simulator base: the Open Payment API under /v2 (signature checked
first), the customer's side of a QR code (/qr/<codeId>), Transaction webhooks posted again
while not taken (the base's notices; /_webhooks shows them with what was posted);
/_control, /_records and /_calls come from the base."""

import html
import json
import re
from collections.abc import Mapping
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.datastructures import URL
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Scope

from kessai.providers.kit import AsgiApp, SimulatorContext
from kessai.providers.paypay import signing
from kessai.providers.paypay.sim import api, state
from kessai.providers.paypay.sim.api import Answer, Ctx, Handler, Refused
from kessai.providers.paypay.sim.state import USER_DECLINES, Payment, SimulatorConfig, State
from kessai.providers.simulator import base
from kessai.providers.simulator.base import Call, Records, Scenarios
from kessai.providers.simulator.notify import KIND, Notice, Resend

WEBHOOK = "Transaction"  # the webhooks' name in the call log (their notification_type)
# The simulator's own schedule: PayPay asks for "200 OK" but publishes no re-send schedule.
# Three re-sends, 1, 2 and 4 seconds apart.
RESEND = Resend.growing(1.0, 3)

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


def _iso(epoch: int | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC).isoformat()


class Simulator(base.Simulator):
    """PayPay's sandbox on the simulator base: /v2 calls go through its fault switches,
    payments through its store; the signature is checked before anything else."""

    name = state.SIMULATOR
    rate_limit_code = "RATE_LIMIT"  # HTTP 429 with resultInfo.code RATE_LIMIT
    # PayPay's sandbox picks a wallet's answer by the linked user, where a card gateway
    # picks it by the test card.
    scenarios = Scenarios(cards=dict(USER_DECLINES))
    resend = RESEND

    def __init__(
        self, config: SimulatorConfig | None = None, ctx: SimulatorContext | None = None
    ) -> None:
        config = config or SimulatorConfig(now=ctx.now if ctx else None)
        super().__init__(ctx, config=config)
        self.config = config
        self.state = State(self.clock)

    # --- what the base asks ----------------------------------------------------------------
    def routes(self) -> list[BaseRoute]:
        return [
            Route("/qr/{codeId}", self.qr_page, methods=["GET", "POST"]),
            Route("/_webhooks", self.webhooks, methods=["GET"]),
            Route("/v2/{rest:path}", self.opa, methods=["GET", "POST", "DELETE"]),
        ]

    def error(self, api_name: str, code: str) -> Response:
        return _json(_error(Refused(code)))

    def restore(self, records: Records) -> None:
        state.restore(self.state, records)

    def forget(self) -> None:
        self.state.reset()

    def control(self, body: Mapping[str, Any]) -> dict[str, Any]:
        if "webhook_url" in body:
            self.config.webhook_url = body["webhook_url"]
        return {"webhook_url": self.config.webhook_url}

    def ctx(self, base_url: str) -> Ctx:
        return Ctx(self.state, self.config.public_url or base_url, self.config.qr_minutes)

    def kept(self, payments: list[Payment]) -> None:
        for payment in payments:
            self.keep("payment", payment.merchant_payment_id, asdict(payment))

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

    # --- the Open Payment API ----------------------------------------------------------------
    async def opa(self, request: Request) -> Response:
        """Everything under /v2: PayPay's JSON in and out, with its HTTP statuses."""
        body = await request.body()
        scope = request.scope
        path, method = _relative(scope), request.method
        headers = {k.lower(): v for k, v in request.headers.items()}
        query = scope.get("query_string", b"").decode()
        refused = self.check_signature(method, path, headers, body, query)
        if refused is not None:
            self.log("auth", "", "unauthorized", refused.code)
            return _json(_error(refused))
        found = _route(method, path)
        if found is None:
            return _json(_error(Refused("DYNAMIC_QR_BAD_REQUEST", "No such API", status=404)))
        name, handler, matched = found
        try:
            parsed = json.loads(body) if body else {}
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            return _json(_error(Refused("INVALID_REQUEST_PARAMS", "The body is not a JSON object")))
        params = {**parse_qs_flat(query), **matched}
        ref = str(parsed.get("merchantPaymentId") or params.get("merchantPaymentId") or "")
        base_url = _base_url(scope)

        async def act(call: Call) -> Response:
            try:
                answer = handler(self.ctx(base_url), parsed, params)
            except Refused as refused:
                answer = _error(refused)
            self.kept(answer.moved)
            for payment in answer.notify:
                self.notify(payment)
            if answer.status >= 300:
                call.result = "error"
            if answer.code not in ("SUCCESS", "REQUEST_ACCEPTED"):
                call.info = answer.code
            return _json(answer)

        return await self.answer(name, act, ref)

    # --- the customer's side -------------------------------------------------------------------
    async def qr_page(self, request: Request) -> Response:
        await self.ready()
        code_id = request.path_params["codeId"]
        ref = self.state.codes.get(code_id)
        payment = self.state.payments.get(ref) if ref else None
        if request.method == "GET":
            shown = payment if payment is not None and payment.status == "CREATED" else None
            return HTMLResponse(_pay_page(code_id, shown), 200 if shown else 404)
        form = parse_qs_flat((await request.body()).decode())
        paid = api.customer_pays(
            self.ctx(_base_url(request.scope)), code_id, pay=form.get("action", "pay") != "fail"
        )
        if paid is None:
            return HTMLResponse(_pay_page(code_id, None), 404)
        self.kept([paid])
        await self.flush()
        self.notify(paid)
        text = (
            "お支払いが完了しました。"
            if paid.charged
            else "残高が不足しているためお支払いできませんでした。"
        )
        return HTMLResponse(_pay_page(code_id, paid, text))

    async def webhooks(self, _request: Request) -> Response:
        """The webhooks this process posted, once each is taken or its schedule ran out:
        the event posted and its notice record (attempts, taken)."""
        await self.notices.drain()
        kept = self.records.get(KIND, {})
        sent = [
            {"key": key, "event": json.loads(notice.body), **kept.get(key, {})}
            for key, notice in self.notices.sent.items()
        ]
        return JSONResponse({"webhooks": sent})

    # --- webhooks ----------------------------------------------------------------------------
    def notify(self, payment: Payment) -> None:
        """A Transaction event to the merchant's webhook URL, posted again on RESEND while
        the answer is not 200."""
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
        self.notices.start(
            Notice(
                api=WEBHOOK,
                key=self.notices.new_key(f"{payment.merchant_payment_id}/{payment.status}"),
                ref=payment.merchant_payment_id,
                url=url,
                body=json.dumps(event).encode(),
                headers={"Content-Type": "application/json"},
                taken=_taken,
            )
        )


def _taken(status: int, _answer: str) -> bool:
    """PayPay: "it should respond with a HTTP 200 OK status code" (its Webhook section)."""
    return status == 200


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


def _json(answer: Answer) -> Response:
    payload = json.dumps(answer.body(), ensure_ascii=False).encode()
    headers = {"x-request-id": f"OPA{abs(hash(payload)) % 10**20:020d}"}
    return Response(payload, answer.status, headers, "application/json;charset=UTF-8")


def create_simulator(config: SimulatorConfig | None = None) -> Starlette:
    """The PayPay simulator as an ASGI app; app.state.simulator holds it."""
    return Simulator(config).app()


def simulator(ctx: SimulatorContext) -> AsgiApp:
    """What the provider declares: kessai's clock and database (its store)."""
    app: AsgiApp = Simulator(ctx=ctx).app()
    return app
