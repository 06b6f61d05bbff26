"""Every error leaves as JSON {code, message, detail}: Japanese for people, a code for programs."""

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from kessai.core.errors import KessaiError
from kessai.web.deps import principal_for


def error_body(code: str, message: str, detail: Any = None) -> dict[str, Any]:
    return {"code": code, "message": message, "detail": detail if detail is not None else {}}


def kessai_error_response(exc: KessaiError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
    return JSONResponse(
        error_body(exc.code, exc.message, exc.detail), status_code=exc.status_code, headers=headers
    )


def _field(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc if p not in ("body", "query", "path"))


def install(app: FastAPI) -> None:
    @app.exception_handler(KessaiError)
    async def _kessai(_: Request, exc: KessaiError) -> JSONResponse:
        return kessai_error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        raw = exc.errors()
        if any(e.get("type") == "json_invalid" for e in raw):
            # FastAPI reads the body before any dependency runs: check the key first, so an
            # unauthenticated caller learns nothing but 401.
            if request.url.path.startswith("/api/"):
                try:
                    await principal_for(request)
                except KessaiError as auth_error:
                    return kessai_error_response(auth_error)
            position = next(
                (e["loc"][-1] for e in raw if e.get("type") == "json_invalid" and e.get("loc")),
                None,
            )
            return JSONResponse(
                error_body(
                    "malformed_json",
                    "リクエストのJSONが正しくありません",
                    {"position": position} if isinstance(position, int) else {},
                ),
                status_code=422,
            )
        errors = [
            {
                "field": _field(tuple(e.get("loc", ()))),
                "type": e.get("type"),
                "message": e.get("msg"),
            }
            for e in raw
        ]
        fields = "、".join(sorted({e["field"] for e in errors if e["field"]})) or "リクエスト"
        return JSONResponse(
            error_body("invalid_input", f"入力内容に誤りがあります: {fields}", {"errors": errors}),
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        messages = {404: "見つかりませんでした", 405: "このメソッドは使えません"}
        return JSONResponse(
            error_body(
                {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error"),
                messages.get(exc.status_code, str(exc.detail)),
            ),
            status_code=exc.status_code,
        )

    @app.exception_handler(Exception)
    async def _internal(_: Request, exc: Exception) -> JSONResponse:
        # Nothing of the exception reaches the caller (it may hold data). Starlette raises it
        # again after this response, so the server logs the traceback.
        return JSONResponse(
            error_body(
                "internal_error",
                "内部エラーが発生しました。時間をおいて再度お試しください",
            ),
            status_code=500,
        )
