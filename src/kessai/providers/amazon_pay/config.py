"""One Amazon Pay (v2) account's settings, from its 「Amazonアカウント新規登録・連携」: the
public key id and the private key file Amazon issued for it, checked once, the key kept out of
every repr.

Keys of the account's settings mapping (seed 001 "Amazon Pay(v2)"):
- public_key_id: 公開鍵ID (SANDBOX-… / LIVE-… say the environment; a bare id uses `sandbox`)
- private_key: 秘密鍵 (PEM, RSA): the file of the key pair whose public key is registered
- merchant_id: 出品者ID (the IPN's MerchantID is checked against it)
- store_id: クライアントID (the button and checkout sessions name it)
- sandbox (true): Amazon's Sandbox, where the IPN certificate is the configured one
- endpoint: the API's base URL (https://pay-api.amazon.jp, or a simulator's)
- ipn_certificate: the SNS signing certificate (PEM) trusted in sandbox
- timeout_seconds (30), connect_timeout_seconds (10)
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from cryptography.x509 import load_pem_x509_certificate

from kessai.providers.kit import SettingsCheck, setting_text

ENDPOINT = "https://pay-api.amazon.jp"
REGION = "jp"
_KEY_ID = re.compile(r"(?:(SANDBOX|LIVE)-)?[A-Z0-9]{10,40}")
_MERCHANT = re.compile(r"[A-Z0-9]{8,20}")
_STORE = re.compile(r"amzn1\.application-oa2-client\.[0-9a-f]{32}")


@dataclass(frozen=True)
class AmazonPayConfig:
    public_key_id: str
    private_key: rsa.RSAPrivateKey = field(repr=False)
    merchant_id: str | None = None
    store_id: str | None = None
    sandbox: bool = True
    endpoint: str = ENDPOINT
    ipn_certificate: bytes | None = field(default=None, repr=False)
    timeout_seconds: float = 30.0
    connect_timeout_seconds: float = 10.0

    @property
    def host(self) -> str:
        return urlsplit(self.endpoint).netloc

    @property
    def base_path(self) -> str:
        """/v2 for environment-specific keys (SANDBOX-/LIVE-), else /sandbox/v2 or /live/v2."""
        if self.public_key_id.startswith(("SANDBOX-", "LIVE-")):
            return "/v2"
        return "/sandbox/v2" if self.sandbox else "/live/v2"

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> "AmazonPayConfig":
        check = SettingsCheck("Amazon Pay(v2)", "amazon_pay_settings_invalid")
        key_id = setting_text(settings.get("public_key_id"))
        if not key_id:
            check.bad("public_key_id", "公開鍵IDが設定されていません")
        elif not _KEY_ID.fullmatch(key_id):
            check.bad("public_key_id", "公開鍵IDの形式が正しくありません(例: SANDBOX-AB12…)")
        key = _private_key(settings.get("private_key"), check)
        merchant = setting_text(settings.get("merchant_id")) or None
        if merchant is not None and not _MERCHANT.fullmatch(merchant):
            check.bad("merchant_id", "出品者IDは半角英大文字と数字で設定してください")
        store = setting_text(settings.get("store_id")) or None
        if store is not None and not _STORE.fullmatch(store):
            check.bad(
                "store_id",
                "クライアントIDは amzn1.application-oa2-client. で始まる値を設定してください",
            )
        sandbox = _flag(settings.get("sandbox"), default=not key_id.startswith("LIVE-"))
        if sandbox is None:
            check.bad("sandbox", "Sandboxの利用は true か false で設定してください")
        elif key_id.startswith(("SANDBOX-", "LIVE-")) and sandbox != key_id.startswith("SANDBOX-"):
            check.bad("sandbox", "公開鍵IDの環境(SANDBOX/LIVE)とSandboxの設定が一致しません")
        endpoint = (setting_text(settings.get("endpoint")) or ENDPOINT).rstrip("/")
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            check.bad(
                "endpoint", "接続先URLは http:// または https:// で始まるURLで設定してください"
            )
        cert = settings.get("ipn_certificate")
        cert_bytes = cert.encode() if isinstance(cert, str) else cert if cert else None
        if cert_bytes is not None:
            try:
                load_pem_x509_certificate(cert_bytes)
            except ValueError:
                check.bad("ipn_certificate", "IPNの署名証明書はPEM形式の証明書を設定してください")
        timeout = _number(settings.get("timeout_seconds"), 30.0, 1, 300)
        connect = _number(settings.get("connect_timeout_seconds"), 10.0, 0.1, 60)
        if timeout is None:
            check.bad("timeout_seconds", "タイムアウト秒数は1から300の数値で設定してください")
        if connect is None:
            check.bad(
                "connect_timeout_seconds", "接続タイムアウト秒数は0.1から60の数値で設定してください"
            )
        check.done()
        assert key is not None  # _private_key named it otherwise
        return cls(
            public_key_id=key_id,
            private_key=key,
            merchant_id=merchant,
            store_id=store,
            sandbox=bool(sandbox),
            endpoint=endpoint,
            ipn_certificate=cert_bytes,
            timeout_seconds=timeout or 30.0,
            connect_timeout_seconds=min(connect or 10.0, timeout or 30.0),
        )


def _private_key(value: Any, check: SettingsCheck) -> rsa.RSAPrivateKey | None:
    if not value:
        check.bad("private_key", "秘密鍵が設定されていません")
        return None
    data = value.encode() if isinstance(value, str) else bytes(value)
    try:
        key = load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        check.bad("private_key", "秘密鍵はパスワードなしのPEM形式のファイルを設定してください")
        return None
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < 2048:
        check.bad("private_key", "秘密鍵は2048ビット以上のRSA鍵を設定してください")
        return None
    return key


def _flag(value: Any, *, default: bool) -> bool | None:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    lowered = str(value).strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    return None


def _number(value: Any, default: float, low: float, high: float) -> float | None:
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if low <= number <= high else None
