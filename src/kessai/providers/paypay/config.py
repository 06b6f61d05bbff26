"""One PayPay account's settings (外部連携アカウント「PayPay」), checked once, secrets kept out
of every repr.

Keys of the account's settings mapping:
- api_key, api_secret: APIキー / APIシークレット (required; the secret signs every request)
- merchant_id: 加盟店ID, sent as X-ASSUME-MERCHANT (agent clients need it)
- endpoint: the API base URL: https://apigw.paypay.ne.jp (production),
  https://apigw.sandbox.paypay.ne.jp (sandbox) or a simulator's URL
- webhook_sources: the addresses PayPay posts its notifications from (PayPay does not sign
  them): comma or newline separated addresses or networks (CIDR)
- authorization_days (30): how long a pre-authorization stays open (PayPay allows at most 30)
- redirect_url: where PayPay sends the customer back after paying a QR code
- timeout_seconds (30: PayPay's timeout for creating a payment), connect_timeout_seconds (10)
- rate_limit_retries (3), backoff_seconds (1.0), backoff_max_seconds (8.0): the retry of
  RATE_LIMIT answers, and of server errors on requests that change nothing
"""

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from kessai.providers.kit import SettingsCheck, setting_text
from kessai.providers.paypay import limits

SANDBOX_ENDPOINT = "https://apigw.sandbox.paypay.ne.jp"
_KEY = re.compile(r"[\x21-\x39\x3b-\x7e]{1,128}")  # printable ASCII without ':' (the separator)
_MERCHANT = re.compile(r"[A-Za-z0-9_-]{1,64}")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_sources(raw: Any) -> tuple[Network, ...]:
    """Addresses or networks, comma / whitespace separated; ValueError names a bad one."""
    if raw is None:
        return ()
    items = raw if isinstance(raw, list | tuple) else re.split(r"[\s,]+", str(raw))
    out: list[Network] = []
    for item in items:
        text = str(item).strip()
        if text:
            out.append(ipaddress.ip_network(text, strict=False))
    return tuple(out)


@dataclass(frozen=True)
class PayPayConfig:
    api_key: str
    api_secret: str = field(repr=False)
    merchant_id: str | None = None
    endpoint: str = SANDBOX_ENDPOINT
    webhook_sources: tuple[Network, ...] = ()
    authorization_days: int = limits.PREAUTH_MAX_DAYS
    redirect_url: str | None = None
    timeout_seconds: float = 30.0
    connect_timeout_seconds: float = 10.0
    rate_limit_retries: int = 3
    backoff_seconds: float = 1.0
    backoff_max_seconds: float = 8.0

    def delay(self, attempt: int) -> float:
        return float(min(self.backoff_seconds * (2**attempt), self.backoff_max_seconds))

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> "PayPayConfig":
        """Every problem named in one Japanese message; values are never echoed back."""
        check = SettingsCheck("PayPay", "paypay_settings_invalid")

        api_key = setting_text(settings.get("api_key"))
        if not api_key:
            check.bad("api_key", "APIキーが設定されていません")
        elif not _KEY.fullmatch(api_key):
            check.bad("api_key", "APIキーは128文字以内の半角英数記号(: を除く)で設定してください")
        api_secret = setting_text(settings.get("api_secret"))
        if not api_secret:
            check.bad("api_secret", "APIシークレットが設定されていません")
        elif not _KEY.fullmatch(api_secret):
            check.bad("api_secret", "APIシークレットは128文字以内の半角英数記号で設定してください")
        merchant_id = setting_text(settings.get("merchant_id")) or None
        if merchant_id is not None and not _MERCHANT.fullmatch(merchant_id):
            check.bad("merchant_id", "加盟店IDは64文字以内の半角英数字で設定してください")

        endpoint = setting_text(settings.get("endpoint")) or cls.endpoint
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            check.bad(
                "endpoint",
                "接続先URLは http:// または https:// で始まるURLで設定してください",
            )
        try:
            sources = parse_sources(settings.get("webhook_sources"))
        except ValueError:
            sources = ()
            check.bad(
                "webhook_sources",
                "通知元IPアドレスはIPアドレスまたはCIDR形式で設定してください",
            )

        def number(key: str, default: float, low: float, high: float, label: str) -> float:
            raw = settings.get(key)
            if raw is None or raw == "":
                return default
            try:
                value = float(raw)
            except (TypeError, ValueError):
                value = float("nan")
            if not low <= value <= high:  # NaN fails too
                check.bad(key, f"{label}は{low:g}から{high:g}の数値で設定してください")
                return default
            return value

        days = number(
            "authorization_days",
            limits.PREAUTH_MAX_DAYS,
            1,
            limits.PREAUTH_MAX_DAYS,
            "与信期間(日)",
        )
        if days != int(days):
            check.bad("authorization_days", "与信期間(日)は整数で設定してください")
        redirect_url = setting_text(settings.get("redirect_url")) or None
        if redirect_url is not None and urlsplit(redirect_url).scheme not in ("http", "https"):
            check.bad("redirect_url", "支払い後の戻り先URLは http(s):// で設定してください")
        timeout = number("timeout_seconds", cls.timeout_seconds, 1, 300, "タイムアウト秒数")
        connect = number(
            "connect_timeout_seconds", cls.connect_timeout_seconds, 0.1, 60, "接続タイムアウト秒数"
        )
        retries = number("rate_limit_retries", cls.rate_limit_retries, 0, 10, "再試行回数")
        if retries != int(retries):
            check.bad("rate_limit_retries", "再試行回数は整数で設定してください")
        backoff = number("backoff_seconds", cls.backoff_seconds, 0, 60, "再試行の待ち秒数")
        backoff_max = number(
            "backoff_max_seconds", cls.backoff_max_seconds, 0, 300, "再試行の最大待ち秒数"
        )
        check.done()
        return cls(
            api_key=api_key,
            api_secret=api_secret,
            merchant_id=merchant_id,
            endpoint=endpoint.rstrip("/"),
            webhook_sources=sources,
            authorization_days=int(days),
            redirect_url=redirect_url,
            timeout_seconds=timeout,
            connect_timeout_seconds=min(connect, timeout),
            rate_limit_retries=int(retries),
            backoff_seconds=backoff,
            backoff_max_seconds=backoff_max,
        )
