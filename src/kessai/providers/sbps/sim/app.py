"""The ASGI app on the simulator base: SBPS's XML API (Basic auth and sps_hashcode checked),
the token endpoint, the carriers' purchase page; /_control, /_records and /_calls come from
the base."""

import base64
import html
import json
import re
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import BaseRoute, Route

from kessai.core.clock import TOKYO
from kessai.providers.kit import AsgiApp, SimulatorContext
from kessai.providers.sbps import codec, link
from kessai.providers.sbps.codec import ENCODING
from kessai.providers.sbps.sandbox import (
    DECLINES,
    TEST_BASIC_ID,
    TEST_BASIC_PASSWORD,
    TEST_ENCRYPTION_IV,
    TEST_ENCRYPTION_KEY,
    TEST_HASH_KEY,
    TEST_MERCHANT_ID,
    TEST_SERVICE_ID,
)
from kessai.providers.simulator import base
from kessai.providers.simulator.base import Call, Records, Scenarios
from kessai.providers.simulator.notify import Notice, Resend

SIMULATOR = "sbps"
CARD = "101"
CARRIER_METHODS = {"docomo": "401", "auone": "402", "softbank2": "405"}
# 決済 and 確定 exist for the card alone: a carrier is bought on the purchase page and knows
# only 売上, 取消返金 and 決済結果参照 (SBPS answers another request id with xxx05000).
CARD_ONLY = frozenset({"ST01-00131", "ST02-00101"})
# What the purchase page requires of a 購入要求 (with a good hash code).
PURCHASE_REQUIRED = (
    "pay_method",
    "cust_code",
    "order_id",
    "item_id",
    "item_name",
    "amount",
    "pay_type",
    "service_type",
    "terminal_type",
    "success_url",
    "cancel_url",
    "error_url",
    "pagecon_url",
    "request_date",
)
FORM = "application/x-www-form-urlencoded"
MAX_AUTHORIZATIONS = 5
# An encrypted field that does not decrypt with the account's 3DES key and IV, or one sent in
# plain text (encrypted_flg=0) to an account that takes them encrypted. The recordings of
# anchors/sbps document no code for it: the simulator's own, kept stable (種別 05 値が正しく
# ありません, 項目 998), after the method's three digits.
NOT_DECRYPTED = "05998"
DEALINGS_TYPES = frozenset({"10", "21", "61", "80"})  # 一括, ボーナス一括, 分割, リボ
_BRANDS = (("35", "J"), ("37", "A"), ("36", "D"), ("4", "V"), ("5", "M"))
# SBPS posts a 結果CGI again while the merchant does not take it; its public pages give no
# schedule: the simulator's own is four re-sends 1, 2, 4 and 8 minutes apart (15 minutes).
RESEND = Resend.growing(60.0, 4)
NOTICE = "結果CGI"  # the notice's name in the call log


Answer = tuple[list[codec.Node], str | None]  # (fields after res_result, error code)


