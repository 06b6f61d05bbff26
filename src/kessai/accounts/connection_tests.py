"""接続テスト: log in with an account's settings and say, in the shop's words, whether it works.

Each check has the signature of accounts.service.CONNECTION_TESTS (services, account, the
decrypted connector settings) and is registered there, for each declared provider with a
`connection_test`, when this module is imported.

The gateway: the provider's own read-only calls (its declaration's `connection_test`; GMO PG:
providers/gmo_pg/connection_test.py). Then, when the provider runs monthly file exchanges
(`file_services`) and the account has SFTP settings, an SFTP login and a listing of the login
directory.

SFTP host key: pinned by 「SFTP ホスト鍵フィンガープリント」 (sftp_host_key_fingerprint). Until it
is set nothing is sent to the server: the test fetches the server's key alone and shows its
fingerprint for the operator to confirm and save (providers.sftp). Optional settings beyond
the schema: sftp_private_key.
"""

import logging
from collections.abc import Mapping
from typing import Any

from kessai.accounts.models import ProviderAccount
from kessai.accounts.service import CONNECTION_TESTS, ConnectionResult
from kessai.providers import sftp
from kessai.providers.installed import PROVIDERS, by_integration
from kessai.providers.kit import CONNECTED, UNREACHABLE, ConnectorContext
from kessai.providers.store import ReferenceStore
from kessai.services import Services

log = logging.getLogger("kessai.accounts.connection")

__all__ = ["CONNECTED", "UNREACHABLE", "check_account", "check_gateway", "check_sftp"]

SFTP_TIMEOUT_SECONDS = 10.0


async def check_gateway(
    services: Services, account: ProviderAccount, settings: dict[str, Any]
) -> ConnectionResult:
    """The provider's own read-only calls with the account's settings."""
    declared = by_integration(account.integration)
    if declared is None or declared.connection_test is None:
        return ConnectionResult(False, UNREACHABLE, {"integration": account.integration})
    config = dict(settings)
    for field, alias in declared.setting_aliases.items():  # GMO: shop_password → shop_pass
        config.setdefault(alias, settings.get(field))
    store = ReferenceStore(services.sessions, services.clock, account.id)
    found = await declared.connection_test(ConnectorContext(account.id, config, store))
    return ConnectionResult(found.ok, found.message, dict(found.detail))


def sftp_target(settings: Mapping[str, Any]) -> sftp.SftpTarget | None:
    """The account's SFTP server, or None when no SFTP field is set."""
    return sftp.target_from_settings(settings, SFTP_TIMEOUT_SECONDS)


async def check_sftp(
    services: Services, account: ProviderAccount, settings: dict[str, Any]
) -> ConnectionResult:
    """Log in to the provider's SFTP server and list the login directory."""
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


async def check_account(
    services: Services, account: ProviderAccount, settings: dict[str, Any]
) -> ConnectionResult:
    """The gateway, and the SFTP server when the provider exchanges files and the account
    has one."""
    gateway = await check_gateway(services, account, settings)
    results = {"gateway": gateway}
    declared = by_integration(account.integration)
    try:
        has_sftp = sftp_target(settings) is not None
    except sftp.SftpError:
        has_sftp = True  # half set: the SFTP check says what is missing
    if has_sftp and declared is not None and declared.file_services:
        results["sftp"] = await check_sftp(services, account, settings)
    detail = {name: {"ok": r.ok, "message": r.message, **r.detail} for name, r in results.items()}
    failed = [r.message for r in results.values() if not r.ok]
    if failed:
        return ConnectionResult(False, " / ".join(failed), detail)
    message = CONNECTED
    if "sftp" in results:
        message += f"({results['sftp'].message})"
    return ConnectionResult(True, message, detail)


for _declared in PROVIDERS:
    if _declared.connection_test is not None and _declared.integration:
        CONNECTION_TESTS[_declared.integration] = check_account
