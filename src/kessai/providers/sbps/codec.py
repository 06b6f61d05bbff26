"""SBPS's XML API on the wire, no I/O: Shift_JIS documents `<sps-api-request id="…">`, the
`sps_hashcode`, Base64 multibyte fields and 3DES-encrypted fields.

- sps_hashcode = SHA-1 (hex) of every leaf value in document order, then the hash key, as
  Shift_JIS bytes; a multibyte field (商品名, 氏名 …) counts as its text, not its Base64. The
  recordings of anchors/sbps verify this way (tests/providers/sbps).
- Multibyte fields travel as Base64 of their Shift_JIS bytes.
- With encrypted_flg=1 the fields SBPS names (pay_method_info's) travel 3DES-CBC encrypted
  with the account's key and IV, padded with spaces to 8 bytes, then Base64; the hash code is
  taken over their plain values (sbpayment.rb signs before it encrypts).
Values are kept as strings; a field is a (name, value) pair, a group a (name, list) pair, in
the order SBPS documents them.
"""

import base64
import hashlib
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, modes

ENCODING = "shift_jis"
CONTENT_TYPE = "text/xml"
# Fields whose value is Base64 of Shift_JIS text (SBPS's 「M」 items).
MULTIBYTE = frozenset(
    {
        "item_name",
        "dtl_item_name",
        "free1",
        "free2",
        "free3",
        "last_name",
        "first_name",
        "last_name_kana",
        "first_name_kana",
        "add1",
        "add2",
        "add3",
        "bill_info_kana",
        "bill_info",
        "bill_note",
        "resrv1",
        "resrv2",
        "resrv3",
        "res_err_msg",
    }
)

Node = tuple[str, "str | Sequence[Node]"]


class CodecError(ValueError):
    """Not SBPS's XML (or not decodable): nothing in it can be trusted."""


def _leaves(nodes: Sequence[Node]) -> Iterator[tuple[str, str]]:
    for name, value in nodes:
        if isinstance(value, str):
            yield name, value
        else:
            yield from _leaves(value)


def hashcode(nodes: Sequence[Node], hash_key: str) -> str:
    """SHA-1 over the leaf values in document order plus the hash key (sps_hashcode)."""
    text = "".join(v for n, v in _leaves(nodes) if n != "sps_hashcode") + hash_key
    return hashlib.sha1(text.encode(ENCODING)).hexdigest()  # noqa: S324 - SBPS's own scheme


def _wire_value(name: str, value: str) -> str:
    if name in MULTIBYTE and value:
        return base64.b64encode(value.encode(ENCODING)).decode("ascii")
    return value


def _xml(nodes: Sequence[Node]) -> str:
    out = []
    for name, value in nodes:
        inner = escape(_wire_value(name, value)) if isinstance(value, str) else _xml(value)
        out.append(f"<{name}>{inner}</{name}>")
    return "".join(out)


def encode(
    root: str,
    api_id: str | None,
    nodes: Sequence[Node],
    hash_key: str | None,
    sealed_with: tuple[str, str] | None = None,
) -> bytes:
    """A request (or a notice's answer) as Shift_JIS bytes; with a hash key, signed last over
    the plain values; with a 3DES key and IV, the encrypted groups sealed after signing."""
    signed = list(nodes)
    if hash_key is not None:
        signed.append(("sps_hashcode", hashcode(nodes, hash_key)))
    if sealed_with is not None:
        signed = seal(signed, *sealed_with)
    attr = f' id="{api_id}"' if api_id else ""
    text = f'<?xml version="1.0" encoding="Shift_JIS"?><{root}{attr}>{_xml(signed)}</{root}>'
    return text.encode(ENCODING)


@dataclass(frozen=True)
class Document:
    root: str
    api_id: str | None
    nodes: list[Node] = field(default_factory=list)

    def get(self, path: str) -> str | None:
        """A leaf by name or slash path (res_pay_method_info/cardbrand_code); None if absent
        or empty."""
        nodes: Sequence[Node] = self.nodes
        *groups, leaf = path.split("/")
        for group in groups:
            found = next((v for n, v in nodes if n == group and not isinstance(v, str)), None)
            if found is None:
                return None
            nodes = found
        value = next((v for n, v in nodes if n == leaf and isinstance(v, str)), None)
        return value or None

    def leaves(self) -> dict[str, str]:
        return dict(_leaves(self.nodes))

    def verifies(self, hash_key: str) -> bool:
        given = self.get("sps_hashcode")
        return given is not None and given.lower() == hashcode(self.nodes, hash_key)


