"""What every admin screen shares: templates, the login check, CSRF, flash messages, and the
route class that turns errors into Japanese HTML pages (the REST API answers JSON instead)."""

import ipaddress
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData

from kessai.accounts.connection import NOTICE as NOT_CONNECTED
from kessai.core.db import transaction
from kessai.core.errors import KessaiError
from kessai.services import Services
from kessai.users.roles import role_grants
from kessai.users.service import Permission, Principal, load_session
from kessai.users.throttle import LoginThrottle

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")

SESSION_COOKIE = "kessai_admin_session"
LOGIN_CSRF_COOKIE = "kessai_admin_login_csrf"
FLASH_COOKIE = "kessai_admin_flash"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
# Uploaded keys and banners are at most 1 MB each; the whole form is refused past this.
MAX_FORM_BYTES = 8 * 1024 * 1024

# Flash messages travel as a code in a short-lived cookie, never as free text.
FLASHES = {
    "created": "外部連携アカウントを登録しました",
    "saved": "設定を保存しました",
    "logged_out": "ログアウトしました",
    "mail_queued": "決済方法変更のご案内を送信しました",
    "action_succeeded": "処理が完了しました",
    "action_local": "決済状況を更新しました(決済サービスへの送信はありません)",
    "action_declined": (
        "決済サービスでエラーになりました。決済履歴のコードとメッセージをご確認ください"
    ),
    "action_pending": "決済サービスの結果待ちです",
    "action_unknown": (
        "決済サービスの応答を確認できませんでした。決済照会で結果を確認してください"
    ),
    "action_not_sent": (
        "決済サービスに接続できませんでした(送信されていません)。時間をおいて再度お試しください"
    ),
    "revoked": "APIキーを失効させました",
    "lifted": "ログイン制限を解除しました",
}

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class AdminError(Exception):
    """Shown as an HTML page (or, for htmx, a result line) with this status."""

    def __init__(self, status_code: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.title = title
        self.message = message


class LoginRequired(Exception):
    pass


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def _is_loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


def secure_cookies(request: Request, services: Services) -> bool:
    """Secure cookies on HTTPS, and in production whenever the browser is not on loopback."""
    if request.url.scheme == "https":
        return True
    return not services.settings.sandbox and not _is_loopback(request.url.hostname)


def set_cookie(
    response: Response, request: Request, services: Services, name: str, value: str, max_age: int
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/admin",
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request, services),
    )


def delete_cookie(response: Response, name: str) -> None:
    response.delete_cookie(name, path="/admin", httponly=True, samesite="lax")


def redirect(url: str, *, flash: str | None = None) -> Response:
    response = RedirectResponse(url, status_code=303)
    if flash is not None:
        assert flash in FLASHES
        response.set_cookie(
            FLASH_COOKIE, flash, max_age=60, path="/admin", httponly=True, samesite="lax"
        )
    return response


def render(
    request: Request,
    name: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    """A page, with the signed-in principal (if any), the pending flash message and the nav."""
    ctx: dict[str, Any] = {
        "principal": getattr(request.state, "principal", None),
        "services": getattr(request.state, "services", None),
        "flash": FLASHES.get(request.cookies.get(FLASH_COOKIE, "")),
        "Permission": Permission,
        "NOT_CONNECTED": NOT_CONNECTED,
        "nav": "",
    }
    ctx.update(context or {})
    response = templates.TemplateResponse(request, name, ctx, status_code=status_code)
    if FLASH_COOKIE in request.cookies:
        delete_cookie(response, FLASH_COOKIE)
    return response


def error_response(request: Request, status_code: int, title: str, message: str) -> Response:
    if is_htmx(request):
        # htmx swaps only 2xx answers: the failure is shown as the result line.
        return render(request, "_result.html", {"ok": False, "message": message})
    return render(
        request, "error.html", {"title": title, "message": message}, status_code=status_code
    )


ERROR_TITLES = {401: "ログインが必要です", 403: "権限がありません", 404: "見つかりませんでした"}


class AdminRoute(APIRoute):
    """Admin answers are HTML: a missing login redirects, an error is a Japanese page."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                response = await original(request)
            except LoginRequired:
                target = request.url.path
                if request.method != "GET" or is_htmx(request):
                    target = "/admin"
                url = f"/admin/login?next={quote(target, safe='/')}"
                if is_htmx(request):
                    response = Response(status_code=200, headers={"HX-Redirect": url})
                else:
                    response = RedirectResponse(url, status_code=303)
            except AdminError as exc:
                response = error_response(request, exc.status_code, exc.title, exc.message)
            except KessaiError as exc:
                title = ERROR_TITLES.get(exc.status_code, "処理できませんでした")
                response = error_response(request, exc.status_code, title, exc.message)
            except RequestValidationError:
                response = error_response(
                    request, 404, ERROR_TITLES[404], "指定されたページは存在しません"
                )
            for name, value in SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
            return response

        return handler


@dataclass
class AdminContext:
    services: Services
    throttle: LoginThrottle = field(default_factory=LoginThrottle)

    async def principal(self, request: Request) -> Principal | None:
        token = request.cookies.get(SESSION_COOKIE)
        if not token:
            return None
        async with transaction(self.services.sessions) as s:
            principal = await load_session(s, token, self.services.clock.now())
            if principal is None:
                return None
            grants = await role_grants(s)
        return replace(principal, granted=grants[principal.role])

    def require(
        self, permission: Permission | None = None, *, csrf: bool = False
    ) -> Callable[[Request], Awaitable[Principal]]:
        """A dependency: the signed-in principal holding `permission`; with `csrf`, the
        request must also carry the session's CSRF token (form field or X-CSRF-Token)."""

        async def dependency(request: Request) -> Principal:
            request.state.services = self.services
            principal = await self.principal(request)
            if principal is None:
                raise LoginRequired
            request.state.principal = principal
            if csrf:
                form = await read_form(request)
                sent = form.get(CSRF_FIELD)
                candidates = [sent if isinstance(sent, str) else None]
                candidates.append(request.headers.get(CSRF_HEADER))
                if not principal.csrf_matches(candidates):
                    raise AdminError(
                        403,
                        "不正なリクエストです",
                        "画面の有効期限が切れたか、不正な送信です。ページを開き直してください",
                    )
            if permission is not None and not principal.can(permission):
                raise AdminError(
                    403,
                    ERROR_TITLES[403],
                    f"この操作には権限が必要です({principal.role.label}には許可されていません)",
                )
            return principal

        return dependency


async def read_form(request: Request) -> FormData:
    """The posted form, refused when larger than any legitimate admin form."""
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > MAX_FORM_BYTES):
        raise AdminError(413, "送信内容が大きすぎます", "ファイルは1つ1MBまでです")
    return await request.form()
