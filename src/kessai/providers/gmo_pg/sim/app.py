"""The ASGI app: idPass endpoints, the challenge page, the token endpoint, fault control."""

import asyncio
import html
import json
from collections.abc import Callable, Mapping
from datetime import timedelta
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
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from kessai.providers.gmo_pg import codec
from kessai.providers.gmo_pg.sim import records, shop, site
from kessai.providers.gmo_pg.sim.config import SimulatorConfig, apply_faults, faults_json
from kessai.providers.gmo_pg.sim.context import Ctx, Handler, Reply
from kessai.providers.gmo_pg.sim.state import SimClock, State, Transaction
from kessai.providers.gmo_pg.sim.token import MULTIPAYMENT_JS, issue_tokens, parse_body
from kessai.providers.gmo_pg.sim.validation import Refused, error_pairs
from kessai.providers.simulator.faults import LoseResponse, RateLimiter, ServerError, take

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
}
_READ_ONLY = {"SearchTrade", "SearchTradeMulti", "SearchMember", "SearchCard", "SearchCardDetail"}


class ResponseLost(ConnectionResetError):
    """Raised after the response headers went out: the connection drops, no body follows."""


class Simulator:
    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.clock = SimClock(config.now)
        self.state = State(self.clock, config.call_log_limit)
        self.sleep = config.sleep or asyncio.sleep
        self._limiter = RateLimiter()
        self._limiter.reseed(config.rate_limit)
        self._in_flight: set[tuple[str, str]] = set()
        self.store = config.store
        self._loaded = self.store is None
        self._loading = asyncio.Lock()

    async def ready(self) -> None:
        """With a store: read back what an earlier run of the simulator held, once."""
        if self._loaded:
            return
        async with self._loading:
            if not self._loaded and self.store is not None:
                records.restore(self.state, await self.store.load())
                self._loaded = True

    async def save(self, params: Mapping[str, str], tran: Transaction | None = None) -> None:
        """Write what a call changed (its transaction and member) to the store."""
        if self.store is None:
            return
        if tran is None:
            tran = self.state.by_access_id.get(params.get("AccessID", "")) or (
                self.state.transactions.get((params.get("ShopID", ""), params.get("OrderID", "")))
            )
        member = params.get("MemberID")
        members = [(params.get("SiteID", ""), member)] if member else []
        await records.save(self.store, self.state, [tran] if tran else [], members)

    async def reset(self) -> None:
        self.state.reset()
        if self.store is not None:
            await self.store.clear()

    def set_faults(self, body: Mapping[str, Any]) -> None:
        apply_faults(self.config, dict(body))
        if "rate_limit" in body:
            self._limiter.reseed(self.config.rate_limit)

    # --- one idPass call ----------------------------------------------------------------
    async def call(
        self, api: str, params: Mapping[str, str], base_url: Callable[[], str]
    ) -> tuple[Reply, LoseResponse | ServerError | None]:
        """Answer one call; the second value says the answer must be lost on the way back."""
        await self.ready()
        key = (api, params.get("AccessID") or params.get("OrderID") or "")
        guarded = api not in _READ_ONLY and bool(key[1])
        if guarded and key in self._in_flight:
            # 二重送信: the same transaction is still being processed
            self.state.log_call(api, params.get("OrderID", ""), "double", "E90010001")
            return error_pairs(["E90010001"]), None
        if guarded:
            self._in_flight.add(key)
        try:
            if self.config.latency_seconds > 0:
                await self.sleep(self.config.latency_seconds)
            answer = self._answer(api, params, base_url)
            if api not in _READ_ONLY:
                await self.save(params)
            return answer
        finally:
            self._in_flight.discard(key)

    def _answer(
        self, api: str, params: Mapping[str, str], base_url: Callable[[], str]
    ) -> tuple[Reply, LoseResponse | ServerError | None]:
        order_id = params.get("OrderID", "")
        limited = self._limiter.limited(self.config.rate_limit, api)
        if limited:
            self.state.log_call(api, order_id, "rate_limited", limited)
            return error_pairs([limited]), None
        server = take(self.config.server_error, api)
        if server and not server.commit:
            self.state.log_call(api, order_id, "server_error", str(server.status))
            return [], server
        lose = server or take(self.config.lose_response, api)
        inject = take(self.config.inject_error, api)
        if isinstance(lose, LoseResponse) and not lose.commit:
            self.state.log_call(api, order_id, "lost")
            return [], lose
        if inject and not inject.commit:
            self.state.log_call(api, order_id, "injected", inject.info)
            return error_pairs([inject.info]), lose
        handler = HANDLERS.get(api)
        if handler is None:
            self.state.log_call(api, order_id, "unsupported", "E91099997")
            return error_pairs(["E91099997"]), lose
        public = self.config.public_url
        ctx = Ctx(self.config, self.state, (lambda: public) if public else base_url)
        result, err_info = "ok", ""
        try:
            reply = handler(ctx, params)
        except Refused as refused:
            reply, result, err_info = error_pairs(refused.infos), "error", "|".join(refused.infos)
        if inject:  # acted on it; the client is told something else
            reply, result, err_info = error_pairs([inject.info]), "injected", inject.info
        if isinstance(lose, ServerError):
            result = "server_error"
        elif lose:
            result = "lost"
        self.state.log_call(api, ctx.order_id or order_id, result, err_info)
        return reply, lose


