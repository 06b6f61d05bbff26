"""The FastAPI application: REST API under /api/v1, OpenAPI at /openapi.json, docs at /docs."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from kessai import __version__
from kessai.accounts.endpoints import router as payment_methods_router
from kessai.core.services import Services, build_services
from kessai.orders.endpoints import router as orders_router
from kessai.payments.endpoints import router as payments_router
from kessai.web import errors
from kessai.web.sandbox import router as sandbox_router

DESCRIPTION = """
kessai は日本のEC向け決済バックオフィスです。受注の決済状況(オーソリ → 売上 → 取消、金額変更、
強制売上、再オーソリ)を決済代行会社ごとのルールどおりに進めます。

認証: `Authorization: Bearer <APIキー>` (`kessai apikey create NAME` で発行)。
すべての POST は `Idempotency-Key` ヘッダーに対応します (同じキー・同じ内容なら最初の応答を再送)。
エラーは `{code, message, detail}` の JSON です。
"""


def create_app(services: Services | None = None) -> FastAPI:
    owned = services is None
    svc = services or build_services()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await svc.load_clock()
        yield
        if owned:
            await svc.close()

    app = FastAPI(
        title="kessai",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.services = svc
    errors.install(app)
    app.include_router(payment_methods_router)
    app.include_router(orders_router)
    app.include_router(payments_router)
    app.include_router(sandbox_router)  # answers 409 sandbox_only in production

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/docs")

    @app.get("/healthz", tags=["運用"], summary="稼働確認")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "env": svc.settings.env.value}

    return app
