"""/readyz (can this process serve?) beside /healthz (is it alive?), and /metrics."""

import hmac
from ipaddress import IPv4Network, IPv6Network, ip_address

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from kessai.core import metrics
from kessai.core.errors import KessaiError
from kessai.ops import gauges
from kessai.ops.readiness import run_checks

router = APIRouter(tags=["運用"])


class MetricsForbidden(KessaiError):
    status_code = 403
    code = "metrics_forbidden"


@router.get(
    "/readyz",
    summary="準備完了の確認 (データベース・スキーマ・ブローカー・マスターキー)",
    responses={503: {"description": "いずれかの確認が失敗 (checks に理由と対処)"}},
)
async def readyz(request: Request) -> JSONResponse:
    services = request.app.state.services
    checks = await run_checks(services.settings, services.engine)
    ready = all(c.ok for c in checks)
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "checks": [c.as_json() for c in checks]},
        status_code=200 if ready else 503,
        headers={"Cache-Control": "no-store"},
    )


@router.get(
    "/metrics",
    summary="Prometheus のメトリクス (KESSAI_METRICS_ALLOW のアドレスと KESSAI_METRICS_TOKEN のみ)",
    response_class=Response,
    responses={
        200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}},
        403: {"description": "許可されていないアドレス、またはトークンの誤り"},
    },
)
async def prometheus_metrics(request: Request) -> Response:
    services = request.app.state.services
    _allowed(request, services.settings.metrics_allow, services.settings.metrics_token)
    body = metrics.render(await gauges.read(services))
    return Response(body, media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})


def _allowed(
    request: Request, networks: tuple[IPv4Network | IPv6Network, ...], token: str | None
) -> None:
    host = request.client.host if request.client else ""
    try:
        address = ip_address(host)
    except ValueError:
        address = None
    if address is None or not any(address in net for net in networks):
        raise MetricsForbidden(
            "このアドレスからはメトリクスを読めません (KESSAI_METRICS_ALLOW で許可します)"
        )
    if token is None:
        return
    given = request.headers.get("authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        raise MetricsForbidden(
            "メトリクスには Authorization: Bearer <KESSAI_METRICS_TOKEN> が必要です"
        )
