"""支払い方法管理: payment methods bound to an 外部連携アカウント, offered per channel (LP,
ショップ, 受注作成), with the seed-003 flags the payment core reads.

Rules (checked before anything is written, so a refused save changes nothing):
- a method is one row of the capability matrix for its account's provider; an integration
  with no provider of its own (電算システム …) carries methods kessai settles alone
  ("offline": 外部決済);
- a method whose account lacks a field its use needs cannot be enabled (409
  account_incomplete, naming each field with the schema's Japanese label);
- channels are limited to those the account's integration offers;
- a flag may be turned on only where seed 003 offers it for that method (§2 cancel flags, §3
  amount-change flags, §4 オーソリ時確定フラグ, §5 セキュリティコード); turning a flag off is
  always allowed;
- every change is written to 変更履歴 (entity "payment_method"), its Japanese label in the reason.
Never commits: the caller owns the transaction.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kessai.accounts.connection import connects, notice, require_connected
from kessai.accounts.integrations import (
    ALL_CHANNELS,
    Channel,
    FieldError,
    IntegrationSpec,
    missing_for_enable,
)
from kessai.accounts.models import PaymentMethod, ProviderAccount
from kessai.accounts.secrets import configured_values, spec_of
from kessai.core.errors import Conflict, InvalidInput, NotFound
from kessai.history.repository import record_changes
from kessai.payments import capabilities as caps

ENTITY = "payment_method"
OFFLINE = "offline"
# Integrations without a provider of their own: their methods are settled in kessai alone.
NO_PROVIDER_METHOD_TYPES = ("external",)
MIN_AMOUNT, MAX_AMOUNT = 1, 9_999_999
MAX_NAME = 200

FLAG_LABELS: dict[str, str] = {
    "cancel_api_link": "取消API連携フラグ",
    "terminate_api_link": "解約API連携フラグ",
    "capture_on_authorize": "オーソリ時確定フラグ",
    "post_capture_amount_change_link": "オーソリ確定後金額変更連携フラグ",
    "gmops_cancel_link": "GMOPS後払い キャンセルAPI連携フラグ",
    "gmops_modify_link": "GMOPS後払い 取引修正API連携フラグ",
    "atobarai_com_modify_link": "後払い.com 取引修正連携",
    "reduce_link": "減額連携",
    "security_code_required": "クレジットカードセキュリティコードチェック",
}
FLAG_NAMES = tuple(FLAG_LABELS)
FIELD_LABELS: dict[str, str] = {
    "created": "登録",
    "code": "支払い方法コード",
    "name": "支払い方法名",
    "account_id": "外部連携アカウント",
    "method_type": "決済種別",
    "enabled": "有効/無効",
    "channels": "利用可能な画面",
    "min_amount": "下限金額",
    "max_amount": "上限金額",
    **FLAG_LABELS,
}
_SECTION_CANCEL = "「2.注文のキャンセル連携が可能な決済」"
_SECTION_AMOUNT = "「3.注文の金額変更連携について」"
_SECTION_CAPTURE = "「4.オーソリ同時確定が可能な決済」"
_SECTION_SECURITY = "「5.セキュリティコードの入力に対応している決済」"


# --- what an account and a capability row allow ---------------------------------------------


def account_spec(account: ProviderAccount | None) -> IntegrationSpec | None:
    return None if account is None else spec_of(account)


def missing_fields(account: ProviderAccount | None, provider: str) -> list[tuple[str, str]]:
    """(field key, Japanese label) of what the account lacks before its methods can be used.

    A method with no account at all lacks it, unless it is settled in kessai alone."""
    if account is None:
        return [] if provider == OFFLINE else [("account_id", "外部連携アカウント")]
    spec = account_spec(account)
    if spec is None:
        return []  # an account made before the schemas: nothing to check it against
    labels = missing_for_enable(spec, configured_values(account))
    keys = {f.label: f.key for f in spec.fields}
    return [(keys.get(label, label), label) for label in labels]


def method_provider(account: ProviderAccount) -> str:
    """The capability-matrix provider of the account's methods."""
    if any(r.provider == account.provider for r in caps.ROWS):
        return account.provider
    spec = account_spec(account)
    if spec is not None and spec.provider is None:
        return OFFLINE
    return account.provider


