"""The account's SFTP server for 自動洗替: who to log in as, and moving whole files.

The host key must be pinned (SFTP ホスト鍵フィンガープリント): a card updater that talked to
whoever answered on the address would hand every customer's card references to them.
A connection that drops mid-transfer is tried again a few times (the upload goes to a .part
name and is renamed at the end, so GMO never sees half a file and a second try replaces the
first); a refused login or a wrong host key is not retried: it will not pass by waiting.
"""

import asyncio
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import asyncssh

from kessai.providers import sftp

log = logging.getLogger("kessai.cardupdater")

TRIES = 3
PAUSE_SECONDS = 1.0  # before the second try; doubled after
TIMEOUT_SECONDS = 30.0


class TransferError(Exception):
    """The file did not get across; `message` says why in the shop's words."""

    def __init__(self, message: str, *, code: str, retryable: bool) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.retryable = retryable


def target_of(settings: Mapping[str, Any]) -> sftp.SftpTarget:
    """The SFTP login of a GMO PG account, refused unless complete and pinned."""
    missing = [
        label
        for key, label in (
            ("sftp_host", "SFTP 接続先 IP アドレス"),
            ("sftp_login_id", "SFTP ログインID"),
            ("sftp_password", "SFTP パスワード"),
            ("sftp_host_key_fingerprint", "SFTP ホスト鍵フィンガープリント"),
        )
        if not settings.get(key)
        and not (key == "sftp_password" and settings.get("sftp_private_key"))
    ]
    if missing:
        raise TransferError(
            f"外部連携アカウント「GMO PG」の{'・'.join(missing)}が設定されていません",
            code="sftp_not_configured",
            retryable=False,
        )
    try:
        target = sftp.target_from_settings(settings, TIMEOUT_SECONDS)
    except sftp.SftpError as exc:
        raise TransferError(exc.message, code=exc.code, retryable=False) from None
    assert target is not None
    return target


def _failure(exc: BaseException, what: str) -> TransferError:
    if isinstance(exc, sftp.SftpLoginFailed):
        return TransferError(
            "SFTPにログインできませんでした。SFTP ログインIDとSFTP パスワードをご確認ください",
            code=exc.code,
            retryable=False,
        )
    if isinstance(exc, sftp.SftpHostKeyMismatch | sftp.SftpConfigError):
        return TransferError(exc.message, code=exc.code, retryable=False)
    if isinstance(exc, sftp.SftpUnreachable):
        return TransferError(exc.message, code=exc.code, retryable=True)
    if isinstance(exc, sftp.SftpError):
        return TransferError(exc.message, code=exc.code, retryable=False)
    return TransferError(
        f"{what}の途中でSFTPサーバとの接続が切れました({type(exc).__name__})",
        code="sftp_connection_lost",
        retryable=True,
    )


async def _with_retries(target: sftp.SftpTarget, what: str, step: Any) -> Any:
    pause = PAUSE_SECONDS
    for attempt in range(1, TRIES + 1):
        try:
            async with sftp.connect(target) as session:
                return await step(session)
        except (TimeoutError, sftp.SftpError, asyncssh.Error, OSError) as exc:
            failure = _failure(exc, what)
            if not failure.retryable or attempt == TRIES:
                raise failure from None
            log.warning("SFTP %s: try %s failed (%s); trying again", what, attempt, failure.code)
            await asyncio.sleep(pause)
            pause *= 2
    raise AssertionError("unreachable")


async def upload(target: sftp.SftpTarget, local: Path, path: str) -> int:
    """Put the local file at `path` on the server, whole; the bytes sent."""

    async def step(session: sftp.SftpSession) -> int:
        return await session.upload(local, path)

    size: int = await _with_retries(target, "洗替依頼ファイルの送信", step)
    return size


async def download(target: sftp.SftpTarget, path: str, local: Path) -> int | None:
    """Fetch `path` into the local file; None when the server has no such file (yet)."""

    async def step(session: sftp.SftpSession) -> int | None:
        if not await session.exists(path):
            return None
        return await session.download(path, local)

    size: int | None = await _with_retries(target, "洗替結果ファイルの取得", step)
    return size
