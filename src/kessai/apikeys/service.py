"""API keys: shown once at creation, stored as a SHA-256 of a 256-bit secret.

A key is high-entropy random data, not a password, so a fast hash is the right tool
(argon2 is for people's passwords); lookup is by the key's public prefix.
"""

import asyncio
import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kessai.apikeys.models import ApiKey
from kessai.core.db import read_transaction
from kessai.core.errors import InvalidInput, Unauthorized

PREFIX = "ks"
ACTOR_PREFIX = "api:"
# The actor "api:<name>" is written to 決済履歴 and 変更履歴 (100 characters each).
MAX_NAME_LENGTH = 100 - len(ACTOR_PREFIX)
# How long a process trusts a key it has checked without asking the database again. This
# is also how long a key revoked by another process (`kessai apikey revoke`) still works
# in a running server; a revocation in the same process takes effect at once.
CACHE_SECONDS = 5.0
CACHE_ENTRIES = 1024


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
    KEY_CACHE.clear()
    return int(result.rowcount)  # type: ignore[attr-defined]


class KeyCache:
    """Keys checked recently, by the SHA-256 of the whole token and the database asked."""

    def __init__(
        self,
        ttl: float = CACHE_SECONDS,
        size: int = CACHE_ENTRIES,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.size = size
        self.monotonic = monotonic
        self._entries: dict[tuple[str, str], tuple[float, Principal]] = {}
        self._checking: dict[tuple[str, str], asyncio.Future[Principal]] = {}
        self._cleared = 0  # how many times clear() ran

    def get(self, scope: str, token: str) -> Principal | None:
        entry = self._entries.get((scope, _hash(token)))
        if entry is None or entry[0] <= self.monotonic():
            return None
        return entry[1]

    def put(self, scope: str, token: str, principal: Principal) -> None:
        if len(self._entries) >= self.size:
            self._entries.clear()
        self._entries[(scope, _hash(token))] = (self.monotonic() + self.ttl, principal)

    def clear(self) -> None:
        self._entries.clear()
        # A check already running may have read the key before a revocation: later
        # requests ask again, and what it finds is not kept.
        self._checking.clear()
        self._cleared += 1

    async def check(
        self, scope: str, token: str, check: Callable[[], Awaitable[Principal]]
    ) -> Principal:
        """check() and keep what it finds; requests that ask about the same token while it
        runs share its answer (when an entry expires, every request in flight would ask)."""
        key, cleared = (scope, _hash(token)), self._cleared
        running = self._checking.get(key)
        if running is None:
            running = self._checking[key] = asyncio.ensure_future(check())
            running.add_done_callback(lambda done: self._forget(key, done))
        # Shielded: a caller that goes away does not cancel the others' answer.
        principal = await asyncio.shield(running)
        if cleared == self._cleared:
            self.put(scope, token, principal)
        return principal

    def _forget(self, key: tuple[str, str], done: "asyncio.Future[Principal]") -> None:
        if self._checking.get(key) is done:
            del self._checking[key]


KEY_CACHE = KeyCache()


def _token(header: str | None) -> tuple[str, list[str]]:
    # The scheme is case-insensitive (RFC 9110 §11.1).
    scheme, _, token = (header or "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("APIキーを Authorization: Bearer ヘッダーで指定してください")
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX:
        raise Unauthorized("APIキーの形式が正しくありません")
    return token, parts


async def authenticate_cached(
    sessions: async_sessionmaker[AsyncSession], header: str | None, *, scope: str
) -> Principal:
    """authenticate(), answered from KEY_CACHE while a check of the same token is fresh.
    `scope` names the database (keys of another database are never taken for these)."""
    token, _ = _token(header)
    principal = KEY_CACHE.get(scope, token)
    if principal is not None:
        return principal

    async def check() -> Principal:
        async with read_transaction(sessions) as s:
            return await authenticate(s, header)

    return await KEY_CACHE.check(scope, token, check)


async def authenticate(session: AsyncSession, header: str | None) -> Principal:
    _, parts = _token(header)
    key = await session.scalar(select(ApiKey).where(ApiKey.prefix == parts[1]))
    if (
        key is None
        or key.revoked_at is not None
        or not hmac.compare_digest(key.secret_hash, _hash(parts[2]))
    ):
        raise Unauthorized("APIキーが無効です")
    return Principal(key.id, key.name)