def _api_name(scope: Scope) -> str | None:
    name = str(scope.get("path_params", {}).get("name", ""))
    return name.removesuffix(".idPass") if name.endswith(".idPass") else None


def _base_url(scope: Scope) -> str:
    """Where this app is reached, mount prefix (root_path) included."""
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


class IdPassEndpoint:
    """POST /payment/<Api>.idPass: CP932 form in, raw CP932 `K=V&…` out, always HTTP 200."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        api = _api_name(scope)
        body = await _read_body(receive)
        if api is None:
            reply = error_pairs(["E91099997"])
            lose = None
        else:
            params = codec.decode_request(body)
            reply, lose = await self.sim.call(api, params, lambda: _base_url(scope))
        if isinstance(lose, ServerError):
            page = b"<html><body>Service Temporarily Unavailable</body></html>"
            html = [(b"content-type", b"text/html"), (b"content-length", str(len(page)).encode())]
            await send({"type": "http.response.start", "status": lose.status, "headers": html})
            await send({"type": "http.response.body", "body": page})
            return
        payload = codec.encode_response(reply)
        headers = [
            (b"content-type", codec.RESPONSE_CONTENT_TYPE.encode()),
            # at least 1: a lost answer must leave the client waiting for a body
            (b"content-length", str(len(payload) or 1).encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        if lose is not None:
            if lose.mode == "hang":
                await self.sim.sleep(lose.hang_seconds)
            raise ResponseLost(f"simulated: the {api} response was lost")
        await send({"type": "http.response.body", "body": payload})


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
    sim = Simulator(config or SimulatorConfig())
    cors = {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Headers": "Content-Type"}

    async def challenge_page(request: Request) -> Response:
        base = sim.config.public_url or _base_url(request.scope)
        if sim.config.challenge_page and "result" not in request.query_params:
            return HTMLResponse(_challenge_form(request.query_params.get("tds2TransID", "")))
        ctx = Ctx(sim.config, sim.state, lambda: base)
        passed = request.query_params.get("result", "Y").upper() != "N"
        await sim.ready()
        tran = shop.challenge_done(ctx, request.query_params.get("tds2TransID", ""), passed)
        if tran is not None:
            await sim.save({}, tran)
        if tran is None:
            return HTMLResponse("<p>この認証は見つからないか、既に終了しています。</p>", 404)
        if not tran.tds2_ret_url:
            text = "本人認証が完了しました。" if passed else "本人認証に失敗しました。"
            return HTMLResponse(f"<p>{text}</p>")
        joiner = "&" if "?" in tran.tds2_ret_url else "?"
        target = f"{tran.tds2_ret_url}{joiner}AccessID={tran.access_id}&OrderID={tran.order_id}"
        return RedirectResponse(target, status_code=303)

    async def token(request: Request) -> Response:
        if request.method == "OPTIONS":
            return Response(status_code=204, headers=cors)
        try:
            form = parse_body(await request.body(), request.headers.get("content-type", ""))
        except ValueError:
            return JSONResponse({"resultCode": "999"}, headers=cors)
        return JSONResponse(issue_tokens(form, sim.config, sim.state), headers=cors)

    async def token_js(request: Request) -> Response:
        base = json.dumps(sim.config.public_url or _base_url(request.scope))
        return PlainTextResponse(MULTIPAYMENT_JS % base, media_type="application/javascript")

    async def control(request: Request) -> Response:
        if request.method == "POST":
            try:
                body = json.loads(await request.body() or b"{}")
                if not isinstance(body, dict):
                    raise ValueError("a JSON object is expected")
                sim.set_faults(body)
                if body.get("advance_seconds"):
                    sim.clock.offset += timedelta(seconds=float(body["advance_seconds"]))
                if body.get("reset"):
                    await sim.reset()
                if body.get("clear_calls"):
                    sim.state.calls.clear()
            except (ValueError, TypeError) as exc:
                return _json_error(str(exc))
        return JSONResponse(
            {
                "faults": faults_json(sim.config),
                "now": sim.clock.now().isoformat(),
                "offset_seconds": sim.clock.offset.total_seconds(),
            }
        )

    async def calls(request: Request) -> Response:
        if request.method == "DELETE":
            sim.state.calls.clear()
        api = request.query_params.get("api")
        return JSONResponse(
            {"calls": [c.json() for c in sim.state.calls if api is None or c.api == api]}
        )

    app = Starlette(
        routes=[
            Route("/payment/Tds2Challenge", challenge_page, methods=["GET"]),
            Route("/payment/{name}", IdPassEndpoint(sim), methods=["POST"]),
            Route("/token", token, methods=["POST", "OPTIONS"]),
            Route("/ext/js/token.js", token_js, methods=["GET"]),
            Route("/_control", control, methods=["GET", "POST"]),
            Route("/_calls", calls, methods=["GET", "DELETE"]),
        ]
    )
    app.state.simulator = sim
    return app
