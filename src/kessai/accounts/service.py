"""外部連携アカウント: create, update, read, mask and test the shop's accounts.

A save validates against the integration's schema (integrations.validate), then writes the
non-secret fields to `settings`, every secret field and uploaded file sealed to `secrets`, and
one 変更履歴 row per changed field, in ONE transaction: a refused save changes nothing.
Secrets never leave as themselves: reads show integrations.MASK, history says
"(変更されました)" or "(未設定)", logs name fields only.
"""

import base64
import binascii
import logging
import posixpath
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kessai.accounts.connection import CODE as NOT_CONNECTED
from kessai.accounts.connection import NO_CONNECTOR, connects, explanation
from kessai.accounts.integrations import (
    ERROR_CODE,
    MASK,
    FieldError,
    FieldKind,
    FieldSpec,
    FileFormat,
    IntegrationSpec,
    cross_errors,
    is_configured,
    mask,
    missing_for_enable,
    validate,
    validate_file,
)
from kessai.accounts.integrations import integration as integration_spec
from kessai.accounts.integrations.fields import is_blank
from kessai.accounts.models import ProviderAccount
from kessai.accounts.secrets import (
    CONNECTOR_ALIASES,
    FILES_KEY,
    configured_values,
    connector_settings,
    decrypted_secrets,
    seal,
    spec_of,
)
from kessai.core.db import transaction
from kessai.core.errors import ConfigurationError, Conflict, InvalidInput, KessaiError, NotFound
from kessai.history.repository import record_changes
from kessai.providers.installed import BY_INTEGRATION, SIMULATED
from kessai.services import Services

log = logging.getLogger("kessai.accounts")

HISTORY_ENTITY = "provider_account"
CHANGED = "(変更されました)"
NOT_SET = "(未設定)"
NAME_LABEL = "アカウント名"
MAX_NAME_LENGTH = 200
MAX_FILENAME_LENGTH = 255
UNSUPPORTED_TEST = "この連携は接続テストに対応していません"


@dataclass(frozen=True)
class UploadedFile:
    """A file field's value with what the upload said about it (the API sends base64)."""

    content: bytes = field(repr=False)
    filename: str | None = None
    password: str | None = field(default=None, repr=False)  # a PKCS#12 file's password


@dataclass(frozen=True)
class ConnectionResult:
    ok: bool
    message: str
    detail: dict[str, Any] = field(default_factory=dict)


# Per integration code: logs in with the account's decrypted settings and says what happened.
ConnectionTest = Callable[[Services, ProviderAccount, dict[str, Any]], Awaitable[ConnectionResult]]
CONNECTION_TESTS: dict[str, ConnectionTest] = {}


# ------------------------------------------------------------------------------------ read


async def list_accounts(session: AsyncSession) -> Sequence[ProviderAccount]:
    return (await session.scalars(select(ProviderAccount).order_by(ProviderAccount.id))).all()


async def get_account(
    session: AsyncSession, account_id: int, *, for_update: bool = False
) -> ProviderAccount:
    account = await session.get(ProviderAccount, account_id, with_for_update=for_update)
    if account is None:
        raise NotFound(
            f"外部連携アカウント(ID: {account_id})が見つかりません",
            code="account_not_found",
            detail={"account_id": account_id},
        )
    return account


def display_values(account: ProviderAccount) -> dict[str, object]:
    """Non-secrets as stored; a secret (or uploaded file) is MASK when set, None when not.
    Never decrypts."""
    spec = spec_of(account)
    values = configured_values(account)
    if spec is None:  # no schema to tell secrets apart: show only which keys are set
        return dict.fromkeys(sorted(values), MASK)
    return mask(spec, values)


def missing_fields(account: ProviderAccount) -> list[str]:
    """Japanese labels of the fields still empty that using the integration needs."""
    spec = spec_of(account)
    return [] if spec is None else missing_for_enable(spec, configured_values(account))


