"""Account secrets sealed at rest with AES-256-GCM under a master key.

A token is text, safe in any column: ``ks1:<key id>:<base64url(nonce | ciphertext | tag)>``.

- ``ks1``: the format version;
- key id: the first 8 hex digits of SHA-256 of the master key, so a rotation knows which
  key sealed what (``base64 -d key | sha256sum | cut -c1-8`` gives it for a base64 key);
- a fresh random 96-bit nonce per encryption; the caller's ``context`` (e.g.
  ``"provider_account:12:shop_pass"``) is authenticated as associated data, so a token
  copied to another row or field does not decrypt.

Whatever goes wrong on the way back (another key, a changed byte, another context, not a
token at all) is one error, ``secret_undecryptable``, never garbage; no error, repr or
log line carries a key or a plaintext.
"""

import base64
import binascii
import hashlib
import re
import secrets
from collections.abc import Iterable, Iterator
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kessai.core.errors import ConfigurationError, KessaiError

KEY_BYTES: Final = 32
NONCE_BYTES: Final = 12
TAG_BYTES: Final = 16
FORMAT_VERSION: Final = "ks1"

_KEY_ID = re.compile(r"[0-9a-f]{8}")
_B64URL = re.compile(r"[A-Za-z0-9_-]+")
_HEX_KEY = re.compile(r"[0-9a-fA-F]{64}")
_B64_KEY = re.compile(r"[A-Za-z0-9+/_-]+={0,2}")
_KEY_HINT = (
    "32バイト (256ビット) の鍵を base64 (44文字) か 16進数 (64文字) で指定してください"
    " (生成例: openssl rand -base64 32)"
)
_CHECK_KEY = "KESSAI_SECRET_KEY / KESSAI_SECRET_KEY_FILE を確認してください"


class SecretUndecryptable(KessaiError):
    """A sealed value that cannot be opened with the keys at hand. It never says what is inside."""

    status_code = 500
    code = "secret_undecryptable"


def generate_key() -> str:
    """A new master key: 32 random bytes as base64, what KESSAI_SECRET_KEY and key files hold."""
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii")


def parse_key(text: str, *, source: str = "KESSAI_SECRET_KEY") -> bytes:
    """The 32 bytes of a master key written as base64 (standard or URL-safe) or hex.

    ``source`` names where the text came from, for the error; the text itself is never shown.
    """
    raw = text.strip()
    if not raw:
        raise ConfigurationError(f"{source} のマスターキーが空です: {_KEY_HINT}")
    if _HEX_KEY.fullmatch(raw):
        return bytes.fromhex(raw)
    if not _B64_KEY.fullmatch(raw):
        raise ConfigurationError(f"{source} のマスターキーの形式が正しくありません: {_KEY_HINT}")
    body = raw.rstrip("=").replace("-", "+").replace("_", "/")
    try:
        key = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigurationError(
            f"{source} のマスターキーの形式が正しくありません: {_KEY_HINT}"
        ) from None
    if len(key) != KEY_BYTES:
        raise ConfigurationError(
            f"{source} のマスターキーの長さが正しくありません ({len(key)}バイト): {_KEY_HINT}"
        )
    return key


def key_id(key: bytes) -> str:
    """The short public fingerprint of a master key written into every token it seals."""
    return hashlib.sha256(key).hexdigest()[:8]


def token_key_id(token: str) -> str:
    """The key id a token names (raises secret_undecryptable when it is not a token)."""
    return _split(token, context=None)[0]


def _aad(context: str) -> bytes:
    # The version is authenticated too, so a future format cannot be confused with this one.
    return f"{FORMAT_VERSION}:{context}".encode()


def _undecryptable(reason: str, context: str | None, **detail: str) -> SecretUndecryptable:
    where = {"context": context} if context is not None else {}
    return SecretUndecryptable(
        f"暗号化された設定値を復号できません: {reason}", detail={**where, **detail}
    )


