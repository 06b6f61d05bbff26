"""The measuring set-up's floor for bench/core.py: an ASGI app with no kessai in it.

It answers POST /api/v1/orders/{id}/payment/{action} after the simulated provider latency
(LATENCY_MS) with a body the size of kessai's answer, and does nothing else: no database,
no framework. bench/floor.py drives it exactly as bench/core.py drives kessai, so its p50
minus the latency is what the client, uvicorn and the box cost before kessai does anything.
"""

import asyncio
import json
import os
from typing import Any

LATENCY = float(os.environ.get("LATENCY_MS", "50")) / 1000
STATUS = {"authorize": "authorized", "capture": "captured"}


def _body(action: str) -> bytes:
    # About the size of kessai's ActionResultOut (an order with its customer and method).
    order = {"payment_status": STATUS.get(action, ""), "padding": "x" * 1400}
    return json.dumps({"outcome": "succeeded", "order": order}).encode()


BODIES = {action: _body(action) for action in STATUS}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:  # the request body, read and dropped
        message = await receive()
        more = message.get("more_body", False)
    action = scope["path"].rsplit("/", 1)[-1]
    await asyncio.sleep(LATENCY)
    body = BODIES.get(action, b"{}")
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