def file_infos(account: ProviderAccount) -> dict[str, dict[str, Any]]:
    """What is known about each stored file: name, size, certificate subject and expiry."""
    infos = (account.settings or {}).get(FILES_KEY) or {}
    return {k: dict(v) for k, v in infos.items() if k in (account.secrets or {})}


# ---------------------------------------------------------------------------------- saving


def connector_for(services: Services, spec: IntegrationSpec) -> str:
    """The declared connector reading this integration's settings; without one, the
    simulated connector in the sandbox and none in production."""
    real = BY_INTEGRATION.get(spec.code)
    if real is not None and not real.sandbox_only:
        return real.name
    return SIMULATED if services.settings.sandbox else NO_CONNECTOR


def new_account_notice(services: Services, spec: IntegrationSpec) -> str | None:
    """What the 新規登録 form says when an account of `spec` would connect to nothing."""
    return None if connects(connector_for(services, spec)) else explanation(spec.code)


def _control(text: str) -> bool:
    return any(ord(c) < 0x20 or ord(c) == 0x7F for c in text)


def _clean_name(raw: object, errors: list[FieldError]) -> str:
    name = raw.strip() if isinstance(raw, str) else ""
    if not name:
        errors.append(FieldError("name", NAME_LABEL, "required", "アカウント名を入力してください"))
    elif len(name) > MAX_NAME_LENGTH:
        errors.append(
            FieldError(
                "name",
                NAME_LABEL,
                "too_long",
                f"アカウント名は{MAX_NAME_LENGTH}文字以内で入力してください",
            )
        )
    elif _control(name):
        errors.append(
            FieldError(
                "name",
                NAME_LABEL,
                "control_character",
                "アカウント名に改行や制御文字は使用できません",
            )
        )
    return name


def _file_error(spec: FieldSpec, code: str, message: str) -> FieldError:
    return FieldError(spec.key, spec.label, code, message)


_UPLOAD_KEYS = frozenset({"filename", "content_base64", "password"})


def _upload(spec: FieldSpec, raw: Mapping[str, Any]) -> UploadedFile | FieldError:
    """{"filename", "content_base64", "password"?} as the JSON API sends a file."""
    unknown = sorted(set(raw) - _UPLOAD_KEYS)
    content = raw.get("content_base64")
    filename = raw.get("filename")
    password = raw.get("password")
    if unknown or not isinstance(content, str):
        return _file_error(
            spec,
            "invalid_file_upload",
            f"{spec.label}は filename・content_base64(・password) の形で指定してください",
        )
    if filename is not None and not isinstance(filename, str):
        return _file_error(
            spec, "invalid_file_upload", f"{spec.label}のファイル名が正しくありません"
        )
    if password is not None and not isinstance(password, str):
        return _file_error(
            spec, "invalid_file_upload", f"{spec.label}のパスワードが正しくありません"
        )
    try:
        data = base64.b64decode("".join(content.split()), validate=True)
    except (binascii.Error, ValueError):
        return _file_error(
            spec, "invalid_base64", f"{spec.label}のファイルの内容をbase64で指定してください"
        )
    name = posixpath.basename((filename or "").replace("\\", "/")).strip()
    if _control(name):
        name = ""
    return UploadedFile(data, name[:MAX_FILENAME_LENGTH] or None, password or None)


def _prepare(
    spec: IntegrationSpec, values: Mapping[str, object], errors: list[FieldError]
) -> tuple[dict[str, object], dict[str, UploadedFile]]:
    """The values as integrations.validate takes them (a file as bytes, its password in the
    password field), and the uploads by field key."""
    prepared: dict[str, object] = {}
    uploads: dict[str, UploadedFile] = {}
    for key, raw in values.items():
        try:
            spec_field = spec.field(key)
        except KeyError:
            prepared[key] = raw  # validate names it as unknown
            continue
        if spec_field.kind is not FieldKind.FILE or not isinstance(raw, UploadedFile | Mapping):
            prepared[key] = raw
            continue
        upload = _upload(spec_field, raw) if isinstance(raw, Mapping) else raw
        if isinstance(upload, FieldError):
            errors.append(upload)
            continue
        prepared[key] = upload.content
        if upload.content:
            uploads[key] = upload
        if upload.password:
            if spec_field.password_field is None:
                errors.append(
                    _file_error(
                        spec_field,
                        "password_not_supported",
                        f"{spec_field.label}はパスワードで保護されていないファイルを選択してください",
                    )
                )
            elif spec_field.password_field not in values:
                prepared[spec_field.password_field] = upload.password
    return prepared, uploads


