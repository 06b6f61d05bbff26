"""接続テスト: log in with an account's settings and say, in the shop's words, whether it works.

Each check has the signature of accounts.service.CONNECTION_TESTS (services, account, the
decrypted connector settings) and is registered there when this module is imported.

GMO PG: two read-only calls for ids that do not exist. SearchTrade (ShopID/ShopPass) answers
E01110002 「取引が存在しません」 and SearchMember (SiteID/SitePass) E01390002 「会員が存在しません」
when the credentials are right; a wrong ID or password gives GMO's E01 credential codes instead,
shown verbatim. Then, when the account has SFTP settings (自動洗替・エポス連携), an SFTP login
and a listing of the login directory.

SFTP host key: pinned by 「SFTP ホスト鍵フィンガープリント」 (sftp_host_key_fingerprint). Until it
is set nothing is sent to the server: the test fetches the server's key alone and shows its
fingerprint for the operator to confirm and save (providers.sftp). Optional settings beyond
the schema: sftp_private_key.
"""

import logging
import secrets
from collections.abc import Mapping
from typing import Any

from kessai.accounts.models import ProviderAccount
from kessai.accounts.secrets import CONNECTOR_ALIASES
from kessai.accounts.service import CONNECTION_TESTS, ConnectionResult
from kessai.core.errors import KessaiError
from kessai.providers import sftp
from kessai.providers.contract import ProviderState
from kessai.providers.gmo_pg.connector import TRADE_NOT_FOUND, GmoPgConnector
from kessai.providers.store import ReferenceStore
from kessai.providers.vault import ProviderError, ProviderUnreachable
from kessai.services import Services

log = logging.getLogger("kessai.accounts.connection")

CONNECTED = "接続できました"
UNREACHABLE = "接続できませんでした"
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
SFTP_TIMEOUT_SECONDS = 10.0


def _probe_id() -> str:
    """An id no shop uses, valid as a GMO OrderID (27 characters at most) and MemberID."""
    return f"kessai-test-{secrets.token_hex(6)}"


def _refused(exc: ProviderError, api: str) -> ConnectionResult:
    codes = exc.code.split("|")
    reason = "credentials" if any(c in CREDENTIAL_CODES for c in codes) else "error"
    return ConnectionResult(False, exc.message, {"api": api, "code": exc.code, "reason": reason})


def _unreachable(exc: Exception, api: str) -> ConnectionResult:
    return ConnectionResult(False, UNREACHABLE, {"api": api, "reason": str(exc)})


async def check_gmo_pg_gateway(
    services: Services, account: ProviderAccount, settings: dict[str, Any]
) -> ConnectionResult:
    """ShopID/ShopPass by SearchTrade, SiteID/SitePass by SearchMember."""
    config = {**settings, **_QUICK}
    for field, alias in CONNECTOR_ALIASES["gmo_pg"].items():  # shop_password → shop_pass
        config.setdefault(alias, settings.get(field))
    try:
        connector = GmoPgConnector(
            account.id,
            config,
            ReferenceStore(services.sessions, services.clock, account.id),
        )
    except KessaiError as exc:  # settings that cannot make a request (ショップIDが未設定 …)
        return ConnectionResult(False, exc.message, {"code": exc.code, **exc.detail})
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
            return ConnectionResult(False, found.message or UNREACHABLE, {"api": "SearchTrade"})
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
    return ConnectionResult(True, CONNECTED, {"checked": checked})


def sftp_target(settings: Mapping[str, Any]) -> sftp.SftpTarget | None:
    """The GMO PG account's SFTP server, or None when no SFTP field is set."""
    return sftp.target_from_settings(settings, SFTP_TIMEOUT_SECONDS)


async def check_gmo_pg_sftp(
    services: Services, account: ProviderAccount, settings: dict[str, Any]
) -> ConnectionResult:
    """Log in to GMO PG's SFTP server and list the login directory."""
    try:
        target = sftp_target(settings)
        if target is None:
            return ConnectionResult(
                False, "SFTPの接続先が設定されていません", {"reason": "not_configured"}
            )
        if not target.host_key_fingerprint:
            sftp.check_credentials(target)
            return await _unconfirmed_host(target)
        async with sftp.connect(target) as session:
            entries = await session.listdir()
    except sftp.SftpError as exc:
        return ConnectionResult(False, exc.message, {"code": exc.code})
    return ConnectionResult(
        True,
        f"SFTPに接続できました(ファイル{len(entries)}件)",
        {
            "entries": len(entries),
            "host_key_verified": True,
        },
    )


async def _unconfirmed_host(target: sftp.SftpTarget) -> ConnectionResult:
    """The first test of a server: its host key's fingerprint, for the operator to compare
    with the one the provider gives and save; nothing else was sent."""
    fingerprint = await sftp.fetch_host_key(target)
    return ConnectionResult(
        False,
        f"SFTPサーバのホスト鍵を確認してください: {fingerprint}。決済代行会社から案内された"
        "フィンガープリントと一致する場合は「SFTP ホスト鍵フィンガープリント」に設定して保存し、"
        "もう一度接続テストを実行してください(確認されるまでログイン情報は送信しません)",
        {"code": sftp.SftpHostKeyUnconfirmed.code, "host_key_fingerprint": fingerprint},
    )


async def check_gmo_pg(
    services: Services, account: ProviderAccount, settings: dict[str, Any]
) -> ConnectionResult:
    """The gateway, and the SFTP server when the account has one."""
    gateway = await check_gmo_pg_gateway(services, account, settings)
    results = {"gateway": gateway}
    try:
        has_sftp = sftp_target(settings) is not None
    except sftp.SftpError:
        has_sftp = True  # half set: the SFTP check says what is missing
    if has_sftp:
        results["sftp"] = await check_gmo_pg_sftp(services, account, settings)
    detail = {name: {"ok": r.ok, "message": r.message, **r.detail} for name, r in results.items()}
    failed = [r.message for r in results.values() if not r.ok]
    if failed:
        return ConnectionResult(False, " / ".join(failed), detail)
    message = CONNECTED
    if "sftp" in results:
        message += f"({results['sftp'].message})"
    return ConnectionResult(True, message, detail)


CONNECTION_TESTS["gmo_pg"] = check_gmo_pg
