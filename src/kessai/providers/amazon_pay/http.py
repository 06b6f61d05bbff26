"""Amazon Pay API v2 over HTTP: one aiohttp session per connector, every request signed,
`x-amz-pay-idempotency-key` on every POST.

What can go wrong on the wire is told apart by whether the request may have reached Amazon:
- NotSent: no connection was made (refused, DNS, connect timeout), or 429 TooManyRequests
  after the retries (Amazon turned it away unprocessed);
- NoAnswer: sent, and no complete answer (timeout, reset, truncated body, 5xx): unknown.
Amazon's own refusals (4xx with reasonCode and message) are a Reply. Bodies are never logged.
"""

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp

from kessai.providers.amazon_pay import signing
from kessai.providers.amazon_pay.config import REGION, AmazonPayConfig

log = logging.getLogger("kessai.providers.amazon_pay")

CONTENT_TYPE = "application/json"
RATE_LIMIT_RETRIES = 2


class TransportError(Exception):
    def __init__(self, api: str, reason: str) -> None:
        super().__init__(f"{api}: {reason}")
        self.api = api
        self.reason = reason


class NotSent(TransportError):
    """Nothing reached Amazon."""


class NoAnswer(TransportError):
    """The request may have been processed; the answer was lost."""


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def reason_code(self) -> str:
        return str(self.body.get("reasonCode") or f"HTTP{self.status}")

    @property
    def message(self) -> str:
        return str(self.body.get("message") or "")


def _utcnow() -> datetime:
    return datetime.now(UTC)


def amz_date(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


class AmazonPayClient:
    def __init__(self, config: AmazonPayConfig) -> None:
        self.config = config
        self._session: aiohttp.ClientSession | None = None
        self.sleep = asyncio.sleep
        self.now: Callable[[], datetime] = _utcnow

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            timeout = aiohttp.ClientTimeout(
                total=self.config.timeout_seconds,
                sock_connect=self.config.connect_timeout_seconds,
            )
            self._session = aiohttp.ClientSession(timeout=timeout)
        return self._session

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

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
            reply = await self._send(api, method, path, body, headers)
            if reply.status != 429:
                return reply
            if attempt >= RATE_LIMIT_RETRIES:
                raise NotSent(api, "TooManyRequests (流量制限)")
            await self.sleep(0.5 * 2**attempt)
            attempt += 1

    async def _send(
        self, api: str, method: str, path: str, body: bytes, headers: dict[str, str]
    ) -> Reply:
        started = time.perf_counter()
        try:
            async with self._client().request(
                method, f"{self.config.endpoint}{path}", data=body or None, headers=headers
            ) as response:
                raw = await response.read()
                status = response.status
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            log.warning("Amazon Pay %s: not sent (%s)", api, type(exc).__name__)
            raise NotSent(api, f"接続できませんでした ({type(exc).__name__})") from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("Amazon Pay %s: no answer (%s)", api, type(exc).__name__)
            raise NoAnswer(api, f"応答がありませんでした ({type(exc).__name__})") from None
        elapsed = (time.perf_counter() - started) * 1000
        if status >= 500:
            log.warning("Amazon Pay %s: HTTP %d in %.0fms", api, status, elapsed)
            raise NoAnswer(api, f"HTTP {status}")
        try:
            parsed = json.loads(raw) if raw else {}
        except ValueError:
            raise NoAnswer(api, f"HTTP {status}: JSONではない応答") from None
        reply = Reply(status, parsed if isinstance(parsed, dict) else {})
        level = logging.DEBUG if reply.ok else logging.INFO
        shown = "ok" if reply.ok else reply.reason_code
        log.log(level, "Amazon Pay %s: HTTP %d %s in %.0fms", api, status, shown, elapsed)
        return reply
