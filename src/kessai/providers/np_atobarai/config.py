"""One NP後払い account's settings (外部連携アカウント「NP 後払いリアルタイム」), checked once,
secrets kept out of every repr.

- shop_code: SHOP_CODE (加盟店コード, akt + 7 digits): the Basic-auth user
- sp_code: SP_CODE: the Basic-auth password
- terminal_id: 端末ID: sent as X-NP-Terminal-Id
- endpoint_url: 環境接続先URL, the API base (default NP's test environment; production is
  https://cp.np-payment-gateway.com/v1, or a simulator's URL)
- carrier_codes: 配送業者コード, `配送業者名=コード` per line, added to the built-in names
- timeout_seconds (30: NP recommends about 30 s), connect_timeout_seconds (10)
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from kessai.providers.kit import SettingsCheck, setting_text
from kessai.providers.np_atobarai import carriers

TEST_URL = "https://ctcp.np-payment-gateway.com/v1"
PRODUCTION_URL = "https://cp.np-payment-gateway.com/v1"
_SHOP_CODE = re.compile(r"akt[0-9]{7}")
_CODE = re.compile(r"[\x21-\x7e]{1,64}")


@dataclass(frozen=True)
class NpConfig:
    shop_code: str
    sp_code: str = field(repr=False)
    terminal_id: str
    endpoint_url: str = TEST_URL
    carrier_codes: Mapping[str, str] = field(default_factory=dict)
    timeout_seconds: float = 30.0
    connect_timeout_seconds: float = 10.0

    def url(self, path: str) -> str:
        return f"{self.endpoint_url}{path}"

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> "NpConfig":
        check = SettingsCheck("NP後払い", "np_atobarai_settings_invalid")

        shop_code = setting_text(settings.get("shop_code"))
        if not _SHOP_CODE.fullmatch(shop_code):
            check.bad(
                "shop_code", "SHOP_CODEはaktから始まる10桁のコードを設定してください(例:akt0000000)"
            )
        sp_code = setting_text(settings.get("sp_code"))
        if not _CODE.fullmatch(sp_code):
            check.bad("sp_code", "SP_CODEを半角英数記号で設定してください")
        terminal_id = setting_text(settings.get("terminal_id"))
        if not _CODE.fullmatch(terminal_id):
            check.bad("terminal_id", "端末IDを半角英数記号で設定してください")
        endpoint = (setting_text(settings.get("endpoint_url")) or TEST_URL).rstrip("/")
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            check.bad(
                "endpoint_url",
                "環境接続先URLは http:// または https:// で始まるURLで設定してください",
            )
        elif endpoint.lower().endswith("wsdl"):
            check.bad(
                "endpoint_url",
                f"環境接続先URLにはNP後払いAPIの接続先を設定してください(例: {PRODUCTION_URL})",
            )
        overrides, problems = carriers.parse_overrides(setting_text(settings.get("carrier_codes")))
        if problems:
            check.bad("carrier_codes", "、".join(problems))
        timeout = _number(settings.get("timeout_seconds"), cls.timeout_seconds)
        connect = _number(settings.get("connect_timeout_seconds"), cls.connect_timeout_seconds)
        if not (1 <= timeout <= 300 and 0.1 <= connect <= 60):
            check.bad("timeout_seconds", "タイムアウト秒数は1から300の数値で設定してください")
        check.done()
        return cls(
            shop_code=shop_code,
            sp_code=sp_code,
            terminal_id=terminal_id,
            endpoint_url=endpoint,
            carrier_codes=overrides,
            timeout_seconds=timeout,
            connect_timeout_seconds=min(connect, timeout),
        )


def _number(value: Any, default: float) -> float:
    if value is None or value == "":
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")
