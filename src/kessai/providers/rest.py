"""JSON over HTTPS for the providers that speak it (Amazon Pay, KOMOJU): one aiohttp session
per connector, and what can go wrong on the wire told apart by whether the request may have
reached the provider:
- NotSent: no connection was made (refused, DNS, connect timeout): nothing happened;
- NoAnswer: sent, and no complete answer (timeout, reset, truncated body, 5xx, a body that is
  not JSON): the outcome is unknown.
An answer with any other status is a Reply for the connector to read. Bodies are never
logged: they name amounts and payment details.
"""

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from kessai.providers.contract import Outcome, OutcomeKind
from kessai.providers.transport import NoAnswer, NotSent, TransportError


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class JsonHttp:
    """Sends one request at a time for a connector; created lazily, closed by aclose()."""

    def __init__(self, name: str, timeout: float, connect_timeout: float) -> None:
        self.name = name
        self.log = logging.getLogger(f"kessai.providers.{name}")
        self._timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=connect_timeout)
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def send(
        self,
        api: str,
        method: str,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
    ) -> Reply:
        started = time.perf_counter()
        try:
            async with self._client().request(
                method, url, data=body or None, headers=dict(headers)
            ) as response:
                raw = await response.read()
                status = response.status
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            # Checked first: both are subclasses of the errors below, and no byte was sent.
            self.log.warning("%s %s: not sent (%s)", self.name, api, type(exc).__name__)
            raise NotSent(api, f"接続できませんでした ({type(exc).__name__})") from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.log.warning("%s %s: no answer (%s)", self.name, api, type(exc).__name__)
            raise NoAnswer(api, f"応答がありませんでした ({type(exc).__name__})") from None
        elapsed = (time.perf_counter() - started) * 1000
        if status >= 500:
            self.log.warning("%s %s: HTTP %d in %.0fms", self.name, api, status, elapsed)
            raise NoAnswer(api, f"HTTP {status}")
        try:
            parsed = json.loads(raw) if raw else {}
        except ValueError:
            raise NoAnswer(api, f"HTTP {status}: JSONではない応答") from None
        reply = Reply(status, parsed if isinstance(parsed, dict) else {})
        level = logging.DEBUG if reply.ok else logging.INFO
        self.log.log(level, "%s %s: HTTP %d in %.0fms", self.name, api, status, elapsed)
        return reply


def outcome_of_transport(exc: TransportError) -> Outcome:
    """Nothing sent: not_sent (safe to retry); sent without an answer: unknown (ask first)."""
    if isinstance(exc, NotSent):
        return Outcome(OutcomeKind.NOT_SENT, message=exc.reason)
    return Outcome(OutcomeKind.UNKNOWN, message=exc.reason)
