"""API keys: shown once at creation, stored as a SHA-256 of a 256-bit secret.

A key is high-entropy random data, not a password, so a fast hash is the right tool
(argon2 is for people's passwords); lookup is by the key's public prefix.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kessai.apikeys.models import ApiKey
from kessai.core.errors import InvalidInput, Unauthorized

PREFIX = "ks"
ACTOR_PREFIX = "api:"
# The actor "api:<name>" is written to 決済履歴 and 変更履歴 (100 characters each).
MAX_NAME_LENGTH = 100 - len(ACTOR_PREFIX)


@dataclass(frozen=True)
class Principal:
    key_id: int
    name: str

    @property
    def actor(self) -> str:
        return f"{ACTOR_PREFIX}{self.name}"


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def create_key(session: AsyncSession, name: str, now: datetime) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise InvalidInput(
            f"APIキーの名前は1〜{MAX_NAME_LENGTH}文字で指定してください", code="invalid_name"
        )
    public = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    session.add(ApiKey(name=name, prefix=public, secret_hash=_hash(secret), created_at=now))
    await session.flush()
    return f"{PREFIX}_{public}_{secret}"


async def revoke_key(session: AsyncSession, name: str, now: datetime) -> int:
    """Revoke every live key of that name; returns how many were revoked."""
    result = await session.execute(
        update(ApiKey)
        .where(ApiKey.name == name.strip(), ApiKey.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def authenticate(session: AsyncSession, header: str | None) -> Principal:
    # The scheme is case-insensitive (RFC 9110 §11.1).
    scheme, _, token = (header or "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("APIキーを Authorization: Bearer ヘッダーで指定してください")
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX:
        raise Unauthorized("APIキーの形式が正しくありません")
    key = await session.scalar(select(ApiKey).where(ApiKey.prefix == parts[1]))
    if (
        key is None
        or key.revoked_at is not None
        or not hmac.compare_digest(key.secret_hash, _hash(parts[2]))
    ):
        raise Unauthorized("APIキーが無効です")
    return Principal(key.id, key.name)
