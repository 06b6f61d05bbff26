"""Idempotency-Key on every POST: the same key and body replay the first response.

The record is inserted before the work runs (a unique (api key, key) makes a concurrent
duplicate wait its turn as 409), and completed with the response. A response of 5xx is
not kept: nothing was done, so a retry with the same key runs again.
"""

import hashlib
import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from kessai.apikeys.models import IdempotencyRecord
from kessai.apikeys.service import Principal
from kessai.core.db import transaction
from kessai.core.errors import Conflict, InvalidInput, KessaiError
from kessai.core.services import Services
from kessai.web.errors import error_body

Handler = Callable[[], Awaitable[tuple[int, Any]]]
MAX_KEY_LENGTH = 255


async def run_idempotent(
    request: Request, services: Services, principal: Principal, handler: Handler
) -> JSONResponse:
    key = request.headers.get("idempotency-key")
    if key is None:
        status, body = await _run(handler)
        return JSONResponse(body, status_code=status)
    if not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidInput(
            f"Idempotency-Key は1〜{MAX_KEY_LENGTH}文字で指定してください",
            code="invalid_idempotency_key",
        )
    raw = await request.body()
    digest = hashlib.sha256(
        request.method.encode() + b" " + request.url.path.encode() + b"\n" + raw
    ).hexdigest()
    now = services.clock.now()
    ttl = timedelta(hours=services.settings.idempotency_ttl_hours)
    replay = await _claim(services, principal.key_id, key, digest, now, ttl)
    if replay is not None:
        return replay
    try:
        status, body = await _run(handler)
    except BaseException:
        await _release(services, principal.key_id, key)
        raise
    if status >= 500:
        await _release(services, principal.key_id, key)
    else:
        async with transaction(services.sessions) as s:
            await s.execute(
                update(IdempotencyRecord)
                .where(
                    IdempotencyRecord.api_key_id == principal.key_id, IdempotencyRecord.key == key
                )
                .values(status_code=status, response_body=json.dumps(body, ensure_ascii=False))
            )
    return JSONResponse(body, status_code=status)


async def _run(handler: Handler) -> tuple[int, Any]:
    try:
        status, body = await handler()
        return status, jsonable_encoder(body)
    except KessaiError as exc:
        return exc.status_code, error_body(exc.code, exc.message, exc.detail)


async def _claim(
    services: Services, key_id: int, key: str, digest: str, now: Any, ttl: timedelta
) -> JSONResponse | None:
    try:
        async with transaction(services.sessions) as s:
            await s.execute(
                delete(IdempotencyRecord).where(
                    IdempotencyRecord.api_key_id == key_id,
                    IdempotencyRecord.key == key,
                    IdempotencyRecord.created_at < now - ttl,
                )
            )
            s.add(
                IdempotencyRecord(api_key_id=key_id, key=key, request_hash=digest, created_at=now)
            )
        return None
    except IntegrityError:
        pass
    async with transaction(services.sessions) as s:
        record = await s.scalar(
            select(IdempotencyRecord).where(
                IdempotencyRecord.api_key_id == key_id, IdempotencyRecord.key == key
            )
        )
    if record is None:  # released meanwhile: let the caller retry
        raise Conflict(
            "同じ Idempotency-Key のリクエストを処理中です", code="idempotency_in_progress"
        )
    if record.request_hash != digest:
        raise InvalidInput(
            "この Idempotency-Key は別の内容のリクエストで使われています",
            code="idempotency_key_reused",
        )
    if record.status_code is None:
        raise Conflict(
            "同じ Idempotency-Key のリクエストを処理中です", code="idempotency_in_progress"
        )
    return JSONResponse(
        json.loads(record.response_body or "null"),
        status_code=record.status_code,
        headers={"Idempotent-Replayed": "true"},
    )


async def _release(services: Services, key_id: int, key: str) -> None:
    async with transaction(services.sessions) as s:
        await s.execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.api_key_id == key_id, IdempotencyRecord.key == key
            )
        )
