"""KOMOJU's API over HTTP (kessai.providers.rest): Basic auth with the secret key as user
name and no password, `X-KOMOJU-IDEMPOTENCY` on every POST, 429 retried and then NotSent.
KOMOJU's refusals ({"error": {"code", "message", "param"}}) are a Reply."""

import asyncio
import base64
import json
from typing import Any

from kessai.providers.komoju.config import KomojuConfig
from kessai.providers.rest import JsonHttp, Reply
from kessai.providers.transport import NoAnswer, NotSent, TransportError

__all__ = ["KomojuClient", "NoAnswer", "NotSent", "Reply", "TransportError", "error_of"]

RATE_LIMIT_RETRIES = 2


def error_of(reply: Reply) -> tuple[str, str]:
    """KOMOJU's error code and message of a refusal."""
    error = reply.body.get("error")
    if isinstance(error, dict):
        return str(error.get("code") or f"HTTP{reply.status}"), str(error.get("message") or "")
    return f"HTTP{reply.status}", ""


class KomojuClient:
    def __init__(self, config: KomojuConfig) -> None:
        self.config = config
        self.http = JsonHttp("komoju", config.timeout_seconds, config.connect_timeout_seconds)
        # HTTP Basic: the secret key as user name, no password.
        self.authorization = "Basic " + base64.b64encode(f"{config.secret_key}:".encode()).decode()
        self.sleep = asyncio.sleep

    async def aclose(self) -> None:
        await self.http.aclose()

    async def call(
        self,
        api: str,
        method: str,
        resource: str,
        payload: dict[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> Reply:
        if method == "POST" and not idempotency_key:
            raise ValueError("a POST needs its X-KOMOJU-IDEMPOTENCY key")
        body = b"" if payload is None else json.dumps(payload, separators=(",", ":")).encode()
        headers = {
            "Accept": "application/json",
            "Content-Type": "application/json",
            "Authorization": self.authorization,
        }
        if idempotency_key:
            headers["X-KOMOJU-IDEMPOTENCY"] = idempotency_key
        url = f"{self.config.endpoint}/api/v1/{resource}"
        for attempt in range(RATE_LIMIT_RETRIES + 1):
            if attempt:
                await self.sleep(0.5 * 2 ** (attempt - 1))
            reply = await self.http.send(api, method, url, body, headers)
            if reply.status != 429:
                return reply
        raise NotSent(api, "too_many_requests (流量制限)")
