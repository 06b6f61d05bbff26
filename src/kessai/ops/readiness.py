"""Is this process ready to serve? The checks behind `/readyz` and `kessai doctor`.

Each check says what it found and, when something is wrong, what to do, in Japanese and in
English (the doctor prints both; /readyz answers the same words as JSON). No check prints a
password, a key or a query: database and broker URLs are shown with the password hidden.

- database: a connection and `SELECT 1`;
- schema: the database's Alembic revision is this code's head (a database upgraded by a
  newer kessai still serves this one: migrations are written to be safe for the old code,
  see kessai.ops.upgrades);
- broker: only when KESSAI_BROKER_URL is set: a connection to RabbitMQ or a Redis PING;
- secret_key: the master key is configured and readable, and every stored secret was sealed
  by a key this process holds (else each provider call would fail to open its credentials).
"""

import asyncio
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from kessai.core.db import create_engine
from kessai.core.errors import KessaiError
from kessai.core.settings import DEFAULT_SANDBOX_SECRET_KEY_FILE, Settings, sqlite_path
from kessai.welcome import display_url

TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class Check:
    key: str  # database | schema | broker | secret_key: stable, for programs
    title_ja: str
    title_en: str
    ok: bool
    detail_ja: str
    detail_en: str
    fix_ja: str = ""
    fix_en: str = ""

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _ok(key: str, titles: tuple[str, str], ja: str, en: str) -> Check:
    return Check(key, *titles, ok=True, detail_ja=ja, detail_en=en)


def _bad(key: str, titles: tuple[str, str], ja: str, en: str, fix: tuple[str, str]) -> Check:
    return Check(key, *titles, ok=False, detail_ja=ja, detail_en=en, fix_ja=fix[0], fix_en=fix[1])


def _reason(exc: BaseException) -> str:
    """The first line of an error, never the SQL and its values that may follow."""
    if isinstance(exc, TimeoutError):
        seconds = f"{TIMEOUT_SECONDS:.0f}"
        return f"{seconds}秒以内に応答がありません / no answer in {seconds}s"
    first = next(iter(str(exc).strip().splitlines()), "")
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


DATABASE = ("データベース", "Database")
SCHEMA = ("スキーマ (マイグレーション)", "Schema (migrations)")
BROKER = ("ジョブのブローカー", "Job broker")
SECRET_KEY = ("マスターキー", "Master key")


async def check_database(settings: Settings, engine: AsyncEngine) -> Check:
    where = display_url(settings.database_url)
    path = sqlite_path(settings.database_url)
    if path is not None and not path.exists():  # connecting would create an empty one
        return _bad(
            "database",
            DATABASE,
            f"データベースファイル {path} がありません",
            f"the database file {path} does not exist",
            (
                "KESSAI_DATABASE_URL を確認してください (新規なら `kessai db upgrade`)",
                "check KESSAI_DATABASE_URL; to create it, run `kessai db upgrade`",
            ),
        )
    try:
        async with asyncio.timeout(TIMEOUT_SECONDS), engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure to connect is the finding itself
        reason = _reason(exc)
        return _bad(
            "database",
            DATABASE,
            f"{where} に接続できません ({reason})",
            f"cannot connect to {where} ({reason})",
            (
                "KESSAI_DATABASE_URL と、データベースサーバーが起動していることを確認してください",
                "check KESSAI_DATABASE_URL and that the database server is running",
            ),
        )
    return _ok("database", DATABASE, f"{where} に接続できます", f"connected to {where}")


def code_head(settings: Settings) -> str:
    """The newest migration this code knows."""
    from alembic.script import ScriptDirectory

    from kessai.core.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config(settings.database_url)).get_current_head()
    assert head is not None
    return head


async def database_revisions(engine: AsyncEngine) -> set[str]:
    """The database's Alembic revisions; empty when it was never upgraded."""
    async with engine.connect() as conn:
        try:
            rows = await conn.execute(text("SELECT version_num FROM alembic_version"))
        except DBAPIError:  # no alembic_version table
            return set()
        return set(rows.scalars().all())


def known_revisions(settings: Settings) -> set[str]:
    from alembic.script import ScriptDirectory

    from kessai.core.migrate import alembic_config

    script = ScriptDirectory.from_config(alembic_config(settings.database_url))
    return {rev.revision for rev in script.walk_revisions()}


