"""Settings read once from the environment (KESSAI_*)."""

import os
import re
from dataclasses import dataclass, field
from enum import StrEnum
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path

from kessai.core.errors import ConfigurationError


class Env(StrEnum):
    SANDBOX = "sandbox"
    PRODUCTION = "production"


# /metrics answers only on loopback unless KESSAI_METRICS_ALLOW says otherwise.
DEFAULT_METRICS_ALLOW = (ip_network("127.0.0.0/8"), ip_network("::1/128"))
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./var/kessai.db"
# Sandbox only: the master key generated on first use when none is configured.
DEFAULT_SANDBOX_SECRET_KEY_FILE = Path("var/secret.key")


def normalize_database_url(url: str) -> str:
    """Accept the plain URLs people paste and pick the async driver kessai runs on."""
    if url.startswith(("postgres://", "postgresql://")):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    if url.startswith("sqlite://") and not url.startswith("sqlite+"):
        return "sqlite+aiosqlite://" + url.split("://", 1)[1]
    return url


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    env: Env = Env.SANDBOX
    # An attempt still marked as sent after this many seconds is taken as lost
    # (process died mid-call) and must be reconciled before anything else.
    attempt_lease_seconds: int = 120
    idempotency_ttl_hours: int = 24
    extra: dict[str, str] = field(default_factory=dict)
    # The master key sealing account secrets (kessai.core.keyring reads and checks it):
    # the key itself (base64 or hex of 32 bytes) or a file holding it. Never in repr.
    secret_key: str | None = field(default=None, repr=False)
    secret_key_file: Path | None = None
    # Keys a rotation is moving away from: still read, never used to seal.
    previous_secret_keys: tuple[str, ...] = field(default=(), repr=False)
    # Where jobs go: amqp://… (RabbitMQ) or redis://…; none runs them in this process.
    broker_url: str | None = None
    broker_queue: str = "kessai"  # one queue per installation sharing a broker
    # PostgreSQL connections this process may hold (None: core.db's default); each worker
    # process has its own pool, and the server's max_connections is shared by all.
    db_pool_size: int | None = None
    # SMTP server for customer and shop mails (host:port); none keeps mails in the outbox.
    smtp_url: str | None = None
    # Sandbox: the port of the GMO PG simulator's SFTP server (自動洗替); 0 starts none.
    sim_sftp_port: int = 8122
    log_level: str = "INFO"  # KESSAI_LOG_LEVEL: DEBUG, INFO, WARNING, ERROR
    # Who may read /metrics: client addresses (KESSAI_METRICS_ALLOW, CIDRs) and, when set,
    # a bearer token (KESSAI_METRICS_TOKEN) as well.
    metrics_allow: tuple[IPv4Network | IPv6Network, ...] = DEFAULT_METRICS_ALLOW
    metrics_token: str | None = field(default=None, repr=False)
    # Outbound webhooks (kessai.webhooks.destination): may they reach loopback and private
    # networks (KESSAI_WEBHOOK_ALLOW_PRIVATE), may they go over plain http
    # (KESSAI_WEBHOOK_ALLOW_HTTP)? None: yes in the sandbox, no in production.
    webhook_allow_private: bool | None = None
    webhook_allow_http: bool | None = None

    @property
    def sandbox(self) -> bool:
        return self.env is Env.SANDBOX

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "Settings":
        e = dict(os.environ if environ is None else environ)
        raw_env = e.get("KESSAI_ENV", Env.SANDBOX.value).strip().lower()
        try:
            env = Env(raw_env)
        except ValueError:
            raise ConfigurationError(
                f"KESSAI_ENV は sandbox か production を指定してください (指定値: {raw_env})"
            ) from None
        log_level = e.get("KESSAI_LOG_LEVEL", "").strip().upper() or "INFO"
        if log_level not in LOG_LEVELS:
            raise ConfigurationError(
                f"KESSAI_LOG_LEVEL は {'・'.join(LOG_LEVELS)} のいずれかです (指定値: {log_level})"
            )
        return cls(
            database_url=normalize_database_url(e.get("KESSAI_DATABASE_URL", DEFAULT_DATABASE_URL)),
            env=env,
            attempt_lease_seconds=int(e.get("KESSAI_ATTEMPT_LEASE_SECONDS", "120")),
            idempotency_ttl_hours=int(e.get("KESSAI_IDEMPOTENCY_TTL_HOURS", "24")),
            secret_key=e.get("KESSAI_SECRET_KEY", "").strip() or None,
            secret_key_file=_optional_path(e.get("KESSAI_SECRET_KEY_FILE", "")),
            previous_secret_keys=tuple(
                k for k in re.split(r"[\s,]+", e.get("KESSAI_SECRET_KEY_PREVIOUS", "")) if k
            ),
            broker_url=e.get("KESSAI_BROKER_URL", "").strip() or None,
            broker_queue=e.get("KESSAI_BROKER_QUEUE", "").strip() or "kessai",
            db_pool_size=int(e["KESSAI_DB_POOL_SIZE"]) if e.get("KESSAI_DB_POOL_SIZE") else None,
            smtp_url=e.get("KESSAI_SMTP_URL", "").strip() or None,
            sim_sftp_port=int(e.get("KESSAI_SIM_SFTP_PORT", "8122") or 0),
            log_level=log_level,
            metrics_allow=_networks(e.get("KESSAI_METRICS_ALLOW", "")),
            metrics_token=e.get("KESSAI_METRICS_TOKEN", "").strip() or None,
            webhook_allow_private=_flag(e, "KESSAI_WEBHOOK_ALLOW_PRIVATE"),
            webhook_allow_http=_flag(e, "KESSAI_WEBHOOK_ALLOW_HTTP"),
        )


def _networks(raw: str) -> tuple[IPv4Network | IPv6Network, ...]:
    if not raw.strip():
        return DEFAULT_METRICS_ALLOW
    try:
        return tuple(ip_network(part, strict=False) for part in re.split(r"[\s,]+", raw) if part)
    except ValueError as exc:
        raise ConfigurationError(
            f"KESSAI_METRICS_ALLOW はアドレスかネットワーク (例: 10.0.0.0/8) をカンマ区切りで"
            f"指定してください ({exc})"
        ) from None


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _flag(e: dict[str, str], name: str) -> bool | None:
    """A yes/no setting; unset or empty: None (the default decides)."""
    raw = e.get(name, "").strip().lower()
    if not raw:
        return None
    if raw in _TRUE or raw in _FALSE:
        return raw in _TRUE
    raise ConfigurationError(
        f"{name} は true か false を指定してください (1/0, yes/no, on/off も可。指定値: {raw})"
    )


def _optional_path(raw: str) -> Path | None:
    return Path(raw.strip()).expanduser() if raw.strip() else None


def sqlite_path(database_url: str) -> Path | None:
    """The file behind a SQLite URL, so its folder can be created before connecting."""
    if not database_url.startswith("sqlite"):
        return None
    path = database_url.split(":///", 1)[1] if ":///" in database_url else ""
    if not path or path == ":memory:":
        return None
    return Path(path)
