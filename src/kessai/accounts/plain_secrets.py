"""Secrets still in plain `settings` because their field became secret after they were saved
(SBPS's 3DES key and IV were once plain text fields): sealed into `secrets` on upgrade.

`kessai db upgrade` runs `seal_plain_secrets` right after the migrations, in the same command,
also when no migration is pending: an Alembic migration has no master key, and a field can
become secret in a release without any schema change. It is safe while the previous version
serves: a connector reads settings and secrets together (connector_settings), so a value is
found on either side of the move.

Each account is one transaction (read again under a row lock), so a crash leaves every account
either moved or untouched, and running it again finishes the rest and changes nothing else.
Logs and 変更履歴 name the account and the field, never the value.
"""

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kessai.accounts.integrations import secret_keys
from kessai.accounts.integrations.fields import is_blank
from kessai.accounts.models import ProviderAccount
from kessai.accounts.secrets import seal, spec_of
from kessai.accounts.service import HISTORY_ENTITY
from kessai.core.crypto import Keyring
from kessai.core.db import engine_of, read_transaction, transaction
from kessai.history.repository import record_changes

log = logging.getLogger("kessai.accounts")

ACTOR = "system:upgrade"
PLAIN = "(暗号化されずに保存)"
SEALED = "(暗号化して保存)"
DROPPED = "(削除: 暗号化済みの値を使用)"


@dataclass(frozen=True)
class Moved:
    account_id: int
    field: str
    kept_sealed: bool  # both were stored: the sealed value kept, the plain one dropped

    @property
    def done(self) -> str:
        """What happened to the plain value, as the log and `kessai db upgrade` say it."""
        if self.kept_sealed:
            return "削除しました (暗号化済みの値を使用)"
        return "暗号化して保存しました"


def plain_secret_fields(account: ProviderAccount) -> list[str]:
    """The fields the account's integration declares secret that still sit in `settings`."""
    spec = spec_of(account)
    if spec is None:  # no schema to say which fields are secret
        return []
    secret = secret_keys(spec)
    return sorted(k for k in (account.settings or {}) if k in secret)


async def seal_plain_secrets(
    sessions: async_sessionmaker[AsyncSession],
    keyring: Callable[[], Keyring],
    now: datetime,
) -> list[Moved]:
    """Move every account's plain secret values into `secrets`, sealed; what moved.
    `keyring` is called only when a value must be sealed, so a database with nothing to
    seal is upgraded without a master key."""
    async with read_transaction(sessions) as s:
        accounts = (await s.scalars(select(ProviderAccount).order_by(ProviderAccount.id))).all()
        pending = [a.id for a in accounts if plain_secret_fields(a)]
    if not pending:
        return []
    ring = functools.cache(keyring)
    moved: list[Moved] = []
    for account_id in pending:
        async with transaction(sessions) as s:
            account = await s.get(ProviderAccount, account_id, with_for_update=True)
            if account is None:  # deleted meanwhile: nothing left to move
                continue
            await _zero_freed_space(s)
            done = await _seal_account(s, ring, account, now)
        for m in done:  # after the commit: the log says what is stored
            log.info(
                "平文で保存されていた秘密情報を%s: account=%s field=%s",
                m.done,
                m.account_id,
                m.field,
            )
        moved += done
    await _checkpoint(sessions)
    return moved


async def _zero_freed_space(s: AsyncSession) -> None:
    """SQLite keeps a rewritten row's old bytes in the page's free space unless told to
    zero them (some builds do by default, most not): the plain value would stay in the file."""
    if s.get_bind().dialect.name == "sqlite":
        await s.execute(text("PRAGMA secure_delete=ON"))


async def _checkpoint(sessions: async_sessionmaker[AsyncSession]) -> None:
    """On SQLite, copy the rewritten pages into the database file and empty the WAL now, so
    neither keeps the page with the plain value while other processes hold the file open.
    Outside any transaction: SQLite checkpoints only there."""
    engine = engine_of(sessions)
    if engine.dialect.name != "sqlite":
        return

    def run(sync: Connection) -> None:
        cursor = sync.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            cursor.close()

    async with engine.connect() as conn:
        await conn.run_sync(run)


async def _seal_account(
    s: AsyncSession, keyring: Callable[[], Keyring], account: ProviderAccount, now: datetime
) -> list[Moved]:
    fields = plain_secret_fields(account)
    if not fields:  # another run got here first
        return []
    spec = spec_of(account)
    settings = dict(account.settings or {})
    secrets = dict(account.secrets or {})
    moved: list[Moved] = []
    for key in fields:
        value = settings.pop(key)
        if is_blank(value):  # saved empty: nothing to keep
            continue
        kept = bool(secrets.get(key))
        if not kept:
            secrets[key] = seal(keyring(), account.id, key, str(value))
        moved.append(Moved(account.id, key, kept))
        label = spec.field(key).label if spec else key
        await record_changes(
            s,
            entity=HISTORY_ENTITY,
            entity_id=account.id,
            changes={key: (PLAIN, DROPPED if kept else SEALED)},
            actor=ACTOR,
            at=now,
            reason=label,
        )
    account.settings = settings  # new dicts: the JSON columns see the change
    account.secrets = secrets
    return moved