def connector_ready(method: PaymentMethod, account: ProviderAccount | None) -> bool:
    """False when the method's payments go to a provider that kessai cannot connect its
    account to (a method kessai settles alone needs no connector)."""
    return method.provider == OFFLINE or account is None or connects(account.connector)


def require_connector(method: PaymentMethod, account: ProviderAccount | None) -> None:
    """409 provider_not_connected unless connector_ready."""
    if not connector_ready(method, account):
        require_connected(account)


def allowed_method_types(account: ProviderAccount | None) -> list[str]:
    if account is None:
        return [r.method_type for r in caps.ROWS if r.provider == OFFLINE]
    provider = method_provider(account)
    spec = account_spec(account)
    if provider == OFFLINE and spec is not None and spec.provider is None:
        return list(NO_PROVIDER_METHOD_TYPES)
    return [r.method_type for r in caps.ROWS if r.provider == provider]


def allowed_channels(account: ProviderAccount | None) -> tuple[Channel, ...]:
    spec = account_spec(account)
    return ALL_CHANNELS if spec is None else spec.channels


def flag_refusals(row: caps.CapabilityRow) -> dict[str, str]:
    """Flag name → why seed 003 does not offer it for this method (absent = offered)."""
    name = caps.label(row)
    cancel_rules = [r for r in (row.cancel_before, row.cancel_after) if r is not None]
    amount_flags = {
        r.flag.value for r in (row.amount_before, row.amount_after) if r is not None and r.flag
    }
    out: dict[str, str] = {}
    if not any(r.linkage is caps.CancelLinkage.API_FLAGS for r in cancel_rules):
        why = (
            "各種API連携フラグを利用せず、デフォルトでキャンセル連携できる決済です"
            if any(r.linkage is caps.CancelLinkage.DEFAULT for r in cancel_rules)
            else f"{_SECTION_CANCEL}でこのフラグによるキャンセル連携が記載されていない決済です"
        )
        for flag in ("cancel_api_link", "terminate_api_link"):
            out[flag] = f"{FLAG_LABELS[flag]}は{name}では使えません({why})"
    if not any(r.linkage is caps.CancelLinkage.GMOPS_FLAG for r in cancel_rules):
        out["gmops_cancel_link"] = (
            f"{FLAG_LABELS['gmops_cancel_link']}は{name}では使えません"
            f"({_SECTION_CANCEL}でGMOペイメントサービス 後払い決済のみのフラグです)"
        )
    for flag in (
        "post_capture_amount_change_link",
        "gmops_modify_link",
        "atobarai_com_modify_link",
        "reduce_link",
    ):
        if flag not in amount_flags:
            out[flag] = (
                f"{FLAG_LABELS[flag]}は{name}では使えません"
                f"({_SECTION_AMOUNT}でこの決済の備考に記載のないフラグです)"
            )
    if row.capture_on_authorize is caps.CaptureOnAuthorize.ALWAYS:
        out["capture_on_authorize"] = (
            f"{name}はデフォルトでオーソリしたタイミングにオーソリ確定するため、"
            f"{FLAG_LABELS['capture_on_authorize']}は使えません({_SECTION_CAPTURE})"
        )
    elif row.capture_on_authorize is caps.CaptureOnAuthorize.NONE:
        out["capture_on_authorize"] = (
            f"{FLAG_LABELS['capture_on_authorize']}は{name}では使えません"
            f"({_SECTION_CAPTURE}に記載のない決済です)"
        )
    if row.security_code is caps.SecurityCode.NONE:
        out["security_code_required"] = (
            f"{FLAG_LABELS['security_code_required']}は{name}では使えません"
            f"({_SECTION_SECURITY}に記載のない決済です)"
        )
    return out