def _refusal(spec: IntegrationSpec, errors: list[dict[str, str]]) -> InvalidInput:
    return InvalidInput(
        f"{spec.name}の設定に{len(errors)}件の誤りがあります",
        code=ERROR_CODE,
        detail={"integration": spec.code, "errors": errors},
    )


def _validated(
    spec: IntegrationSpec,
    prepared: Mapping[str, object],
    errors: list[FieldError],
    **options: Any,
) -> dict[str, Any]:
    """integrations.validate, with the name and upload errors found before it, all at once."""
    found = [error.as_dict() for error in errors]
    try:
        cleaned = validate(spec, prepared, **options)
    except InvalidInput as exc:
        if exc.code != ERROR_CODE:
            raise
        raise _refusal(spec, [*found, *exc.detail.get("errors", [])]) from None
    if found:
        raise _refusal(spec, found)
    return cleaned


def _check_connector(services: Services, account: ProviderAccount, spec: IntegrationSpec) -> None:
    """The connector's own rules over the settings about to be saved: a value it would refuse
    (GMO PG's 20-character ショップパスワード) is refused now, naming the field, never on
    the first payment. A field still empty is left to missing_fields."""
    settings = connector_settings(account, services.keyring)
    try:
        services.registry.check_settings(account.connector, settings)
    except ConfigurationError as exc:
        fields = {alias: key for key, alias in CONNECTOR_ALIASES.get(spec.code, {}).items()}
        errors = []
        for key, message in exc.detail.get("problems", {}).items():
            field_key = fields.get(key, key)
            if is_blank(settings.get(key)):
                continue
            try:
                label = spec.field(field_key).label
            except KeyError:
                label = field_key
            errors.append(FieldError(field_key, label, "connector_rule", message).as_dict())
        if errors:
            raise _refusal(spec, errors) from None


async def _configured(session: AsyncSession, exclude: int | None) -> dict[str, dict[str, object]]:
    """Every other account's values by integration code (a configured one preferred), for
    the rules that look across integrations."""
    out: dict[str, dict[str, object]] = {}
    for account in await list_accounts(session):
        spec = spec_of(account)
        if spec is None or account.id == exclude:
            continue
        values = configured_values(account)
        current = out.get(spec.code)
        if current is None or (not is_configured(spec, current) and is_configured(spec, values)):
            out[spec.code] = values
    return out


def _broken_elsewhere(
    spec: IntegrationSpec,
    others: Mapping[str, Mapping[str, object]],
    before: Mapping[str, object] | None,
    after: Mapping[str, object],
) -> list[dict[str, str]]:
    """Cross-integration rules of OTHER integrations this save would newly break (e.g. the
    last card gateway emptied while ルミーズテンキーパッド is on)."""

    def errors(values: Mapping[str, object] | None) -> dict[tuple[str, str, str], FieldError]:
        everything = dict(others) if values is None else {**others, spec.code: values}
        return {
            (e.integration or "", e.field, e.code): e
            for e in cross_errors(everything)
            if e.integration != spec.code
        }

    already = errors(before)
    return [e.as_dict() for key, e in errors(after).items() if key not in already]


def _stored_fields(spec: IntegrationSpec) -> list[FieldSpec]:
    return [f for f in spec.fields if not f.read_only and not f.transient]


def _sealed(spec_field: FieldSpec) -> bool:
    """Kept in `secrets`: secrets, and uploaded files (bytes have no place in JSON settings)."""
    return spec_field.is_secret or spec_field.kind is FieldKind.FILE


