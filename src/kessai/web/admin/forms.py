"""An integration schema as an HTML form, and a posted form back as the values the account
service validates. The schema is the only source: labels, help, defaults, choices, kinds.

Secrets never travel to the browser: a set secret is an empty password input whose placeholder
says it is set, and an input left empty keeps the stored value.
"""

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from starlette.datastructures import FormData
from starlette.datastructures import UploadFile as FormFile

from kessai.accounts.integrations import FieldKind, FieldSpec, IntegrationSpec, shown
from kessai.accounts.integrations.fields import is_blank
from kessai.accounts.integrations.files import MAX_FILE_BYTES
from kessai.accounts.service import UploadedFile
from kessai.core.clock import to_tokyo
from kessai.history.models import ChangeRecord

SECRET_SET_PLACEHOLDER = "設定済み(変更する場合のみ入力)"  # noqa: S105 - a label
NAME_FIELD = "account_name"
NAME_LABEL = "アカウント名"
VALUE_PREFIX = "v."
CLEAR_PREFIX = "clear."
# Account columns that are not schema fields but appear in 変更履歴.
OTHER_LABELS = {"name": NAME_LABEL, "connector": "接続モジュール", "integration": "連携先"}


@dataclass
class FieldView:
    spec: FieldSpec
    widget: str  # text | password | file | flag | checkbox | select | readonly
    value: str = ""
    checked: bool = False
    is_set: bool = False
    placeholder: str = ""
    file_info: str = ""  # name, size, certificate expiry of a stored file (never its content)
    errors: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        return self.spec.key

    @property
    def name(self) -> str:
        return VALUE_PREFIX + self.spec.key

    @property
    def clear_name(self) -> str:
        return CLEAR_PREFIX + self.spec.key

    @property
    def dom_id(self) -> str:
        return "f-" + self.spec.key

    @property
    def clearable(self) -> bool:
        return self.widget in ("password", "file") and self.is_set


@dataclass
class SectionView:
    title: str
    fields: list[FieldView]


@dataclass
class FormErrors:
    by_field: dict[str, list[str]] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(len(v) for v in self.by_field.values()) + len(self.general)


def visible_fields(
    spec: IntegrationSpec, configured: Mapping[str, Mapping[str, object]]
) -> list[FieldSpec]:
    return [f for f in spec.fields if shown(f, configured)]


def _widget(spec: FieldSpec) -> str:
    if spec.read_only:
        return "readonly"
    if spec.kind is FieldKind.SECRET:
        return "password"
    if spec.kind is FieldKind.FILE:
        return "file"
    if spec.kind is FieldKind.FLAG:
        return "checkbox" if spec.transient else "flag"
    if spec.kind is FieldKind.CHOICE:
        return "select"
    return "text"


def _as_text(value: object) -> str:
    if is_blank(value) or isinstance(value, bytes | bytearray):
        return ""
    return str(value)


def _flag_state(raw: object) -> bool:
    if isinstance(raw, str):
        return raw.strip().lower() in ("true", "1", "on")
    return raw is True


def describe_file(info: Mapping[str, Any]) -> str:
    parts = []
    if info.get("filename"):
        parts.append(str(info["filename"]))
    size = info.get("size")
    if isinstance(size, int):
        parts.append(f"{size:,}バイト" if size < 1024 else f"{size / 1024:,.1f}KB")
    if info.get("subject"):
        parts.append(str(info["subject"]))
    not_after = info.get("not_after")
    if isinstance(not_after, str):
        with contextlib.suppress(ValueError):  # a malformed date is left out, not an error
            parts.append(f"有効期限 {to_tokyo(datetime.fromisoformat(not_after)):%Y/%m/%d}")
    return "・".join(parts)


def field_view(
    spec: FieldSpec,
    stored: Mapping[str, object] | None,
    submitted: Mapping[str, str] | None,
    errors: Sequence[str],
    derived: Mapping[str, str],
    files: Mapping[str, Mapping[str, Any]] | None = None,
) -> FieldView:
    """`stored` holds display values (secrets masked) or None for a new account; `submitted`
    what the person typed in the form being shown again after an error."""
    view = FieldView(spec, _widget(spec), errors=list(errors))
    current = stored.get(spec.key) if stored is not None else spec.default
    typed = submitted.get(spec.key) if submitted is not None else None
    if view.widget == "readonly":
        view.value = derived.get(spec.key) or _as_text(current)
    elif view.widget in ("password", "file"):
        view.is_set = stored is not None and not is_blank(stored.get(spec.key))
        if view.widget == "password" and view.is_set:
            view.placeholder = SECRET_SET_PLACEHOLDER
        if view.widget == "file" and view.is_set:
            view.file_info = describe_file((files or {}).get(spec.key, {}))
    elif view.widget == "flag":
        view.checked = _flag_state(typed if typed is not None else current)
    elif view.widget == "checkbox":
        view.checked = typed is not None and _flag_state(typed)
    else:
        view.value = typed if typed is not None else _as_text(current)
    return view


