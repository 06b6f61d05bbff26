"""The rule functions: read a row of the matrix, look at one payment, give a Decision."""

from datetime import datetime, timedelta

from kessai.payments.capabilities.model import (
    AmountRule,
    CancelLinkage,
    CapabilityRow,
    CaptureOnAuthorize,
    Decision,
    DecisionCode,
    MethodFlags,
    MethodKind,
    PaymentContext,
    Phase,
    SecurityCode,
    UnknownMethod,
    Verdict,
)
from kessai.payments.capabilities.rows import (
    AUTHORIZATION_DAYS,
    METHOD_AUTHORIZATION_DAYS,
    PROVIDERS,
    ROWS,
)
from kessai.payments.capabilities.windows import Anchor, Window, format_tokyo, to_tokyo

_INDEX: dict[tuple[str, str], CapabilityRow] = {(r.provider, r.method_type): r for r in ROWS}

CANCEL_FLAGS_TEXT = (
    "「取消API連携フラグ:受注取消時に取り消し連携する」または"
    "「解約API連携フラグ:受注取消時に解約連携する」"
)
GMOPS_CANCEL_FLAG_TEXT = "「GMOPS後払い キャンセルAPI連携フラグ:受注取消時に取消連携する」"
MANUAL_CANCEL_TEXT = (
    "受注データ管理画面で「取消区分」にチェックを入れ、決済代行会社側の管理画面でも取消の処理を"
    "行ってください。決済代行会社側で取消が完了したら「強制取消処理(決済サービス未連携)」を"
    "実施してください。"
)
NO_MODIFY_AFTER_CAPTURE_TEXT = (
    "売上完了後に金額修正ができない方法: 後払い決済・銀行振込・代金引換・外部決済"
    "(後払いはすでに請求書を印刷・発送しているため金額変更ができません)"
)


def row(provider: str, method_type: str) -> CapabilityRow:
    """The row for ``provider`` × ``method_type``; UnknownMethod (a ValueError) when absent."""
    found = _INDEX.get((provider, method_type))
    if found is not None:
        return found
    if provider not in PROVIDERS:
        raise UnknownMethod(f"未対応の決済代行会社です: {provider}")
    raise UnknownMethod(f"{PROVIDERS[provider]}に決済種別「{method_type}」はありません")


def label(r: CapabilityRow) -> str:
    """The seed's way of naming a method: 決済種別(決済代行会社名), e.g. WeChat Pay(KOMOJU)."""
    return f"{r.name}({PROVIDERS[r.provider]})"


def _link(text: str) -> Decision:
    return Decision(Verdict.LINK, DecisionCode.OK.value, text)


def _local(code: DecisionCode, text: str) -> Decision:
    return Decision(Verdict.LOCAL, code.value, text)


def _refuse(code: DecisionCode, text: str) -> Decision:
    return Decision(Verdict.REFUSE, code.value, text)


def _anchor_value(anchor: Anchor, ctx: PaymentContext) -> datetime | None:
    if anchor is Anchor.ORDERED_AT:
        return ctx.ordered_at
    if anchor is Anchor.AUTHORIZED_AT:
        return ctx.authorized_at
    return ctx.captured_at


def _check_window(
    r: CapabilityRow, window: Window, ctx: PaymentContext, after_text: str
) -> Decision | None:
    """A refusal when the window is over (or cannot be judged), else None."""
    anchor_at = _anchor_value(window.anchor, ctx)
    if anchor_at is None:
        return _refuse(
            DecisionCode.MISSING_TIMESTAMP,
            f"{label(r)}: {window.note}。{window.anchor.label}が不明のため期限を判定できません",
        )
    if window.expired(anchor_at, ctx.now):
        deadline = window.deadline(anchor_at)
        return _refuse(
            DecisionCode.WINDOW_EXPIRED,
            f"{label(r)}: {window.note}"
            f"({window.anchor.label} {format_tokyo(anchor_at)}、期限 {format_tokyo(deadline)})"
            f"{after_text}",
        )
    return None


def _check_carrier(r: CapabilityRow, ctx: PaymentContext) -> Decision | None:
    if ctx.carrier is not None and r.carriers and ctx.carrier not in r.carriers:
        return _refuse(
            DecisionCode.CARRIER_NOT_SUPPORTED,
            f"{label(r)}: {ctx.carrier.label}は対象外です",
        )
    return None


# --- §2 キャンセル連携 ----------------------------------------------------------------------


