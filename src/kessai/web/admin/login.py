"""ログイン・ログアウト."""

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from kessai.core.db import transaction
from kessai.core.errors import Unauthorized
from kessai.users.service import SESSION_TTL, Principal, authenticate, end_session, start_session
from kessai.web.admin.core import (
    CSRF_FIELD,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    AdminContext,
    delete_cookie,
    read_form,
    redirect,
    render,
    set_cookie,
)


def safe_next(raw: object) -> str:
    """Only a path inside the admin: never another site (open redirect)."""
    if (
        isinstance(raw, str)
        and raw.startswith("/admin")
        and not raw.startswith("//")
        and "\\" not in raw
        and all(c.isprintable() for c in raw)
    ):
        return raw
    return "/admin"


def add_login_routes(router: APIRouter, ctx: AdminContext) -> None:
    def login_page(
        request: Request, *, next_url: str, email: str = "", error: str = "", status: int = 200
    ) -> Response:
        # Login CSRF: the form's token must equal the cookie's, which another site can neither
        # read nor set.
        token = secrets.token_urlsafe(32)
        response = render(
            request,
            "login.html",
            {"csrf_token": token, "next": next_url, "email": email, "error": error},
            status_code=status,
        )
        set_cookie(response, request, ctx.services, LOGIN_CSRF_COOKIE, token, max_age=3600)
        return response

    @router.get("/login", summary="ログイン画面")
    async def login_form(
        request: Request, next_url: Annotated[str, Query(alias="next")] = "/admin"
    ) -> Response:
        request.state.services = ctx.services
        if await ctx.principal(request) is not None:
            return redirect(safe_next(next_url))
        return login_page(request, next_url=safe_next(next_url))

    @router.post("/login", summary="ログイン")
    async def login(request: Request) -> Response:
        request.state.services = ctx.services
        form = await read_form(request)
        email = str(form.get("email") or "").strip()[:254]
        password = str(form.get("password") or "")
        next_url = safe_next(form.get("next"))
        cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
        sent = str(form.get(CSRF_FIELD) or "")
        if not cookie or not secrets.compare_digest(cookie.encode(), sent.encode()):
            return login_page(
                request,
                next_url=next_url,
                email=email,
                error="画面の有効期限が切れました。もう一度ログインしてください",
                status=403,
            )
        if not email or not password:
            return login_page(
                request,
                next_url=next_url,
                email=email,
                error="メールアドレスとパスワードを入力してください",
                status=422,
            )
        address = request.client.host if request.client else "-"
        now = ctx.services.clock.now()
        async with transaction(ctx.services.sessions) as s:
            wait = await ctx.throttle.retry_after(s, email, address, now)
        if wait is not None:
            return login_page(
                request,
                next_url=next_url,
                email=email,
                error=f"ログインの失敗が続いたため、{wait}秒ほど待ってから再度お試しください",
                status=429,
            )
        try:
            async with transaction(ctx.services.sessions) as s:
                user = await authenticate(s, email, password, now)
                token = await start_session(s, user, now)
                await ctx.throttle.succeeded(s, email)
        except Unauthorized as exc:
            async with transaction(ctx.services.sessions) as s:
                await ctx.throttle.failed(s, email, address, now)
            return login_page(
                request, next_url=next_url, email=email, error=exc.message, status=401
            )
        response = redirect(next_url)
        set_cookie(
            response,
            request,
            ctx.services,
            SESSION_COOKIE,
            token,
            max_age=int(SESSION_TTL.total_seconds()),
        )
        delete_cookie(response, LOGIN_CSRF_COOKIE)
        return response

    @router.post("/logout", summary="ログアウト")
    async def logout(
        request: Request, _: Annotated[Principal, Depends(ctx.require(csrf=True))]
    ) -> Response:
        async with transaction(ctx.services.sessions) as s:
            await end_session(s, request.cookies.get(SESSION_COOKIE, ""))
        response = redirect("/admin/login", flash="logged_out")
        delete_cookie(response, SESSION_COOKIE)
        return response
