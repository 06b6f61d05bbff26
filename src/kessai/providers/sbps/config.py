"""One SBPS account's settings (外部連携アカウント「SBPS」「SBPSキャリア」), checked once,
secrets kept out of every repr.

Seed 001: merchant_id (マーチャントID), service_id (サービスID), basic_auth_id /
basic_auth_password (Basic認証), hash_key (ハッシュキー), security_code. Beyond the schema:
- endpoint_url: the XML API (default SBPS's sandbox https://stbfep.sps-system.com/api/xmlapi.do)
- purchase_url: the link-type purchase page carrier payments send the customer to (default
  the sandbox's https://stbfep.sps-system.com/f01/FepBuyInfoReceive.do)
- encryption_key / encryption_iv: the 3DES key (24) and IV (8) SBPS issues; with them the
  fields SBPS encrypts travel with encrypted_flg=1
- return_url: where the customer comes back after a carrier payment
- kessai_url: kessai's public base URL; it becomes the 購入要求's pagecon_url, where SBPS
  posts a carrier payment's 結果CGI (a Shift_JIS form, answered "OK,"):
  <kessai_url>/webhooks/sbps/<account id>
- timeout_seconds (60)
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from kessai.providers.kit import SettingsCheck, setting_text

SANDBOX_API = "https://stbfep.sps-system.com/api/xmlapi.do"
SANDBOX_PURCHASE = "https://stbfep.sps-system.com/f01/FepBuyInfoReceive.do"
_MERCHANT = re.compile(r"[0-9]{5}")
_SERVICE = re.compile(r"[0-9]{3}")
_ASCII = re.compile(r"[\x21-\x7e]{1,64}")


@dataclass(frozen=True)
class SbpsConfig:
    merchant_id: str
    service_id: str
    basic_auth_id: str
    basic_auth_password: str = field(repr=False)
    hash_key: str = field(repr=False)
    endpoint_url: str = SANDBOX_API
    purchase_url: str = SANDBOX_PURCHASE
    encryption_key: str | None = field(default=None, repr=False)
    encryption_iv: str | None = field(default=None, repr=False)
    return_url: str | None = None
    kessai_url: str | None = None
    timeout_seconds: float = 60.0

    @property
    def encrypts(self) -> bool:
        return bool(self.encryption_key and self.encryption_iv)

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> "SbpsConfig":
        check = SettingsCheck("SBPS", "sbps_settings_invalid")
        text = {k: setting_text(settings.get(k)) for k in _KEYS}
        if not _MERCHANT.fullmatch(text["merchant_id"]):
            check.bad("merchant_id", "マーチャントIDは5桁の数字で設定してください")
        if not _SERVICE.fullmatch(text["service_id"]):
            check.bad("service_id", "サービスIDは3桁の数字で設定してください")
        for key, label in (
            ("basic_auth_id", "Basic認証ID"),
            ("basic_auth_password", "Basic認証Password"),
            ("hash_key", "ハッシュキー"),
        ):
            if not _ASCII.fullmatch(text[key]):
                check.bad(key, f"{label}を半角英数記号で設定してください")
        for key, default in (("endpoint_url", SANDBOX_API), ("purchase_url", SANDBOX_PURCHASE)):
            url = text[key] or default
            if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
                check.bad(key, "接続先URLは http:// または https:// で始まるURLで設定してください")
            text[key] = url
        key, iv = text["encryption_key"], text["encryption_iv"]
        if (key or iv) and (len(key) != 24 or len(iv) != 8 or not (key + iv).isascii()):
            check.bad(
                "encryption_key", "3DES暗号化キーは24文字、初期化ベクトルは8文字で設定してください"
            )
        check.done()
        return cls(
            merchant_id=text["merchant_id"],
            service_id=text["service_id"],
            basic_auth_id=text["basic_auth_id"],
            basic_auth_password=text["basic_auth_password"],
            hash_key=text["hash_key"],
            endpoint_url=text["endpoint_url"],
            purchase_url=text["purchase_url"],
            encryption_key=key or None,
            encryption_iv=iv or None,
            return_url=text["return_url"] or None,
            kessai_url=(text["kessai_url"] or "").rstrip("/") or None,
            timeout_seconds=float(settings.get("timeout_seconds") or cls.timeout_seconds),
        )


_KEYS = (
    "merchant_id",
    "service_id",
    "basic_auth_id",
    "basic_auth_password",
    "hash_key",
    "endpoint_url",
    "purchase_url",
    "encryption_key",
    "encryption_iv",
    "return_url",
    "kessai_url",
)
