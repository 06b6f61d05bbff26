"""NP後払い's REST API over HTTP: JSON both ways, Basic auth (加盟店コード : SP_CODE) and the
X-NP-Terminal-Id header, one aiohttp session per connector.

What can go wrong is told apart by whether the request may have reached NP:
- NotSent: no connection was made (refused, DNS, connect timeout): nothing happened;
- NoAnswer: sent, and no usable answer (timeout, reset, 5xx, a body that is not NP's JSON):
  the outcome is unknown.
HTTP 200 carries {"results": […]}, HTTP 400 {"errors": [{"codes": […]}]}; 401/403 is a
refusal of the credentials. Bodies are never logged: they carry the buyer's address.
"""

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from kessai.providers.np_atobarai.config import NpConfig
from kessai.providers.transport import NoAnswer, NotSent

log = logging.getLogger("kessai.providers.np_atobarai")


@dataclass(frozen=True)
class Reply:
    status: int
    results: list[dict[str, Any]] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == 200 and not self.codes

    def first(self) -> dict[str, Any]:
        return self.results[0] if self.results else {}


class NpClient:
    def __init__(self, config: NpConfig) -> None:
        self.config = config
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(
                    total=self.config.timeout_seconds,
                    sock_connect=self.config.connect_timeout_seconds,
                ),
                headers={
                    "Authorization": aiohttp.encode_basic_auth(
                        self.config.shop_code, self.config.sp_code
                    ),
                    "X-NP-Terminal-Id": self.config.terminal_id,
                    "User-Agent": "kessai-np-atobarai",
                },
            )
        return self._session

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def call(
        self, method: str, path: str, transactions: list[Mapping[str, Any]], *, ref: str = "-"
    ) -> Reply:
        body = {"transactions": list(transactions)}
        try:
            async with self._client().request(method, self.config.url(path), json=body) as response:
                raw = await response.read()
                status = response.status
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            log.warning("NP後払い %s %s: not sent (%s)", path, ref, type(exc).__name__)
            raise NotSent(path, f"接続できませんでした ({type(exc).__name__})") from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("NP後払い %s %s: no answer (%s)", path, ref, type(exc).__name__)
            raise NoAnswer(path, f"応答がありませんでした ({type(exc).__name__})") from None
        if status in (401, 403):
            return Reply(status, codes=["E0100001"])
        if status not in (200, 400):
            log.warning("NP後払い %s %s: HTTP %d", path, ref, status)
            raise NoAnswer(path, f"HTTP {status}")
        try:
            data = json.loads(raw)
        except ValueError:
            raise NoAnswer(path, "NP後払いの応答を読めませんでした") from None
        if not isinstance(data, dict):
            raise NoAnswer(path, "NP後払いの応答を読めませんでした")
        codes = [
            str(code)
            for error in data.get("errors") or []
            if isinstance(error, dict)
            for code in error.get("codes") or []
        ]
        results = [r for r in data.get("results") or [] if isinstance(r, dict)]
        log.log(
            logging.INFO if codes else logging.DEBUG,
            "NP後払い %s %s: %s",
            path,
            ref,
            "|".join(codes) or "ok",
        )
        return Reply(status, results, codes)
