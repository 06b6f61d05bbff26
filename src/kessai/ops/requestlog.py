"""Every HTTP request: a request id, one access-log line, and its HTTP metrics.

The request id comes from the caller's `X-Request-ID` when it is a plain token (1–64 of
A–Z a–z 0–9 . _ : -), else a new one; it is bound to every log line written while the
request runs and returned in the response's `X-Request-ID`.

The access line names the route's template, the path without its query string, the
status and the time taken; never a query string or a header (Authorization, cookies and
Idempotency-Key can all carry keys). A pure ASGI middleware, outermost, so the time
counted is the whole request's, including kessai.web.fast_actions.
"""

import logging
import re
import secrets
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kessai.core import metrics
from kessai.core.logging import bound

access = logging.getLogger("kessai.access")

HEADER = b"x-request-id"
_VALID = re.compile(rb"[A-Za-z0-9._:-]{1,64}")
UNMATCHED = "(unmatched)"  # a 404 outside every route: never the raw path as a label


def request_id_of(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == HEADER:
            if _VALID.fullmatch(value):
                return str(value.decode("ascii"))
            break
    return secrets.token_hex(16)


def route_of(scope: Scope) -> str:
    """The matched route's template (`/api/v1/orders/{order_id}`), mounts included."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return UNMATCHED
    return str(scope.get("root_path", "")) + path


class RequestContext:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        header = (HEADER, request_id.encode("ascii"))
        status = 500  # unless a response starts
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        with bound(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                elapsed = time.perf_counter() - started
                route = route_of(scope)
                metrics.observe_request(scope["method"], route, status, elapsed)
                if access.isEnabledFor(logging.INFO):
                    access.info("request", extra=_access_fields(scope, route, status, elapsed))


def _access_fields(scope: Scope, route: str, status: int, elapsed: float) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "method": scope["method"],
        "path": scope["path"],  # the query string is scope["query_string"]: never logged
        "route": route,
        "status": status,
        "duration_ms": round(elapsed * 1000, 1),
    }
    order_id = scope.get("path_params", {}).get("order_id")
    if order_id is not None:
        fields["order_id"] = order_id
    return fields
