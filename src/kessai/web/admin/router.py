"""The admin UI under /admin: one router to include in the app."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.responses import FileResponse

from kessai.services import Services
from kessai.users.service import Principal
from kessai.users.throttle import LoginThrottle
from kessai.web.admin.account_key_exchange import add_key_exchange_routes
from kessai.web.admin.accounts import add_account_routes
from kessai.web.admin.api_keys import add_api_key_routes
from kessai.web.admin.automation import add_automation_routes
from kessai.web.admin.core import STATIC_DIR, AdminContext, AdminError, AdminRoute, redirect
from kessai.web.admin.customers import add_customer_routes
from kessai.web.admin.dashboard import add_dashboard_routes
from kessai.web.admin.imports import add_import_routes
from kessai.web.admin.jobs import add_job_routes
from kessai.web.admin.lockouts import add_lockout_routes
from kessai.web.admin.login import add_login_routes
from kessai.web.admin.mail import add_mail_routes
from kessai.web.admin.order_detail import add_order_detail_routes
from kessai.web.admin.orders import add_order_routes
from kessai.web.admin.sandbox_shop import add_sandbox_shop_routes
from kessai.web.admin.settings import add_settings_routes
from kessai.web.admin.subscriptions import add_subscription_routes
from kessai.web.admin.webhooks import add_webhook_routes

# Served by name from a fixed list: no path from the request ever reaches the file system.
STATIC_FILES = {
    "admin.css": "text/css; charset=utf-8",
    "vendor/htmx.min.js": "text/javascript; charset=utf-8",
    "sandbox-shop.js": "text/javascript; charset=utf-8",
}


def admin_router(services: Services, *, throttle: LoginThrottle | None = None) -> APIRouter:
    """Everything under /admin, static files included (`app.include_router(admin_router(svc))`)."""
    ctx = AdminContext(services, throttle or LoginThrottle())
    router = APIRouter(prefix="/admin", route_class=AdminRoute, include_in_schema=False)

    @router.get("", summary="管理画面")
    async def home(_: Annotated[Principal, Depends(ctx.require())]) -> Response:
        return redirect("/admin/dashboard")

    @router.get("/static/{name:path}", summary="静的ファイル")
    async def static(request: Request, name: Annotated[str, Path(max_length=100)]) -> Response:
        media_type = STATIC_FILES.get(name)
        if media_type is None:
            raise AdminError(404, "見つかりませんでした", "指定されたファイルは存在しません")
        return FileResponse(
            STATIC_DIR / name,
            media_type=media_type,
            headers={"Cache-Control": "public, max-age=3600"},
        )

    add_login_routes(router, ctx)
    add_order_routes(router, ctx)
    add_order_detail_routes(router, ctx)
    add_dashboard_routes(router, ctx)
    add_subscription_routes(router, ctx)
    add_customer_routes(router, ctx)
    add_sandbox_shop_routes(router, ctx)
    add_settings_routes(router, ctx)
    add_account_routes(router, ctx)
    add_key_exchange_routes(router, ctx)
    add_job_routes(router, ctx)
    add_import_routes(router, ctx)
    add_automation_routes(router, ctx)
    add_mail_routes(router, ctx)
    add_webhook_routes(router, ctx)
    add_api_key_routes(router, ctx)
    add_lockout_routes(router, ctx)
    return router
