"""POST /api/v1/orders/{id}/payment/{action} without FastAPI's routing and dependencies.

On the payment actions, the busiest route, FastAPI's route matching and dependency solving
cost about as much of the process's time as the action's own work. This middleware takes
the plain request (a JSON body that validates, a well-formed id, a key that checks) and
runs the endpoint's own code, payments.endpoints.run_action, with the same checks in the
same order. Anything else (another route, an unusual header, a body that does not
validate, a key that does not check) goes on to FastAPI unchanged, with the body it
sent, and is answered exactly as without this middleware.
"""

import json
import re
from typing import NamedTuple

from pydantic import ValidationError
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kessai.apikeys.service import Principal, authenticate
from kessai.core.errors import KessaiError
from kessai.orders.schemas import MAX_ID
from kessai.payments.endpoints import run_action
from kessai.payments.schemas import PaymentActionIn
from kessai.services import Services
from kessai.web.errors import kessai_error_response
from kessai.web.input_policy import replay as replay_messages

# A decimal id without leading zeros (FastAPI would read "007" as 7: left to it).
_PATH = re.compile(r"/api/v1/orders/([1-9][0-9]{0,18})/payment/([a-z-]+)")
# Larger bodies (a payment action's is a few hundred bytes) are left to FastAPI.
MAX_BODY = 64 * 1024
_READ = (b"content-type", b"content-length", b"authorization")


class _Route(NamedTuple):
    path: str


# What FastAPI's router would have put in the scope, for the access log and metrics.
ROUTE = _Route("/api/v1/orders/{order_id}/payment/{action}")


class FastPaymentActions:
    def __init__(self, app: ASGIApp, services: Services) -> None:
        self.app = app
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = None
        if scope["type"] == "http" and scope["method"] == "POST" and not scope.get("root_path"):
            match = _PATH.fullmatch(scope["path"])
        if match is None or int(match[1]) > MAX_ID:
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        if headers is None or not _plain(headers):
            await self.app(scope, receive, send)
            return
        received = await _read_body(receive)
        replay = replay_messages(received, receive)
        taken = await self._taken(headers, received)
        if taken is None:
            await self.app(scope, replay, send)
            return
        principal, data = taken
        scope["route"], scope["path_params"] = ROUTE, {"order_id": match[1], "action": match[2]}
        request = Request(scope, replay)
        try:
            response = await run_action(
                request, self.services, principal, int(match[1]), match[2], data
            )
        except KessaiError as exc:  # as the app's exception handler answers it
            response = kessai_error_response(exc)
        await response(scope, receive, send)

    async def _taken(
        self, headers: dict[bytes, bytes], received: list[Message]
    ) -> tuple[Principal, PaymentActionIn] | None:
        """The caller and the body, when FastAPI would find nothing wrong with either."""
        last = received[-1]
        if last["type"] != "http.request" or last.get("more_body", False):
            return None  # a disconnect, or more than MAX_BODY
        body = b"".join(m.get("body", b"") for m in received)
        if not body:
            return None  # no body at all: FastAPI's default
        try:
            raw = json.loads(body)
            data = PaymentActionIn.model_validate(raw) if isinstance(raw, dict) else None
        except (ValueError, ValidationError):
            return None
        if data is None:
            return None
        authorization = headers.get(b"authorization")
        try:
            principal = await authenticate(
                self.services.sessions,
                None if authorization is None else authorization.decode("latin-1"),
                self.services.clock.now(),
            )
        except KessaiError:
            return None
        return principal, data


def _plain(headers: dict[bytes, bytes]) -> bool:
    """A JSON body of a declared length, small enough to read before deciding."""
    length = headers.get(b"content-length", b"")
    return (
        headers.get(b"content-type") == b"application/json"
        and length.isdigit()
        and int(length) <= MAX_BODY
    )


def _headers(scope: Scope) -> dict[bytes, bytes] | None:
    """The headers this path reads, or None when one of them is given twice."""
    found: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:
        if name in _READ:
            if name in found:
                return None
            found[name] = value
    return found


async def _read_body(receive: Receive) -> list[Message]:
    """The request's messages up to the body's end, a disconnect or MAX_BODY bytes."""
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages
        size += len(message.get("body", b""))
        if not message.get("more_body", False) or size > MAX_BODY:
            return messages