def can_cancel(ctx: PaymentContext, phase: Phase) -> Decision:
    """§2: may cancelling this order be sent to the provider in ``phase``?"""
    r = row(ctx.provider, ctx.method_type)
    to_tokyo(ctx.now)  # refuses a naive ``now`` whatever the row
    if r.kind is MethodKind.OFFLINE:
        return _local(
            DecisionCode.LOCAL_ONLY,
            f"{label(r)}: 決済代行会社と連携しない決済のため、"
            "キャンセルは本システム内でのみ反映します",
        )
    refused = _check_carrier(r, ctx)
    if refused is not None:
        return refused
    if r.cancel_excluded_with_3ds and (ctx.three_d_secure or r.three_d_secure_method):
        return _refuse(
            DecisionCode.THREE_D_SECURE_EXCLUDED,
            f"{label(r)}: クレジットカード(りそなPayResort)にて、3Dセキュア認証を行う場合は"
            f"キャンセル連携の対象外です。{MANUAL_CANCEL_TEXT}",
        )
    rule = r.cancel_rule(phase)
    if rule is None:
        return _refuse(
            DecisionCode.NOT_SUPPORTED,
            f"{label(r)}: {phase.label}のキャンセル連携に対応していません"
            f"(上記以外の決済方法については、注文のキャンセル連携は行っておりません)。"
            f"{MANUAL_CANCEL_TEXT}",
        )
    if rule.unpaid_local and not ctx.paid:
        return _local(
            DecisionCode.UNPAID_NOT_LINKED,
            f"{label(r)}: {rule.note}(未入金受注のため本システム内でのみキャンセルします)",
        )
    if rule.linkage is CancelLinkage.API_FLAGS:
        if not (ctx.flags.cancel_api_link or ctx.flags.terminate_api_link):
            return _refuse(
                DecisionCode.FLAG_OFF,
                f"{label(r)}: 取消API連携フラグ・解約API連携フラグが無効のため取消連携できません"
                f"({CANCEL_FLAGS_TEXT}の場合にキャンセルの連携が可能です)。{MANUAL_CANCEL_TEXT}",
            )
        how = f"{CANCEL_FLAGS_TEXT}の設定により"
    elif rule.linkage is CancelLinkage.GMOPS_FLAG:
        if not ctx.flags.gmops_cancel_link:
            return _refuse(
                DecisionCode.FLAG_OFF,
                f"{label(r)}: GMOPS後払い キャンセルAPI連携フラグが無効のため取消連携できません"
                f"({GMOPS_CANCEL_FLAG_TEXT}を選択)。{MANUAL_CANCEL_TEXT}",
            )
        how = f"{GMOPS_CANCEL_FLAG_TEXT}の設定により"
    else:
        how = "各種API連携フラグを利用せず、デフォルトで"
    if rule.window is not None:
        refused = _check_window(
            r,
            rule.window,
            ctx,
            "。決済会社の注文取消期間を経過しています。決済会社へ取消可否を確認し、決済会社での"
            "取消が正常に行われた場合は「強制取消処理」を実施してください。",
        )
        if refused is not None:
            return refused
    for carrier, window in r.carrier_windows:
        if ctx.carrier is carrier:
            refused = _check_window(
                r,
                window,
                ctx,
                f"({carrier.label}の期限)。決済会社へ取消可否を確認し、決済会社での取消が"
                "正常に行われた場合は「強制取消処理」を実施してください。",
            )
            if refused is not None:
                return refused
    return _link(
        f"{label(r)}: {phase.label}、{how}キャンセル連携します(全額取消のみ可能、一部返金は不可)"
    )


# --- §3 金額変更連携 ------------------------------------------------------------------------


def can_change_amount(ctx: PaymentContext, phase: Phase) -> Decision:
    """§3: may this order's amount change be sent to the provider in ``phase``?

    A row the seed lists for the phase wins over seed 004's general "売上完了後に金額修正が
    できない: 後払い決済…" (atone, 後払い.com and アトカラ are listed オーソリ確定後); a
    後払い/掛け払い row that is not listed is refused with seed 004's wording.
    """
    r = row(ctx.provider, ctx.method_type)
    to_tokyo(ctx.now)
    if r.kind is MethodKind.OFFLINE:
        if phase is Phase.BEFORE_CAPTURE:
            return _local(
                DecisionCode.LOCAL_ONLY,
                f"{label(r)}: 決済代行会社と連携しない決済のため、"
                "金額変更は本システム内でのみ反映します",
            )
        return _refuse(DecisionCode.NOT_SUPPORTED, f"{label(r)}: {NO_MODIFY_AFTER_CAPTURE_TEXT}")
    refused = _check_carrier(r, ctx)
    if refused is not None:
        return refused
    rule = r.amount_rule(phase)
    if rule is None:
        if phase is Phase.AFTER_CAPTURE and r.kind is MethodKind.DEFERRED:
            return _refuse(
                DecisionCode.NOT_SUPPORTED, f"{label(r)}: {NO_MODIFY_AFTER_CAPTURE_TEXT}"
            )
        return _refuse(
            DecisionCode.NOT_SUPPORTED,
            f"{label(r)}: {phase.label}の金額変更連携に対応していません",
        )
    return _check_amount_rule(r, rule, ctx, phase)


