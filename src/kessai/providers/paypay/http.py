"""The Open Payment API over HTTP: one aiohttp session per connector, JSON bodies signed
with `hmac OPA-Auth` (signing.py), the RATE_LIMIT retry.

What can go wrong is told apart by whether PayPay may have acted:
- NotSent: no connection was made (refused, DNS, connect timeout): nothing happened;
- NoAnswer: sent, and no usable answer (timeout, reset, a 5xx or a body that is not
  PayPay's JSON): unknown. A request that changes nothing (a GET) is asked again first;
- a Reply: PayPay's own JSON answer ({resultInfo: {code, message, codeId}, data}), whatever
  its HTTP status. RATE_LIMIT (429) is asked again with a growing pause: nothing happened.
Bodies and the Authorization header are never logged: they carry the api key and amounts.
"""

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from kessai.providers.paypay import errors, signing
from kessai.providers.paypay.config import PayPayConfig
from kessai.providers.transport import NoAnswer, NotSent

log = logging.getLogger("kessai.providers.paypay")


@dataclass(frozen=True)
class Reply:
    api: str
    status: int
    code: str | None
    message: str | None
    code_id: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status < 300 and self.code in (None, "SUCCESS", "REQUEST_ACCEPTED")

    @property
    def handling(self) -> errors.Handling:
        return errors.handling(self.code, self.status)


def _reply(api: str, status: int, raw: bytes) -> Reply | None:
    """PayPay's JSON answer, or None for anything else (a proxy's error page …)."""
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(body, dict) or not isinstance(body.get("resultInfo"), dict):
        return None
    info = body["resultInfo"]
    data = body.get("data")
    return Reply(
        api,
        status,
        info.get("code") if isinstance(info.get("code"), str) else None,
        info.get("message") if isinstance(info.get("message"), str) else None,
        info.get("codeId") if isinstance(info.get("codeId"), str) else None,
        data if isinstance(data, dict) else {},
    )


def _again(reply: Reply, *, safe: bool) -> bool:
    """RATE_LIMIT: nothing happened. A server error: only a request that changes nothing."""
    handling = reply.handling
    return handling is errors.Handling.RETRY or (safe and handling is errors.Handling.UNKNOWN)


class OpaClient:
    """Signs and sends to one account's endpoint; the session is made lazily, closed by
    aclose(). `wall` is the real clock the signature's epoch is taken from."""

    def __init__(self, config: PayPayConfig, wall: Callable[[], float] = time.time) -> None:
        self.config = config
        self.wall = wall
        self._session: aiohttp.ClientSession | None = None
        self.sleep = asyncio.sleep  # tests may replace the backoff wait

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            timeout = aiohttp.ClientTimeout(
                total=self.config.timeout_seconds,
                sock_connect=self.config.connect_timeout_seconds,
            )
            self._session = aiohttp.ClientSession(
                timeout=timeout,
                headers={"Accept": "application/json", "User-Agent": "kessai-paypay"},
            )
        return self._session

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def call(
        self,
        api: str,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        query: Mapping[str, str] | None = None,
        ref: str = "-",
    ) -> Reply:
        """Send once, and again after a pause while PayPay answers RATE_LIMIT (and, for a GET,
        while its front answers a server error). The last answer is returned or raised."""
        safe = method == "GET"
        attempt = 0
        while True:
            try:
                reply = await self._send(api, method, path, body, query, ref)
            except NoAnswer:
                if not safe or attempt >= self.config.rate_limit_retries:
                    raise
                reply = None
            if reply is not None and not _again(reply, safe=safe):
                return reply
            if attempt >= self.config.rate_limit_retries:
                assert reply is not None
                return reply
            delay = self.config.delay(attempt)
            what = reply.code if reply is not None else "no answer"
            log.info("PayPay %s %s: %s, retry in %.2fs", api, ref, what, delay)
            await self.sleep(delay)
            attempt += 1

    async def _send(
        self,
        api: str,
        method: str,
        path: str,
        body: Mapping[str, Any] | None,
        query: Mapping[str, str] | None,
        ref: str,
    ) -> Reply:
        payload = None if body is None else json.dumps(body, ensure_ascii=False).encode()
        headers = {
            "Authorization": signing.authorization(
                self.config.api_key,
                self.config.api_secret,
                method,
                path,
                payload,
                epoch=int(self.wall()),
                nonce=signing.new_nonce(),
            )
        }
        if payload is not None:
            headers["Content-Type"] = signing.CONTENT_TYPE
        if self.config.merchant_id:
            headers["X-ASSUME-MERCHANT"] = self.config.merchant_id
        started = time.perf_counter()
        try:
            async with self._client().request(
                method,
                self.config.endpoint + path,
                data=payload,
                params=dict(query or {}),
                headers=headers,
            ) as response:
                raw = await response.read()
                status = response.status
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            # Checked first: both are subclasses of the errors below, and no byte was sent.
            log.warning("PayPay %s %s: not sent (%s)", api, ref, type(exc).__name__)
            raise NotSent(api, f"接続できませんでした ({type(exc).__name__})") from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("PayPay %s %s: no answer (%s)", api, ref, type(exc).__name__)
            raise NoAnswer(api, f"応答がありませんでした ({type(exc).__name__})") from None
        elapsed = (time.perf_counter() - started) * 1000
        reply = _reply(api, status, raw)
        if reply is None:
            log.warning("PayPay %s %s: HTTP %d without PayPay's answer", api, ref, status)
            if status == 429:
                return Reply(api, status, "RATE_LIMIT", None)
            raise NoAnswer(api, f"HTTP {status}")
        level = logging.DEBUG if reply.ok else logging.INFO
        log.log(level, "PayPay %s %s: HTTP %d %s in %.0fms", api, ref, status, reply.code, elapsed)
        return reply
