"""/readyz (can this process serve?) beside /healthz (is it alive?)."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from kessai.ops.readiness import run_checks

router = APIRouter(tags=["運用"])


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