def _split(token: str, *, context: str | None) -> tuple[str, bytes]:
    """(key id, nonce|ciphertext|tag) of a well-formed token."""
    damaged = "データが破損しているか、kessai の暗号化形式ではありません"
    if not isinstance(token, str):
        raise _undecryptable(damaged, context)
    parts = token.split(":")
    if len(parts) != 3 or parts[0] != FORMAT_VERSION or not _KEY_ID.fullmatch(parts[1]):
        raise _undecryptable(damaged, context)
    body = parts[2]
    if not _B64URL.fullmatch(body):
        raise _undecryptable(damaged, context)
    try:
        blob = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):  # a length no base64 text can have
        raise _undecryptable(damaged, context) from None
    # Only the canonical spelling: otherwise a changed last character could decode the same.
    if _b64url(blob) != body or len(blob) < NONCE_BYTES + TAG_BYTES:
        raise _undecryptable(damaged, context)
    return parts[1], blob


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class SecretBox:
    """Seals and opens secrets under one master key; shows only its key id."""

    __slots__ = ("_aead", "_key_id")

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes) or len(key) != KEY_BYTES:
            raise ConfigurationError(f"マスターキーの長さが正しくありません: {_KEY_HINT}")
        self._aead = AESGCM(key)
        self._key_id = key_id(key)

    @classmethod
    def from_text(cls, text: str, *, source: str = "KESSAI_SECRET_KEY") -> "SecretBox":
        return cls(parse_key(text, source=source))

    @property
    def key_id(self) -> str:
        return self._key_id

    def __repr__(self) -> str:
        return f"SecretBox(key_id={self._key_id!r})"

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:
        # Pickling would write the key out wherever the pickle goes.
        raise TypeError("SecretBox は保存・複製できません")

    def encrypt(self, plaintext: str | bytes, *, context: str) -> str:
        if isinstance(plaintext, str):
            data = plaintext.encode()
        elif isinstance(plaintext, bytes):
            data = plaintext
        else:
            raise TypeError("plaintext must be str or bytes")
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, data, _aad(context))
        return f"{FORMAT_VERSION}:{self._key_id}:{_b64url(nonce + sealed)}"

    def decrypt(self, token: str, *, context: str) -> bytes:
        kid, blob = _split(token, context=context)
        if kid != self._key_id:
            raise _undecryptable(
                f"別のマスターキー (鍵ID {kid}) で暗号化されています。"
                f"現在のマスターキーの鍵IDは {self._key_id} です。{_CHECK_KEY}",
                context,
                token_key_id=kid,
                key_id=self._key_id,
            )
        try:
            return self._aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], _aad(context))
        except InvalidTag:
            raise _undecryptable(
                "マスターキーが一致しないか、データが破損しています"
                f" (別の項目の値が写された場合も含みます)。{_CHECK_KEY}",
                context,
                key_id=self._key_id,
            ) from None

    def decrypt_text(self, token: str, *, context: str) -> str:
        return _as_text(self.decrypt(token, context=context), context)


def _as_text(data: bytes, context: str) -> str:
    try:
        return data.decode()
    except UnicodeDecodeError:
        raise _undecryptable("文字列ではない値です", context) from None


class Keyring:
    """The current master key (seals) and older ones (only open), chosen by the token's key id.

    A process given the new and the old key keeps working while a rotation is under way,
    and a rotation stopped half-way can be run again.
    """

    __slots__ = ("_boxes", "_primary")

    def __init__(self, primary: SecretBox, older: Iterable[SecretBox] = ()) -> None:
        self._primary = primary
        self._boxes: dict[str, SecretBox] = {primary.key_id: primary}
        for box in older:
            self._boxes.setdefault(box.key_id, box)

    @property
    def primary(self) -> SecretBox:
        return self._primary

    @property
    def key_id(self) -> str:
        return self._primary.key_id

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Every key id this keyring can open, the sealing one first."""
        return tuple(self._boxes)

    def __iter__(self) -> Iterator[SecretBox]:
        return iter(self._boxes.values())

    def __repr__(self) -> str:
        return f"Keyring(key_ids={list(self._boxes)!r})"

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("Keyring は保存・複製できません")

    def box_for(self, token: str, *, context: str) -> SecretBox:
        kid, _ = _split(token, context=context)
        box = self._boxes.get(kid)
        if box is None:
            raise _undecryptable(
                f"この値を暗号化したマスターキー (鍵ID {kid}) がありません。"
                f"使えるマスターキーの鍵ID: {', '.join(self._boxes)}。{_CHECK_KEY}"
                " (鍵の切り替え中は KESSAI_SECRET_KEY_PREVIOUS に旧鍵を指定します)",
                context,
                token_key_id=kid,
            )
        return box

    def encrypt(self, plaintext: str | bytes, *, context: str) -> str:
        return self._primary.encrypt(plaintext, context=context)

    def decrypt(self, token: str, *, context: str) -> bytes:
        return self.box_for(token, context=context).decrypt(token, context=context)

    def decrypt_text(self, token: str, *, context: str) -> str:
        return _as_text(self.decrypt(token, context=context), context)


def rotate(
    old: SecretBox | Keyring, new: SecretBox, tokens: Iterable[tuple[str, str]]
) -> list[tuple[str, str]]:
    """Every (context, token) sealed again under ``new``, in the order given; all or nothing.

    Tokens already sealed by ``new`` (a rotation stopped half-way) are checked and kept
    as they are. If any token cannot be opened, nothing is returned: the error names every
    failing context (never a value), so the caller writes all of them in one transaction
    or none.
    """
    result: list[tuple[str, str]] = []
    failed: list[str] = []
    for context, token in tokens:
        try:
            if _split(token, context=context)[0] == new.key_id:
                new.decrypt(token, context=context)  # verified, not re-sealed
                result.append((context, token))
            else:
                plain = old.decrypt(token, context=context)
                result.append((context, new.encrypt(plain, context=context)))
        except SecretUndecryptable:
            failed.append(context)
    if failed:
        shown = "、".join(failed[:10]) + (f" ほか{len(failed) - 10}件" if len(failed) > 10 else "")
        raise SecretUndecryptable(
            f"マスターキーの切り替えを中止しました (何も変更していません): {len(failed)}件の値を"
            f"旧マスターキー (鍵ID {', '.join(_ids(old))}) で復号できません: {shown}。"
            f"旧マスターキーが正しいか、データが破損していないかを確認してください",
            detail={"failed_contexts": failed, "old_key_ids": list(_ids(old))},
        )
    return result


def _ids(box: SecretBox | Keyring) -> tuple[str, ...]:
    return box.key_ids if isinstance(box, Keyring) else (box.key_id,)