def _shown(spec_field: FieldSpec, value: object) -> str | None:
    """A non-secret value as 変更履歴 shows it (有効/無効, a choice's label)."""
    if value is None:
        return None
    if spec_field.kind is FieldKind.FLAG:
        on, off = spec_field.flag_labels
        return on if value is True else off
    if spec_field.kind is FieldKind.CHOICE:
        return dict(spec_field.choices).get(str(value), str(value))
    return str(value)


def _file_info(
    spec_field: FieldSpec, data: bytes, upload: UploadedFile | None, password: object, now: datetime
) -> dict[str, Any]:
    info: dict[str, Any] = {
        "filename": upload.filename if upload else None,
        "size": len(data),
        "subject": None,
        "not_after": None,
    }
    try:
        summary = validate_file(
            spec_field.file_format or FileFormat.IMAGE,
            data,
            password if isinstance(password, str) else None,
            now=now,
        )
    except KessaiError:  # already accepted by validate; the facts are only a convenience
        return info
    info["subject"] = summary.subject
    info["not_after"] = summary.not_after.isoformat() if summary.not_after else None
    return info


@dataclass(frozen=True)
class _Change:
    key: str
    label: str
    before: str | None
    after: str | None


def _apply(
    services: Services,
    account: ProviderAccount,
    spec: IntegrationSpec,
    cleaned: Mapping[str, Any],
    plain: Mapping[str, str | bytes],
    uploads: Mapping[str, UploadedFile],
    now: datetime,
) -> list[_Change]:
    """Write `cleaned` to the account (sealing secrets) and say what changed."""
    keys = {f.key for f in spec.fields}
    old_settings = dict(account.settings or {})
    old_secrets = dict(account.secrets or {})
    old_files = dict(old_settings.get(FILES_KEY) or {})
    settings: dict[str, Any] = {
        k: v for k, v in old_settings.items() if k not in keys and k != FILES_KEY
    }
    secrets: dict[str, str] = {}
    files: dict[str, Any] = {}
    changes: list[_Change] = []
    for spec_field in _stored_fields(spec):
        key, new = spec_field.key, cleaned.get(spec_field.key)
        if not _sealed(spec_field):
            settings[key] = new
            before, after = _shown(spec_field, old_settings.get(key)), _shown(spec_field, new)
            if before != after:
                changes.append(_Change(key, spec_field.label, before, after))
            continue
        had = key in old_secrets
        if new is None or new in ("", b""):
            if had:
                changes.append(_Change(key, spec_field.label, MASK, NOT_SET))
            continue
        if had and plain.get(key) == new:  # kept (or the same value again): the same token
            secrets[key] = old_secrets[key]
        else:
            secrets[key] = seal(services.keyring, account.id, key, new)
            changes.append(_Change(key, spec_field.label, MASK if had else NOT_SET, CHANGED))
        if isinstance(new, bytes):
            upload = uploads.get(key)
            if upload is None and key in old_files:
                files[key] = old_files[key]
            else:
                password = cleaned.get(spec_field.password_field or "")
                files[key] = _file_info(spec_field, new, upload, password, now)
    if files:
        settings[FILES_KEY] = files
    account.settings = settings
    account.secrets = secrets
    return changes


async def _record(
    session: AsyncSession,
    account: ProviderAccount,
    changes: list[_Change],
    actor: str,
    at: datetime,
) -> None:
    """One 変更履歴 row per field, its Japanese label as the reason."""
    for change in changes:
        await record_changes(
            session,
            entity=HISTORY_ENTITY,
            entity_id=account.id,
            changes={change.key: (change.before, change.after)},
            actor=actor,
            at=at,
            reason=change.label,
        )


