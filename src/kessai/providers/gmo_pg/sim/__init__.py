"""GMO PG simulator: an ASGI app that behaves like GMO's test environment (idPass).

Mount it (kessai mounts it at /sim/gmo-pg in sandbox mode) or run it alone; the paths are
GMO's: POST /payment/<Api>.idPass, always HTTP 200, CP932 both ways.

APIs: EntryTran, ExecTran (CardNo+Expire, Token, or MemberID+CardSeq; TdsType=2 for
3-D Secure 2.0), SecureTran2, Tds2Auth, Tds2Result, AlterTran (SALES, VOID, RETURN, RETURNX,
and AUTH/CAPTURE/SAUTH to authorize a cancelled one again), ChangeTran (AUTH/CAPTURE/SAUTH),
SearchTrade, SearchTradeMulti (PayType=0), SaveMember, UpdateMember, SearchMember,
DeleteMember, SaveCard (CardNo+Expire or Token; CardSeq replaces), SearchCard (pipe-joined
multi-record), DeleteCard, TradedCard, SearchCardDetail. Any other API answers E91099997.

Test cards (any expiry and security code; numbers must pass the Luhn check, else E41170099):
- succeed: 4111111111111111, 4012001037141112, 5555555555554444, 3530111333300000
- decline at ExecTran: 4000000000000028 → 42G020000 (残高不足), 4000000000000036 →
  42G030000 (限度額), 4000000000000440 → 42G440000 (セキュリティコード誤り),
  4000000000000655 → 42G650000 (カード番号誤り), 4000000000000838 → 42G830000 (有効期限誤り)
- 4000000000003220 with TdFlag=2 (EntryTran) or TdsType=2 (ExecTran): the issuer wants a
  challenge. With the default
  tds2_style "acs" ExecTran answers ACS=2&RedirectUrl=<base>/payment/Tds2Challenge?
  tds2TransID=…&lang=ja (the URL carries "&"); with "challenge_url" it answers the shape of
  the 2025 recordings (Tds2TransResult=C, Tds2ChallengeUrl, Tds2TransID …). GET on that URL
  passes the challenge (…&result=N fails it) and redirects (303) to the Tds2RetUrl/RetUrl of
  ExecTran with AccessID and OrderID added; SecureTran2 (AccessID, AccessPass) then
  authorizes. Any other card with TdsType=2 goes through without a challenge (ACS=0).

Token endpoint for the storefront: POST /token, GET /ext/js/token.js (see sim/token.py).
Tokens are one-time (EX1000302 when reused) and expire after 30 minutes of simulator time
(EX1000303); an unknown token gives EX1000301.

Fault modes (SimulatorConfig fields, or POST /_control with JSON; GET /_control shows them):
- "latency_seconds": 0.05 — every idPass call waits this long before it is processed;
- "lose_response": {"count": 1, "api": "ExecTran", "mode": "close"|"hang",
  "hang_seconds": 30, "commit": true} — the call is processed (commit=true), then the
  response headers go out and the connection drops with no body (an aiohttp client gets
  ClientPayloadError/ServerDisconnectedError; over httpx.ASGITransport ResponseLost is
  raised); "hang" first waits hang_seconds (longer than the client's timeout);
  count null = every matching call;
- "rate_limit": {"count": 2, "probability": 0.0, "seed": 0, "api": null} — answer
  E92000001 (nothing done) for the next `count` calls, then with that probability;
- "inject_error": {"info": "E91099999", "count": 1, "api": "ExecTran", "commit": false} —
  answer that ErrInfo; commit=true processes the call first (the outcome is hidden);
- "server_error": {"status": 503, "count": 1, "api": null, "commit": false} — an HTTP 5xx
  from GMO's front instead of an answer; commit=true processes the call behind it;
- null switches a fault off. Also {"advance_seconds": 1800} moves the simulator's clock,
  {"now": "<ISO 8601 with zone>"} sets it, {"reset": true} forgets every transaction, member
and token (in the database too), {"clear_calls": true}.
Two calls for the same transaction at once (while the first waits out its latency) give
E90010001, GMO's 二重送信 answer.

Call log: GET /_calls (?api=ExecTran) → {"calls": [{"seq", "api", "ref" (the OrderID),
"result", "info" (the ErrInfo), "at"}]} in arrival order, never card data; DELETE /_calls
clears it. GET /_records?kind=transaction|member|token shows what the store keeps.
結果通知 (sim/notify.py): with "notify_url" set (POST /_control), GMO's notice of a payment
change goes to it and again on GMO's schedule, every 60 minutes five times, while the shop
does not answer "0": each attempt in GET /_records?kind=notice and GET /_calls?api=結果通知;
{"resend_pauses": [seconds, …]} shortens the schedule, POST /_notifications {"OrderID", …}
sends one more with fields overridden.
/_control, /_records and /_calls are the simulator base's (kessai.providers.simulator.base).
Card numbers live only in the simulator's memory and never reach a log.
"""

from kessai.providers.gmo_pg.sim.app import GmoSimulator, create_simulator
from kessai.providers.gmo_pg.sim.config import (
    CHALLENGE_CARD,
    DECLINE_CARDS,
    SUCCESS_CARDS,
    TEST_SHOP_ID,
    TEST_SHOP_PASS,
    TEST_SITE_ID,
    TEST_SITE_PASS,
    RateLimit,
    SimulatorConfig,
)
from kessai.providers.simulator.base import ResponseLost
from kessai.providers.simulator.faults import InjectError, LoseResponse, ServerError

__all__ = [
    "CHALLENGE_CARD",
    "DECLINE_CARDS",
    "SUCCESS_CARDS",
    "TEST_SHOP_ID",
    "TEST_SHOP_PASS",
    "TEST_SITE_ID",
    "TEST_SITE_PASS",
    "GmoSimulator",
    "InjectError",
    "LoseResponse",
    "RateLimit",
    "ResponseLost",
    "ServerError",
    "SimulatorConfig",
    "create_simulator",
]
