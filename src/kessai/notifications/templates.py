"""Which mails exist, the variables each may use, and how a subject and body are rendered.

Every template has a default in templates/ (Jinja2 plain text); the shop may edit any of
them (its text then lives in the mail_templates table) and add its own for 自動化設定's
mails. Templates run in Jinja2's sandbox with StrictUndefined: an operator's text can
reach nothing but the variables listed, and a missing value is an error, never a blank.
"""

from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import Any

from jinja2 import BaseLoader, PackageLoader, StrictUndefined, TemplateError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment

from kessai.core.errors import InvalidInput


class MailKind(StrEnum):
    # 決済方法変更のご案内: a payment failed; the customer must change card or method.
    PAYMENT_METHOD_CHANGE_REQUEST = "payment_method_change_request"
    # 決済方法変更完了通知: the customer changed the card.
    PAYMENT_METHOD_CHANGED = "payment_method_changed"
    # GMO PG's SFTP files (shop only): a 自動洗替 or 継続課金 step that failed; 洗替 results.
    CARD_UPDATER_FAILED = "card_updater_failed"
    CARD_UPDATER_RESULT = "card_updater_result"
    # 継続課金 (seed 002): the 有効性チェック found the card NG; re-register it or pay otherwise.
    RECURRING_CARD_INVALID = "recurring_card_invalid"
    # 自動化設定のメール: a rule's action, from the template it names.
    AUTOMATION = "automation"
    # 決済方法変更のご案内 for a card whose 洗替判定結果 came back NG (a 自動化設定 rule's mail).
    CARD_UPDATER_NG = "card_updater_ng"

    @property
    def label(self) -> str:
        return MAIL_KIND_LABELS[self]


MAIL_KIND_LABELS = {
    MailKind.PAYMENT_METHOD_CHANGE_REQUEST: "決済方法変更のご案内",
    MailKind.PAYMENT_METHOD_CHANGED: "決済方法変更完了通知",
    MailKind.CARD_UPDATER_FAILED: "GMO PG ファイル連携エラーのお知らせ",
    MailKind.CARD_UPDATER_RESULT: "自動洗替結果のお知らせ",
    MailKind.RECURRING_CARD_INVALID: "再決済・決済方法変更のご案内",
    MailKind.AUTOMATION: "自動化設定",
    MailKind.CARD_UPDATER_NG: "決済方法変更のご案内(洗替判定結果NG)",
}


class Recipient(StrEnum):
    CUSTOMER = "customer"
    SHOP = "shop"

    @property
    def label(self) -> str:
        return "顧客宛" if self is Recipient.CUSTOMER else "ショップ宛"


