"""Which mails exist, their subjects and bodies (Jinja2 plain text in templates/)."""

from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined


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

    @property
    def label(self) -> str:
        return MAIL_KIND_LABELS[self]


MAIL_KIND_LABELS = {
    MailKind.PAYMENT_METHOD_CHANGE_REQUEST: "決済方法変更のご案内",
    MailKind.PAYMENT_METHOD_CHANGED: "決済方法変更完了通知",
    MailKind.CARD_UPDATER_FAILED: "GMO PG ファイル連携エラーのお知らせ",
    MailKind.CARD_UPDATER_RESULT: "自動洗替結果のお知らせ",
    MailKind.RECURRING_CARD_INVALID: "再決済・決済方法変更のご案内",
}


class Recipient(StrEnum):
    CUSTOMER = "customer"
    SHOP = "shop"


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    body: str


@cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("kessai.notifications", "templates"),
        autoescape=False,  # noqa: S701  (plain-text mail: nothing is HTML)
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["yen"] = _yen
    return env


def _yen(amount: int) -> str:
    return f"{amount:,}円"


def render(kind: MailKind, recipient: Recipient, context: dict[str, Any]) -> RenderedMail:
    """Subject and body of one mail. A missing context value is an error, never a blank."""
    env = _environment()
    body = env.get_template(f"{kind.value}.{recipient.value}.txt").render(**context)
    subject = env.get_template(f"{kind.value}.{recipient.value}.subject.txt").render(**context)
    return RenderedMail(subject=" ".join(subject.split()), body=body)
