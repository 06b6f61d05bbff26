"""Amazon Pay IPN: Amazon SNS posts a notification (JSON envelope) when a charge, refund or
charge permission changes. The envelope is signed by SNS: SignatureVersion 1 (SHA1withRSA) or
2 (SHA256withRSA) over "Message\\n…\\nMessageId\\n…\\n[Subject\\n…\\n]Timestamp\\n…\\nTopicArn\\n…
\\nType\\n…\\n", with the certificate at SigningCertURL.

Which certificate is trusted: in production, only one served over https from an SNS host
(sns.<region>.amazonaws.com), fetched once per URL; in sandbox the account's configured
certificate (`ipn_certificate`), so a simulator can sign without being Amazon. The Message
names the charge permission, which is the transaction id kessai keeps for the order; the
inbox looks the charge up at Amazon before anything moves, so a late or repeated
notification changes nothing that Amazon does not say.
"""

import base64
import json
import re
import urllib.request
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509 import Certificate, load_pem_x509_certificate

from kessai.providers.kit import Forged, Notification, Verified

SNS_HOST = re.compile(r"sns\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?")
MAX_AGE = timedelta(hours=1)  # SNS retries for minutes; an older message is a replay
MAX_SKEW = timedelta(minutes=5)
_SIGNED_KEYS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {"1": hashes.SHA1, "2": hashes.SHA256}
_CERTIFICATES: dict[str, Certificate] = {}  # production: by SigningCertURL, filled on first use
_MAX_CACHED = 16


def string_to_sign(envelope: Mapping[str, Any]) -> str:
    return "".join(
        f"{key}\n{envelope[key]}\n" for key in _SIGNED_KEYS if envelope.get(key) is not None
    )


def fetch_certificate(url: str) -> bytes:
    """The certificate SNS names (production only; the URL is checked first)."""
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - https, SNS host
        data: bytes = response.read(64 * 1024)
    return data


def production_certificate(url: str) -> Certificate:
    parts = urlsplit(url)
    if parts.scheme != "https" or not SNS_HOST.fullmatch(parts.hostname or ""):
        raise Forged("IPNの署名証明書のURLがAmazon SNSのものではありません")
    if not parts.path.endswith(".pem"):
        raise Forged("IPNの署名証明書のURLが正しくありません")
    cached = _CERTIFICATES.get(url)
    if cached is None:
        try:
            cached = load_pem_x509_certificate(fetch_certificate(url))
        except (OSError, ValueError):
            raise Forged("IPNの署名証明書を取得できませんでした") from None
        if len(_CERTIFICATES) >= _MAX_CACHED:
            _CERTIFICATES.clear()
        _CERTIFICATES[url] = cached
    return cached


def _sandbox(settings: Mapping[str, Any]) -> bool:
    value = settings.get("sandbox")
    if value is None or value == "":
        return not str(settings.get("public_key_id") or "").startswith("LIVE-")
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _certificate(envelope: Mapping[str, Any], settings: Mapping[str, Any]) -> Certificate:
    if not _sandbox(settings):
        return production_certificate(str(envelope.get("SigningCertURL") or ""))
    configured = settings.get("ipn_certificate")
    if not configured:
        raise Forged("SandboxのIPN署名証明書が設定されていません")
    data = configured.encode() if isinstance(configured, str) else bytes(configured)
    try:
        return load_pem_x509_certificate(data)
    except ValueError:
        raise Forged("IPN署名証明書の形式が正しくありません") from None


def _timestamp(value: Any, now: datetime | None) -> None:
    try:
        sent = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise Forged("IPNの送信時刻を読めません") from None
    if sent.tzinfo is None:
        raise Forged("IPNの送信時刻にタイムゾーンがありません")
    if now is not None and not (now - MAX_AGE <= sent <= now + MAX_SKEW):
        raise Forged("IPNの送信時刻が古すぎるか新しすぎます")


def verify(note: Notification, settings: Mapping[str, Any]) -> Verified:
    try:
        envelope = json.loads(note.body)
    except ValueError:
        raise Forged("IPNの本文を読めません") from None
    if not isinstance(envelope, dict) or envelope.get("Type") != "Notification":
        raise Forged("IPNの種類(Type)がNotificationではありません")
    algorithm = _HASHES.get(str(envelope.get("SignatureVersion")))
    if algorithm is None:
        raise Forged("IPNの署名バージョンが正しくありません")
    if not all(isinstance(envelope.get(k), str) for k in ("Message", "MessageId", "Timestamp")):
        raise Forged("IPNに必要な項目がありません")
    certificate = _certificate(envelope, settings)
    public_key = certificate.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise Forged("IPN署名証明書の鍵がRSAではありません")
    try:
        signature = base64.b64decode(str(envelope.get("Signature") or ""), validate=True)
        public_key.verify(
            signature, string_to_sign(envelope).encode(), padding.PKCS1v15(), algorithm()
        )
    except (InvalidSignature, ValueError):
        raise Forged("IPNの署名が一致しません") from None
    _timestamp(envelope["Timestamp"], note.received_at)
    try:
        message = json.loads(envelope["Message"])
        permission = str(message["ChargePermissionId"])
        kind = f"{message['ObjectType']}.{message['NotificationType']}"
    except (ValueError, KeyError, TypeError):
        raise Forged("IPNのメッセージを読めません") from None
    merchant = settings.get("merchant_id")
    if merchant and message.get("MerchantID") != merchant:
        raise Forged("IPNの出品者IDがこのアカウントと一致しません")
    return Verified(
        event_id=envelope["MessageId"][:200],
        reference=permission[:60],
        event=kind[:60],
        data={
            "object_type": str(message.get("ObjectType") or ""),
            "object_id": str(message.get("ObjectId") or ""),
            "charge_permission_id": permission,
        },
    )