# Every variable a template may use: its description and the value a preview shows.
VARIABLES: dict[str, tuple[str, Any]] = {
    "shop_name": ("ショップ名", "青汁ショップ"),
    "shop_email": ("ショップのお問い合わせ先メールアドレス", "shop@example.jp"),
    "customer_name": ("顧客名", "山田 太郎"),
    "customer_id": ("顧客ID", 7),
    "customer_email": ("顧客のメールアドレス", "taro@example.jp"),
    "order_id": ("受注ID", 12),
    "order_number": ("受注番号", "20261122000012"),
    "ordered_on": ("受注日", "2026年11月22日"),
    "amount": ("金額 (税込、円。| yen で「5,500円」)", 5500),
    "tax": ("うち消費税 (円)", 500),
    "payment_method_name": ("支払い方法", "クレジットカード"),
    "payment_status_label": ("決済状況", "仮売上失敗"),
    "handling_status_label": ("対応状況", "決済エラー"),
    "subscription_id": ("定期受注ID (定期でなければ空)", 3),
    "card_change_allowed": ("マイページでのカード変更を許可しているか", True),
    "card_change_url": (
        "マイページのカード変更URL (メール設定)",
        "https://shop.example.jp/mypage/card",
    ),
    "deadline": ("再与信の期限", "2026年12月22日"),
    "tries": ("再与信回数", 2),
    "provider_error": ("決済会社のエラー", "G12 カード会社で取引が承認されませんでした"),
    "next_step": ("次の対応 (再オーソリバッチが記入)", "次回の発送日に再オーソリします。"),
    "rule_name": ("自動化設定のルール名", "仮売上失敗のお知らせ"),
    "changed_at": ("カード変更日時", "2026年11月22日 10:15"),
    "masked_number": ("新しいカード番号 (下4桁以外は伏せ字)", "************1111"),
    "expire": ("新しいカードの有効期限", "12/29"),
    "new_card_id": ("新しい登録カードID", 21),
    "old_card_id": ("変更前の登録カードID", 20),
    "subscriptions": ("カードを切り替えた定期受注の番号 (リスト)", ["0000000003"]),
    "waiting_orders": ("再オーソリ待ちの受注番号 (リスト)", ["20261122000012"]),
    "account_name": ("外部連携アカウント名", "GMO PG 本番"),
    "month_label": ("自動洗替の対象月", "2026年12月"),
    "result_on": ("洗替結果の返却日", "12月27日"),
    "step": ("失敗した処理", "洗替依頼ファイルの送信"),
    "reason": ("失敗の理由", "SFTPサーバーに接続できませんでした"),
    "retry_until": ("自動で再実行する期限 (なければ空)", "12月10日 23:00"),
    "job_name": ("ジョブ名", "GMO 洗替依頼"),
    "job_id": ("ジョブID", 41),
    "total": ("洗替対象の件数", 120),
    "counts": (
        "洗替判定結果ごとの件数 (表示名と件数の組のリスト)",
        [("0:有効性OK", 118), ("1:有効性NG", 2)],
    ),
    "needs_change": (
        "カードの変更が必要な顧客 (customer_id, customer_name, result_label のリスト)",
        [{"customer_id": 7, "customer_name": "山田 太郎", "result_label": "1:有効性NG"}],
    ),
    "more": ("一覧に載せきれなかった件数", 0),
    "result_label": ("有効性チェックの結果", "1:有効性NG"),
    "card_number": ("カード番号 (下4桁以外は伏せ字、カードのイベントのみ)", "************1111"),
    "card_expire": ("カードの有効期限 (YYMM、カードのイベントのみ)", "2612"),
    "updater_result_label": ("洗替判定結果 (カードのイベントのみ)", "有効性NG"),
    "deadline_label": ("期限の種類 (取消期限・与信期限、期限のイベントのみ)", "取消期限"),
    "deadline_at": ("期限の日時 (期限のイベントのみ)", "2026年12月22日 20:00"),
    "subscription_numbers": (
        "そのカードで支払う定期受注の番号 (リスト、カードのイベントのみ)",
        ["0000000003"],
    ),
}
_SHOP = ("shop_name", "shop_email")
_CUSTOMER = ("customer_name", "customer_id", "customer_email")
_ORDER_HEAD = ("order_id", "order_number", "ordered_on", "amount")
_ORDER = (
    *_SHOP,
    *_CUSTOMER,
    *_ORDER_HEAD,
    "tax",
    "payment_method_name",
    "payment_status_label",
    "handling_status_label",
    "subscription_id",
    "card_change_allowed",
    "card_change_url",
)
_REQUEST = (
    *_SHOP,
    *_CUSTOMER,
    *_ORDER_HEAD,
    "payment_method_name",
    "payment_status_label",
    "subscription_id",
    "tries",
    "provider_error",
    "deadline",
    "card_change_allowed",
    "card_change_url",
    "next_step",
)
_CHANGED = (
    *_SHOP,
    *_CUSTOMER,
    "changed_at",
    "masked_number",
    "expire",
    "new_card_id",
    "old_card_id",
    "subscriptions",
    "waiting_orders",
)
_UPDATER_FAILED = (
    *_SHOP,
    "account_name",
    "month_label",
    "result_on",
    "step",
    "reason",
    "retry_until",
    "job_name",
    "job_id",
)
_UPDATER_RESULT = (
    *_SHOP,
    "account_name",
    "month_label",
    "total",
    "counts",
    "needs_change",
    "more",
    "job_id",
)
_RECURRING_INVALID = (
    *_SHOP,
    *_CUSTOMER,
    "masked_number",
    "result_label",
    "subscriptions",
    "card_change_allowed",
    "card_change_url",
    "deadline",
)
_CARD = ("card_number", "card_expire", "updater_result_label", "subscription_numbers")
# 自動化設定's mails: the order (or the card) and the rule.
AUTOMATION_VARIABLES = (*_ORDER, *_CARD, "deadline_label", "deadline_at", "rule_name")
_CARD_NG = (*_SHOP, *_CUSTOMER, *_CARD, "card_change_allowed", "card_change_url", "rule_name")


@dataclass(frozen=True)
class TemplateSpec:
    code: str  # "<kind>.<recipient>", or "custom_<n>" for the shop's own
    name: str
    kind: MailKind
    recipient: Recipient
    variables: tuple[str, ...]

    @property
    def builtin(self) -> bool:
        return not self.code.startswith("custom_")


