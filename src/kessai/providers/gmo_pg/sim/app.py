"""The ASGI app, on the simulator base: idPass endpoints, the challenge page, the token
endpoint; /_control, /_records and /_calls come from the base."""

import html
import json
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.datastructures import URL
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import BaseRoute, Route
from starlette.types import Scope

from kessai.core.clock import to_tokyo
from kessai.providers.gmo_pg import codec
from kessai.providers.gmo_pg.sim import link, notify, records, redirect, shop, site, slips
from kessai.providers.gmo_pg.sim.config import (
    CHALLENGE_CARD,
    DECLINE_CARDS,
    SimulatorConfig,
    apply_notify,
)
from kessai.providers.gmo_pg.sim.context import Ctx, Handler, Reply
from kessai.providers.gmo_pg.sim.notify import fields
from kessai.providers.gmo_pg.sim.state import State, Transaction
from kessai.providers.gmo_pg.sim.token import MULTIPAYMENT_JS, issue_tokens, parse_body
from kessai.providers.gmo_pg.sim.validation import Refused, error_pairs
from kessai.providers.kit import AsgiApp, SimulatorContext
from kessai.providers.simulator import base
from kessai.providers.simulator.base import Call, Records, Scenarios

HANDLERS: dict[str, Handler] = {
    "EntryTran": shop.entry_tran,
    "ExecTran": shop.exec_tran,
    "SecureTran2": shop.secure_tran2,
    "Tds2Auth": shop.tds2_auth,
    "Tds2Result": shop.tds2_result,
    "AlterTran": shop.alter_tran,
    "ChangeTran": shop.change_tran,
    "SearchTrade": shop.search_trade,
    "SearchTradeMulti": shop.search_trade_multi,
    "SaveMember": site.save_member,
    "UpdateMember": site.update_member,
    "SearchMember": site.search_member,
    "DeleteMember": site.delete_member,
    "SaveCard": site.save_card,
    "SearchCard": site.search_card,
    "DeleteCard": site.delete_card,
    "TradedCard": site.traded_card,
    "SearchCardDetail": site.search_card_detail,
    **redirect.HANDLERS,
    **slips.HANDLERS,
}
_READ_ONLY = {"SearchTrade", "SearchTradeMulti", "SearchMember", "SearchCard", "SearchCardDetail"}


