"""API keys: shown once at creation, stored as a SHA-256 of a 256-bit secret.

A key is high-entropy random data, not a password, so a fast hash is the right tool
(argon2 is for people's passwords); lookup is by the key's public prefix. Every request
asks the database (one indexed read): a key revoked by any process (`kessai apikey revoke`,
the API, the admin) stops working at once everywhere; no process trusts a copy.
"""

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kessai.apikeys.models import ApiKey
from kessai.apikeys.scopes import Scope
from kessai.core.db import read_transaction, transaction
from kessai.core.errors import InvalidInput, NotFound, Unauthorized
from kessai.core.inputs import check_text

PREFIX = "ks"
ACTOR_PREFIX = "api:"
# The actor "api:<name>" is written to 決済履歴 and 変更履歴 (100 characters each).
MAX_NAME_LENGTH = 100 - len(ACTOR_PREFIX)
# last_used_at is written when it is older than this: a minute's precision for a write at
# most once a minute per key, not one per request.
LAST_USED_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class Principal:
    key_id: int
    name: str
    scope: Scope

    @property
    def actor(self) -> str:
        return f"{ACTOR_PREFIX}{self.name}"


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_scope(raw: str) -> Scope:
    try:
        return Scope(raw.strip().lower())
    except ValueError:
        raise InvalidInput(
            "APIキーの権限は storefront・operator・admin のいずれかで指定してください",
            code="invalid_scope",
            detail={"allowed": [s.value for s in Scope]},
        ) from None


async def create_key(
    session: AsyncSession, name: str, now: datetime, scope: Scope = Scope.ADMIN
) -> str:
    name = check_text(name.strip(), "name")
    if not name or len(name) > MAX_NAME_LENGTH:
        raise InvalidInput(
            f"APIキーの名前は1〜{MAX_NAME_LENGTH}文字で指定してください", code="invalid_name"
        )
    public = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    session.add(
        ApiKey(
            name=name,
            prefix=public,
            secret_hash=_hash(secret),
            scope=Scope(scope).value,
            created_at=now,
        )
    )
    await session.flush()
    return f"{PREFIX}_{public}_{secret}"


async def list_keys(session: AsyncSession) -> Sequence[ApiKey]:
    return (await session.scalars(select(ApiKey).order_by(ApiKey.id))).all()


async def revoke_key(session: AsyncSession, name: str, now: datetime) -> int:
    """Revoke every live key of that name; returns how many were revoked."""
    result = await session.execute(
        update(ApiKey)
        .where(ApiKey.name == name.strip(), ApiKey.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def revoke_key_id(session: AsyncSession, key_id: int, now: datetime) -> ApiKey:
    """Revoke one key by id (revoking a revoked key changes nothing)."""
    key = await session.get(ApiKey, key_id, with_for_update=True)
    if key is None:
        raise NotFound("APIキーが見つかりません", code="api_key_not_found")
    if key.revoked_at is None:
        key.revoked_at = now
    return key


def _token(header: str | None) -> list[str]:
    # The scheme is case-insensitive (RFC 9110 §11.1).
    scheme, _, token = (header or "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("APIキーを Authorization: Bearer ヘッダーで指定してください")
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX:
        raise Unauthorized("APIキーの形式が正しくありません")
    return parts


async def authenticate(
    sessions: async_sessionmaker[AsyncSession], header: str | None, now: datetime
) -> Principal:
    """The key's principal, read from the database on every call; Unauthorized otherwise."""
    parts = _token(header)
    async with read_transaction(sessions) as s:
        row = (
            await s.execute(
                select(
                    ApiKey.id,
                    ApiKey.name,
                    ApiKey.scope,
                    ApiKey.secret_hash,
                    ApiKey.revoked_at,
                    ApiKey.last_used_at,
                ).where(ApiKey.prefix == parts[1])
            )
        ).first()
    if (
        row is None
        or row.revoked_at is not None
        or not hmac.compare_digest(row.secret_hash, _hash(parts[2]))
    ):
        raise Unauthorized("APIキーが無効です")
    if row.last_used_at is None or row.last_used_at <= now - LAST_USED_EVERY:
        async with transaction(sessions) as s:
            await s.execute(
                update(ApiKey)
                .where(
                    ApiKey.id == row.id,
                    or_(
                        ApiKey.last_used_at.is_(None), ApiKey.last_used_at <= now - LAST_USED_EVERY
                    ),
                )
                .values(last_used_at=now)
            )
    return Principal(row.id, row.name, Scope(row.scope))
