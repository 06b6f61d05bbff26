"""PayPay's `hmac OPA-Auth` request signature, for the connector (sign) and the simulator
(verify).

    Authorization: hmac OPA-Auth:<api key>:<mac>:<nonce>:<epoch>:<body hash>

- body hash: base64(MD5(content type + body)), or the word "empty" when there is no body
  (and the content type signed is then "empty" too);
- mac: base64(HMAC-SHA256(api secret, path \\n method \\n nonce \\n epoch \\n content type \\n
  body hash)); the path is the request path without its query string;
- epoch: seconds; PayPay refuses a request signed more than 2 minutes away from its clock;
- nonce: random per request, so a captured header cannot be sent again.
"""

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

AUTH_TYPE = "hmac OPA-Auth"
EMPTY = "empty"
CONTENT_TYPE = "application/json;charset=UTF-8"
MAX_SKEW_SECONDS = 120


def body_hash(content_type: str, body: bytes | None) -> str:
    if not body:
        return EMPTY
    digest = hashlib.md5(content_type.encode() + body, usedforsecurity=False).digest()
    return base64.b64encode(digest).decode()


def mac(
    secret: str, path: str, method: str, nonce: str, epoch: int, content_type: str, hashed: str
) -> str:
    raw = "\n".join([path, method.upper(), nonce, str(epoch), content_type, hashed])
    digest = hmac.new(secret.encode(), raw.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def new_nonce() -> str:
    return secrets.token_hex(4)


def authorization(
    api_key: str,
    secret: str,
    method: str,
    path: str,
    body: bytes | None,
    *,
    epoch: int,
    nonce: str,
    content_type: str = CONTENT_TYPE,
) -> str:
    signed_type = content_type if body else EMPTY
    hashed = body_hash(signed_type, body)
    signature = mac(secret, path, method, nonce, epoch, signed_type, hashed)
    return f"{AUTH_TYPE}:{api_key}:{signature}:{nonce}:{epoch}:{hashed}"


@dataclass(frozen=True)
class Signed:
    """An Authorization header taken apart."""

    api_key: str
    mac: str
    nonce: str
    epoch: int
    body_hash: str


def parse(header: str | None) -> Signed | None:
    prefix = AUTH_TYPE + ":"
    if not header or not header.startswith(prefix):
        return None
    parts = header[len(prefix) :].split(":")
    if len(parts) != 5 or not parts[3].isdigit() or not all(parts):
        return None
    key, signature, nonce, epoch, hashed = parts
    return Signed(key, signature, nonce, int(epoch), hashed)


def verify(
    signed: Signed, secret: str, method: str, path: str, content_type: str, body: bytes | None
) -> bool:
    """Does the header hold for this request? (The clock and the nonce are the caller's.)"""
    signed_type = content_type if body else EMPTY
    hashed = body_hash(signed_type, body)
    if not hmac.compare_digest(hashed, signed.body_hash):
        return False
    expected = mac(secret, path, method, signed.nonce, signed.epoch, signed_type, hashed)
    return hmac.compare_digest(expected, signed.mac)
