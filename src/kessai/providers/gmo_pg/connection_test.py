"""GMO PG's 接続テスト: two read-only calls for ids that do not exist.

SearchTrade (ShopID/ShopPass) answers E01110002 「取引が存在しません」 and SearchMember
(SiteID/SitePass) E01390002 「会員が存在しません」 when the credentials are right; a wrong ID or
password gives GMO's E01 credential codes instead, shown verbatim. Nothing is charged.
"""

import secrets

from kessai.core.errors import KessaiError
from kessai.providers.contract import ProviderState
from kessai.providers.gmo_pg.connector import TRADE_NOT_FOUND, GmoPgConnector
from kessai.providers.kit import CONNECTED, UNREACHABLE, ConnectionCheck, ConnectorContext
from kessai.providers.vault import ProviderError, ProviderUnreachable

# ErrInfo meaning "the shop or the site is not who it says": ID missing, malformed or unknown,
# password missing, malformed or wrong.
CREDENTIAL_CODES = frozenset(
    {
        "E01010001",
        "E01010008",
        "E01010010",
        "E01020001",
        "E01020008",
        "E01030002",
        "E01190001",
        "E01190008",
        "E01200001",
        "E01200008",
        "E01210002",
    }
)
# A connection test must answer while the person waits: shorter than a payment's timeouts,
# and no rate-limit retries.
_QUICK = {"timeout_seconds": 15, "connect_timeout_seconds": 5, "e92_retries": 0}


def _probe_id() -> str:
    """An id no shop uses, valid as a GMO OrderID (27 characters at most) and MemberID."""
    return f"kessai-test-{secrets.token_hex(6)}"


def _refused(exc: ProviderError, api: str) -> ConnectionCheck:
    codes = exc.code.split("|")
    reason = "credentials" if any(c in CREDENTIAL_CODES for c in codes) else "error"
    return ConnectionCheck(False, exc.message, {"api": api, "code": exc.code, "reason": reason})


def _unreachable(exc: Exception, api: str) -> ConnectionCheck:
    return ConnectionCheck(False, UNREACHABLE, {"api": api, "reason": str(exc)})


async def check_gateway(ctx: ConnectorContext) -> ConnectionCheck:
    """ShopID/ShopPass by SearchTrade, SiteID/SitePass by SearchMember."""
    if ctx.store is None:
        raise ValueError("GMO PG の接続テストには参照情報の保存先が必要です")
    try:
        connector = GmoPgConnector(ctx.account_id, {**ctx.settings, **_QUICK}, ctx.store)
    except KessaiError as exc:  # settings that cannot make a request (ショップIDが未設定 …)
        return ConnectionCheck(False, exc.message, {"code": exc.code, **exc.detail})
    checked: list[str] = []
    try:
        try:
            found = await connector.lookup(_probe_id())
        except ProviderError as exc:
            return _refused(exc, "SearchTrade")
        except ProviderUnreachable as exc:
            return _unreachable(exc, "SearchTrade")
        if found.state is ProviderState.NONE and found.code != TRADE_NOT_FOUND:
            # Refused before sending: nothing was learnt about the credentials.
            return ConnectionCheck(False, found.message or UNREACHABLE, {"api": "SearchTrade"})
        checked.append("shop")
        if connector.config.has_site:
            try:
                await connector.find_member(_probe_id())
            except ProviderError as exc:
                return _refused(exc, "SearchMember")
            except ProviderUnreachable as exc:
                return _unreachable(exc, "SearchMember")
            checked.append("site")
    finally:
        await connector.aclose()
    return ConnectionCheck(True, CONNECTED, {"checked": checked})
