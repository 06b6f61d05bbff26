"""One GMO PG account's settings (外部連携アカウント「GMO PG」), checked once, secrets kept out
of every repr.

Keys of the account's settings mapping:
- shop_id, shop_pass: ショップID / ショップパスワード (required)
- site_id, site_pass: サイトID / サイトパスワード (needed for 会員・カード and stored-card payments)
- endpoint: the idPass base URL, e.g. https://pt01.mul-pay.jp (GMO's test environment),
  https://p01.mul-pay.jp (production) or a simulator's URL; `/payment/<API>.idPass` is appended
- timeout_seconds (60), connect_timeout_seconds (10)
- e92_retries (3), e92_backoff_seconds (1.0), e92_backoff_max_seconds (8.0): the rate-limit retry
- tds2 (false): 3-D Secure 2.0 for every authorization; tds2_return_url: where GMO sends the
  customer back after the challenge (RetUrl)
- link_endpoint: where リンクタイプ Plus links point (https://stg.link.mul-pay.jp for GMO's test
  environment, https://link.mul-pay.jp for production; by default the one beside `endpoint`,
  or `endpoint` itself for a simulator); link_config_id: 設定ID of GMO's shop admin (optional)
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from kessai.core.errors import ConfigurationError

_ID = re.compile(r"[A-Za-z0-9]{1,13}")
_PASS = re.compile(r"[\x21-\x7e]{1,20}")  # printable ASCII, no spaces
_CONFIG_ID = re.compile(r"[A-Za-z0-9_-]{1,40}")
# GMO's idPass hosts → the リンクタイプ Plus host of the same environment.
_LINK_HOSTS = {
    "https://pt01.mul-pay.jp": "https://stg.link.mul-pay.jp",
    "https://p01.mul-pay.jp": "https://link.mul-pay.jp",
}


@dataclass(frozen=True)
class GmoPgConfig:
    shop_id: str
    shop_pass: str = field(repr=False)
    endpoint: str = "https://pt01.mul-pay.jp"
    site_id: str | None = None
    site_pass: str | None = field(default=None, repr=False)
    timeout_seconds: float = 60.0
    connect_timeout_seconds: float = 10.0
    e92_retries: int = 3
    e92_backoff_seconds: float = 1.0
    e92_backoff_max_seconds: float = 8.0
    tds2: bool = False
    tds2_return_url: str | None = None
    link_endpoint: str = "https://stg.link.mul-pay.jp"
    link_config_id: str | None = None

    @property
    def has_site(self) -> bool:
        return bool(self.site_id and self.site_pass)

    def url(self, api: str) -> str:
        return f"{self.endpoint}/payment/{api}.idPass"

    def e92_delay(self, attempt: int) -> float:
        """Exponential backoff for the n-th retry (0-based), bounded."""
        return float(min(self.e92_backoff_seconds * (2**attempt), self.e92_backoff_max_seconds))

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> "GmoPgConfig":
        """Build from an account's settings; every problem is named in one Japanese message.

        Values are never echoed back: a mistyped password must not reach an error page.
        """
        problems: list[str] = []
        fields_: list[str] = []
        by_field: dict[str, str] = {}

        def bad(key: str, message: str) -> None:
            fields_.append(key)
            problems.append(message)
            by_field[key] = f"{by_field[key]}、{message}" if key in by_field else message

        shop_id = _text(settings.get("shop_id"))
        if not shop_id:
            bad("shop_id", "ショップIDが設定されていません")
        elif not _ID.fullmatch(shop_id):
            bad("shop_id", "ショップIDは13文字以内の半角英数字で設定してください")
        shop_pass = _text(settings.get("shop_pass"))
        if not shop_pass:
            bad("shop_pass", "ショップパスワードが設定されていません")
        elif not _PASS.fullmatch(shop_pass):
            bad("shop_pass", "ショップパスワードは20文字以内の半角英数記号で設定してください")

        site_id = _text(settings.get("site_id")) or None
        site_pass = _text(settings.get("site_pass")) or None
        if site_id is not None and not _ID.fullmatch(site_id):
            bad("site_id", "サイトIDは13文字以内の半角英数字で設定してください")
        if site_pass is not None and not _PASS.fullmatch(site_pass):
            bad("site_pass", "サイトパスワードは20文字以内の半角英数記号で設定してください")
        if (site_id is None) != (site_pass is None):
            bad("site_id", "サイトIDとサイトパスワードは両方とも設定してください")

        endpoint = _text(settings.get("endpoint")) or cls.endpoint
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            bad("endpoint", "接続先URLは http:// または https:// で始まるURLで設定してください")
        endpoint = endpoint.rstrip("/")

        def number(key: str, default: float, low: float, high: float, label: str) -> float:
            raw = settings.get(key)
            if raw is None or raw == "":
                return default
            try:
                value = float(raw)
            except (TypeError, ValueError):
                value = float("nan")
            if not low <= value <= high:  # NaN fails too
                bad(key, f"{label}は{low:g}から{high:g}の数値で設定してください")
                return default
            return value

        timeout = number("timeout_seconds", cls.timeout_seconds, 1, 300, "タイムアウト秒数")
        connect = number(
            "connect_timeout_seconds", cls.connect_timeout_seconds, 0.1, 60, "接続タイムアウト秒数"
        )
        retries = number("e92_retries", cls.e92_retries, 0, 10, "流量制限時の再試行回数")
        if retries != int(retries):
            bad("e92_retries", "流量制限時の再試行回数は整数で設定してください")
        backoff = number("e92_backoff_seconds", cls.e92_backoff_seconds, 0, 60, "再試行の待ち秒数")
        backoff_max = number(
            "e92_backoff_max_seconds", cls.e92_backoff_max_seconds, 0, 300, "再試行の最大待ち秒数"
        )

        tds2 = _flag(settings.get("tds2"))
        if tds2 is None:
            bad("tds2", "3Dセキュア2.0の利用は true か false で設定してください")
        return_url = _text(settings.get("tds2_return_url")) or None
        if return_url is not None and urlsplit(return_url).scheme not in ("http", "https"):
            bad("tds2_return_url", "3Dセキュア認証後の戻り先URLは http(s):// で設定してください")
        if tds2 and return_url is None:
            bad("tds2_return_url", "3Dセキュア2.0を使うときは認証後の戻り先URLを設定してください")

        link_endpoint = _text(settings.get("link_endpoint"))
        if link_endpoint and urlsplit(link_endpoint).scheme not in ("http", "https"):
            bad("link_endpoint", "リンクタイプの接続先URLは http(s):// で設定してください")
        link_endpoint = link_endpoint or _LINK_HOSTS.get(endpoint, endpoint)
        config_id = _text(settings.get("link_config_id")) or None
        if config_id is not None and not _CONFIG_ID.fullmatch(config_id):
            bad("link_config_id", "設定IDは半角英数字・ハイフン・アンダースコアで設定してください")

        if problems:
            raise ConfigurationError(
                "GMO PGの設定に誤りがあります: " + "、".join(problems),
                code="gmo_pg_settings_invalid",
                detail={"fields": sorted(set(fields_)), "problems": by_field},
            )
        return cls(
            shop_id=shop_id,
            shop_pass=shop_pass,
            endpoint=endpoint,
            site_id=site_id,
            site_pass=site_pass,
            timeout_seconds=timeout,
            connect_timeout_seconds=min(connect, timeout),
            e92_retries=int(retries),
            e92_backoff_seconds=backoff,
            e92_backoff_max_seconds=backoff_max,
            tds2=bool(tds2),
            tds2_return_url=return_url,
            link_endpoint=link_endpoint.rstrip("/"),
            link_config_id=config_id,
        )


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else "" if value is None else str(value)


def _flag(value: Any) -> bool | None:
    if value is None or value == "":
        return False
    if isinstance(value, bool):
        return value
    lowered = str(value).strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    return None
