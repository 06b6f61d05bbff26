"""Amazon Pay API v2 over HTTP (kessai.providers.rest): every request signed,
`x-amz-pay-idempotency-key` on every POST, 429 TooManyRequests retried and then NotSent
(Amazon turned it away unprocessed). Amazon's refusals (4xx with reasonCode and message) are
a Reply."""

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from kessai.providers.amazon_pay import signing
from kessai.providers.amazon_pay.config import REGION, AmazonPayConfig
from kessai.providers.rest import JsonHttp, Reply
from kessai.providers.transport import NoAnswer, NotSent, TransportError

__all__ = ["AmazonPayClient", "NoAnswer", "NotSent", "Reply", "TransportError", "reason_of"]

CONTENT_TYPE = "application/json"
RATE_LIMIT_RETRIES = 2


def reason_of(reply: Reply) -> tuple[str, str]:
    """Amazon's reasonCode and message of a refusal."""
    return str(reply.body.get("reasonCode") or f"HTTP{reply.status}"), str(
        reply.body.get("message") or ""
    )


def _utcnow() -> datetime:
    return datetime.now(UTC)


def amz_date(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


class AmazonPayClient:
    def __init__(self, config: AmazonPayConfig) -> None:
        self.config = config
        self.http = JsonHttp("amazon_pay", config.timeout_seconds, config.connect_timeout_seconds)
        self.sleep = asyncio.sleep
        self.now: Callable[[], datetime] = _utcnow

    async def aclose(self) -> None:
        await self.http.aclose()

    def headers(
        self, method: str, path: str, body: bytes, idempotency_key: str | None
    ) -> dict[str, str]:
        base = {
            "accept": CONTENT_TYPE,
            "content-type": CONTENT_TYPE,
            "x-amz-pay-date": amz_date(self.now()),
            "x-amz-pay-host": self.config.host,
            "x-amz-pay-region": REGION,
        }
        if idempotency_key is not None:
            base["x-amz-pay-idempotency-key"] = idempotency_key
        return signing.signed_headers(
            method=method,
            path=path,
            parameters={},
            body=body,
            headers=base,
            private_key=self.config.private_key,
            public_key_id=self.config.public_key_id,
        )

    async def call(
        self,
        api: str,
        method: str,
        resource: str,
        payload: dict[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
        simulation: str | None = None,
    ) -> Reply:
        """One API call; a POST must carry its idempotency key (Amazon refuses it without)."""
        if method == "POST" and not idempotency_key:
            raise ValueError("a POST needs its x-amz-pay-idempotency-key")
        path = f"{self.config.base_path}/{resource}"
        body = b"" if payload is None else json.dumps(payload, separators=(",", ":")).encode()
        attempt = 0
        while True:
            headers = self.headers(method, path, body, idempotency_key)
            if simulation and self.config.sandbox:
                headers["x-amz-pay-simulation-code"] = simulation  # unsigned, sandbox only
            url = f"{self.config.endpoint}{path}"
            reply = await self.http.send(api, method, url, body, headers)
            if reply.status != 429:
                return reply
            if attempt >= RATE_LIMIT_RETRIES:
                raise NotSent(api, "TooManyRequests (流量制限)")
            await self.sleep(0.5 * 2**attempt)
            attempt += 1
