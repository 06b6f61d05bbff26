"""The vocabulary of an integration schema: field kinds, rules, fields, sections, integrations.

A schema is data: the admin form renders it, the API validates against it (engine.py) and the
masking/encryption layer asks it which fields are secret. Labels and messages are the seed's
Japanese words; keys and codes are English.
"""

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from enum import StrEnum
from typing import Any


class FieldKind(StrEnum):
    TEXT = "text"
    # Password, key, hash key: encrypted at rest, never shown again after saving.
    SECRET = "secret"  # noqa: S105 - the kind's name, not a password
    # An uploaded file; secret unless it is an image (see FieldSpec.is_secret).
    FILE = "file"
    # 有効/無効, ON/OFF, 表示/非表示.
    FLAG = "flag"
    CHOICE = "choice"
    URL = "url"
    NUMBER = "number"


class FileFormat(StrEnum):
    PEM_PRIVATE_KEY = "pem_private_key"
    PEM_CERTIFICATE = "pem_certificate"
    PKCS12 = "pkcs12"
    IMAGE = "image"

    @property
    def label(self) -> str:
        return _FILE_FORMAT_LABELS[self]


_FILE_FORMAT_LABELS = {
    FileFormat.PEM_PRIVATE_KEY: "秘密鍵(PEM形式)",
    FileFormat.PEM_CERTIFICATE: "証明書(PEM形式)",
    FileFormat.PKCS12: "PKCS#12ファイル",
    FileFormat.IMAGE: "画像(PNG・JPEG・GIF)",
}


class Channel(StrEnum):
    """Where a payment method of the integration can be enabled (seed 001's introduction)."""

    LP = "lp"
    SHOP = "shop"
    ORDER_ENTRY = "order_entry"

    @property
    def label(self) -> str:
        return {"lp": "LP", "shop": "ショップ", "order_entry": "受注作成"}[self.value]


ALL_CHANNELS = (Channel.LP, Channel.SHOP, Channel.ORDER_ENTRY)


@dataclass(frozen=True)
class FieldError:
    field: str
    label: str
    code: str
    message: str
    integration: str | None = None

    def as_dict(self) -> dict[str, str]:
        out = {} if self.integration is None else {"integration": self.integration}
        out |= {"field": self.field, "label": self.label, "code": self.code}
        out["message"] = self.message
        return out


@dataclass(frozen=True)
class Rule:
    """One format rule of a text field: a stable code and the Japanese message shown."""

    code: str
    message: str
    test: Callable[[str], bool]


def pattern(regex: str, code: str, message: str) -> Rule:
    compiled = re.compile(regex)
    return Rule(code, message, lambda value: compiled.fullmatch(value) is not None)


def _is_ip_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


def _is_hostname(value: str) -> bool:
    """A DNS name or an IP address, with an optional :port (a simulator on loopback)."""
    host, colon, port = value.rpartition(":")
    if colon and port.isascii() and port.isdigit() and 0 < int(port) < 65536:
        value = host
    if _is_ip_address(value.strip("[]")):
        return True
    return len(value) <= 253 and all(_HOST_LABEL.fullmatch(part) for part in value.split("."))


def ip_address(label: str) -> Rule:
    return Rule(
        "invalid_ip_address",
        f"{label}はIPアドレス(例: 192.0.2.10)を入力してください",
        _is_ip_address,
    )


def hostname(label: str) -> Rule:
    return Rule(
        "invalid_hostname",
        f"{label}はホスト名(例: example.co.jp)を入力してください",
        _is_hostname,
    )


@dataclass(frozen=True)
class FieldSpec:
    key: str
    label: str
    kind: FieldKind
    help: str = ""
    # Needed before the integration can be used (missing_for_enable); a blank is still saved
    # so that a shop can fill an account in several sittings.
    required: bool = False
    # Needed as soon as one of these FLAG fields is on; a save that turns the flag on without it
    # is refused.
    required_if: tuple[str, ...] = ()
    default: object = None
    choices: tuple[tuple[str, str], ...] = ()  # (value, Japanese label)
    flag_labels: tuple[str, str] = ("有効", "無効")  # (on, off) as the seed words them
    rules: tuple[Rule, ...] = ()
    max_length: int | None = None
    min_value: int | None = None
    max_value: int | None = None
    file_format: FileFormat | None = None
    password_field: str | None = None  # the field holding a PKCS#12 file's password
    # Shown and stored, but computed by kessai (e.g. the Facebook feed link from the shop URL).
    read_only: bool = False
    derive: Callable[[str], str] | None = None
    # A checkbox acted on when saving (デフォルトバナーに戻す) and never stored: when on it
    # clears the field named here.
    resets: str | None = None
    # Integration codes one of which must be configured for this field to be shown and set.
    only_with: tuple[str, ...] = ()

    @property
    def is_secret(self) -> bool:
        if self.kind is FieldKind.SECRET:
            return True
        return self.kind is FieldKind.FILE and self.file_format is not FileFormat.IMAGE

    @property
    def transient(self) -> bool:
        return self.resets is not None

    @property
    def limit(self) -> int | None:
        """The longest text accepted: an explicit max_length or the kind's default."""
        if self.max_length is not None:
            return self.max_length
        return _DEFAULT_MAX_LENGTH.get(self.kind)


_DEFAULT_MAX_LENGTH = {
    FieldKind.TEXT: 255,
    FieldKind.SECRET: 1024,
    FieldKind.URL: 2048,
}

# A rule checking several fields of one integration; gets the cleaned values.
Check = Callable[[Mapping[str, Any]], list[FieldError]]


@dataclass(frozen=True)
class SectionSpec:
    title: str
    fields: tuple[FieldSpec, ...]


@dataclass(frozen=True)
class ActionSpec:
    """A button of the form (PayPalアカウントと連携, データフィード作成 …), not a stored value."""

    key: str
    label: str
    help: str = ""
    requires: tuple[str, ...] = ()  # field keys that must be set before the button works


@dataclass(frozen=True)
class IntegrationSpec:
    number: int  # position in seed 001 (1〜29)
    code: str
    name: str
    description: str
    # The capabilities provider code (kessai.payments.capabilities.PROVIDERS) when the
    # integration is one of its payment providers.
    provider: str | None
    sections: tuple[SectionSpec, ...] = ()
    channels: tuple[Channel, ...] = ()
    # The 有効・無効 flag of an integration that is switched on and off as a whole.
    switch: str | None = None
    # Integration codes one of which must be configured while this one is on.
    requires_any: tuple[str, ...] = ()
    checks: tuple[Check, ...] = ()
    actions: tuple[ActionSpec, ...] = ()
    notes: tuple[str, ...] = ()
    fields: tuple[FieldSpec, ...] = dataclass_field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "fields", tuple(f for section in self.sections for f in section.fields)
        )

    @property
    def is_payment(self) -> bool:
        return bool(self.channels)

    def field(self, key: str) -> FieldSpec:
        for spec in self.fields:
            if spec.key == key:
                return spec
        raise KeyError(key)


def is_blank(value: object) -> bool:
    return value is None or value in ("", b"")