def offered_flags(provider: str, method_type: str) -> list[str]:
    refused = flag_refusals(caps.row(provider, method_type))
    return [flag for flag in FLAG_NAMES if flag not in refused]


# --- the view ------------------------------------------------------------------------------


@dataclass(frozen=True)
class MethodView:
    method: PaymentMethod
    account: ProviderAccount | None
    missing: list[str]  # Japanese labels of what the account lacks

    @property
    def complete(self) -> bool:
        return not self.missing

    @property
    def connection_notice(self) -> str | None:
        """Why nothing of this method can reach its provider; None when it can."""
        return None if connector_ready(self.method, self.account) else notice(self.account)


def _view(method: PaymentMethod, account: ProviderAccount | None) -> MethodView:
    return MethodView(
        method, account, [label for _, label in missing_fields(account, method.provider)]
    )


async def list_methods(session: AsyncSession) -> list[MethodView]:
    rows = (
        await session.execute(
            select(PaymentMethod, ProviderAccount)
            .outerjoin(ProviderAccount, ProviderAccount.id == PaymentMethod.account_id)
            .order_by(PaymentMethod.id)
        )
    ).all()
    return [_view(method, account) for method, account in rows]


async def get_method(session: AsyncSession, method_id: int) -> MethodView:
    method = await session.get(PaymentMethod, method_id)
    if method is None:
        raise NotFound(
            f"支払い方法が見つかりませんでした (id: {method_id})", code="payment_method_not_found"
        )
    account = (
        None if method.account_id is None else await session.get(ProviderAccount, method.account_id)
    )
    return _view(method, account)


# --- checks ----------------------------------------------------------------------------------


def _error(field: str, code: str, message: str) -> FieldError:
    return FieldError(field, FIELD_LABELS.get(field, field), code, message)


def _invalid(errors: Sequence[FieldError]) -> InvalidInput:
    return InvalidInput(
        "支払い方法の設定に誤りがあります: " + " / ".join(e.message for e in errors),
        code="invalid_payment_method",
        detail={"errors": [e.as_dict() for e in errors]},
    )


def _clean_name(raw: object, errors: list[FieldError]) -> str | None:
    name = raw.strip() if isinstance(raw, str) else ""
    if not name:
        errors.append(_error("name", "required", "支払い方法名を入力してください"))
        return None
    if len(name) > MAX_NAME:
        errors.append(
            _error("name", "too_long", f"支払い方法名は{MAX_NAME}文字以内で入力してください")
        )
        return None
    return name


def _clean_channels(
    raw: object, account: ProviderAccount | None, errors: list[FieldError]
) -> list[str] | None:
    offered = allowed_channels(account)
    if not isinstance(raw, list | tuple) or not all(isinstance(c, str) for c in raw):
        errors.append(_error("channels", "invalid_type", "利用可能な画面は配列で指定してください"))
        return None
    names = "・".join(f"「{c.label}」" for c in offered) or "なし"
    for value in raw:
        if value not in {c.value for c in offered}:
            where = f"「{Channel(value).label}」" if value in set(Channel) else f"「{value}」"
            errors.append(
                _error(
                    "channels",
                    "channel_not_offered",
                    f"利用可能な画面に{where}は指定できません(指定できる画面: {names})",
                )
            )
            return None
    # Stored in the seed's order (LP, ショップ, 受注作成), each once.
    return [c.value for c in offered if c.value in raw]


def _check_amounts(min_amount: int, max_amount: int, errors: list[FieldError]) -> None:
    for field, value in (("min_amount", min_amount), ("max_amount", max_amount)):
        if not MIN_AMOUNT <= value <= MAX_AMOUNT:
            errors.append(
                _error(
                    field,
                    "out_of_range",
                    f"{FIELD_LABELS[field]}は{MIN_AMOUNT:,}円〜{MAX_AMOUNT:,}円で入力してください",
                )
            )
    if min_amount > max_amount:
        errors.append(
            _error("min_amount", "min_above_max", "下限金額は上限金額以下で入力してください")
        )