def _check_amount_rule(
    r: CapabilityRow, rule: AmountRule, ctx: PaymentContext, phase: Phase
) -> Decision:
    if rule.decrease_only:
        if ctx.old_amount is None or ctx.new_amount is None:
            return _refuse(
                DecisionCode.AMOUNT_REQUIRED,
                f"{label(r)}: 減額のみ可能のため、変更前と変更後の金額が必要です",
            )
        if ctx.new_amount > ctx.old_amount:
            return _refuse(
                DecisionCode.INCREASE_NOT_ALLOWED,
                f"{label(r)}: 減額のみ可能"
                f"({ctx.old_amount}円から{ctx.new_amount}円への増額はできません)",
            )
    if rule.flag is not None and not rule.flag.enabled(ctx.flags):
        return _refuse(
            DecisionCode.FLAG_OFF,
            f"{label(r)}: {rule.flag.label}が選択されていないため金額変更連携できません"
            f"(備考: {_one_line(rule.note)})",
        )
    if rule.local_only:
        return _local(
            DecisionCode.LOCAL_ONLY,
            f"{label(r)}: {_one_line(rule.note)}",
        )
    if rule.before_tracking_only and ctx.tracking_linked:
        return _refuse(
            DecisionCode.TRACKING_LINKED,
            f"{label(r)}: 伝票番号連携前のみ可能(配送伝票番号は連携済みです)",
        )
    if rule.carriers:
        allowed = "・".join(c.label for c in rule.carriers)
        if ctx.carrier is None:
            return _refuse(
                DecisionCode.CARRIER_UNKNOWN,
                f"{label(r)}: {phase.label}の金額変更連携はキャリア決済({allowed})のみ可能ですが、"
                "キャリアが不明です",
            )
        if ctx.carrier not in rule.carriers:
            return _refuse(
                DecisionCode.CARRIER_NOT_SUPPORTED,
                f"{label(r)}: {phase.label}の金額変更連携はキャリア決済({allowed})のみ可能です"
                f"({ctx.carrier.label}は対象外)",
            )
    if rule.window is not None:
        refused = _check_window(r, rule.window, ctx, "")
        if refused is not None:
            return refused
    for carrier, window in r.carrier_windows:  # d払い's own deadline, through a gateway too
        if ctx.carrier is carrier:
            refused = _check_window(r, window, ctx, f"({carrier.label}の期限)")
            if refused is not None:
                return refused
    note = "" if rule.note == "-" else f"(備考: {_one_line(rule.note)})"
    return _link(f"{label(r)}: {phase.label}の金額変更を連携します{note}")


def _one_line(text: str) -> str:
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


# --- §4 オーソリ同時確定, §5 セキュリティコード ----------------------------------------------


def captures_on_authorize(provider: str, method_type: str, flags: MethodFlags) -> bool:
    """§4: does the authorization also capture (オーソリ確定) at once?

    True when 「オーソリ時確定フラグ」 is set and §4 lists the method, or always for the
    methods that do so by default (WeChat Pay/Alipay via KOMOJU).
    """
    mode = row(provider, method_type).capture_on_authorize
    if mode is CaptureOnAuthorize.ALWAYS:
        return True
    return mode is CaptureOnAuthorize.FLAG and flags.capture_on_authorize


def accepts_security_code(provider: str, method_type: str, pcidss: bool = False) -> bool:
    """§5: may the purchase form ask for the セキュリティコード? (GMO 継続課金: PCIDSS利用時のみ)"""
    mode = row(provider, method_type).security_code
    if mode is SecurityCode.PCIDSS_ONLY:
        return pcidss
    return mode is SecurityCode.SUPPORTED


def requires_security_code(
    provider: str, method_type: str, flags: MethodFlags, pcidss: bool = False
) -> bool:
    """§5: 「クレジットカードセキュリティコードチェック」必須, for a method that accepts one."""
    return flags.security_code_required and accepts_security_code(provider, method_type, pcidss)


# --- 与信期限 -----------------------------------------------------------------------------


def _valid_override(override: int | None) -> int | None:
    if override is not None and override <= 0:
        raise ValueError("与信期限の日数は1以上で指定してください")
    return override


def authorization_days(provider: str, override: int | None = None) -> int | None:
    """与信期限 of a provider: the account's ``override`` wins; None = no lifetime."""
    if provider not in PROVIDERS:
        raise UnknownMethod(f"未対応の決済代行会社です: {provider}")
    if _valid_override(override) is not None:
        return override
    return AUTHORIZATION_DAYS.get(provider)


def authorization_days_for(
    provider: str, method_type: str, override: int | None = None
) -> int | None:
    """与信期限 of a method: ``override``, else the method's own, else the provider's."""
    row(provider, method_type)
    if _valid_override(override) is not None:
        return override
    own = METHOD_AUTHORIZATION_DAYS.get(method_type)
    if own is not None:
        return own
    return AUTHORIZATION_DAYS.get(provider)


def authorization_expired(
    provider: str,
    authorized_at: datetime,
    now: datetime,
    override: int | None = None,
    *,
    method_type: str | None = None,
) -> bool:
    """True when ``now`` is strictly after 決済日時 + 与信期限 (never when there is none).

    With ``method_type`` the lifetime is ``authorization_days_for``'s, else the provider's.
    """
    if method_type is None:
        days = authorization_days(provider, override)
    else:
        days = authorization_days_for(provider, method_type, override)
    if days is None:
        to_tokyo(now)
        return False
    return to_tokyo(now) > to_tokyo(authorized_at) + timedelta(days=days)