def build_sections(
    spec: IntegrationSpec,
    *,
    stored: Mapping[str, object] | None,
    configured: Mapping[str, Mapping[str, object]],
    submitted: Mapping[str, str] | None = None,
    errors: FormErrors | None = None,
    derived: Mapping[str, str] | None = None,
    files: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[SectionView]:
    errors = errors or FormErrors()
    sections = []
    for section in spec.sections:
        views = [
            field_view(f, stored, submitted, errors.by_field.get(f.key, ()), derived or {}, files)
            for f in section.fields
            if shown(f, configured)
        ]
        if views:
            sections.append(SectionView(section.title, views))
    return sections


@dataclass
class Posted:
    values: dict[str, object]
    clear: list[str]
    # What was typed in the non-secret inputs, to show the form again after an error.
    typed: dict[str, str]
    secrets_typed: bool


async def parse_form(fields: Sequence[FieldSpec], form: FormData) -> Posted:
    """The values of the shown fields. An empty secret or file input is sent as empty (the
    service keeps the stored one); an unchecked radio pair is not sent at all."""
    posted = Posted({}, [], {}, secrets_typed=False)
    for spec in fields:
        if spec.read_only:
            continue
        raw = form.get(VALUE_PREFIX + spec.key)
        if spec.is_secret and form.get(CLEAR_PREFIX + spec.key) == "on":
            posted.clear.append(spec.key)
            continue
        if spec.kind is FieldKind.FILE:
            if isinstance(raw, FormFile) and raw.filename:
                data = await raw.read(MAX_FILE_BYTES + 1)  # one byte more: the service refuses
                if data:
                    posted.values[spec.key] = UploadedFile(data, raw.filename)
                    posted.secrets_typed = posted.secrets_typed or spec.is_secret
            if not spec.is_secret and form.get(CLEAR_PREFIX + spec.key) == "on":
                posted.clear.append(spec.key)
            continue
        if spec.kind is FieldKind.FLAG and spec.transient:
            if raw == "true":
                posted.values[spec.key] = "true"
                posted.typed[spec.key] = "true"
            continue
        if not isinstance(raw, str):
            continue
        posted.values[spec.key] = raw
        if spec.is_secret:
            posted.secrets_typed = posted.secrets_typed or bool(raw.strip())
        else:
            posted.typed[spec.key] = raw
    return posted


def form_errors(
    detail: Mapping[str, Any], visible: Sequence[FieldSpec], *, name_field: bool
) -> FormErrors:
    """InvalidInput's {"errors": [{field, label, message}]} placed next to their inputs;
    a problem with no input on this form is listed at the top."""
    keys = {f.key for f in visible if not f.read_only}
    out = FormErrors()
    for error in detail.get("errors", []):
        key = str(error.get("field", ""))
        message = str(error.get("message", ""))
        if key in keys:
            out.by_field.setdefault(key, []).append(message)
        elif name_field and key in ("name", NAME_FIELD):
            out.by_field.setdefault(NAME_FIELD, []).append(message)
        else:
            out.general.append(message)
    return out


# --- 変更履歴 -------------------------------------------------------------------------------

CHANGED = "(変更されました)"
REMOVED = "(削除されました)"
UNSET = "(未設定)"


@dataclass(frozen=True)
class ChangeView:
    at: str
    actor: str
    label: str
    before: str
    after: str
    secret: bool


def _shown_value(spec: FieldSpec | None, raw: str | None) -> str:
    """The service records values as people read them (有効/無効, a choice's label); older
    rows may hold the raw value."""
    if raw is None or raw == "":
        return UNSET
    if spec is not None and spec.kind is FieldKind.FLAG and raw in ("True", "False"):
        on, off = spec.flag_labels
        return on if raw == "True" else off
    if spec is not None and spec.kind is FieldKind.CHOICE:
        return dict(spec.choices).get(raw, raw)
    return raw


def change_views(spec: IntegrationSpec, records: Sequence[ChangeRecord]) -> list[ChangeView]:
    """Newest first. A secret or uploaded file is never shown, whatever the record holds:
    only that it was changed or removed."""
    by_key = {f.key: f for f in spec.fields}
    out = []
    for record in reversed(records):
        field_spec = by_key.get(record.field)
        label = (
            field_spec.label
            if field_spec
            else OTHER_LABELS.get(record.field, record.reason or record.field)
        )
        at = to_tokyo(record.created_at).strftime("%Y/%m/%d %H:%M:%S")
        if field_spec is not None and (field_spec.is_secret or field_spec.kind is FieldKind.FILE):
            after = REMOVED if record.after in (None, "", UNSET) else CHANGED
            out.append(ChangeView(at, record.actor, label, "", after, secret=True))
            continue
        out.append(
            ChangeView(
                at,
                record.actor,
                label,
                _shown_value(field_spec, record.before),
                _shown_value(field_spec, record.after),
                secret=False,
            )
        )
    return out