def _check_flags(
    provider: str, method_type: str, flags: Mapping[str, bool], errors: list[FieldError]
) -> None:
    refused = flag_refusals(caps.row(provider, method_type))
    for flag in FLAG_NAMES:
        if flags.get(flag) is True and flag in refused:
            errors.append(_error(flag, "flag_not_offered", refused[flag]))


def require_complete(view: MethodView) -> None:
    """409 account_incomplete naming each missing field; nothing to say when complete."""
    missing = missing_fields(view.account, view.method.provider)
    if not missing:
        return
    account_name = view.account.name if view.account else "未設定"
    each = [f"「{label}」が未設定です" for _, label in missing]
    raise Conflict(
        f"外部連携アカウント「{account_name}」の設定が不足しているため、支払い方法"
        f"「{view.method.name}」を有効にできません: " + "、".join(each),
        code="account_incomplete",
        detail={
            "account_id": view.account.id if view.account else None,
            "integration": view.account.integration if view.account else None,
            "missing": [label for _, label in missing],
            "errors": [
                {"field": key, "label": label, "code": "required", "message": message}
                for (key, label), message in zip(missing, each, strict=True)
            ],
        },
    )


# --- writes ----------------------------------------------------------------------------------

EDITABLE = ("enabled", "channels", "name", "min_amount", "max_amount", *FLAG_NAMES)


def _stored(field: str, value: object) -> object:
    """How a value is written to 変更履歴 (channels as their codes, comma-joined)."""
    if field == "channels" and isinstance(value, list):
        return ",".join(value)
    return value


async def _record(
    session: AsyncSession,
    method: PaymentMethod,
    changes: Mapping[str, tuple[object, object]],
    *,
    actor: str,
    now: datetime,
    verb: str,
) -> None:
    for field, (before, after) in changes.items():
        await record_changes(
            session,
            entity=ENTITY,
            entity_id=method.id,
            changes={field: (_stored(field, before), _stored(field, after))},
            actor=actor,
            at=now,
            reason=f"支払い方法「{method.name}」の{FIELD_LABELS.get(field, field)}を{verb}",
        )


async def update_method(
    session: AsyncSession,
    method_id: int,
    changes: Mapping[str, Any],
    *,
    actor: str,
    now: datetime,
) -> MethodView:
    """Apply a PATCH: every rule is checked first; on any refusal nothing is written."""
    unknown = [key for key in changes if key not in EDITABLE]
    if unknown:
        raise _invalid([_error(k, "not_editable", f"「{k}」は変更できません") for k in unknown])
    view = await get_method(session, method_id)
    method, account = view.method, view.account
    errors: list[FieldError] = []
    target: dict[str, Any] = {}
    for key, value in changes.items():
        if key == "name":
            target[key] = _clean_name(value, errors)
        elif key == "channels":
            target[key] = _clean_channels(value, account, errors)
        elif value is None:
            errors.append(_error(key, "required", f"{FIELD_LABELS[key]}を指定してください"))
        else:
            target[key] = value
    min_amount = target.get("min_amount", method.min_amount)
    max_amount = target.get("max_amount", method.max_amount)
    if "min_amount" in target or "max_amount" in target:
        _check_amounts(min_amount, max_amount, errors)
    _check_flags(method.provider, method.method_type, target, errors)
    if errors:
        raise _invalid(errors)
    if target.get("enabled") is True and not method.enabled:
        require_complete(view)
    diff = {
        key: (getattr(method, key), value)
        for key, value in target.items()
        if getattr(method, key) != value
    }
    if not diff:
        return view
    for key, (_, after) in diff.items():
        setattr(method, key, after)
    method.updated_at = now
    await session.flush()
    await _record(session, method, diff, actor=actor, now=now, verb="変更")
    return view