async def check_schema(settings: Settings, engine: AsyncEngine) -> Check:
    head = code_head(settings)
    try:
        async with asyncio.timeout(TIMEOUT_SECONDS):
            current = await database_revisions(engine)
    except Exception as exc:  # the database check names the cause
        reason = _reason(exc)
        return _bad(
            "schema",
            SCHEMA,
            f"リビジョンを読めません ({reason})",
            f"cannot read the revision ({reason})",
            ("先にデータベースの問題を直してください", "fix the database first"),
        )
    upgrade = ("`kessai db upgrade` を実行してください", "run `kessai db upgrade`")
    if head in current:
        return _ok("schema", SCHEMA, f"最新です ({head})", f"at head ({head})")
    if not current:
        return _bad(
            "schema",
            SCHEMA,
            "データベースにスキーマがありません (未実行)",
            "the database was never upgraded",
            upgrade,
        )
    newer = current - known_revisions(settings)
    if newer:
        # A newer kessai upgraded it; its migrations keep this version working meanwhile.
        found = ", ".join(sorted(newer))
        return _ok(
            "schema",
            SCHEMA,
            f"このバージョンより新しいスキーマです ({found})。新しい kessai への入れ替えを"
            "完了してください",
            f"newer than this version ({found}): finish rolling out the new kessai",
        )
    found = ", ".join(sorted(current))
    return _bad(
        "schema",
        SCHEMA,
        f"スキーマが古いままです (現在 {found}、必要 {head})",
        f"the schema is behind (at {found}, needs {head})",
        upgrade,
    )


def _ping_broker(url: str) -> None:
    if url.startswith("amqp"):
        import pika  # type: ignore[import-untyped]  # dramatiq[rabbitmq]'s client

        params = pika.URLParameters(url)
        params.socket_timeout = TIMEOUT_SECONDS
        params.blocked_connection_timeout = TIMEOUT_SECONDS
        params.connection_attempts = 1
        connection = pika.BlockingConnection(params)
        connection.close()
        return
    import redis

    client = redis.Redis.from_url(
        url, socket_connect_timeout=TIMEOUT_SECONDS, socket_timeout=TIMEOUT_SECONDS
    )
    try:
        client.ping()
    finally:
        client.close()


