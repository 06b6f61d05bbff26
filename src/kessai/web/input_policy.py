"""core.inputs' text rule at the door: every request's path, query and JSON or form body.

Checked here once for every route (API and admin alike), so no text with a control
character reaches a handler, a job or the database; ids, paging and amounts are bounded
by their fields' types (core.inputs). CSV uploads are checked where they are read
(imports.csvin).
"""

import json
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kessai.core.inputs import CONTROL_MESSAGE, control_in, has_control
from kessai.web.errors import error_body

# A JSON body can hold a control character only through an escape: bodies without one
# (nearly all) are not decoded twice.
_ESCAPE = b"\\"
_JSON = b"application/json"
_FORM = b"application/x-www-form-urlencoded"


class InputPolicy:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        field = _control_in_target(scope)
        content_type = _content_type(scope)
        if field is None and content_type in (_JSON, _FORM):
            messages, body = await _read(receive)
            field = _control_in_body(body, content_type)
            receive = replay(messages, receive)
        if field is None:
            await self.app(scope, receive, send)
            return
        payload = json.dumps(
            error_body("control_character", f"{CONTROL_MESSAGE}: {field}", {"field": field}),
            ensure_ascii=False,
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 422,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


def _control_in_pairs(pairs: list[tuple[str, str]]) -> str | None:
    for name, value in pairs:
        if has_control(name) or has_control(value):
            return name
    return None


def _control_in_target(scope: Scope) -> str | None:
    if has_control(scope["path"]):
        return "path"
    query = scope.get("query_string", b"")
    if not query:
        return None
    return _control_in_pairs(parse_qsl(query.decode("latin-1"), keep_blank_values=True))


def _control_in_body(body: bytes, content_type: bytes) -> str | None:
    if content_type == _FORM:
        pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        return _control_in_pairs(pairs)
    if _ESCAPE not in body:
        return None
    try:
        decoded = json.loads(body)
    except ValueError:
        return None  # FastAPI answers malformed JSON itself
    return control_in(decoded)


def _content_type(scope: Scope) -> bytes:
    for name, value in scope["headers"]:
        if name == b"content-type":
            kind: bytes = value.split(b";", 1)[0].strip().lower()
            return kind
    return b""


async def _read(receive: Receive) -> tuple[list[Message], bytes]:
    messages: list[Message] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request" or not message.get("more_body", False):
            break
    return messages, b"".join(m.get("body", b"") for m in messages)


def replay(messages: list[Message], receive: Receive) -> Receive:
    """A receive that gives `messages` again, then what the client sends next."""
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
