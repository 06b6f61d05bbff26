"""One KOMOJU account's settings, checked once, secrets kept out of every repr.

Keys: secret_key (シークレットキー: HTTP Basic user name, no password), publishable_key
(パブリッシャブルキー: the storefront's, for card tokens), webhook_secret (Webhookの
シークレットトークン: X-Komoju-Signature), endpoint (https://komoju.com, or a simulator's),
timeout_seconds (30), connect_timeout_seconds (10).
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from kessai.providers.kit import SettingsCheck, setting_text

ENDPOINT = "https://komoju.com"
_SECRET = re.compile(r"(?:sk|degica)_(?:test|live)_[A-Za-z0-9]{8,64}|[A-Za-z0-9_]{16,80}")
_PUBLISHABLE = re.compile(r"pk_(?:test|live)_[A-Za-z0-9]{8,64}")


@dataclass(frozen=True)
class KomojuConfig:
    secret_key: str = field(repr=False)
    publishable_key: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)
    endpoint: str = ENDPOINT
    timeout_seconds: float = 30.0
    connect_timeout_seconds: float = 10.0

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> "KomojuConfig":
        check = SettingsCheck("KOMOJU", "komoju_settings_invalid")
        secret = setting_text(settings.get("secret_key"))
        if not secret:
            check.bad("secret_key", "シークレットキーが設定されていません")
        elif not _SECRET.fullmatch(secret):
            check.bad("secret_key", "シークレットキーの形式が正しくありません(例: sk_test_…)")
        publishable = setting_text(settings.get("publishable_key")) or None
        if publishable is not None and not _PUBLISHABLE.fullmatch(publishable):
            check.bad(
                "publishable_key",
                "パブリッシャブルキーの形式が正しくありません(例: pk_test_…)",
            )
        webhook = setting_text(settings.get("webhook_secret")) or None
        if webhook is not None and not 8 <= len(webhook) <= 200:
            check.bad(
                "webhook_secret",
                "Webhookのシークレットトークンは8〜200文字で設定してください",
            )
        endpoint = (setting_text(settings.get("endpoint")) or ENDPOINT).rstrip("/")
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            check.bad(
                "endpoint",
                "接続先URLは http:// または https:// で始まるURLで設定してください",
            )
        check.done()
        return cls(
            secret_key=secret,
            publishable_key=publishable,
            webhook_secret=webhook,
            endpoint=endpoint,
        )
