"""The ASGI app: SBPS's XML API, the token endpoint, fault control, the call log."""

import asyncio
import base64
import html
import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from kessai.core.clock import TOKYO, utcnow
from kessai.providers.kit import AsgiApp, SimulatorContext
from kessai.providers.sbps import codec
from kessai.providers.sbps.sandbox import (
    DECLINES,
    TEST_BASIC_ID,
    TEST_BASIC_PASSWORD,
    TEST_HASH_KEY,
    TEST_MERCHANT_ID,
    TEST_SERVICE_ID,
)
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

SIMULATOR = "sbps"
CARRIER_METHODS = {"docomo": "401", "auone": "402", "softbank2": "405"}
MAX_AUTHORIZATIONS = 5
_BRANDS = (("35", "J"), ("37", "A"), ("36", "D"), ("4", "V"), ("5", "M"))


class ResponseLost(ConnectionResetError):
    """Raised after the response headers went out: the connection drops, no body follows."""


@dataclass
class Faults:
    latency_seconds: float = 0.0
    lose_response: LoseResponse | None = None
    rate_limit: RateLimit | None = None
    inject_error: InjectError | None = None
    server_error: ServerError | None = None


Answer = tuple[list[codec.Node], str | None]  # (fields after res_result, error code)


@dataclass
class Simulator:
    store: SimulatorStore | None
    now: Callable[[], datetime]
    faults: Faults = field(default_factory=Faults)
    transactions: dict[str, dict[str, Any]] = field(default_factory=dict)  # by tracking_id
    tokens: dict[str, dict[str, str]] = field(default_factory=dict)  # memory only
    calls: list[dict[str, Any]] = field(default_factory=list)
    purchases: dict[str, dict[str, str]] = field(default_factory=dict)  # awaiting the customer
    loaded: bool = False

    async def ready(self) -> None:
        if not self.loaded and self.store is not None:
            self.transactions.update((await self.store.load()).get("transaction", {}))
        self.loaded = True

    async def save(self, record: dict[str, Any] | None) -> None:
        if self.store is not None and record is not None:
            await self.store.put({("transaction", record["tracking_id"]): record})

    def stamp(self) -> str:
        return self.now().astimezone(TOKYO).strftime("%Y%m%d%H%M%S")

    def by_order(self, order_id: str) -> dict[str, Any] | None:
        return next((t for t in self.transactions.values() if t["order_id"] == order_id), None)

    def log(self, api: str, order_id: str, result: str) -> None:
        self.calls.append(
            {"seq": len(self.calls) + 1, "api": api, "order_id": order_id, "result": result}
        )

    # --- the APIs -------------------------------------------------------------------
    def authorize(self, method: str, doc: codec.Document) -> tuple[Answer, dict[str, Any] | None]:
        order_id = doc.get("order_id") or ""
        amount = doc.get("amount") or ""
        if not order_id or not amount.isdigit():
            return ([], f"{method}01001"), None
        if self.by_order(order_id) is not None:
            return ([], f"{method}04001"), None  # order_id 重複
        base = re.sub(r"-[0-9]+$", "", order_id)
        tries = sum(1 for t in self.transactions.values() if t["base"] == base)
        if tries >= MAX_AUTHORIZATIONS:
            return ([], f"{method}06201"), None  # 再与信の回数超過
        token = self.tokens.pop(doc.get("pay_option_manage/token") or "", None)
        if token is None or token["key"] != doc.get("pay_option_manage/token_key"):
            return ([], f"{method}05301"), None  # トークン不正・使用済み
        card = token["card"]
        brand = next((b for prefix, b in _BRANDS if card.startswith(prefix)), "V")
        tracking = f"{len(self.transactions) + 1:014d}"
        record = {
            "tracking_id": tracking,
            "sps_transaction_id": f"B{TEST_MERCHANT_ID}{TEST_SERVICE_ID}{secrets.token_hex(12)}",
            "order_id": order_id,
            "base": base,
            "method": method,
            "amount": int(amount),
            "brand": brand,
            "status": "9" if card in DECLINES else "1",
            "process_date": self.stamp(),
        }
        self.transactions[tracking] = record
        if card in DECLINES:
            return ([], DECLINES[card]), record
        return (
            [
                ("res_sps_transaction_id", str(record["sps_transaction_id"])),
                ("res_tracking_id", tracking),
                ("res_pay_method_info", [("cardbrand_code", brand)]),
                ("res_process_date", str(record["process_date"])),
            ],
            None,
        ), record

    def _held(self, doc: codec.Document, method: str) -> dict[str, Any] | str:
        record = self.transactions.get(doc.get("tracking_id") or "")
        if record is None or record["sps_transaction_id"] != doc.get("sps_transaction_id"):
            return f"{method}06999"
        return record

    def move(
        self, api: str, method: str, doc: codec.Document
    ) -> tuple[Answer, dict[str, Any] | None]:
        found = self._held(doc, method)
        if isinstance(found, str):
            return ([], found), None
        record = found
        amount = doc.get("pay_option_manage/amount")
        status = record["status"]
        if api == "ST02-00101" and status == "1":
            record["status"] = "2"
        elif api == "ST02-00201" and status == "2":
            if amount is not None and not (amount.isdigit() and int(amount) <= record["amount"]):
                return ([], f"{method}05601"), None
            record |= {"status": "3", "amount": int(amount or record["amount"])}
        elif api == "ST02-00303" and status in ("1", "2", "3"):
            record["status"] = "4"
        elif api == "ST02-00307" and status == "3":
            if not (amount and amount.isdigit() and 0 < int(amount) < record["amount"]):
                return ([], f"{method}05601"), None
            record["amount"] -= int(amount)
        else:
            return ([], f"{method}06001"), None  # 処理できない状態
        record["process_date"] = self.stamp()
        return (
            [
                ("res_sps_transaction_id", record["sps_transaction_id"]),
                ("res_process_date", record["process_date"]),
            ],
            None,
        ), record

    def lookup(self, method: str, doc: codec.Document) -> Answer:
        tracking = doc.get("tracking_id")
        record = (
            self.transactions.get(tracking)
            if tracking
            else self.by_order(doc.get("order_id") or "")
        )
        if record is None:
            return [], f"{method}06999"
        return [
            ("res_sps_transaction_id", record["sps_transaction_id"]),
            ("res_tracking_id", record["tracking_id"]),
            ("res_process_date", record["process_date"]),
            ("res_pay_status", record["status"]),
            ("res_amount", str(record["amount"])),
            ("res_pay_method_info", [("cardbrand_code", record["brand"])]),
        ], None

    def carrier_payment(self, given: dict[str, str]) -> dict[str, Any]:
        """A carrier payment the customer approved: 与信 done (SBPS's status 2)."""
        tracking = f"{len(self.transactions) + 1:014d}"
        record = {
            "tracking_id": tracking,
            "sps_transaction_id": f"B{TEST_MERCHANT_ID}{TEST_SERVICE_ID}{secrets.token_hex(12)}",
            "order_id": given["order_id"],
            "base": re.sub(r"-[0-9]+$", "", given["order_id"]),
            "method": given["method"],
            "amount": int(given["amount"]),
            "brand": "",
            "status": "2",
            "process_date": self.stamp(),
        }
        self.transactions[tracking] = record
        return record

    async def notify(self, url: str, record: dict[str, Any]) -> None:
        """SBPS's result notice (NT01-00101-<method>), signed; the answer is remembered."""
        nodes: list[codec.Node] = [
            ("merchant_id", TEST_MERCHANT_ID),
            ("service_id", TEST_SERVICE_ID),
            ("sps_transaction_id", str(record["sps_transaction_id"])),
            ("tracking_id", str(record["tracking_id"])),
            ("order_id", str(record["order_id"])),
            ("res_result", "OK"),
            ("rec_datetime", str(record["process_date"])[:8]),
            ("request_date", self.stamp()),
        ]
        body = codec.encode(
            "sps-api-request", f"NT01-00101-{record['method']}", nodes, TEST_HASH_KEY
        )
        try:
            async with httpx.AsyncClient(timeout=30) as client:
                reply = await client.post(url, content=body, headers={"Content-Type": "text/xml"})
            answered = (
                codec.decode(reply.content).get("res_result") if reply.status_code == 200 else None
            )
        except (httpx.HTTPError, codec.CodecError):
            answered = None
        record["notice_answer"] = answered
        await self.save(record)

    def answer(self, doc: codec.Document) -> tuple[Answer, dict[str, Any] | None]:
        api_id = doc.api_id or ""
        api, _, method = api_id.rpartition("-")
        if doc.get("merchant_id") != TEST_MERCHANT_ID or doc.get("service_id") != TEST_SERVICE_ID:
            return ([], f"{method}05001"), None
        if not doc.verifies(TEST_HASH_KEY):
            return ([], f"{method}05999"), None  # sps_hashcode 不一致
        if api == "ST01-00131":
            return self.authorize(method, doc)
        if api in ("ST02-00101", "ST02-00201", "ST02-00303", "ST02-00307"):
            return self.move(api, method, doc)
        if api == "MG01-00101":
            return self.lookup(method, doc), None
        return ([], f"{method}05000"), None


