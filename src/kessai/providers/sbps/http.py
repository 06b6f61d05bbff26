"""SBPS's XML API over HTTP: one POST per call to the account's endpoint, Shift_JIS XML,
Basic auth (Basic認証ID / Password), one aiohttp session per connector.

Every answer SBPS gives is HTTP 200 with `<res_result>OK|NG</res_result>`; 401 means the
Basic auth was refused; anything else, or a body that is not SBPS's XML, is NoAnswer.
Bodies are never logged: they carry tokens and the hash code.
"""

import logging
from collections.abc import Sequence

import aiohttp

from kessai.providers.sbps import codec
from kessai.providers.sbps.config import SbpsConfig
from kessai.providers.transport import NoAnswer, NotSent

log = logging.getLogger("kessai.providers.sbps")

UNAUTHORIZED = "basic_auth_refused"


class SbpsClient:
    def __init__(self, config: SbpsConfig) -> None:
        self.config = config
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.config.timeout_seconds, sock_connect=10),
                headers={
                    "Authorization": aiohttp.encode_basic_auth(
                        self.config.basic_auth_id, self.config.basic_auth_password
                    ),
                    "Content-Type": codec.CONTENT_TYPE,
                    "User-Agent": "kessai-sbps",
                },
            )
        return self._session

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def call(
        self, api_id: str, nodes: Sequence[codec.Node], *, ref: str = "-"
    ) -> codec.Document:
        key, iv = self.config.encryption_key, self.config.encryption_iv
        sealed = (key, iv) if key and iv and ("encrypted_flg", "1") in nodes else None
        body = codec.encode("sps-api-request", api_id, nodes, self.config.hash_key, sealed)
        try:
            async with self._client().post(self.config.endpoint_url, data=body) as response:
                raw = await response.read()
                status = response.status
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            log.warning("SBPS %s %s: not sent (%s)", api_id, ref, type(exc).__name__)
            raise NotSent(api_id, f"接続できませんでした ({type(exc).__name__})") from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("SBPS %s %s: no answer (%s)", api_id, ref, type(exc).__name__)
            raise NoAnswer(api_id, f"応答がありませんでした ({type(exc).__name__})") from None
        if status == 401:
            return codec.Document(
                "sps-api-response", api_id, [("res_result", "NG"), ("res_err_code", UNAUTHORIZED)]
            )
        if status != 200:
            log.warning("SBPS %s %s: HTTP %d", api_id, ref, status)
            raise NoAnswer(api_id, f"HTTP {status}")
        try:
            answer = codec.decode(raw)
            if sealed is not None:  # SBPS answers res_pay_method_info encrypted in kind
                answer = codec.Document(
                    answer.root, answer.api_id, codec.unseal(answer.nodes, *sealed)
                )
        except codec.CodecError:
            raise NoAnswer(api_id, "SBPSの応答を読めませんでした") from None
        result = answer.get("res_result")
        log.log(
            logging.DEBUG if result == "OK" else logging.INFO,
            "SBPS %s %s: %s %s",
            api_id,
            ref,
            result,
            answer.get("res_err_code") or "",
        )
        return answer
