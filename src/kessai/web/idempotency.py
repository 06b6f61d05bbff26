"""Idempotency-Key on every POST: the same key and body replay the first response.

The record is inserted before the work runs (a unique (api key, key) makes a concurrent
duplicate wait its turn as 409), and completed with the response. The claim is one
upsert: it inserts the record, or takes over one whose 24 hours have passed, or leaves
the live one alone (then it is read and answered from). A response of 5xx is
not kept: nothing was done, so a retry with the same key runs again. A record left
unfinished by a process that died is taken over once the attempt lease has passed; the
payment engine's own write-ahead record then settles whatever the dead request had sent.
"""

import hashlib
import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from functools import cache
from typing import Any, cast

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import Table, bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from kessai.apikeys.models import IdempotencyRecord
from kessai.apikeys.service import Principal
from kessai.core.db import is_postgres
from kessai.core.errors import Conflict, InvalidInput, KessaiError
from kessai.services import Services
from kessai.web.errors import error_body

Handler = Callable[[], Awaitable[tuple[int, Any]]]
MAX_KEY_LENGTH = 255
REPLAYED_HEADER = "Idempotent-Replayed"


def request_digest(method: str, path: str, raw: bytes) -> str:
    """The request's fingerprint; JSON is compared by content, not by spacing or key order."""
    try:
        body = json.dumps(
            json.loads(raw), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
    except ValueError:
        body = raw
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()


async def run_idempotent(
    request: Request, services: Services, principal: Principal, handler: Handler
) -> JSONResponse:
    key = _header(request, b"idempotency-key")
    if key is None:
        status, body = await _run(handler)
        return RenderedJSON(body, status_code=status)
    if not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidInput(
            f"Idempotency-Key は1〜{MAX_KEY_LENGTH}文字で指定してください",
            code="invalid_idempotency_key",
        )
    digest = request_digest(request.method, request.url.path, await request.body())
    claim = await _claim(services, principal.key_id, key, digest)
    if isinstance(claim, JSONResponse):
        return claim
    try:
        status, body = await _run(handler)
    except BaseException:
        await _release(services, principal.key_id, key, claim)
        raise
    if status >= 500:
        await _release(services, principal.key_id, key, claim)
    else:
        # Kept from the moment the response exists (read the clock again: the sandbox clock
        # may have been moved by this very request).
        async with services.engine.begin() as conn:
            await conn.execute(
                _mine(principal.key_id, key, claim).values(
                    status_code=status,
                    response_body=body.decode(),
                    created_at=services.clock.now(),
                )
            )
    return RenderedJSON(body, status_code=status)


def _header(request: Request, name: bytes) -> str | None:
    """request.headers.get(name) (the first one), without building Headers for one look."""
    for key, value in request.scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def _run(handler: Handler) -> tuple[int, bytes]:
    try:
        status, body = await handler()
        if isinstance(body, BaseModel):  # pydantic's own JSON mode: what jsonable_encoder gives
            return status, body.model_dump_json(by_alias=True).encode()
        return status, _dumps(jsonable_encoder(body))
    except KessaiError as exc:
        return exc.status_code, _dumps(error_body(exc.code, exc.message, exc.detail))


def _dumps(content: Any) -> bytes:
    """JSON as JSONResponse renders it."""
    return json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


class RenderedJSON(JSONResponse):
    """A JSONResponse of a document already rendered: written once, sent and kept as is."""

    def render(self, content: Any) -> bytes:
        assert isinstance(content, bytes)
        return content


def _in_progress() -> Conflict:
    return Conflict(
        "同じ Idempotency-Key のリクエストを処理中です。しばらくしてから再度お試しください",
        code="idempotency_in_progress",
    )


async def _claim(services: Services, key_id: int, key: str, digest: str) -> JSONResponse | datetime:
    """Take the key (returns the claim's timestamp, our token) or answer from the record."""
    now = services.clock.now()
    ttl = timedelta(hours=services.settings.idempotency_ttl_hours)
    params = {"api_key_id": key_id, "key": key, "request_hash": digest, "created_at": now}
    async with services.engine.begin() as conn:
        taken = await conn.execute(
            _claim_statement(services.engine), {**params, "expired": now - ttl}
        )
        if taken.first() is not None:
            return now
        record = (await conn.execute(_RECORD, params)).first()
        if record is None:  # released meanwhile: let the caller retry
            raise _in_progress()
        if record.request_hash != digest:
            raise InvalidInput(
                "この Idempotency-Key は別の内容のリクエストで使われています",
                code="idempotency_key_reused",
            )
        if record.status_code is None:
            lease = timedelta(seconds=services.settings.attempt_lease_seconds)
            if record.created_at + lease >= now:
                raise _in_progress()
            # Left unfinished by a process that died: take it over (one winner).
            moved = await conn.execute(_mine(key_id, key, record.created_at).values(created_at=now))
            if moved.rowcount != 1:
                raise _in_progress()
            return now
    return JSONResponse(
        json.loads(record.response_body or "null"),
        status_code=record.status_code,
        headers={REPLAYED_HEADER: "true"},
    )


_RECORDS = cast(Table, IdempotencyRecord.__table__)
_RECORD = select(
    _RECORDS.c.request_hash, _RECORDS.c.status_code, _RECORDS.c.response_body, _RECORDS.c.created_at
).where(_RECORDS.c.api_key_id == bindparam("api_key_id"), _RECORDS.c.key == bindparam("key"))


@cache
def _claim_for(dialect: str) -> Any:
    """INSERT the record; or, where one exists whose time is up, take it over as new."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(_RECORDS).values(
        api_key_id=bindparam("api_key_id"),
        key=bindparam("key"),
        request_hash=bindparam("request_hash"),
        created_at=bindparam("created_at"),
    )
    return stmt.on_conflict_do_update(
        index_elements=[_RECORDS.c.api_key_id, _RECORDS.c.key],
        set_={
            "request_hash": stmt.excluded.request_hash,
            "created_at": stmt.excluded.created_at,
            "status_code": None,
            "response_body": None,
        },
        where=_RECORDS.c.created_at < bindparam("expired", type_=_RECORDS.c.created_at.type),
    ).returning(_RECORDS.c.id)


def _claim_statement(engine: AsyncEngine) -> Any:
    return _claim_for("postgresql" if is_postgres(engine) else "sqlite")


def _mine(key_id: int, key: str, claim: datetime) -> Any:
    """An update of the record only while it is still this request's unfinished claim."""
    return update(IdempotencyRecord).where(
        IdempotencyRecord.api_key_id == key_id,
        IdempotencyRecord.key == key,
        IdempotencyRecord.created_at == claim,
        IdempotencyRecord.status_code.is_(None),
    )


async def _release(services: Services, key_id: int, key: str, claim: datetime) -> None:
    async with services.engine.begin() as conn:
        await conn.execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.api_key_id == key_id,
                IdempotencyRecord.key == key,
                IdempotencyRecord.created_at == claim,
                IdempotencyRecord.status_code.is_(None),
            )
        )