def broker_display(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not URL-shaped: say only its scheme
        return url.split("://", 1)[0] + "://…"


async def check_broker(settings: Settings) -> Check:
    url = settings.broker_url
    if not url:
        return _ok(
            "broker",
            BROKER,
            "未設定: ジョブは kessai serve の中で実行します",
            "not configured: jobs run inside kessai serve",
        )
    where = broker_display(url)
    if not url.startswith(("amqp", "redis", "rediss")):
        return _bad(
            "broker",
            BROKER,
            f"{where} は対応していない形式です",
            f"{where} is not a supported broker URL",
            (
                "KESSAI_BROKER_URL は amqp://… (RabbitMQ) か redis://… (Redis) にしてください",
                "set KESSAI_BROKER_URL to amqp://… (RabbitMQ) or redis://… (Redis)",
            ),
        )
    try:
        async with asyncio.timeout(TIMEOUT_SECONDS + 1):
            await asyncio.to_thread(_ping_broker, url)
    except Exception as exc:  # unreachable, refused, bad credentials: all the finding
        reason = _reason(exc)
        return _bad(
            "broker",
            BROKER,
            f"{where} に接続できません ({reason})",
            f"cannot connect to {where} ({reason})",
            (
                "KESSAI_BROKER_URL と、RabbitMQ / Redis が起動していることを確認してください",
                "check KESSAI_BROKER_URL and that RabbitMQ / Redis is running",
            ),
        )
    return _ok("broker", BROKER, f"{where} に接続できます", f"connected to {where}")


_KEY_FIX = (
    "KESSAI_SECRET_KEY (32バイトの鍵を base64 か 16進数で) か KESSAI_SECRET_KEY_FILE を設定して"
    "ください (生成: kessai secrets generate-key)",
    "set KESSAI_SECRET_KEY (32 bytes as base64 or hex) or KESSAI_SECRET_KEY_FILE "
    "(generate one with `kessai secrets generate-key`)",
)


async def check_secret_key(settings: Settings, engine: AsyncEngine | None) -> Check:
    from kessai.core.keyring import load_keyring, read_key_file

    configured = settings.secret_key is not None or settings.secret_key_file is not None
    if not configured and settings.sandbox and not DEFAULT_SANDBOX_SECRET_KEY_FILE.exists():
        # `load_keyring` would write one now; the doctor only looks.
        return _ok(
            "secret_key",
            SECRET_KEY,
            f"未設定: サンドボックスでは初回に {DEFAULT_SANDBOX_SECRET_KEY_FILE} を作成します",
            f"not set: the sandbox creates {DEFAULT_SANDBOX_SECRET_KEY_FILE} on first use",
        )
    try:
        if not configured and settings.sandbox:
            read_key_file(DEFAULT_SANDBOX_SECRET_KEY_FILE)
        keyring = load_keyring(settings)
    except KessaiError as exc:
        return _bad("secret_key", SECRET_KEY, exc.message, _english(exc), _KEY_FIX)
    stale = await _sealed_by_other_keys(engine, set(keyring.key_ids)) if engine else {}
    if stale:
        ids = ", ".join(f"{k} ({n}件)" for k, n in sorted(stale.items()))
        return _bad(
            "secret_key",
            SECRET_KEY,
            f"保存済みの秘密情報が別のマスターキーで暗号化されています: 鍵ID {ids}",
            f"stored secrets are sealed by another master key: key id {ids}",
            (
                "その秘密情報を暗号化した鍵を KESSAI_SECRET_KEY に (ローテーション中は旧鍵を "
                "KESSAI_SECRET_KEY_PREVIOUS に) 設定してください",
                "set the key that sealed them as KESSAI_SECRET_KEY (during a rotation, the old "
                "one as KESSAI_SECRET_KEY_PREVIOUS)",
            ),
        )
    return _ok(
        "secret_key",
        SECRET_KEY,
        f"読み込めました (鍵ID {keyring.key_id})",
        f"loaded (key id {keyring.key_id})",
    )


def _english(exc: KessaiError) -> str:
    if "本番環境" in exc.message:
        return "production (KESSAI_ENV=production) needs a master key and none is set"
    return "the master key cannot be read or is malformed (see the Japanese line)"


async def _sealed_by_other_keys(engine: AsyncEngine, held: set[str]) -> dict[str, int]:
    """Key ids of stored secrets that no key of this process opens (none when unreadable:
    the database and schema checks report that)."""
    from kessai.accounts.models import ProviderAccount
    from kessai.core.crypto import token_key_id

    try:
        async with asyncio.timeout(TIMEOUT_SECONDS), engine.connect() as conn:
            rows = (await conn.execute(select(ProviderAccount.secrets))).scalars().all()
    except Exception:  # reported by the other checks
        return {}
    found: dict[str, int] = {}
    for secrets in rows:
        for token in (secrets or {}).values():
            try:
                key = token_key_id(token)
            except KessaiError:
                key = "?"
            if key not in held:
                found[key] = found.get(key, 0) + 1
    return found


async def run_checks(settings: Settings, engine: AsyncEngine | None = None) -> list[Check]:
    """Every check, in the order a person fixes them; `engine` is the process's own when it
    has one (the API), else one is made for the doctor."""
    own = engine is None
    db = engine or create_engine(settings.database_url)
    try:
        database = await check_database(settings, db)
        schema = await check_schema(settings, db) if database.ok else _unchecked()
        broker = await check_broker(settings)
        secret_key = await check_secret_key(settings, db if database.ok else None)
        return [database, schema, broker, secret_key]
    finally:
        if own:
            await db.dispose()


def _unchecked() -> Check:
    return _bad(
        "schema",
        SCHEMA,
        "データベースに接続できないため確認していません",
        "not checked: the database is unreachable",
        ("先にデータベースの問題を直してください", "fix the database first"),
    )


def settings_error_check(error: KessaiError | ValueError) -> Check:
    """What the doctor says when the settings themselves cannot be read."""
    message = error.message if isinstance(error, KessaiError) else str(error)
    return _bad(
        "settings",
        ("設定", "Settings"),
        message,
        "the KESSAI_* environment cannot be read (see the Japanese line)",
        ("環境変数 KESSAI_* を確認してください", "check the KESSAI_* environment variables"),
    )