class Simulator(base.Simulator):
    """SBPS's sandbox on the simulator base: XML API calls go through its fault switches;
    transactions, issued tokens (never the card number: its brand and test outcome) and
    carrier purchases awaiting the customer through its store."""

    name = SIMULATOR
    # SBPS documents no throttling answer: the simulator's is HTTP 429 from its front, which
    # the connector takes as no answer (settled by a lookup).
    rate_limit_code = "TooManyRequests"
    scenarios = Scenarios(cards=DECLINES)
    resend = RESEND

    def __init__(self, ctx: SimulatorContext | None = None) -> None:
        super().__init__(ctx)
        self.transactions: dict[str, dict[str, Any]] = {}  # by tracking_id
        self.tokens: dict[str, dict[str, str]] = {}
        self.purchases: dict[str, dict[str, str]] = {}  # by order_id, awaiting the customer

    # --- what the base asks ----------------------------------------------------------------
    def routes(self) -> list[BaseRoute]:
        return [
            Route("/f01/FepBuyInfoReceive.do", self.purchase_page, methods=["GET", "POST"]),
            Route("/f01/pay", self.pay, methods=["GET"]),
            Route("/api/xmlapi.do", self.xml_api, methods=["POST"]),
            Route("/token", self.token, methods=["POST"]),
        ]

    def error(self, api: str, code: str) -> Response:
        if code == self.rate_limit_code:
            return PlainTextResponse("Too Many Requests", 429)
        return _xml(response(api, ([], code), self.stamp()))

    def restore(self, records: Records) -> None:
        self.transactions.update(records.get("transaction", {}))
        self.tokens.update(records.get("token", {}))
        self.purchases.update(records.get("purchase", {}))

    def forget(self) -> None:
        self.transactions.clear()
        self.tokens.clear()
        self.purchases.clear()

    def kept(self, record: dict[str, Any] | None) -> None:
        if record is not None:
            self.keep("transaction", record["tracking_id"], record)

    def stamp(self) -> str:
        return self.clock.now().astimezone(TOKYO).strftime("%Y%m%d%H%M%S")

    def by_order(self, order_id: str) -> dict[str, Any] | None:
        return next((t for t in self.transactions.values() if t["order_id"] == order_id), None)

    # --- the XML API ------------------------------------------------------------------------
    async def xml_api(self, request: Request) -> Response:
        """POST /api/xmlapi.do: Shift_JIS XML in and out, HTTP 200 (401 without Basic auth)."""
        body = await request.body()
        await self.ready()
        if not _authorized({k.lower(): v for k, v in request.headers.items()}):
            return PlainTextResponse("", 401)
        try:
            doc = codec.decode(body)
        except codec.CodecError:
            return _xml(response("", ([], "99905999"), self.stamp()))
        api_id = doc.api_id or ""

        sealed = doc.get("encrypted_flg") == "1"

        async def act(call: Call) -> Response:
            answer, changed = self.act(doc)
            self.kept(changed)
            if answer[1]:
                call.result, call.info = "error", answer[1]
            return _xml(response(api_id, answer, self.stamp(), sealed=sealed and not answer[1]))

        return await self.answer(api_id, act, doc.get("order_id") or doc.get("tracking_id") or "")

    # --- the browser's side --------------------------------------------------------------------
    async def token(self, request: Request) -> Response:
        """SBPS's token JS: a card becomes a one-time token (what is kept: its brand and the
        sandbox's answer for it, never the number)."""
        try:
            card = str(json.loads(await request.body()).get("cc_number") or "")
        except (ValueError, AttributeError):
            card = ""
        if not card.isdigit() or not 14 <= len(card) <= 16:
            return JSONResponse({"result": "NG", "errorCode": "4"}, status_code=400)
        await self.ready()
        issued = {"token": secrets.token_urlsafe(24), "key": secrets.token_urlsafe(12)}
        brand = next((b for prefix, b in _BRANDS if card.startswith(prefix)), "V")
        kept = {"key": issued["key"], "brand": brand, "decline": DECLINES.get(card, "")}
        self.tokens[issued["token"]] = kept
        self.keep("token", issued["token"], kept)
        await self.flush()
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

    async def purchase_page(self, request: Request) -> Response:
        """SBPS's purchase page (link type): the 購入要求 (A01-1) checked, then the carrier's
        page. SBPS takes it as a Shift_JIS form POST; the same fields in the URL's query
        (kessai's redirect_url opened as is) go the same way."""
        raw = await request.body() if request.method == "POST" else request.url.query
        try:
            given = link.decode(raw, link.PURCHASE)
        except link.FormError:
            return _refused("購入要求を読めません(Shift_JISのフォームではありません)")
        if (given.get("merchant_id"), given.get("service_id")) != (
            TEST_MERCHANT_ID,
            TEST_SERVICE_ID,
        ):
            return _refused("マーチャントID・サービスIDが正しくありません")
        if not link.verifies(given, link.PURCHASE, TEST_HASH_KEY):
            return _refused("sps_hashcode が正しくありません")
        method = CARRIER_METHODS.get(given.get("pay_method", ""))
        missing = [name for name in PURCHASE_REQUIRED if not given.get(name)]
        if method is None or missing or not given["amount"].isdigit():
            wrong = ", ".join(missing) or "pay_method, amount"
            return _refused(f"購入要求の項目が正しくありません({wrong})")
        await self.ready()
        order_id = given.get("order_id", "")
        self.purchases[order_id] = given | {"method": method}
        self.keep("purchase", order_id, self.purchases[order_id])
        await self.flush()
        q = html.escape(urlencode({"order_id": order_id}))
        return HTMLResponse(
            '<!doctype html><html lang="ja"><meta charset="utf-8"><title>キャリア決済</title>'
            f"<h1>{html.escape(given['pay_method'])} のお支払い(シミュレーター)</h1>"
            f"<p>{int(given['amount']):,}円</p>"
            f'<p><a href="pay?{q}&amp;result=OK">支払う</a></p>'
            f'<p><a href="pay?{q}&amp;result=NG">キャンセル</a></p></html>'
        )

    async def pay(self, request: Request) -> Response:
        """The customer's answer: the payment recorded, SBPS's notice posted, then back."""
        await self.ready()
        order_id = request.query_params.get("order_id", "")
        given = self.purchases.pop(order_id, None)
        if given is None:
            return HTMLResponse("<p>この購入要求は見つからないか、既に終了しています。</p>", 404)
        self.keep("purchase", order_id, None)
        if request.query_params.get("result") != "OK":
            await self.flush()
            return RedirectResponse(given["cancel_url"], status_code=303)
        record = self.carrier_payment(given)
        self.kept(record)
        await self.flush()
        await self.notify(given, record)
        return RedirectResponse(given["success_url"], status_code=303)

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
        if doc.get("pay_method_info/dealings_type") not in DEALINGS_TYPES:
            return ([], f"{method}05202"), None  # the recordings' answer to dealings_type 1000
        issued = doc.get("pay_option_manage/token") or ""
        token = self.tokens.pop(issued, None)
        if token is None or token["key"] != doc.get("pay_option_manage/token_key"):
            return ([], f"{method}05301"), None  # トークン不正・使用済み
        self.keep("token", issued, None)
        declined = token.get("decline")
        tracking = f"{len(self.transactions) + 1:014d}"
        record = {
            "tracking_id": tracking,
            "sps_transaction_id": f"B{TEST_MERCHANT_ID}{TEST_SERVICE_ID}{secrets.token_hex(12)}",
            "order_id": order_id,
            "base": base,
            "method": method,
            "amount": int(amount),
            "brand": token["brand"],
            "status": "9" if declined else "1",
            "process_date": self.stamp(),
        }
        self.transactions[tracking] = record
        if declined:
            return ([], declined), record
        return (
            [
                ("res_sps_transaction_id", str(record["sps_transaction_id"])),
                ("res_tracking_id", tracking),
                ("res_pay_method_info", [("cardbrand_code", token["brand"])]),
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

    async def notify(self, given: dict[str, str], record: dict[str, Any]) -> None:
        """SBPS's 結果CGI: the purchase's fields and its result, a signed Shift_JIS form
        posted to pagecon_url, taken only when answered HTTP 200 with a text starting "OK,";
        not taken, it is posted again on RESEND's schedule (the simulator base's notices)."""
        purchase = {k: v for k, v in given.items() if k in link.NOTICE}
        fields = purchase | {
            "res_pay_method": given["pay_method"],
            "res_result": "OK",
            "res_tracking_id": str(record["tracking_id"]),
            "res_payinfo_key": str(record["sps_transaction_id"]),
            "res_payment_date": str(record["process_date"]),
            "res_err_code": "",
            "res_date": self.stamp(),
        }
        body = link.encode(link.signed(fields, link.NOTICE, TEST_HASH_KEY))
        await self.notices.send(
            Notice(
                api=NOTICE,
                key=str(record["tracking_id"]),
                ref=given["order_id"],
                url=given["pagecon_url"],
                body=body.encode("ascii"),
                headers={"Content-Type": f"{FORM};charset=Shift_JIS"},
                taken=_taken,
                encoding=ENCODING,
            )
        )

    def act(self, doc: codec.Document) -> tuple[Answer, dict[str, Any] | None]:
        api_id = doc.api_id or ""
        api, _, method = api_id.rpartition("-")
        if doc.get("merchant_id") != TEST_MERCHANT_ID or doc.get("service_id") != TEST_SERVICE_ID:
            return ([], f"{method}05001"), None
        opened = _opened(doc)
        if opened is None:
            return ([], f"{method}{NOT_DECRYPTED}"), None
        doc = opened
        if not doc.verifies(TEST_HASH_KEY):
            return ([], f"{method}05999"), None  # sps_hashcode 不一致
        if api in CARD_ONLY and method != CARD:
            return ([], f"{method}05000"), None  # no such request id for this method
        if api == "ST01-00131":
            return self.authorize(method, doc)
        if api in ("ST02-00101", "ST02-00201", "ST02-00303", "ST02-00307"):
            return self.move(api, method, doc)
        if api == "MG01-00101":
            return self.lookup(method, doc), None
        return ([], f"{method}05000"), None


def _taken(status: int, answer: str) -> bool:
    return status == 200 and answer.startswith(link.NOTICE_TAKEN)


def _opened(doc: codec.Document) -> codec.Document | None:
    """The request with its encrypted fields decrypted (the hash code is over those), or None
    when they do not decrypt or came in plain text: the test account takes them encrypted."""
    encrypted = doc.get("encrypted_flg") == "1"
    if not encrypted:
        return None if codec.has_sealed_fields(doc.nodes) else doc
    try:
        nodes = codec.unseal(doc.nodes, TEST_ENCRYPTION_KEY, TEST_ENCRYPTION_IV)
    except codec.CodecError:
        return None
    return codec.Document(doc.root, doc.api_id, nodes)


def response(api_id: str, answer: Answer, now: str, *, sealed: bool = False) -> bytes:
    """SBPS's answer; res_pay_method_info encrypted when the request was."""
    fields, error = answer
    nodes: list[codec.Node] = [
        ("res_result", "NG" if error else "OK"),
        *fields,
        ("res_err_code", error or ""),
        ("res_date", now),
    ]
    keys = (TEST_ENCRYPTION_KEY, TEST_ENCRYPTION_IV) if sealed else None
    return codec.encode("sps-api-response", api_id, nodes, None, keys)


def _authorized(headers: Mapping[str, str]) -> bool:
    expected = base64.b64encode(f"{TEST_BASIC_ID}:{TEST_BASIC_PASSWORD}".encode()).decode()
    return headers.get("authorization") == f"Basic {expected}"


def _refused(reason: str) -> Response:
    """SBPS's error page for a 購入要求 it will not take: nothing is recorded."""
    return HTMLResponse(
        '<!doctype html><html lang="ja"><meta charset="utf-8"><title>エラー</title>'
        f"<p>購入要求が正しくありません: {html.escape(reason)}</p></html>",
        400,
    )


def _xml(payload: bytes) -> Response:
    return Response(payload, 200, media_type="text/xml;charset=Shift_JIS")


def create_simulator(ctx: SimulatorContext | None = None) -> AsgiApp:
    """The SBPS simulator as an ASGI app; app.state.simulator holds it."""
    app: AsgiApp = Simulator(ctx).app()
    return app
