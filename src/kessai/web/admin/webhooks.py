"""Webhook in the admin: the endpoints (add, 有効/無効, rotate the secret), the delivery log
with each try's status and response, and 手動再送."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import ValidationError

from kessai.core.db import transaction
from kessai.core.errors import KessaiError
from kessai.users.service import Permission, Principal
from kessai.web.admin.core import AdminContext, read_form, redirect, render
from kessai.webhooks import repository as repo
from kessai.webhooks import service
from kessai.webhooks.destination import Policy
from kessai.webhooks.events import EVENT_TYPES
from kessai.webhooks.schemas import DeliveryOut, EndpointIn, EndpointOut, EndpointPatch

Id = Annotated[int, Path(ge=1, le=2**63 - 1)]
BASE = "/admin/settings/webhooks"


def add_webhook_routes(router: APIRouter, ctx: AdminContext) -> None:
    edit = Depends(ctx.require(Permission.SETTINGS_EDIT))
    policy = Policy.of(ctx.services.settings)
    post = Depends(ctx.require(Permission.SETTINGS_EDIT, csrf=True))

    async def page(
        request: Request, *, secret: str | None = None, error: str | None = None
    ) -> Response:
        now = ctx.services.clock.now()
        async with transaction(ctx.services.sessions) as s:
            endpoints = [EndpointOut.of(e, now) for e in await repo.list_endpoints(s)]
            rows = await repo.list_deliveries(
                s, endpoint_id=None, status=None, subject=None, limit=50, offset=0
            )
            logs = await repo.attempts_of(s, [d.id for d, _ in rows])
        deliveries = [DeliveryOut.of(d, e, logs[d.id]) for d, e in rows]
        return render(
            request,
            "webhooks.html",
            {
                "nav": "webhooks",
                "endpoints": endpoints,
                "deliveries": deliveries,
                "event_types": EVENT_TYPES,
                "secret": secret,
                "error": error,
            },
            status_code=422 if error else 200,
        )

    @router.get("/settings/webhooks", summary="Webhook")
    async def show(request: Request, _: Annotated[Principal, edit]) -> Response:
        return await page(request)

    @router.post("/settings/webhooks", summary="Webhook送信先を登録")
    async def create(request: Request, _who: Annotated[Principal, post]) -> Response:
        form = await read_form(request)
        types = [str(t) for t in form.getlist("event_types")]
        try:
            data = EndpointIn(
                url=str(form.get("url") or ""),
                description=str(form.get("description") or ""),
                event_types=types,
            )
            async with transaction(ctx.services.sessions) as s:
                _endpoint, secret = await service.create_endpoint(
                    s, ctx.services.keyring, data, ctx.services.clock.now(), policy
                )
        except ValidationError:
            return await page(request, error="送信先URLを入力してください")
        except KessaiError as exc:
            return await page(request, error=exc.message)
        return await page(request, secret=secret)

    @router.post("/settings/webhooks/{endpoint_id}/toggle", summary="有効/無効")
    async def toggle(endpoint_id: Id, _: Annotated[Principal, post]) -> Response:
        async with transaction(ctx.services.sessions) as s:
            endpoint = await service.endpoint_or_404(s, endpoint_id)
            patch = EndpointPatch(enabled=not endpoint.enabled)
            await service.update_endpoint(s, endpoint_id, patch, ctx.services.clock.now(), policy)
        return redirect(BASE, flash="saved")

    @router.post("/settings/webhooks/{endpoint_id}/rotate", summary="署名シークレットの切り替え")
    async def rotate(
        request: Request, endpoint_id: Id, _who: Annotated[Principal, post]
    ) -> Response:
        from datetime import timedelta

        async with transaction(ctx.services.sessions) as s:
            _endpoint, secret = await service.rotate_secret(
                s, ctx.services.keyring, endpoint_id, timedelta(hours=24), ctx.services.clock.now()
            )
        return await page(request, secret=secret)

    @router.post("/settings/webhooks/deliveries/{delivery_id}/redeliver", summary="手動再送")
    async def redeliver(delivery_id: Id, _: Annotated[Principal, post]) -> Response:
        await service.redeliver(ctx.services, delivery_id)
        return redirect(BASE, flash="saved")
