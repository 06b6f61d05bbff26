"""/api/v1/imports: 出荷CSVインポート and 決済状況CSV一括更新, each as a job (202).

Idempotency-Key works as on every POST, kept with the job: the same key and the same
file give the same job (Idempotent-Replayed: true); the same key with another file is
422 idempotency_key_reused. (A multipart body differs on every send by its boundary,
so the file's own digest is compared, not the request's bytes.)
"""

import hashlib
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse

from kessai.core.errors import InvalidInput
from kessai.imports import service
from kessai.imports.csvin import MAX_BYTES, check_size
from kessai.jobs.models import Job
from kessai.jobs.schemas import JobOut
from kessai.web.deps import PrincipalDep, ServicesDep
from kessai.web.idempotency import MAX_KEY_LENGTH, REPLAYED_HEADER

router = APIRouter(prefix="/api/v1/imports", tags=["CSVインポート"])

ENCODING_HELP = "文字コード: auto (UTF-8 か CP932 を判別、既定)・utf-8・cp932"
RESPONSES: dict[int | str, dict[str, object]] = {
    202: {"description": "ジョブを受け付けた。行ごとの結果は GET /api/v1/jobs/{id}/items.csv"},
    422: {"description": "ヘッダーの誤り (invalid_csv_header)・文字コード・空のファイル"},
}


async def _read(file: UploadFile) -> tuple[bytes, str]:
    raw = await file.read(MAX_BYTES + 1)
    check_size(raw)
    return raw, file.filename or "upload.csv"


def _dedupe_key(request: Request, key_id: int, kind: str) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    if not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidInput(
            f"Idempotency-Key は1〜{MAX_KEY_LENGTH}文字で指定してください",
            code="invalid_idempotency_key",
        )
    digest = hashlib.sha256(key.encode()).hexdigest()[:40]
    return f"api:{key_id}:{kind}:{digest}"


def _accepted(job: Job, new: bool) -> JSONResponse:
    body = JobOut.of(job).model_dump(mode="json")
    return JSONResponse(body, status_code=202, headers={} if new else {REPLAYED_HEADER: "true"})


@router.post(
    "/shipments",
    status_code=202,
    response_model=JobOut,
    summary="出荷CSVインポート (配送伝票番号・発送完了日の登録、同時に売上処理も可)",
    responses=RESPONSES,
)
async def import_shipments(
    request: Request,
    services: ServicesDep,
    principal: PrincipalDep,
    file: Annotated[
        UploadFile,
        File(
            description="CSV: 受注ID・受注番号・取引IDのいずれか、配送伝票番号、発送完了日 "
            "(必須)、配送業者名 (任意)"
        ),
    ],
    capture: Annotated[bool, Form(description="同時に売上処理を行う (後払いは出荷報告)")] = False,
    encoding: Annotated[str, Form(description=ENCODING_HELP, max_length=20)] = "auto",
) -> JSONResponse:
    raw, filename = await _read(file)
    job, new = await service.submit_shipments(
        services,
        raw,
        filename=filename,
        encoding=encoding,
        capture=capture,
        actor=principal.actor,
        dedupe_key=_dedupe_key(request, principal.key_id, "shipments"),
    )
    return _accepted(job, new)


@router.post(
    "/payment-statuses",
    status_code=202,
    response_model=JobOut,
    summary="決済状況CSV一括更新 (受注ごとに売上・取消・再オーソリ・強制売上・強制取消)",
    responses=RESPONSES,
)
async def import_payment_statuses(
    request: Request,
    services: ServicesDep,
    principal: PrincipalDep,
    file: Annotated[
        UploadFile,
        File(
            description="CSV: 受注ID または 受注番号、処理 (売上処理・取消処理・再オーソリ処理・"
            "強制売上処理・強制取消処理)"
        ),
    ],
    encoding: Annotated[str, Form(description=ENCODING_HELP, max_length=20)] = "auto",
) -> JSONResponse:
    raw, filename = await _read(file)
    job, new = await service.submit_payment_statuses(
        services,
        raw,
        filename=filename,
        encoding=encoding,
        actor=principal.actor,
        dedupe_key=_dedupe_key(request, principal.key_id, "payment-statuses"),
    )
    return _accepted(job, new)
