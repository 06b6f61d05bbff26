"""APIキー管理 (/admin/settings/api-keys): every key with its scope and last use; issue one
(shown once, on the page that issued it) or revoke one (at once, in every process)."""

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response

from kessai.apikeys.models import ApiKey
from kessai.apikeys.scopes import Scope
from kessai.apikeys.service import create_key, list_keys, parse_scope, revoke_key_id
from kessai.core.clock import to_tokyo
from kessai.core.db import read_transaction, transaction
from kessai.core.errors import KessaiError, NotFound
from kessai.core.inputs import MAX_ID
from kessai.users.service import Permission, Principal
from kessai.web.admin.core import AdminContext, AdminError, read_form, redirect, render

BASE = "/admin/settings/api-keys"
KeyId = Annotated[int, Path(ge=1, le=MAX_ID)]


def _when(moment: datetime | None) -> str:
    return "" if moment is None else to_tokyo(moment).strftime("%Y/%m/%d %H:%M")


@dataclass(frozen=True)
class KeyRow:
    id: int
    name: str
    prefix: str
    scope_label: str
    created_at: str
    last_used_at: str
    revoked_at: str

    @classmethod
    def of(cls, key: ApiKey) -> "KeyRow":
        return cls(
            key.id,
            key.name,
            key.prefix,
            Scope(key.scope).label,
            _when(key.created_at),
            _when(key.last_used_at),
            _when(key.revoked_at),
        )


def add_api_key_routes(router: APIRouter, ctx: AdminContext) -> None:
    view = Depends(ctx.require(Permission.API_KEYS_MANAGE))
    edit = Depends(ctx.require(Permission.API_KEYS_MANAGE, csrf=True))

    async def page(
        request: Request, *, issued: str | None = None, error: str = "", status_code: int = 200
    ) -> Response:
        async with read_transaction(ctx.services.sessions) as s:
            rows = [KeyRow.of(k) for k in await list_keys(s)]
        return render(
            request,
            "api_keys.html",
            {
                "nav": "api_keys",
                "rows": rows,
                "scopes": list(Scope),
                "issued": issued,
                "error": error,
            },
            status_code=status_code,
        )

    @router.get("/settings/api-keys", summary="APIキー管理")
    async def api_keys(request: Request, _: Annotated[Principal, view]) -> Response:
        return await page(request)

    @router.post("/settings/api-keys", summary="APIキーを発行")
    async def issue(request: Request, _: Annotated[Principal, edit]) -> Response:
        form = await read_form(request)
        try:
            scope = parse_scope(str(form.get("scope") or ""))
            async with transaction(ctx.services.sessions) as s:
                token = await create_key(
                    s, str(form.get("name") or ""), ctx.services.clock.now(), scope
                )
        except KessaiError as exc:
            return await page(request, error=exc.message, status_code=422)
        # Shown on this page only: the key is not kept anywhere but its hash.
        return await page(request, issued=token)

    @router.post("/settings/api-keys/{key_id}/revoke", summary="APIキーを失効")
    async def revoke(request: Request, key_id: KeyId, _: Annotated[Principal, edit]) -> Response:
        try:
            async with transaction(ctx.services.sessions) as s:
                await revoke_key_id(s, key_id, ctx.services.clock.now())
        except NotFound as exc:
            raise AdminError(404, "見つかりませんでした", exc.message) from None
        return redirect(BASE, flash="revoked")
