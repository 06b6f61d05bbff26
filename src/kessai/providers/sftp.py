"""A small SFTP client over asyncssh: log in with a password or a private key, list a directory,
read and write a file. GMO PG's 自動洗替 exchanges its files this way.

Host key: pinned. The server must present the key whose fingerprint (`host_key_fingerprint`,
"SHA256:…" as `ssh-keygen -lf` prints it) the account names; without one nothing is sent at
all (no login, no password): `fetch_host_key` asks the server for its key alone, so the 接続テスト
can show it for the operator to confirm and save. Trusting whatever answers first would
hand the password to whoever answers first.

Nothing from the user's own ~/.ssh (config, keys, known_hosts) nor an ssh-agent is used: an
account logs in with its own credentials only. Passwords and keys never reach a log.
"""

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncssh

log = logging.getLogger("kessai.providers.sftp")

DEFAULT_PORT = 22


class SftpError(Exception):
    """An SFTP failure with a Japanese message safe to show (no credentials in it)."""

    code = "sftp_error"

    def __init__(self, message: str, *, reason: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason  # the underlying error's text, for logs and details


class SftpUnreachable(SftpError):
    code = "sftp_unreachable"


class SftpLoginFailed(SftpError):
    code = "sftp_login_failed"


class SftpHostKeyMismatch(SftpError):
    code = "sftp_host_key_mismatch"


class SftpConfigError(SftpError):
    code = "sftp_config_invalid"


class SftpHostKeyUnconfirmed(SftpError):
    code = "sftp_host_key_unconfirmed"


UNCONFIRMED = (
    "SFTPサーバのホスト鍵が確認されていません。接続テストで表示されるフィンガープリントを"
    "確認し、「SFTP ホスト鍵フィンガープリント」に設定してください"
)


@dataclass(frozen=True)
class SftpTarget:
    host: str
    username: str
    port: int = DEFAULT_PORT
    password: str | None = field(default=None, repr=False)
    private_key: str | None = field(default=None, repr=False)  # OpenSSH or PEM text
    host_key_fingerprint: str | None = None
    connect_timeout_seconds: float = 10.0


@dataclass(frozen=True)
class SftpEntry:
    name: str
    is_dir: bool
    size: int | None
    modified: datetime | None


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def target_from_settings(
    settings: Mapping[str, Any], connect_timeout_seconds: float = 10.0
) -> SftpTarget | None:
    """The SFTP server of a GMO PG account's settings (SFTP 接続先 IP アドレス, SFTP ログインID,
    SFTP パスワード, sftp_port, sftp_host_key_fingerprint and, beyond the schema,
    sftp_private_key), or None when no SFTP field is set."""
    host = _text(settings.get("sftp_host"))
    user = _text(settings.get("sftp_login_id"))
    if host is None and user is None:
        return None
    if host is None or user is None:
        raise SftpConfigError("SFTP 接続先 IP アドレスとSFTP ログインIDの両方を設定してください")
    raw_port = settings.get("sftp_port")
    try:
        port = DEFAULT_PORT if raw_port in (None, "") else int(raw_port)
    except (TypeError, ValueError):
        port = -1
    if not 0 < port < 65536:
        raise SftpConfigError("SFTPのポート番号は1〜65535で設定してください")
    return SftpTarget(
        host=host,
        username=user,
        port=port,
        password=_text(settings.get("sftp_password")),
        private_key=_text(settings.get("sftp_private_key")),
        host_key_fingerprint=_text(settings.get("sftp_host_key_fingerprint")),
        connect_timeout_seconds=connect_timeout_seconds,
    )


class _HostKeyCheck(asyncssh.SSHClient):
    """Accepts exactly the host key whose fingerprint the account names."""

    def __init__(self, fingerprint: str) -> None:
        self.fingerprint = fingerprint
        self.seen: str | None = None

    def validate_host_public_key(
        self, host: str, addr: str, port: int, key: asyncssh.SSHKey
    ) -> bool:
        self.seen = key.get_fingerprint("sha256")
        return self.seen == self.fingerprint


def _client_keys(target: SftpTarget) -> list[asyncssh.SSHKey] | None:
    if not target.private_key:
        return None  # None disables key authentication (no keys from ~/.ssh)
    try:
        return [asyncssh.import_private_key(target.private_key)]
    except (asyncssh.KeyImportError, ValueError) as exc:
        raise SftpConfigError(
            "SFTPの秘密鍵を読み込めませんでした(パスフレーズなしのOpenSSH形式かPEM形式の"
            "秘密鍵を設定してください)",
            reason=type(exc).__name__,
        ) from None


def check_credentials(target: SftpTarget) -> list[asyncssh.SSHKey] | None:
    """The account's own credentials are usable (SftpConfigError otherwise), checked before
    any connection; the client keys to log in with."""
    if not target.password and not target.private_key:
        raise SftpConfigError("SFTPのパスワードか秘密鍵を設定してください")
    return _client_keys(target)


def _connect_options(target: SftpTarget) -> dict[str, Any]:
    client_keys = check_credentials(target)
    options: dict[str, Any] = {
        "port": target.port,
        "username": target.username,
        "password": target.password or None,
        "client_keys": client_keys,
        "agent_path": None,
        "config": [],
        "connect_timeout": target.connect_timeout_seconds,
        "login_timeout": target.connect_timeout_seconds,
        "keepalive_interval": 0,
    }
    if not target.host_key_fingerprint:
        raise SftpHostKeyUnconfirmed(UNCONFIRMED)
    # An empty known-hosts list: every key goes to _HostKeyCheck.validate_host_public_key.
    options["known_hosts"] = asyncssh.import_known_hosts("")
    options["client_factory"] = lambda: _HostKeyCheck(target.host_key_fingerprint or "")
    return options


async def fetch_host_key(target: SftpTarget) -> str:
    """The server's host key fingerprint ("SHA256:…"), from the key exchange alone: no user
    name, password or key is sent."""
    where = f"{target.host}:{target.port}"
    try:
        key = await asyncssh.get_server_host_key(
            target.host,
            target.port,
            config=[],
            options=asyncssh.SSHClientConnectionOptions(
                connect_timeout=target.connect_timeout_seconds
            ),
        )
    except (OSError, TimeoutError, asyncssh.Error) as exc:
        log.info("SFTP %s: no host key (%s)", where, type(exc).__name__)
        raise SftpUnreachable("SFTPサーバに接続できませんでした", reason=str(exc)) from None
    if key is None:
        raise SftpUnreachable("SFTPサーバがホスト鍵を提示しませんでした")
    fingerprint: str = key.get_fingerprint("sha256")
    return fingerprint


def _entry(item: asyncssh.SFTPName) -> SftpEntry:
    attrs = item.attrs
    name = item.filename if isinstance(item.filename, str) else item.filename.decode()
    modified = None if attrs.mtime is None else datetime.fromtimestamp(attrs.mtime, UTC)
    return SftpEntry(
        name=name,
        is_dir=attrs.type == asyncssh.FILEXFER_TYPE_DIRECTORY,
        size=attrs.size,
        modified=modified,
    )


class SftpSession:
    """An open SFTP session (see `connect`)."""

    def __init__(self, target: SftpTarget, sftp: asyncssh.SFTPClient) -> None:
        self.target = target
        self._sftp = sftp

    async def listdir(self, path: str = ".") -> list[SftpEntry]:
        """The entries of `path` (the login directory by default), without . and .."""
        try:
            items = await self._sftp.readdir(path)
        except asyncssh.SFTPError as exc:
            raise SftpError(
                f"SFTPサーバのディレクトリ「{path}」を一覧できませんでした: {exc.reason}",
                reason=exc.reason,
            ) from None
        entries = [_entry(item) for item in items]
        return sorted((e for e in entries if e.name not in (".", "..")), key=lambda e: e.name)

    async def read(self, path: str) -> bytes:
        try:
            async with self._sftp.open(path, "rb") as f:
                data: bytes = await f.read()
        except asyncssh.SFTPError as exc:
            raise SftpError(
                f"SFTPサーバのファイル「{path}」を読み込めませんでした: {exc.reason}",
                reason=exc.reason,
            ) from None
        return data

    async def exists(self, path: str) -> bool:
        try:
            return bool(await self._sftp.exists(path))
        except asyncssh.SFTPError as exc:
            raise SftpError(
                f"SFTPサーバのファイル「{path}」を確認できませんでした: {exc.reason}",
                reason=exc.reason,
            ) from None

    async def upload(self, local: Path, path: str, block: int = 256 * 1024) -> int:
        """Stream a local file to `path`, whole or not at all: it is written as `path.part`
        and renamed over `path` at the end, so the server never sees half a file under the
        real name (a dropped connection leaves only the .part, replaced by the next try)."""
        part = f"{path}.part"
        size = 0
        try:
            async with self._sftp.open(part, "wb") as remote:
                with local.open("rb") as source:
                    while chunk := source.read(block):
                        await remote.write(chunk)
                        size += len(chunk)
            await self._sftp.posix_rename(part, path)
        except asyncssh.SFTPError as exc:
            raise SftpError(
                f"SFTPサーバにファイル「{path}」を書き込めませんでした: {exc.reason}",
                reason=exc.reason,
            ) from None
        return size

    async def download(self, path: str, local: Path, block: int = 256 * 1024) -> int:
        """Stream `path` into a local file; the byte count."""
        size = 0
        try:
            async with self._sftp.open(path, "rb") as remote:
                with local.open("wb") as target:
                    while chunk := await remote.read(block):
                        assert isinstance(chunk, bytes)  # opened in binary mode
                        target.write(chunk)
                        size += len(chunk)
        except asyncssh.SFTPError as exc:
            raise SftpError(
                f"SFTPサーバのファイル「{path}」を読み込めませんでした: {exc.reason}",
                reason=exc.reason,
            ) from None
        return size

    async def write(self, path: str, data: bytes) -> None:
        try:
            async with self._sftp.open(path, "wb") as f:
                await f.write(data)
        except asyncssh.SFTPError as exc:
            raise SftpError(
                f"SFTPサーバにファイル「{path}」を書き込めませんでした: {exc.reason}",
                reason=exc.reason,
            ) from None


@asynccontextmanager
async def connect(target: SftpTarget) -> AsyncIterator[SftpSession]:
    """Log in and open an SFTP session; SftpError subclasses say what went wrong."""
    options = _connect_options(target)
    where = f"{target.host}:{target.port}"
    try:
        conn = await asyncssh.connect(target.host, **options)
    except asyncssh.PermissionDenied as exc:
        log.info("SFTP %s: login refused for %s", where, target.username)
        raise SftpLoginFailed("SFTPにログインできませんでした", reason=exc.reason) from None
    except asyncssh.HostKeyNotVerifiable as exc:
        log.warning("SFTP %s: host key does not match the configured fingerprint", where)
        raise SftpHostKeyMismatch(
            "SFTPサーバのホスト鍵が設定されたフィンガープリントと一致しません", reason=exc.reason
        ) from None
    except (OSError, TimeoutError, asyncssh.Error) as exc:
        log.info("SFTP %s: not connected (%s)", where, type(exc).__name__)
        raise SftpUnreachable("SFTPサーバに接続できませんでした", reason=str(exc)) from None
    try:
        try:
            sftp = await conn.start_sftp_client()
        except (asyncssh.Error, OSError) as exc:
            raise SftpError(
                "SFTPサーバにログインしましたが、SFTPを開始できませんでした", reason=str(exc)
            ) from None
        async with sftp:
            yield SftpSession(target, sftp)
    finally:
        conn.close()
        await conn.wait_closed()