def response(api_id: str, answer: Answer, now: str) -> bytes:
    fields, error = answer
    nodes: list[codec.Node] = [
        ("res_result", "NG" if error else "OK"),
        *fields,
        ("res_err_code", error or ""),
        ("res_date", now),
    ]
    return codec.encode("sps-api-response", api_id, nodes, None)


def _authorized(scope: Scope) -> bool:
    headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
    expected = base64.b64encode(f"{TEST_BASIC_ID}:{TEST_BASIC_PASSWORD}".encode()).decode()
    return headers.get("authorization") == f"Basic {expected}"


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


class XmlApi:
    """POST /api/xmlapi.do: Shift_JIS XML in and out, HTTP 200 (401 without Basic auth)."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        sim = self.sim
        body = await _read_body(receive)
        await sim.ready()
        if not _authorized(scope):
            await _send(send, 401, b"", "text/plain")
            return
        try:
            doc = codec.decode(body)
        except codec.CodecError:
            await _send(send, 200, response("", ([], "99905999"), sim.stamp()), "text/xml")
            return
        api_id, order_id = doc.api_id or "", doc.get("order_id") or doc.get("tracking_id") or ""
        f = sim.faults
        if f.latency_seconds > 0:
            await asyncio.sleep(f.latency_seconds)
        server = take(f.server_error, api_id)
        if server and not server.commit:
            sim.log(api_id, order_id, "server_error")
            await _send(send, server.status, b"Service Temporarily Unavailable", "text/html")
            return
        lose = server or take(f.lose_response, api_id)
        if isinstance(lose, LoseResponse) and not lose.commit:
            sim.log(api_id, order_id, "lost")
            await _lose(send, lose)
            return
        inject = take(f.inject_error, api_id)
        if inject and not inject.commit:
            sim.log(api_id, order_id, "injected")
            await _send(send, 200, response(api_id, ([], inject.info), sim.stamp()), "text/xml")
            return
        answer, changed = sim.answer(doc)
        await sim.save(changed)
        if inject:
            answer = ([], inject.info)
        result = "error" if answer[1] else "ok"
        if isinstance(lose, ServerError):
            sim.log(api_id, order_id, "server_error")
            await _send(send, lose.status, b"Service Temporarily Unavailable", "text/html")
            return
        if lose is not None:
            sim.log(api_id, order_id, "lost")
            await _lose(send, lose)
            return
        sim.log(api_id, order_id, result)
        await _send(send, 200, response(api_id, answer, sim.stamp()), "text/xml;charset=Shift_JIS")


async def _send(send: Send, status: int, payload: bytes, media: str) -> None:
    headers = [(b"content-type", media.encode()), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


async def _lose(send: Send, lose: LoseResponse) -> None:
    headers = [(b"content-type", b"text/xml"), (b"content-length", b"1")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    if lose.mode == "hang":
        await asyncio.sleep(lose.hang_seconds)
    raise ResponseLost("simulated: the response was lost")


def create_simulator(ctx: SimulatorContext | None = None) -> AsgiApp:
    ctx = ctx or SimulatorContext()
    store = None if ctx.sessions is None else SimulatorStore(ctx.sessions, SIMULATOR)
    sim = Simulator(store, ctx.now or utcnow)

    async def token(request: Request) -> Response:
        try:
            card = str(json.loads(await request.body()).get("cc_number") or "")
        except (ValueError, AttributeError):
            card = ""
        if not card.isdigit() or not 14 <= len(card) <= 16:
            return JSONResponse({"result": "NG", "errorCode": "4"}, status_code=400)
        issued = {"token": secrets.token_urlsafe(24), "key": secrets.token_urlsafe(12)}
        sim.tokens[issued["token"]] = {"card": card, "key": issued["key"]}
        masked = f"{card[:6]}{'*' * (len(card) - 10)}{card[-4:]}"
        return JSONResponse(
            {
                "result": "OK",
                "tokenResponse": {
                    "token": issued["token"],
                    "tokenKey": issued["key"],
                    "maskedCcNumber": masked,
                },
            }
        )

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
        return JSONResponse({"calls": [c for c in sim.calls if api is None or c["api"] == api]})

    async def purchase_page(request: Request) -> Response:
        """SBPS's purchase page (link type): the 購入要求 checked, then the carrier's page."""
        pairs = parse_qsl(request.url.query, keep_blank_values=True)
        given = dict(pairs)
        nodes: list[codec.Node] = [(k, v) for k, v in pairs if k != "sps_hashcode"]
        signed = given.get("sps_hashcode") == codec.hashcode(nodes, TEST_HASH_KEY)
        ours = (given.get("merchant_id"), given.get("service_id")) == (
            TEST_MERCHANT_ID,
            TEST_SERVICE_ID,
        )
        method = CARRIER_METHODS.get(given.get("pay_method", ""))
        if not (signed and ours and method and given.get("amount", "").isdigit()):
            return HTMLResponse("<p>購入要求が正しくありません(sps_hashcode)</p>", 400)
        order_id = given.get("order_id", "")
        sim.purchases[order_id] = given | {"method": method}
        q = html.escape(urlencode({"order_id": order_id}))
        return HTMLResponse(
            '<!doctype html><html lang="ja"><meta charset="utf-8"><title>キャリア決済</title>'
            f"<h1>{html.escape(given['pay_method'])} のお支払い(シミュレーター)</h1>"
            f"<p>{int(given['amount']):,}円</p>"
            f'<p><a href="pay?{q}&amp;result=OK">支払う</a></p>'
            f'<p><a href="pay?{q}&amp;result=NG">キャンセル</a></p></html>'
        )

    async def pay(request: Request) -> Response:
        """The customer's answer: the payment recorded, SBPS's notice posted, then back."""
        given = sim.purchases.pop(request.query_params.get("order_id", ""), None)
        if given is None:
            return HTMLResponse("<p>この購入要求は見つからないか、既に終了しています。</p>", 404)
        await sim.ready()
        if request.query_params.get("result") != "OK":
            return RedirectResponse(given["cancel_url"], status_code=303)
        record = sim.carrier_payment(given)
        await sim.save(record)
        await sim.notify(given["pagecon_url"], record)
        return RedirectResponse(given["success_url"], status_code=303)

    app = Starlette(
        routes=[
            Route("/f01/FepBuyInfoReceive.do", purchase_page, methods=["GET"]),
            Route("/f01/pay", pay, methods=["GET"]),
            Route("/api/xmlapi.do", XmlApi(sim), methods=["POST"]),
            Route("/token", token, methods=["POST"]),
            Route("/_control", control, methods=["GET", "POST"]),
            Route("/_calls", calls, methods=["GET", "DELETE"]),
        ]
    )
    app.state.simulator = sim
    result: AsgiApp = app
    return result