async def create_account(
    services: Services, integration: str, name: str, values: Mapping[str, object], *, actor: str
) -> ProviderAccount:
    """A new account of `integration` (a seed-001 code), or InvalidInput listing every error."""
    spec = integration_spec(integration)
    now = services.clock.now()
    errors: list[FieldError] = []
    clean_name = _clean_name(name, errors)
    prepared, uploads = _prepare(spec, values, errors)
    async with transaction(services.sessions) as s:
        others = await _configured(s, exclude=None)
        cleaned = _validated(spec, prepared, errors, configured=others, now=now)
        broken = _broken_elsewhere(spec, others, None, cleaned)
        if broken:
            raise _refusal(spec, broken)
        account = ProviderAccount(
            provider=spec.provider or spec.code,
            integration=spec.code,
            name=clean_name,
            connector=connector_for(services, spec),
            settings={},
            secrets={},
            created_at=now,
            updated_at=now,
        )
        s.add(account)
        await s.flush()  # the id binds every sealed token to this account
        changes = [_Change("name", NAME_LABEL, None, clean_name)]
        changes += _apply(services, account, spec, cleaned, {}, uploads, now)
        _check_connector(services, account, spec)
        await _record(s, account, changes, actor, now)
    log.info(
        "外部連携アカウントを作成しました: id=%s integration=%s fields=%s",
        account.id,
        spec.code,
        ",".join(c.key for c in changes),
    )
    return account


async def update_account(
    services: Services,
    account_id: int,
    values: Mapping[str, object],
    *,
    clear: Sequence[str] = (),
    actor: str,
    name: str | None = None,
) -> ProviderAccount:
    """Change some fields: a field left out keeps its value, a secret sent empty keeps it
    too, `clear` empties fields on purpose. InvalidInput lists every error; nothing changes."""
    now = services.clock.now()
    async with transaction(services.sessions) as s:
        account = await get_account(s, account_id, for_update=True)
        spec = spec_of(account)
        if spec is None:
            raise Conflict(
                "この外部連携アカウントは連携の種類が登録されていないため変更できません",
                code="account_without_integration",
                detail={"account_id": account_id},
            )
        errors: list[FieldError] = []
        clean_name = account.name if name is None else _clean_name(name, errors)
        prepared, uploads = _prepare(spec, values, errors)
        # Stored secrets in clear: a kept one is compared and checked with the new values
        # (Paygent's certificate against the stored key).
        plain = decrypted_secrets(account, services.keyring)
        stored = {
            **{k: v for k, v in (account.settings or {}).items() if k != FILES_KEY},
            **plain,
        }
        others = await _configured(s, exclude=account.id)
        cleaned = _validated(
            spec, prepared, errors, existing=stored, clear=clear, configured=others, now=now
        )
        broken = _broken_elsewhere(spec, others, configured_values(account), cleaned)
        if broken:
            raise _refusal(spec, broken)
        changes = []
        if clean_name != account.name:
            changes.append(_Change("name", NAME_LABEL, account.name, clean_name))
            account.name = clean_name
        changes += _apply(services, account, spec, cleaned, plain, uploads, now)
        _check_connector(services, account, spec)
        if changes:
            account.updated_at = now
            await _record(s, account, changes, actor, now)
    await services.registry.forget(account_id)  # the connector is rebuilt with the new settings
    log.info(
        "外部連携アカウントを更新しました: id=%s integration=%s fields=%s",
        account.id,
        spec.code,
        ",".join(c.key for c in changes) or "-",
    )
    return account


# ---------------------------------------------------------------------------- connection


async def test_connection(services: Services, account_id: int) -> ConnectionResult:
    """Log in to the provider with the account's settings (CONNECTION_TESTS per integration)."""
    async with transaction(services.sessions) as s:
        account = await get_account(s, account_id)
    if not connects(account.connector):
        detail = {"code": NOT_CONNECTED, "integration": account.integration}
        return ConnectionResult(False, explanation(account.integration), detail)
    check = CONNECTION_TESTS.get(account.integration or "")
    if check is None:
        return ConnectionResult(False, UNSUPPORTED_TEST, {"integration": account.integration})
    settings = connector_settings(account, services.keyring)
    try:
        return await check(services, account, settings)
    except KessaiError as exc:
        if exc.code == "secret_undecryptable":
            raise
        return ConnectionResult(False, exc.message, {"code": exc.code})


test_connection.__test__ = False  # type: ignore[attr-defined]  # not a pytest test