class GmoSimulator(base.Simulator):
    """GMO's test environment on the simulator base: idPass calls go through its fault
    switches; transactions, members and tokens through its store."""

    name = records.SIMULATOR
    rate_limit_code = "E92000001"  # GMO's 流量制限
    scenarios = Scenarios(cards={**DECLINE_CARDS, CHALLENGE_CARD: "ACS=2 (3-D Secure challenge)"})
    resend = notify.RESEND

    def __init__(
        self, config: SimulatorConfig | None = None, ctx: SimulatorContext | None = None
    ) -> None:
        if config is None:
            people = ctx is not None and ctx.for_people  # 試験購入: the issuer's page waits
            config = SimulatorConfig(now=ctx.now if ctx else None, challenge_page=people)
        super().__init__(ctx, config=config, call_log_limit=config.call_log_limit)
        self.config = config
        self.state = State(self.clock)
        self._in_flight: set[tuple[str, str]] = set()
        self._expiry_ran_for: date | None = None  # the day GMO's 期限切れ batch last ran for

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/payment/Tds2Challenge", self.challenge_page, methods=["GET"]),
            Route("/payment/{method}Start.idPass", self.start_page, methods=["GET", "POST"]),
            Route("/payment/{name}", self.idpass, methods=["POST"]),
            Route("/token", self.token, methods=["POST", "OPTIONS"]),
            Route("/ext/js/token.js", self.token_js, methods=["GET"]),
            Route("/v1/plus/{shop_id}/checkout/{part}", self.link_page, methods=["GET"]),
            Route("/_sandbox/pay", self.sandbox_pay, methods=["POST"]),
            Route("/_sandbox/expire", self.sandbox_expire, methods=["POST"]),
            Route("/_notifications", self.notifications, methods=["POST"]),
        ]

    def error(self, api: str, code: str) -> Response:
        return _idpass_response(error_pairs([code]))

    def restore(self, records_: Records) -> None:
        records.restore(self.state, records_)

    def forget(self) -> None:
        self.state.reset()

    def control(self, body: Mapping[str, Any]) -> dict[str, Any]:
        if "tds2_style" in body:
            if body["tds2_style"] not in ("acs", "challenge_url"):
                raise ValueError("tds2_style must be 'acs' or 'challenge_url'")
            self.config.tds2_style = body["tds2_style"]
        return {"tds2_style": self.config.tds2_style, **apply_notify(self.config, body)}

    def keep_touched(self, params: Mapping[str, str], tran: Transaction | None = None) -> None:
        """Hand what a call changed (its transaction, member and token) to the store."""
        if tran is None:
            tran = self.state.by_access_id.get(params.get("AccessID", "")) or (
                self.state.transactions.get((params.get("ShopID", ""), params.get("OrderID", "")))
            )
        member = params.get("MemberID")
        token = params.get("Token")
        records.keep(
            self.keep,
            self.state,
            [tran] if tran else [],
            [(params.get("SiteID", ""), member)] if member else [],
            [token] if token else [],
        )

    @classmethod
    def create(cls, ctx: SimulatorContext) -> AsgiApp:
        app: AsgiApp = cls(ctx=ctx).app()
        return app

    async def keep_members(self, members: set[tuple[str, str]]) -> None:
        """Write members changed outside an idPass call (the SFTP side's 洗替 answers)."""
        records.keep(self.keep, self.state, members=sorted(members))
        await self.flush()

    # --- one idPass call ----------------------------------------------------------------
    async def idpass(self, request: Request) -> Response:
        """POST /payment/<Api>.idPass: CP932 form in, raw CP932 `K=V&…` out, always 200."""
        name = str(request.path_params.get("name", ""))
        params = codec.decode_request(await request.body())
        if not name.endswith(".idPass"):
            self.log(name, params.get("OrderID", ""), "unsupported", "E91099997")
            return self.error(name, "E91099997")
        api = name.removesuffix(".idPass")
        key = (api, params.get("AccessID") or params.get("OrderID") or "")
        guarded = api not in _READ_ONLY and bool(key[1])
        if guarded and key in self._in_flight:
            # 二重送信: the same transaction is still being processed
            self.log(api, params.get("OrderID", ""), "double", "E90010001")
            return self.error(api, "E90010001")
        if guarded:
            self._in_flight.add(key)
        await self._nightly_expiry(request)
        try:
            base = self.config.public_url or _base_url(request.scope)
            return await self.answer(
                api, lambda call: self._act(api, params, base, call), params.get("OrderID", "")
            )
        finally:
            self._in_flight.discard(key)

    async def _act(self, api: str, params: Mapping[str, str], base: str, call: Call) -> Response:
        handler = HANDLERS.get(api)
        if handler is None:
            call.result, call.info = "unsupported", "E91099997"
            return self.error(api, "E91099997")
        ctx = Ctx(self.config, self.state, lambda: base)
        try:
            reply = handler(ctx, params)
        except Refused as refused:
            reply, call.result, call.info = (
                error_pairs(refused.infos),
                "error",
                "|".join(refused.infos),
            )
        call.ref = ctx.order_id or call.ref
        if api not in _READ_ONLY:
            self.keep_touched(params)
        return _idpass_response(reply)

    # --- the customer's and the storefront's pages ----------------------------------------
    async def challenge_page(self, request: Request) -> Response:
        base = self.config.public_url or _base_url(request.scope)
        if self.config.challenge_page and "result" not in request.query_params:
            return HTMLResponse(_challenge_form(request.query_params.get("tds2TransID", "")))
        ctx = Ctx(self.config, self.state, lambda: base)
        passed = request.query_params.get("result", "Y").upper() != "N"
        await self.ready()
        tran = shop.challenge_done(ctx, request.query_params.get("tds2TransID", ""), passed)
        if tran is None:
            return HTMLResponse("<p>この認証は見つからないか、既に終了しています。</p>", 404)
        self.keep_touched({}, tran)
        await self.flush()
        if not tran.tds2_ret_url:
            text = "本人認証が完了しました。" if passed else "本人認証に失敗しました。"
            return HTMLResponse(f"<p>{text}</p>")
        joiner = "&" if "?" in tran.tds2_ret_url else "?"
        target = f"{tran.tds2_ret_url}{joiner}AccessID={tran.access_id}&OrderID={tran.order_id}"
        return RedirectResponse(target, status_code=303)

    async def start_page(self, request: Request) -> Response:
        """The wallet's or carrier's page the customer is sent to (StartURL)."""
        query = dict(request.query_params)
        if request.method == "POST":  # GMO's own way: a form with AccessID and Token
            query |= {k: str(v) for k, v in (await request.form()).items()}
        await self.ready()
        ctx = Ctx(self.config, self.state, lambda: _base_url(request.scope))
        tran = redirect.start_target(ctx, query)
        if tran is None:
            return HTMLResponse("<p>この決済は見つかりません。</p>", 404)
        result = query.get("result")
        shop.expire_if_late(tran, self.clock.now())
        if result is None and tran.status == "REQSUCCESS":
            return HTMLResponse(redirect.start_page(tran, query))
        if result is not None:
            redirect.decide(ctx, tran, result)
            self.keep_touched({}, tran)
            await self.flush()
            self.result_notice(fields(tran))
        return RedirectResponse(redirect.return_url(tran), status_code=303)

    async def link_page(self, request: Request) -> Response:
        """GMO's hosted payment page (リンクタイプ Plus) a payment link opens."""
        await self.ready()
        ctx = Ctx(self.config, self.state, lambda: _base_url(request.scope))
        opened = link.open_link(
            ctx, str(request.path_params["shop_id"]), str(request.path_params["part"])
        )
        if isinstance(opened, str):
            return HTMLResponse(link.words(opened), 400)
        refused = link.refusal(ctx, opened)
        if refused:
            return HTMLResponse(link.words(refused), 410)
        result = request.query_params.get("result")
        if result is None:
            return HTMLResponse(link.page(opened))
        status = "CANCEL"
        if result == "approve":
            tran = link.approve(ctx, opened)
            status = tran.status
            self.keep_touched({}, tran)
            await self.flush()
            self.result_notice(fields(tran))
        target = link.back_to_shop(opened, status)
        if target:
            return RedirectResponse(target, status_code=303)
        done = "お支払いが完了しました" if status != "CANCEL" else "お支払いをキャンセルしました"
        return HTMLResponse(link.words(done))

    async def sandbox_pay(self, request: Request) -> Response:
        """The customer pays a コンビニ・Pay-easy・銀行振込 slip (a sandbox call)."""
        try:
            body = json.loads(await request.body() or b"{}")
            order_id = str(body["OrderID"])
            amount = body.get("Amount")
            if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int)):
                raise ValueError("Amount must be an integer")
        except (ValueError, KeyError, TypeError) as exc:
            return _json_error(f"{{'OrderID': …, 'Amount'?: int}} expected: {exc}")
        await self.ready()
        ctx = Ctx(self.config, self.state, lambda: _base_url(request.scope))
        tran, refused = slips.pay(ctx, order_id, amount)
        if tran is None or refused:
            return JSONResponse({"error": refused}, status_code=409 if tran else 404)
        self.keep_touched({}, tran)
        await self.flush()
        self.result_notice(fields(tran))
        return JSONResponse({"OrderID": tran.order_id, "Status": tran.status})

    async def sandbox_expire(self, request: Request) -> Response:
        """GMO's 期限切れ batch, now: unpaid slips past their deadline expire and notify."""
        expired = await self._expire(request)
        return JSONResponse({"expired": [t.order_id for t in expired]})

    async def _expire(self, request: Request) -> list[Transaction]:
        await self.ready()
        ctx = Ctx(self.config, self.state, lambda: _base_url(request.scope))
        expired = slips.expire_due(ctx)
        for tran in expired:
            self.keep_touched({}, tran)
        await self.flush()
        for tran in expired:
            self.result_notice(fields(tran))
        return expired

    async def _nightly_expiry(self, request: Request) -> None:
        """GMO runs its 期限切れ batch from 3:00 each day: the first call the simulator
        serves on a new such day runs it (simulator time; once a day, so calls stay cheap)."""
        day = (to_tokyo(self.clock.now()) - timedelta(hours=3)).date()
        if self._expiry_ran_for is not None and day <= self._expiry_ran_for:
            return
        self._expiry_ran_for = day
        await self._expire(request)

    def result_notice(self, form: dict[str, str]) -> str | None:
        """GMO's 結果通知 of `form`, in the background and again while not taken (notify.py);
        its notice's key, None when no URL is set."""
        url = self.config.notify_url
        if not url:
            return None
        key = self.notices.new_key(f"{form['OrderID']}/{form['Status']}")
        self.notices.start(notify.notice(url, key, form))
        return key

    async def notifications(self, request: Request) -> Response:
        """POST {"OrderID", "Status"?, "Amount"?}: one more 結果通知 for a transaction as it
        stands, with fields overridden (a tester's tool); its attempts are notice records."""
        await self.ready()
        body = json.loads(await request.body() or b"{}")
        tran = next(
            (t for t in self.state.transactions.values() if t.order_id == body.get("OrderID")),
            None,
        )
        if tran is None:
            return _json_error("no such OrderID")
        extra = {k: str(v) for k, v in body.items() if k != "OrderID"}
        key = self.result_notice(fields(tran, extra))
        if key is None:
            return _json_error("notify_url is not set")
        return JSONResponse({"notice": key})

    async def token(self, request: Request) -> Response:
        if request.method == "OPTIONS":
            return Response(status_code=204, headers=_CORS)
        try:
            form = parse_body(await request.body(), request.headers.get("content-type", ""))
        except ValueError:
            return JSONResponse({"resultCode": "999"}, headers=_CORS)
        await self.ready()
        answer = issue_tokens(form, self.config, self.state)
        issued = answer.get("tokenObject", {}).get("token", [])
        records.keep(self.keep, self.state, tokens=issued)
        await self.flush()
        return JSONResponse(answer, headers=_CORS)

    async def token_js(self, request: Request) -> Response:
        base = json.dumps(self.config.public_url or _base_url(request.scope))
        return PlainTextResponse(MULTIPAYMENT_JS % base, media_type="application/javascript")


_CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Headers": "Content-Type"}


def _idpass_response(reply: Reply) -> Response:
    content_type = codec.RESPONSE_CONTENT_TYPE
    return Response(codec.encode_response(reply), headers={"content-type": content_type})


def _base_url(scope: Scope) -> str:
    """Where this app is reached, mount prefix (root_path) included."""
    root = scope.get("root_path", "")
    return str(URL(scope={**scope, "path": root, "query_string": b""})).rstrip("/")


def _challenge_form(trans_id: str) -> str:
    """The issuer's page a customer sees (challenge_page=True): pass or fail on purpose."""
    q = html.escape(urlencode({"tds2TransID": trans_id, "lang": "ja"}))
    return (
        '<!doctype html><html lang="ja"><meta charset="utf-8">'
        "<title>3Dセキュア 本人認証(シミュレーター)</title>"
        "<h1>3Dセキュア 本人認証</h1>"
        "<p>カード発行会社の本人認証画面(GMO PG シミュレーター)です。</p>"
        f'<p><a href="Tds2Challenge?{q}&amp;result=Y">認証する</a></p>'
        f'<p><a href="Tds2Challenge?{q}&amp;result=N">認証しない</a></p></html>'
    )


def _json_error(message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=400)


def create_simulator(config: SimulatorConfig | None = None) -> Starlette:
    """The GMO PG simulator as an ASGI app; app.state.simulator holds its state."""
    return GmoSimulator(config).app()
