"""idPass over HTTP: one aiohttp session per connector, CP932 form posts, the E92 retry.

What can go wrong on the wire is told apart by whether the request may have reached GMO:
- NotSent: no connection was made (refused, DNS, connect timeout) or HTTP 429: nothing
  happened;
- NoAnswer: sent, and no complete answer (timeout, reset, truncated body, 5xx): unknown;
- HttpRefused: GMO (or a proxy before it) refused the request outright (4xx): not processed.
Parameters and bodies are never logged: they carry ShopPass/SitePass and AccessPass.
"""

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp

from kessai.providers.gmo_pg import codec, errors
from kessai.providers.gmo_pg.config import GmoPgConfig
from kessai.providers.transport import NoAnswer, NotSent, TransportError

log = logging.getLogger("kessai.providers.gmo_pg")


class HttpRefused(TransportError):
    """An HTTP error status GMO never uses for its answers (all of them are 200)."""

    def __init__(self, api: str, status: int) -> None:
        super().__init__(api, f"HTTP {status}")
        self.status = status


@dataclass(frozen=True)
class Reply:
    api: str
    fields: dict[str, str]

    @property
    def errors(self) -> list[tuple[str, str]]:
        return codec.errors_of(self.fields)

    @property
    def infos(self) -> list[str]:
        return [info for _, info in self.errors]

    @property
    def ok(self) -> bool:
        return not self.errors

    def get(self, key: str) -> str | None:
        """A field's value, None when absent or empty."""
        return self.fields.get(key) or None

    def rate_limited(self) -> bool:
        return any(errors.handling(i) is errors.Handling.RETRY for i in self.infos)


class IdPassClient:
    """Posts to one account's endpoint; created lazily, closed by aclose()."""

    def __init__(self, config: GmoPgConfig) -> None:
        self.config = config
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
                headers={"Accept": "*/*", "User-Agent": "kessai-gmo-pg"},
                connector=aiohttp.TCPConnector(limit=200),
            )
        return self._session

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def call(self, api: str, params: Mapping[str, object], *, ref: str = "-") -> Reply:
        """Post once, and again with backoff while GMO answers E92 (rate limit: nothing
        happened). After the last retry the E92 reply itself is returned."""
        attempt = 0
        while True:
            reply = await self._post(api, params, ref)
            if not reply.rate_limited() or attempt >= self.config.e92_retries:
                return reply
            delay = self.config.e92_delay(attempt)
            log.info("GMO PG %s %s: rate limited (E92), retry in %.2fs", api, ref, delay)
            await self.sleep(delay)
            attempt += 1

    async def _post(self, api: str, params: Mapping[str, object], ref: str) -> Reply:
        try:
            body = codec.encode_request(params)
        except UnicodeEncodeError:
            raise NotSent(api, "Windows-31Jで送れない文字が含まれています") from None
        log.debug("GMO PG %s %s: sending %s", api, ref, ",".join(params))
        started = time.perf_counter()
        try:
            async with self._client().post(
                self.config.url(api),
                data=body,
                headers={"Content-Type": codec.CONTENT_TYPE},
            ) as response:
                raw = await response.read()
                status = response.status
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            # Checked first: both are subclasses of the errors below, and no byte was sent.
            log.warning("GMO PG %s %s: not sent (%s)", api, ref, type(exc).__name__)
            raise NotSent(api, f"接続できませんでした ({type(exc).__name__})") from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("GMO PG %s %s: no answer (%s)", api, ref, type(exc).__name__)
            raise NoAnswer(api, f"応答がありませんでした ({type(exc).__name__})") from None
        elapsed = (time.perf_counter() - started) * 1000
        if status != 200:
            log.warning("GMO PG %s %s: HTTP %d in %.0fms", api, ref, status, elapsed)
            if status == 429:  # turned away before processing, like E92
                raise NotSent(api, "HTTP 429 (流量制限)")
            if 400 <= status < 500 and status != 408:
                raise HttpRefused(api, status)
            raise NoAnswer(api, f"HTTP {status}")
        reply = Reply(api, codec.parse_response(raw))
        # Answers are routine at DEBUG; GMO's refusals are worth a line at INFO.
        level = logging.INFO if reply.infos else logging.DEBUG
        log.log(
            level, "GMO PG %s %s: %s in %.0fms", api, ref, "|".join(reply.infos) or "ok", elapsed
        )
        log.debug("GMO PG %s %s: received %s", api, ref, ",".join(reply.fields))
        return reply
