"""POST /api/v1/orders/bulk-payment-actions: 決済状況一括変更 as a job (202)."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from kessai.jobs.schemas import JobOut
from kessai.payments.bulk import kind  # noqa: F401 - registers the job kind
from kessai.payments.bulk.schemas import BulkActionIn
from kessai.payments.bulk.service import bulk_action, bulk_params, submit_bulk
from kessai.web.deps import PrincipalDep, ServicesDep
from kessai.web.idempotency import run_idempotent

router = APIRouter(prefix="/api/v1/orders", tags=["決済"])


@router.post(
    "/bulk-payment-actions",
    status_code=202,
    response_model=JobOut,
    summary="決済状況一括変更 (売上・取消・再オーソリ・強制売上・強制取消) をジョブで実行",
    responses={
        202: {"description": "ジョブを受け付けた。結果は GET /api/v1/jobs/{id} と items.csv"},
        422: {"description": "処理名・対象・検索条件の誤り"},
    },
)
async def post_bulk_action(
    data: BulkActionIn, request: Request, services: ServicesDep, principal: PrincipalDep
) -> JSONResponse:
    """Each order's result (refused, declined, done) is a row of the job's CSV; the request
    itself is refused only when the operation, the target or the search is wrong."""
    bulk = bulk_action(data.action)
    # Checked before the Idempotency-Key is taken: a refused request leaves no trace.
    params = bulk_params(bulk, order_ids=data.order_ids, search=data.search)

    async def handler() -> tuple[int, object]:
        job, _ = await submit_bulk(services, bulk, params, actor=principal.actor)
        return 202, JobOut.of(job)

    return await run_idempotent(request, services, principal, handler)