@dataclass(frozen=True)
class NewMethod:
    code: str
    name: str
    method_type: str
    account_id: int | None = None
    enabled: bool = False
    channels: list[str] | None = None  # None: every channel the integration offers
    min_amount: int = MIN_AMOUNT
    max_amount: int = MAX_AMOUNT
    flags: Mapping[str, bool] | None = None


async def _account_for(session: AsyncSession, data: NewMethod) -> ProviderAccount | None:
    if data.account_id is None:  # 銀行振込・代金引換・外部決済: settled in kessai alone
        return None
    account = await session.get(ProviderAccount, data.account_id)
    if account is None:
        raise _invalid(
            [
                _error(
                    "account_id",
                    "unknown_account",
                    f"外部連携アカウントが見つかりませんでした (id: {data.account_id})",
                )
            ]
        )
    spec = account_spec(account)
    if spec is not None and not spec.is_payment:
        raise _invalid(
            [
                _error(
                    "account_id",
                    "not_a_payment_account",
                    f"外部連携アカウント「{spec.name}」は決済サービスではないため、"
                    "支払い方法を登録できません",
                )
            ]
        )
    return account


async def create_method(
    session: AsyncSession, data: NewMethod, *, actor: str, now: datetime
) -> MethodView:
    account = await _account_for(session, data)
    provider = OFFLINE if account is None else method_provider(account)
    errors: list[FieldError] = []
    code = data.code.strip()
    if not code or len(code) > 60 or not code.isascii() or any(c.isspace() for c in code):
        errors.append(
            _error(
                "code",
                "invalid_code",
                "支払い方法コードは60文字以内の半角英数記号で入力してください",
            )
        )
    elif await session.scalar(select(PaymentMethod.id).where(PaymentMethod.code == code)):
        errors.append(
            _error("code", "duplicate_code", f"支払い方法コード「{code}」は既に使われています")
        )
    name = _clean_name(data.name, errors)
    types = allowed_method_types(account)
    type_ok = data.method_type in types
    if not type_ok:
        offered = "・".join(f"{t}({caps.row(provider, t).name})" for t in types) or "なし"
        errors.append(
            _error(
                "method_type",
                "method_type_not_offered",
                f"決済種別「{data.method_type}」は{caps.PROVIDERS.get(provider, provider)}"
                f"にはありません(指定できる決済種別: {offered})",
            )
        )
    channels = _clean_channels(
        data.channels
        if data.channels is not None
        else [c.value for c in allowed_channels(account)],
        account,
        errors,
    )
    _check_amounts(data.min_amount, data.max_amount, errors)
    flags = dict(data.flags or {})
    unknown_flags = [k for k in flags if k not in FLAG_NAMES]
    errors.extend(
        _error(k, "unknown_flag", f"「{k}」というフラグはありません") for k in unknown_flags
    )
    if type_ok:
        _check_flags(provider, data.method_type, flags, errors)
    if errors or name is None or channels is None:
        raise _invalid(errors)
    method = PaymentMethod(
        code=code,
        name=name,
        provider=provider,
        method_type=data.method_type,
        account_id=account.id if account else None,
        enabled=False,
        channels=channels,
        min_amount=data.min_amount,
        max_amount=data.max_amount,
        recurring=False,
        created_at=now,
        updated_at=now,
        **{flag: bool(flags.get(flag, False)) for flag in FLAG_NAMES},
    )
    view = _view(method, account)
    if data.enabled:
        require_complete(view)
        method.enabled = True
    session.add(method)
    await session.flush()
    initial = (
        {"created": (None, code)}
        | {
            key: (None, getattr(method, key))
            for key in (
                "name",
                "method_type",
                "account_id",
                "enabled",
                "channels",
                "min_amount",
                "max_amount",
            )
        }
        | {flag: (None, True) for flag in FLAG_NAMES if getattr(method, flag)}
    )
    await _record(session, method, initial, actor=actor, now=now, verb="登録")
    return view