def _builtin(kind: MailKind, recipient: Recipient, variables: tuple[str, ...]) -> TemplateSpec:
    return TemplateSpec(
        f"{kind.value}.{recipient.value}",
        f"{kind.label} ({recipient.label})",
        kind,
        recipient,
        variables,
    )


BUILTIN: dict[str, TemplateSpec] = {
    t.code: t
    for t in (
        _builtin(MailKind.PAYMENT_METHOD_CHANGE_REQUEST, Recipient.CUSTOMER, _REQUEST),
        _builtin(MailKind.PAYMENT_METHOD_CHANGE_REQUEST, Recipient.SHOP, _REQUEST),
        _builtin(MailKind.PAYMENT_METHOD_CHANGED, Recipient.CUSTOMER, _CHANGED),
        _builtin(MailKind.PAYMENT_METHOD_CHANGED, Recipient.SHOP, _CHANGED),
        _builtin(MailKind.CARD_UPDATER_FAILED, Recipient.SHOP, _UPDATER_FAILED),
        _builtin(MailKind.CARD_UPDATER_RESULT, Recipient.SHOP, _UPDATER_RESULT),
        _builtin(MailKind.RECURRING_CARD_INVALID, Recipient.CUSTOMER, _RECURRING_INVALID),
        _builtin(MailKind.RECURRING_CARD_INVALID, Recipient.SHOP, _RECURRING_INVALID),
        _builtin(MailKind.AUTOMATION, Recipient.CUSTOMER, AUTOMATION_VARIABLES),
        _builtin(MailKind.AUTOMATION, Recipient.SHOP, AUTOMATION_VARIABLES),
        _builtin(MailKind.CARD_UPDATER_NG, Recipient.CUSTOMER, _CARD_NG),
        _builtin(MailKind.CARD_UPDATER_NG, Recipient.SHOP, _CARD_NG),
    )
}


def custom_spec(code: str, name: str, recipient: Recipient) -> TemplateSpec:
    return TemplateSpec(code, name, MailKind.AUTOMATION, recipient, AUTOMATION_VARIABLES)


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    body: str


@dataclass(frozen=True)
class TemplateText:
    subject: str
    body: str


def _yen(amount: int) -> str:
    return f"{amount:,}円"


def _environment(loader: BaseLoader | None) -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        loader=loader,
        autoescape=False,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["yen"] = _yen
    return env


@cache
def _files() -> SandboxedEnvironment:
    return _environment(PackageLoader("kessai.notifications", "templates"))


@cache
def _strings() -> SandboxedEnvironment:
    return _environment(None)


@cache
def default_text(code: str) -> TemplateText:
    """A built-in template's text as shipped."""
    loader = _files().loader
    assert loader is not None
    body = loader.get_source(_files(), f"{code}.txt")[0]
    subject = loader.get_source(_files(), f"{code}.subject.txt")[0]
    return TemplateText(subject.strip(), body)


def render_text(text: TemplateText, context: dict[str, Any]) -> RenderedMail:
    """Subject and body of one mail. A missing context value is an error, never a blank."""
    env = _strings()
    subject = env.from_string(text.subject).render(**context)
    body = env.from_string(text.body).render(**context)
    return RenderedMail(subject=" ".join(subject.split()), body=body)


def render(kind: MailKind, recipient: Recipient, context: dict[str, Any]) -> RenderedMail:
    """A built-in template as shipped (the edited text: notifications.service)."""
    return render_text(default_text(f"{kind.value}.{recipient.value}"), context)


def sample_context(spec: TemplateSpec) -> dict[str, Any]:
    return {name: VARIABLES[name][1] for name in spec.variables}


def check_text(spec: TemplateSpec, text: TemplateText) -> RenderedMail:
    """The text rendered with the template's sample values; a Japanese 422 when it does not
    compile or uses a variable the template does not have."""
    try:
        return render_text(text, sample_context(spec))
    except UndefinedError as exc:
        raise InvalidInput(
            f"このテンプレートでは使えない変数があります: {exc.message}",
            code="unknown_template_variable",
            detail={"allowed": list(spec.variables)},
        ) from None
    except TemplateError as exc:
        line = getattr(exc, "lineno", None)
        where = f" ({line}行目)" if line else ""
        raise InvalidInput(
            f"テンプレートの書式が正しくありません{where}: {exc.message or exc}",
            code="invalid_template",
        ) from None
