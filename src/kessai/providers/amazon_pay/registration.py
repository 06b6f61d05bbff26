"""「Amazonアカウント新規登録・連携」: Amazon Pay's unhosted merchant registration with
Automatic Key Exchange (onboardingVersion 2), kessai's side.

- The account gets its own RSA key pair (2048 bits). The private key is kept like every other
  secret of the account; the public key goes to Amazon in the registration form, as base64 DER
  (SubjectPublicKeyInfo) without the PEM armour.
- The operator's browser POSTs the form (spId, onboardingVersion=2, publicKey, keyShareURL, …)
  to Amazon's registration URL.
- When the merchant has finished, Amazon POSTs the form parameter `payload`, a JSON object
  {"merchantId", "storeId", "publicKeyId"} to the keyShareURL. publicKeyId is URL-encoded
  base64 of the key id RSA-encrypted (PKCS#1 v1.5) with the account's public key: only the
  holder of the private key reads it, which is how the sender is checked.
- The keyShareURL answers 200 {"result": "success"}, or 400 {"result": "error", "message"},
  with Access-Control-Allow-Origin https://payments.amazon.com, Methods GET, POST and Headers
  Content-Type.
"""

import base64
import binascii
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from kessai.core.errors import InvalidInput
from kessai.providers.amazon_pay.config import ENDPOINT

REGISTRATION_URL = "https://payments.amazon.com/register"
ORIGIN = "https://payments.amazon.com"
ANSWER_HEADERS = {
    "Access-Control-Allow-Origin": ORIGIN,
    "Access-Control-Allow-Methods": "GET, POST",
    "Access-Control-Allow-Headers": "Content-Type",
}
ONBOARDING_VERSION = "2"
# The simulator's service provider id; a real one comes from Amazon's account representative.
SANDBOX_SP_ID = "AKESSAISIMSP01"
KEY_BITS = 2048
_KEY_ID = re.compile(r"(?:(SANDBOX|LIVE)-)?[A-Z0-9]{10,40}")
_MERCHANT = re.compile(r"[A-Z0-9]{8,20}")
_STORE = re.compile(r"amzn1\.application-oa2-client\.[0-9a-f]{32}")
MAX_PAYLOAD = 8 * 1024


@dataclass(frozen=True)
class KeyPair:
    private_pem: bytes = field(repr=False)
    public_key: str  # base64 DER, as the registration form sends it


def new_key_pair() -> KeyPair:
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return KeyPair(pem, public_key_text(key.public_key()))


def public_key_text(key: rsa.RSAPublicKey) -> str:
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def load_public_key(text: str) -> rsa.RSAPublicKey | None:
    """The registration form's publicKey (base64 DER, or PEM), or None when it is not one."""
    body = re.sub(r"-----[A-Z ]+-----|\s", "", text or "")
    try:
        key = serialization.load_der_public_key(base64.b64decode(body, validate=True))
    except (ValueError, binascii.Error):
        return None
    return key if isinstance(key, rsa.RSAPublicKey) and key.key_size >= KEY_BITS else None


def encrypt_key_id(public_key: rsa.RSAPublicKey, key_id: str) -> str:
    """publicKeyId as Amazon sends it (the simulator's side)."""
    raw = public_key.encrypt(key_id.encode(), padding.PKCS1v15())
    return base64.b64encode(raw).decode()


SP_ID_VARIABLE = "KESSAI_AMAZON_PAY_SP_ID"


def registration(
    settings: Mapping[str, Any], public_key: str, key_share_url: str
) -> tuple[str, dict[str, str]]:
    """Where the operator's browser posts, and the fields: an account on a simulator (its
    endpoint is not Amazon's API) registers at that simulator's /register."""
    endpoint = str(settings.get("endpoint") or ENDPOINT).rstrip("/")
    simulated = endpoint != ENDPOINT
    url = f"{endpoint}/register" if simulated else REGISTRATION_URL
    # spId names the installation to Amazon (issued to whoever runs kessai, not per shop):
    # KESSAI_AMAZON_PAY_SP_ID, or an account's own sp_id where one shop differs.
    installed = os.environ.get(SP_ID_VARIABLE, "")
    sp_id = str(settings.get("sp_id") or installed or (SANDBOX_SP_ID if simulated else "")).strip()
    if not sp_id:
        raise InvalidInput(
            "Amazon Pay の spId(ソリューションプロバイダーID)が設定されていないため、"
            f"連携を始められません。環境変数 {SP_ID_VARIABLE} に設定してください",
            code="amazon_pay_sp_id_missing",
        )
    return url, {
        "spId": sp_id,
        "onboardingVersion": ONBOARDING_VERSION,
        "publicKey": public_key,
        "keyShareURL": key_share_url,
        "locale": "ja_JP",
        "source": "SPPL",
    }


def _refused(message: str, code: str) -> InvalidInput:
    return InvalidInput(message, code=code)


def read_payload(payload: str, private_pem: bytes) -> dict[str, str]:
    """The account settings the key exchange hands over (merchant_id, store_id,
    public_key_id), or InvalidInput saying in Japanese why the payload is refused."""
    if not payload or len(payload) > MAX_PAYLOAD:
        raise _refused("連携情報(payload)が送られていません", "amazon_pay_payload_missing")
    try:
        body = json.loads(payload)
    except ValueError:
        raise _refused(
            "連携情報(payload)がJSONではありません", "amazon_pay_payload_invalid"
        ) from None
    if not isinstance(body, dict) or not all(
        isinstance(body.get(k), str) and body.get(k)
        for k in ("merchantId", "storeId", "publicKeyId")
    ):
        raise _refused(
            "連携情報に merchantId・storeId・publicKeyId がそろっていません",
            "amazon_pay_payload_invalid",
        )
    key = serialization.load_pem_private_key(private_pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise _refused("このアカウントの秘密鍵はRSA鍵ではありません", "amazon_pay_key_invalid")
    try:
        sealed = base64.b64decode(unquote(body["publicKeyId"]), validate=True)
        key_id = key.decrypt(sealed, padding.PKCS1v15()).decode("ascii")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        key_id = ""
    # OpenSSL may answer a wrong key with random bytes rather than an error (implicit
    # rejection): what is not a key id did not decrypt.
    if not _KEY_ID.fullmatch(key_id):
        raise _refused(
            "連携情報を復号できませんでした(このアカウントで始めた連携ではありません)",
            "amazon_pay_payload_undecryptable",
        )
    merchant, store = body["merchantId"].strip(), body["storeId"].strip()
    if not _MERCHANT.fullmatch(merchant):
        raise _refused("連携情報の出品者IDの形式が正しくありません", "amazon_pay_payload_invalid")
    if not _STORE.fullmatch(store):
        raise _refused("連携情報のストアIDの形式が正しくありません", "amazon_pay_payload_invalid")
    return {"merchant_id": merchant, "store_id": store, "public_key_id": key_id}
