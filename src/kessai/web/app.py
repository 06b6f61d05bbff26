"""The FastAPI application: REST API under /api/v1, OpenAPI at /openapi.json, docs at /docs."""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from kessai import __version__
from kessai.accounts import connection_tests  # registers each connector's 接続テスト
from kessai.accounts.account_endpoints import router as provider_accounts_router
from kessai.accounts.endpoints import router as payment_methods_router
from kessai.accounts.key_exchange_endpoints import key_share
from kessai.accounts.key_exchange_endpoints import router as key_exchange_router
from kessai.apikeys.endpoints import router as api_keys_router
from kessai.automation.endpoints import router as automation_router
from kessai.customers.endpoints import router as customers_router
from kessai.imports.endpoints import router as imports_router
from kessai.inbox.endpoints import inbox as provider_notifications
from kessai.inbox.endpoints import router as inbox_router
from kessai.jobs.endpoints import router as jobs_router
from kessai.jobs.schedules import run_scheduler
from kessai.notifications.endpoints import router as mails_router
from kessai.notifications.template_endpoints import router as mail_templates_router
from kessai.ops.endpoints import router as ops_router
from kessai.ops.requestlog import RequestContext
from kessai.orders.endpoints import router as orders_router
from kessai.payments.bulk.endpoints import router as bulk_router
from kessai.payments.endpoints import router as payments_router
from kessai.recurring.endpoints import router as recurring_router
from kessai.services import Services, build_services
from kessai.shop.endpoints import router as shop_router
from kessai.subscriptions.endpoints import router as subscriptions_router
from kessai.web import errors, openapi
from kessai.web.admin import admin_router
from kessai.web.fast_actions import FastPaymentActions
from kessai.web.input_policy import InputPolicy
from kessai.web.sandbox import router as sandbox_router
from kessai.webhooks.delivery import Pump
from kessai.webhooks.endpoints import router as webhooks_router

if TYPE_CHECKING:
    from kessai.providers.kit import Closable

__all__ = ["connection_tests", "create_app"]

SCHEDULER_INTERVAL_SECONDS = 15

DESCRIPTION = """
kessai は日本のEC向け決済バックオフィスです。受注の決済状況(オーソリ → 売上 → 取消、金額変更、
強制売上、再オーソリ)を決済代行会社ごとのルールどおりに進めます。

認証: `Authorization: Bearer <APIキー>` (`kessai apikey create NAME --scope SCOPE` で発行)。
すべての POST は `Idempotency-Key` ヘッダーに対応します: 同じキー・同じ内容なら24時間、
最初の応答を再送します (ヘッダー `Idempotent-Replayed: true`)。同じキーで別の内容は
422 `idempotency_key_reused`、処理中は 409 `idempotency_in_progress`。
5xx の応答は保存されないため、同じキーで再試行できます。

エラーは `{code, message, detail}` の JSON です: 401 APIキーなし・無効、403 キーの権限
(storefront / operator / admin) の外、404 受注・処理がない、
409 決済状況 (`illegal_transition`) や決済サービスのルール (`rule_refused` など) で不可、
422 入力の誤り、502 決済サービスに接続できなかった (送信されていない)。

サンドボックス環境 (既定) では `POST /api/v1/sandbox/clock` で時計を進められ、決済処理の本文に
`{"sandbox": {"scenario": "decline"}}` などを付けて擬似決済の結果を選べます。
"""


def create_app(services: Services | None = None) -> FastAPI:
    owned = services is None
    svc = services or build_services()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await svc.load_clock()
        # The embedded default: no broker, so this process also keeps the calendar.
        beat = None
        if owned and not svc.settings.broker_url:
            beat = asyncio.create_task(run_scheduler(svc, SCHEDULER_INTERVAL_SECONDS))
        # Every serving process relays and sends webhooks (claims keep them from doubling).
        pump = asyncio.create_task(Pump(svc).run()) if owned else None
        side_servers = await start_side_simulators(app, svc) if owned else []
        yield
        for server in side_servers:
            server.close()
        for task in (beat, pump):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
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
    openapi.install(app)
    app.add_middleware(FastPaymentActions, services=svc)
    app.add_middleware(InputPolicy)  # before any route reads the request
    app.add_middleware(RequestContext)  # outermost: request id, access log, HTTP metrics
    app.include_router(provider_accounts_router)
    app.include_router(payment_methods_router)
    app.include_router(customers_router)
    app.include_router(orders_router)
    app.include_router(payments_router)
    app.include_router(subscriptions_router)
    app.include_router(recurring_router)
    app.include_router(bulk_router)
    app.include_router(imports_router)
    app.include_router(jobs_router)
    app.include_router(shop_router)
    app.include_router(mails_router)
    app.include_router(webhooks_router)
    app.include_router(mail_templates_router)
    app.include_router(automation_router)
    app.include_router(ops_router)  # /readyz
    app.include_router(api_keys_router)
    app.include_router(sandbox_router)  # answers 409 sandbox_only in production
    app.include_router(inbox_router)
    app.include_router(provider_notifications)  # /webhooks/<provider>/<account>: the providers post
    app.include_router(key_share)  # /key-exchange/<provider>/<account>: keys handed over
    app.include_router(key_exchange_router)
    app.include_router(admin_router(svc))  # 管理画面 /admin
    if svc.settings.sandbox:
        mount_simulators(app, svc)

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/docs")

    @app.get("/healthz", tags=["運用"], summary="稼働確認")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "env": svc.settings.env.value}

    return app


def mount_simulators(app: FastAPI, svc: Services) -> None:
    """Sandbox only: each declared provider's simulator at /sim/<path>, on kessai's own
    (movable) clock, its pages waiting for a person where the provider's would."""
    from kessai.providers.installed import PROVIDERS
    from kessai.providers.kit import SimulatorContext

    simulators: dict[str, Any] = {}
    for provider in PROVIDERS:
        if provider.simulator is not None and provider.sim_path:
            context = SimulatorContext(svc.clock.now, svc.sessions, for_people=True)
            simulators[provider.sim_path] = provider.simulator(context)
            app.mount(f"/sim/{provider.sim_path}", simulators[provider.sim_path])
    app.state.simulators = simulators


async def start_side_simulators(app: FastAPI, svc: Services) -> "list[Closable]":
    """Sandbox only: the servers beside the mounted simulators their providers declare
    (GMO PG: the SFTP side of 自動洗替, on KESSAI_SIM_SFTP_PORT)."""
    from kessai.providers.installed import PROVIDERS

    started: list[Closable] = []
    mounted = getattr(app.state, "simulators", {})
    for provider in PROVIDERS:
        sim_app = mounted.get(provider.sim_path)
        if provider.side_simulator is None or sim_app is None or not svc.settings.sandbox:
            continue
        try:
            server = await provider.side_simulator(sim_app, svc.settings)
        except OSError as exc:  # the port is taken: the rest of the sandbox still works
            logging.getLogger("kessai.sim").warning(
                "%s: side simulator not started: %s", provider.title, exc
            )
            continue
        if server is not None:
            started.append(server)
    return started
