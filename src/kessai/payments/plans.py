"""What an action turns into for one order: a provider call, a local change, or a refusal."""

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from kessai.core.errors import KessaiError
from kessai.payments.status import Event
from kessai.providers.contract import Shipment


class Operation:
    """Names of provider calls as 決済履歴 shows them (and of the non-calls beside them)."""

    AUTHORIZE = "authorize"
    AUTHORIZE_CAPTURE = "authorize_capture"
    CAPTURE = "capture"
    CANCEL = "cancel"
    CHANGE_AMOUNT = "change_amount"
    VOID = "void"  # 再オーソリ: drop the live authorization before a new one
    COMPLETE_CHALLENGE = "complete_challenge"  # 3-D Secure: authorize once the customer is back
    LOOKUP = "lookup"  # 決済照会
    FORCE_CAPTURE = "force_capture"
    FORCE_CANCEL = "force_cancel"
    LOCAL = "local"  # a change kessai makes alone (連携なし)
    REFUSED = "refused"  # refused by a rule before any call


OPERATION_LABELS = {
    Operation.AUTHORIZE: "オーソリ",
    Operation.AUTHORIZE_CAPTURE: "オーソリ(同時確定)",
    Operation.CAPTURE: "売上処理",
    Operation.CANCEL: "取消処理",
    Operation.CHANGE_AMOUNT: "金額変更",
    Operation.VOID: "オーソリ取消(再オーソリ前)",
    # after the customer acted: 3-D Secure, a wallet's approval, a slip paid, a payment link
    Operation.COMPLETE_CHALLENGE: "オーソリ(お客様の認証・支払い後)",
    Operation.LOOKUP: "決済照会",
    Operation.FORCE_CAPTURE: "強制売上処理(決済サービス未連携)",
    Operation.FORCE_CANCEL: "強制取消処理(決済サービス未連携)",
    Operation.LOCAL: "決済サービス未連携の変更",
    Operation.REFUSED: "処理不可",
}


@dataclass(frozen=True)
class ShipmentInput:
    shipped_on: date | None = None
    tracking_number: str | None = None
    carrier: str | None = None


@dataclass(frozen=True)
class ActionRequest:
    """One operator's or storefront's request, already validated for shape."""

    action: str
    actor: str
    amount: int | None = None
    tax: int | None = None
    shipment: ShipmentInput = field(default_factory=ShipmentInput)
    source: dict[str, str] | None = None
    options: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Local:
    """A change kessai makes without calling the provider."""

    operation: str
    event: Event | None
    fields: dict[str, Any]
    note: str


@dataclass(frozen=True)
class Call:
    """A provider call, written ahead as an attempt before it is made."""

    operation: str
    reference: str
    amount: int | None
    pre_event: Event | None = None  # applied together with the write-ahead
    pre_fields: dict[str, Any] = field(default_factory=dict)
    capture: bool = False
    shipment: Shipment | None = None
    new_tax: int | None = None


@dataclass(frozen=True)
class Refuse:
    """Refused before any call. Some refusals still move the status, as the FAQ describes
    (与信期限切れ → 売上失敗, 取消期間切れ → 取引キャンセル失敗)."""

    error: KessaiError
    failure_event: Event | None = None


Plan = Local | Call | Refuse
