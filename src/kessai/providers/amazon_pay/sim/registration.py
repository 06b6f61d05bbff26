"""Amazon's side of the unhosted merchant registration with Automatic Key Exchange
(onboardingVersion 2), for the simulator.

POST /register takes the registration form (spId, onboardingVersion=2, publicKey, keyShareURL
…) and shows the merchant's page; its button (POST /register/<id>/complete) finishes the
registration: the public key is registered under a new public key id of the Sandbox merchant,
and the credentials are POSTed to the keyShareURL as Amazon does it, the form parameter
`payload` holding {"merchantId", "storeId", "publicKeyId"} with publicKeyId RSA-encrypted
(PKCS#1 v1.5) with that public key, base64 then URL-encoded, from Origin
https://payments.amazon.com. The page then says what the keyShareURL answered.
"""

import hashlib
import html
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
from cryptography.hazmat.primitives.asymmetric import rsa

from kessai.providers.amazon_pay.registration import (
    ONBOARDING_VERSION,
    ORIGIN,
    encrypt_key_id,
    load_public_key,
)

KIND = "registration"
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


class RegistrationError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def begin(form: dict[str, str], new_id: Callable[[str], str]) -> dict[str, Any]:
    """A registration record from the posted form, or RegistrationError (Amazon's page says
    what is wrong and goes no further)."""
    if not form.get("spId"):
        raise RegistrationError("spId is required")
    if form.get("onboardingVersion") != ONBOARDING_VERSION:
        raise RegistrationError("onboardingVersion must be 2 for the key exchange")
    if load_public_key(form.get("publicKey", "")) is None:
        raise RegistrationError("publicKey must be a 2048-bit RSA public key (base64 DER)")
    target = urlsplit(form.get("keyShareURL", ""))
    if target.scheme not in ("http", "https") or not target.netloc:
        raise RegistrationError("keyShareURL must be an http(s) URL")
    return {
        "id": new_id("REG"),
        "spId": form["spId"],
        "publicKey": form["publicKey"],
        "keyShareURL": form["keyShareURL"],
        "status": "Open",
    }


def public_key_id(record: dict[str, Any]) -> str:
    """The id Amazon gives the registered public key (stable for one registration)."""
    digest = hashlib.sha256(record["id"].encode() + record["publicKey"].encode()).digest()
    return "SANDBOX-" + "".join(_ALPHABET[b % len(_ALPHABET)] for b in digest[:24])


def public_key(record: dict[str, Any]) -> rsa.RSAPublicKey:
    key = load_public_key(record["publicKey"])
    assert key is not None  # checked by begin()
    return key


def payload(record: dict[str, Any], merchant_id: str, store_id: str) -> str:
    sealed = encrypt_key_id(public_key(record), record["publicKeyId"])
    return json.dumps(
        {"merchantId": merchant_id, "storeId": store_id, "publicKeyId": quote(sealed, safe="")}
    )


async def share_keys(record: dict[str, Any], body: str) -> tuple[int | None, str]:
    """POST the payload to the keyShareURL: (status, what it said), (None, why) unreachable."""
    timeout = aiohttp.ClientTimeout(total=30)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as client,
            client.post(
                record["keyShareURL"], data={"payload": body}, headers={"Origin": ORIGIN}
            ) as answer,
        ):
            text = await answer.text()
            try:
                said = json.loads(text)
            except ValueError:
                said = {}
            message = said.get("message") if isinstance(said, dict) else None
            return answer.status, str(message or text[:200])
    except (aiohttp.ClientError, TimeoutError) as exc:
        return None, type(exc).__name__


def form_page(record: dict[str, Any]) -> str:
    ident = html.escape(record["id"])
    return (
        '<!doctype html><html lang="ja"><meta charset="utf-8">'
        "<title>Amazon Pay 新規登録 (Sandbox シミュレーター)</title>"
        "<h1>Amazon Pay 新規登録</h1>"
        f"<p>登録ID: {ident}</p>"
        "<p>出品者アカウントの登録を完了し、認証情報をショップに移行します。</p>"
        f'<form method="post" action="register/{ident}/complete">'
        '<button type="submit">登録を完了して認証情報を移行する</button></form></html>'
    )


def result_page(record: dict[str, Any]) -> str:
    ok = record["status"] == "KeysShared"
    said = html.escape(str(record.get("answer") or ""))
    head = "認証情報をショップに移行しました" if ok else "認証情報を移行できませんでした"
    return (
        '<!doctype html><html lang="ja"><meta charset="utf-8">'
        "<title>Amazon Pay 新規登録 (Sandbox シミュレーター)</title>"
        f'<h1 id="result" data-ok="{str(ok).lower()}">{head}</h1>'
        f"<p>ショップの応答: {record.get('answer_status')} {said}</p></html>"
    )


def error_page(message: str) -> str:
    return (
        '<!doctype html><html lang="ja"><meta charset="utf-8">'
        "<title>Amazon Pay 新規登録 (Sandbox シミュレーター)</title>"
        f"<h1>登録を始められません</h1><p>{html.escape(message)}</p></html>"
    )
