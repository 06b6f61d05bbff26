"""ログイン制限 (/admin/settings/login-lockouts): the accounts and client addresses locked out
by failed logins, shared by every server; an administrator lifts one at once."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from kessai.core.clock import to_tokyo
from kessai.core.db import read_transaction, transaction
from kessai.users.service import Permission, Principal
from kessai.users.throttle import ACCOUNT, ADDRESS
from kessai.web.admin.core import AdminContext, AdminError, read_form, redirect, render

BASE = "/admin/settings/login-lockouts"


def add_lockout_routes(router: APIRouter, ctx: AdminContext) -> None:
    view = Depends(ctx.require(Permission.USERS_MANAGE))
    edit = Depends(ctx.require(Permission.USERS_MANAGE, csrf=True))

    @router.get("/settings/login-lockouts", summary="ログイン制限")
    async def lockouts(request: Request, _: Annotated[Principal, view]) -> Response:
        now = ctx.services.clock.now()
        async with read_transaction(ctx.services.sessions) as s:
            found = await ctx.throttle.lockouts(s, now)
        rows = [
            {
                "kind": lock.kind,
                "kind_label": lock.kind_label,
                "key": lock.key,
                "failures": lock.failures,
                "until": to_tokyo(lock.until).strftime("%Y/%m/%d %H:%M:%S"),
            }
            for lock in found
        ]
        return render(
            request,
            "login_lockouts.html",
            {
                "nav": "login_lockouts",
                "rows": rows,
                "limit": ctx.throttle.limit,
                "address_limit": ctx.throttle.address_limit,
                "minutes": int(ctx.throttle.window.total_seconds() // 60),
            },
        )

    @router.post("/settings/login-lockouts/lift", summary="ログイン制限を解除")
    async def lift(request: Request, _: Annotated[Principal, edit]) -> Response:
        form = await read_form(request)
        kind, key = str(form.get("kind") or ""), str(form.get("key") or "")
        if kind not in (ACCOUNT, ADDRESS) or not key:
            raise AdminError(422, "入力内容に誤りがあります", "解除する制限を選んでください")
        async with transaction(ctx.services.sessions) as s:
            await ctx.throttle.lift(s, kind, key)
        return redirect(BASE, flash="lifted")