def _node(el: ET.Element) -> Node:
    if len(el) == 0:
        text = (el.text or "").strip()
        if el.tag in MULTIBYTE and text:
            try:
                text = base64.b64decode(text, validate=True).decode(ENCODING)
            except (ValueError, UnicodeDecodeError):
                raise CodecError(f"{el.tag} is not Base64 Shift_JIS") from None
        return el.tag, text
    return el.tag, [_node(child) for child in el]


def decode(raw: bytes) -> Document:
    """Shift_JIS XML → Document (multibyte fields decoded back to text)."""
    try:
        text = raw.decode(ENCODING)
    except UnicodeDecodeError:
        raise CodecError("not Shift_JIS") from None
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text)
    try:
        root = ET.fromstring(text)  # noqa: S314 - no DTDs or entities in SBPS's documents
    except ET.ParseError as exc:
        raise CodecError(f"not XML: {exc}") from None
    return Document(root.tag, root.get("id"), [_node(child) for child in root])


# --- 3DES (encrypted_flg=1) -----------------------------------------------------------------
# The groups whose values travel encrypted when encrypted_flg=1 (SBPS answers in kind).
ENCRYPTED_GROUPS = frozenset({"pay_method_info", "res_pay_method_info"})


def has_sealed_fields(nodes: Sequence[Node]) -> bool:
    """Does this document carry fields SBPS takes encrypted?"""
    return any(name in ENCRYPTED_GROUPS and not isinstance(v, str) for name, v in nodes)


def _each_sealed(nodes: Sequence[Node], change: Callable[[str], str]) -> list[Node]:
    out: list[Node] = []
    for name, value in nodes:
        if name in ENCRYPTED_GROUPS and not isinstance(value, str):
            value = [(n, change(v)) if isinstance(v, str) and v else (n, v) for n, v in value]
        out.append((name, value))
    return out


def seal(nodes: Sequence[Node], key: str, iv: str) -> list[Node]:
    """The encrypted groups' values 3DES-encrypted (the rest as is)."""
    return _each_sealed(nodes, lambda v: encrypt(v, key, iv))


def unseal(nodes: Sequence[Node], key: str, iv: str) -> list[Node]:
    """The encrypted groups' values decrypted; CodecError when one does not decrypt to text
    (a wrong key or IV, or a value sent in plain text)."""

    def plain(value: str) -> str:
        text = decrypt(value, key, iv)
        if not text.isprintable():
            raise CodecError("encrypted field does not decrypt with this key")
        return text

    return _each_sealed(nodes, plain)


def _cipher(key: str, iv: str) -> Cipher[modes.CBC]:
    key_bytes, iv_bytes = key.encode("ascii"), iv.encode("ascii")
    if len(key_bytes) != 24 or len(iv_bytes) != 8:
        raise ValueError("3DES key must be 24 characters and IV 8")
    return Cipher(TripleDES(key_bytes), modes.CBC(iv_bytes))


def encrypt(value: str, key: str, iv: str) -> str:
    data = value.encode(ENCODING)
    data += b" " * (-len(data) % 8)  # SBPS pads with spaces, not PKCS#7
    encryptor = _cipher(key, iv).encryptor()
    return base64.b64encode(encryptor.update(data) + encryptor.finalize()).decode("ascii")


def decrypt(value: str, key: str, iv: str) -> str:
    try:
        data = base64.b64decode(value, validate=True)
    except ValueError:
        raise CodecError("encrypted field is not Base64") from None
    if len(data) % 8:
        raise CodecError("encrypted field is not whole 3DES blocks")
    decryptor = _cipher(key, iv).decryptor()
    plain = decryptor.update(data) + decryptor.finalize()
    try:
        return plain.decode(ENCODING).rstrip(" ")
    except UnicodeDecodeError:
        raise CodecError("encrypted field does not decrypt with this key") from None
