"""Validation, completeness and masking, driven by the schemas in the catalog.

`values` passed to `validate` are what the form or the API sent. On an update, `existing` holds
the stored values: a field the request leaves out keeps its stored value, and a secret sent
empty keeps it too (the form shows secrets masked and only replaces them when a new value is
typed). `clear` names the fields to empty on purpose.
"""

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from kessai.accounts.integrations.catalog import integration
from kessai.accounts.integrations.fields import (
    FieldError,
    FieldKind,
    FieldSpec,
    FileFormat,
    IntegrationSpec,
    is_blank,
)
from kessai.accounts.integrations.files import MAX_FILE_BYTES, validate_file
from kessai.core.errors import InvalidInput

MASK = "********"
ERROR_CODE = "invalid_account_settings"

_TRUE = frozenset({"true", "1", "on", "yes"})
_FALSE = frozenset({"false", "0", "off", "no", ""})
_CONTROL = frozenset(chr(c) for c in (*range(0x20), 0x7F))


class _Invalid(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _text(spec: FieldSpec, raw: object) -> str | None:
    if isinstance(raw, int) and not isinstance(raw, bool) and spec.kind is FieldKind.TEXT:
        raw = str(raw)
    if not isinstance(raw, str):
        raise _Invalid("invalid_type", f"{spec.label}は文字列で入力してください")
    value = raw.strip()
    if not value:
        return None
    if any(c in _CONTROL for c in value):
        raise _Invalid("control_character", f"{spec.label}に改行や制御文字は使用できません")
    limit = spec.limit
    if limit is not None and len(value) > limit:
        raise _Invalid("too_long", f"{spec.label}は{limit}文字以内で入力してください")
    for rule in spec.rules:
        if not rule.test(value):
            raise _Invalid(rule.code, rule.message)
    return value


def _flag(spec: FieldSpec, raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int) and raw in (0, 1):
        return bool(raw)
    if isinstance(raw, str):
        word = raw.strip()
        on, off = spec.flag_labels
        if word.lower() in _TRUE or word == on:
            return True
        if word.lower() in _FALSE or word == off:
            return False
    on, off = spec.flag_labels
    raise _Invalid("invalid_flag", f"{spec.label}は「{on}」か「{off}」を指定してください")


def _choice(spec: FieldSpec, raw: object) -> str | None:
    if isinstance(raw, str) and not raw.strip():
        return None
    values = [value for value, _ in spec.choices]
    if isinstance(raw, str) and raw.strip() in values:
        return raw.strip()
    labels = "・".join(f"「{label}」" for _, label in spec.choices)
    raise _Invalid("invalid_choice", f"{spec.label}は{labels}のいずれかを選択してください")


def _url(spec: FieldSpec, raw: object) -> str | None:
    value = _text(spec, raw)
    if value is None:
        return None
    scheme, _, rest = value.partition("://")
    host = rest.split("/", 1)[0].split("?", 1)[0]
    if scheme.lower() not in ("http", "https") or not host or " " in value:
        raise _Invalid(
            "invalid_url", f"{spec.label}はhttp://またはhttps://で始まるURLを入力してください"
        )
    return value


def _number(spec: FieldSpec, raw: object) -> int | None:
    if isinstance(raw, str):
        if not raw.strip():
            return None
        if not raw.strip().isascii() or not raw.strip().isdigit():
            raise _Invalid("invalid_number", f"{spec.label}は半角数字で入力してください")
        raw = int(raw.strip())
    if not isinstance(raw, int) or isinstance(raw, bool):
        raise _Invalid("invalid_number", f"{spec.label}は半角数字で入力してください")
    low, high = spec.min_value, spec.max_value
    if (low is not None and raw < low) or (high is not None and raw > high):
        raise _Invalid("out_of_range", f"{spec.label}は{low}〜{high}の範囲で入力してください")
    return raw


def _file(spec: FieldSpec, raw: object, password: str | None, now: datetime | None) -> bytes | None:
    if isinstance(raw, str):
        raw = raw.encode()
    if isinstance(raw, bytearray):
        raw = bytes(raw)
    if not isinstance(raw, bytes):
        raise _Invalid("invalid_type", f"{spec.label}のファイルを選択してください")
    if not raw:
        return None
    if len(raw) > MAX_FILE_BYTES:
        raise _Invalid("file_too_large", f"{spec.label}のファイルが大きすぎます(1MBまで)")
    file_format = spec.file_format or FileFormat.IMAGE
    try:
        validate_file(file_format, raw, password, now=now)
    except InvalidInput as exc:
        raise _Invalid(exc.code, f"{spec.label}: {exc.message}") from exc
    return raw


def _clean(spec: FieldSpec, raw: object, values: Mapping[str, Any], now: datetime | None) -> Any:
    if raw is None:
        return None
    if spec.kind in (FieldKind.TEXT, FieldKind.SECRET):
        return _text(spec, raw)
    if spec.kind is FieldKind.FLAG:
        return _flag(spec, raw)
    if spec.kind is FieldKind.CHOICE:
        return _choice(spec, raw)
    if spec.kind is FieldKind.URL:
        return _url(spec, raw)
    if spec.kind is FieldKind.NUMBER:
        return _number(spec, raw)
    password = values.get(spec.password_field) if spec.password_field else None
    return _file(spec, raw, password if isinstance(password, str) else None, now)


def _empty_input(raw: object) -> bool:
    """Nothing typed: the masked secret input was left as it was."""
    return is_blank(raw) or (isinstance(raw, str) and not raw.strip())


def _error(spec: IntegrationSpec, key: str, code: str, message: str) -> FieldError:
    label = spec.field(key).label if key in {f.key for f in spec.fields} else key
    return FieldError(key, label, code, message)


def _required_now(spec: IntegrationSpec, field: FieldSpec, values: Mapping[str, Any]) -> list[str]:
    """Labels of the flags that are on and make `field` required."""
    return [spec.field(flag).label for flag in field.required_if if values.get(flag) is True]


def validate(
    spec: IntegrationSpec,
    values: Mapping[str, object],
    *,
    existing: Mapping[str, object] | None = None,
    clear: Iterable[str] = (),
    configured: Mapping[str, Mapping[str, object]] | None = None,
    require_complete: bool = False,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Cleaned values to store, or InvalidInput listing every problem at once.

    A blank `required` field is saved (missing_for_enable reports it) unless
    `require_complete`; a field required by a flag that is on is always refused blank.
    `configured` (the other accounts' stored values by integration code) turns on the rules
    that look across integrations (ルミーズテンキーパッド, 名義人の固定値).
    """
    known = {f.key for f in spec.fields}
    to_clear = set(clear)
    errors = [
        _error(spec, key, "unknown_field", f"「{key}」は{spec.name}の設定項目ではありません")
        for key in dict.fromkeys([*values, *sorted(to_clear)])
        if key not in known
    ]
    stored = existing or {}
    # A PKCS#12 password kept from the stored account still opens a newly uploaded file.
    lookup = {**stored, **{k: v for k, v in values.items() if not is_blank(v)}}
    cleaned: dict[str, Any] = {}
    failed: set[str] = set()
    for field in spec.fields:
        key = field.key
        raw = values.get(key)
        if field.read_only:
            if not is_blank(raw):
                errors.append(
                    _error(
                        spec, key, "read_only", f"{field.label}は自動で設定されるため変更できません"
                    )
                )
            continue
        if key in to_clear:
            cleaned[key] = None
            continue
        keep = key not in values or (field.is_secret and _empty_input(raw))
        if keep:
            cleaned[key] = stored.get(key, None if field.is_secret else field.default)
            continue
        try:
            value = _clean(field, raw, lookup, now)
        except _Invalid as exc:
            errors.append(_error(spec, key, exc.code, exc.message))
            failed.add(key)
            cleaned[key] = None
            continue
        # An emptied field with a default (スコア後払い ホスト …) goes back to the default.
        cleaned[key] = field.default if value is None else value
    for field in spec.fields:
        if field.transient and cleaned.pop(field.key, None) is True and field.resets:
            cleaned[field.resets] = None
    for field in spec.fields:
        if field.key in failed or not is_blank(cleaned.get(field.key)) or field.read_only:
            continue
        triggers = _required_now(spec, field, cleaned)
        if triggers:
            message = f"{'・'.join(triggers)}を有効にする場合は{field.label}を入力してください"
        elif field.required and require_complete:
            message = f"{field.label}を入力してください"
        else:
            continue
        errors.append(_error(spec, field.key, "required", message))
    for check in spec.checks:
        errors.extend(check(cleaned))
    if configured is not None:
        everything = {**configured, spec.code: cleaned}
        errors.extend(cross_errors_of(spec, everything))
    if errors:
        raise _invalid(f"{spec.name}の設定に{len(errors)}件の誤りがあります", errors, spec.code)
    return cleaned


def _invalid(message: str, errors: list[FieldError], code: str | None = None) -> InvalidInput:
    detail: dict[str, Any] = {} if code is None else {"integration": code}
    detail["errors"] = [error.as_dict() for error in errors]
    return InvalidInput(message, code=ERROR_CODE, detail=detail)


def missing_for_enable(spec: IntegrationSpec, values: Mapping[str, object]) -> list[str]:
    """Japanese labels of the fields still empty that using the integration needs."""
    return [
        field.label
        for field in spec.fields
        if not field.read_only
        and (field.required or _required_now(spec, field, values))
        and is_blank(values.get(field.key))
    ]


def missing_for_action(
    spec: IntegrationSpec, action: str, values: Mapping[str, object]
) -> list[str]:
    """Japanese labels of the fields a button (PayPalアカウントと連携 …) needs and lacks."""
    for candidate in spec.actions:
        if candidate.key == action:
            return [
                spec.field(key).label for key in candidate.requires if is_blank(values.get(key))
            ]
    raise KeyError(action)


def is_configured(spec: IntegrationSpec, values: Mapping[str, object] | None) -> bool:
    """An account exists and has every field its use needs."""
    return values is not None and not missing_for_enable(spec, values)


def secret_keys(spec: IntegrationSpec) -> frozenset[str]:
    return frozenset(field.key for field in spec.fields if field.is_secret)


def mask(spec: IntegrationSpec, values: Mapping[str, object]) -> dict[str, object]:
    """Values safe to show: a secret becomes MASK when set and None when not, never itself."""
    out: dict[str, object] = {}
    for field in spec.fields:
        if field.transient or field.read_only:
            continue
        value = values.get(field.key)
        if field.is_secret:
            out[field.key] = None if is_blank(value) else MASK
        else:
            out[field.key] = value
    return out


def derived_values(spec: IntegrationSpec, base_url: str) -> dict[str, str]:
    """The read-only fields kessai computes (the Facebook 商品データフィード link)."""
    return {field.key: field.derive(base_url) for field in spec.fields if field.derive}


def _names(codes: Iterable[str]) -> str:
    return "・".join(integration(code).name for code in codes)


def check_requires_any(
    spec: IntegrationSpec, configured: Mapping[str, Mapping[str, object]]
) -> list[FieldError]:
    """An integration that works only on top of another (ルミーズテンキーパッド over a card
    gateway) may be switched on only while one of those accounts is configured."""
    values = configured.get(spec.code, {})
    if not spec.requires_any or (spec.switch is not None and values.get(spec.switch) is not True):
        return []
    if any(is_configured(integration(code), configured.get(code)) for code in spec.requires_any):
        return []
    key = spec.switch or spec.fields[0].key
    message = (
        f"{spec.name}を有効にするには、{_names(spec.requires_any)}のいずれかの"
        "アカウント設定が必要です"
    )
    return [_error(spec, key, "partner_account_required", message)]


def check_only_with(
    spec: IntegrationSpec, configured: Mapping[str, Mapping[str, object]]
) -> list[FieldError]:
    """A field shown only with another integration (名義人の固定値: Zeus only) is refused
    when set without it."""
    values = configured.get(spec.code, {})
    errors = []
    for field in spec.fields:
        if not field.only_with or is_blank(values.get(field.key)):
            continue
        if any(is_configured(integration(code), configured.get(code)) for code in field.only_with):
            continue
        message = (
            f"{field.label}は{_names(field.only_with)}のアカウントを設定した場合のみ設定できます"
        )
        errors.append(_error(spec, field.key, "only_with_other_account", message))
    return errors


def shown(field: FieldSpec, configured: Mapping[str, Mapping[str, object]]) -> bool:
    """Whether the form shows `field` given the configured accounts."""
    if not field.only_with:
        return True
    return any(is_configured(integration(code), configured.get(code)) for code in field.only_with)


def cross_errors_of(
    spec: IntegrationSpec, configured: Mapping[str, Mapping[str, object]]
) -> list[FieldError]:
    return [
        FieldError(e.field, e.label, e.code, e.message, spec.code)
        for e in [*check_requires_any(spec, configured), *check_only_with(spec, configured)]
    ]


def cross_errors(configured: Mapping[str, Mapping[str, object]]) -> list[FieldError]:
    """Every cross-integration problem of a whole set of accounts (integration code → values)."""
    errors: list[FieldError] = []
    for code in configured:
        errors.extend(cross_errors_of(integration(code), configured))
    return errors


def check_configured(configured: Mapping[str, Mapping[str, object]]) -> None:
    """Raise InvalidInput when the set breaks a cross-integration rule (e.g. before deleting
    the last card gateway while ルミーズテンキーパッド is on)."""
    errors = cross_errors(configured)
    if errors:
        raise _invalid(f"外部連携アカウントの設定に{len(errors)}件の誤りがあります", errors)
