"""A storefront's webhook receiver on loopback, and a Standard Webhooks verifier written
from the specification's text (anchors/standard-webhooks), independent of kessai's signer:

  signed content  = webhook-id + "." + webhook-timestamp + "." + body
  signature       = base64(HMAC-SHA256(key = base64-decoded secret after "whsec_", content))
  webhook-signature: space-separated "v1,<signature>" entries; any one matching is enough
  webhook-timestamp: unix seconds, checked against a tolerance to refuse replays
"""

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TOLERANCE_SECONDS = 5 * 60


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    msg_id = headers["webhook-id"]
    stamp = headers["webhook-timestamp"]
    if "." in msg_id or not stamp.isdigit():
        return False
    if abs(time.time() - int(stamp)) > TOLERANCE_SECONDS:
        return False
    key = base64.b64decode(secret.split("whsec_", 1)[1])
    signed = msg_id.encode() + b"." + stamp.encode() + b"." + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest())
    for entry in headers["webhook-signature"].split(" "):
        version, _, signature = entry.partition(",")
        if version == "v1" and hmac.compare_digest(signature.encode(), expected):
            return True
    return False


def signatures(headers: dict[str, str]) -> list[str]:
    return headers["webhook-signature"].split(" ")


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def payload(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed

    @property
    def type(self) -> str:
        return str(self.payload["type"])

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]


@dataclass
class Receiver:
    """Records every request; answers per path from `script` (a status, "hang", or
    "redirect:<path>" for a 307 to that path), then 200 once the script is used up."""

    base_url: str = ""
    received: list[Request] = field(default_factory=list)
    script: dict[str, list[int | str]] = field(default_factory=dict)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def url(self, path: str = "/hook") -> str:
        return self.base_url + path

    def at(self, path: str = "/hook") -> list[Request]:
        return [r for r in self.received if r.path == path]

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.received.append(Request(request.path, headers, body))
        self.arrived.set()
        todo = self.script.get(request.path, [])
        answer = todo.pop(0) if todo else 200
        if answer == "hang":
            await asyncio.sleep(3600)
        if isinstance(answer, str) and answer.startswith("redirect:"):
            location = self.url(answer.split(":", 1)[1])
            return web.Response(status=307, headers={"Location": location})
        return web.Response(status=int(answer), text=f"answer {answer}")


@asynccontextmanager
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    app = web.Application()
    app.router.add_post("/{tail:.*}", rec.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = site._server
    assert server is not None
    port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
    rec.base_url = f"http://127.0.0.1:{port}"
    try:
        yield rec
    finally:
        await runner.cleanup()
