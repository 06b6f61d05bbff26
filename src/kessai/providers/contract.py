"""What a connector is: one small protocol per capability, and the outcomes they return.

Outcomes follow the write-ahead split: succeeded, declined (provider code and message
verbatim), pending (the customer must act, or a credit check runs), not_sent (nothing
reached the provider: safe to retry) and unknown (sent, no answer: ask the provider by
our own reference before anything else).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable


class OutcomeKind(StrEnum):
    SUCCEEDED = "succeeded"
    DECLINED = "declined"
    PENDING = "pending"
    NOT_SENT = "not_sent"
    UNKNOWN = "unknown"


class DeclineStage(StrEnum):
    REGISTER = "register"  # the transaction could not even be registered (取引登録失敗)
    PAYMENT = "payment"  # the card or credit check said no (仮売上失敗 / 与信審査エラー)
    SYSTEM = "system"  # the provider refused for a reason of its own (決済エラー)


@dataclass(frozen=True)
class Outcome:
    kind: OutcomeKind
    code: str | None = None  # provider code, verbatim
    message: str | None = None  # provider message, verbatim
    transaction_id: str | None = None
    redirect_url: str | None = None  # pending: where the customer must go (3-D Secure …)
    stage: DeclineStage = DeclineStage.PAYMENT
    hard: bool = False  # a decline that no retry can fix
    captured: bool = False  # the money was captured in the same call
    # pending: the payment slip the customer pays with later (コンビニ 受付番号, 確認番号,
    # 支払期限, 振込先口座 …), 日本語 label → value
    slip: Mapping[str, str] | None = None
    # not_sent because the provider's own rule forbids it (a limit, a window, a reused
    # reference): sending it again would be refused again, so the caller is told why (409)
    # instead of being asked to retry later.
    refused: bool = False
    # pending: until when the customer may pay (a slip's 支払期限, a payment link's 決済可能期限);
    # once it has passed kessai asks the provider by itself (payments/unsettled.py)
    due_at: datetime | None = None


def refused(code: str | None, message: str) -> Outcome:
    """Refused before anything was sent, naming the provider's rule."""
    return Outcome(OutcomeKind.NOT_SENT, code=code, message=message, refused=True)


def not_sent(code: str | None, message: str) -> Outcome:
    """Nothing reached the provider (no connection, a first lookup failed): retry later."""
    return Outcome(OutcomeKind.NOT_SENT, code=code, message=message)


@dataclass(frozen=True)
class Shipment:
    shipped_on: date
    tracking_number: str
    carrier: str | None = None


@dataclass(frozen=True)
class AuthorizeRequest:
    reference: str  # our own reference, unique per attempt
    amount: int
    tax: int
    capture: bool  # オーソリ時確定: authorize and capture in one call
    source: Mapping[str, str] = field(default_factory=dict)  # token or stored-card reference
    options: Mapping[str, str] = field(default_factory=dict)  # sandbox scenario etc.
    # The seed-003 method type of the order's 支払い方法 (a gateway such as GMO PG serves
    # several: クレジットカード, PayPay, キャリア決済 … each with its own calls).
    method: str = ""


@dataclass(frozen=True)
class Transaction:
    reference: str
    transaction_id: str | None
    amount: int
    options: Mapping[str, str] = field(default_factory=dict)


class ProviderState(StrEnum):
    NONE = "none"  # the provider has no such transaction
    PENDING = "pending"
    AUTHORIZED = "authorized"
    CAPTURED = "captured"
    CANCELED = "canceled"
    DECLINED = "declined"


@dataclass(frozen=True)
class Lookup:
    """What the provider says it holds for one of our references."""

    state: ProviderState
    amount: int | None = None
    transaction_id: str | None = None
    code: str | None = None
    message: str | None = None
    shipment_reported: bool = False


@runtime_checkable
class Authorizer(Protocol):
    async def authorize(self, request: AuthorizeRequest) -> Outcome: ...


@runtime_checkable
class Capturer(Protocol):
    async def capture(self, txn: Transaction, shipment: Shipment | None) -> Outcome: ...


@runtime_checkable
class Canceller(Protocol):
    async def cancel(self, txn: Transaction, *, captured: bool) -> Outcome: ...


@runtime_checkable
class AmountChanger(Protocol):
    """金額変更. After capture the provider cancels the sale and charges the new amount."""

    async def change_amount(
        self, txn: Transaction, new_amount: int, *, captured: bool
    ) -> Outcome: ...


@runtime_checkable
class Reconciler(Protocol):
    async def lookup(self, reference: str) -> Lookup: ...


@dataclass(frozen=True)
class Intended:
    """A call the engine is about to write ahead: what an InputChecker is shown."""

    operation: str  # authorize | authorize_capture | capture | cancel | change_amount | void
    reference: str
    amount: int | None
    source: Mapping[str, str] = field(default_factory=dict)
    shipment: Shipment | None = None


@dataclass(frozen=True)
class InputProblem:
    """Input the provider would reject, found before anything is written or sent."""

    code: str  # stable, kessai's own (np_unknown_carrier …)
    message: str  # Japanese, for the operator
    field: str | None = None


@runtime_checkable
class InputChecker(Protocol):
    """A connector that knows its provider's input rules refuses bad input up front: the
    engine asks before the write-ahead, so a refusal changes nothing and sends nothing."""

    def check_input(self, intended: Intended) -> InputProblem | None: ...
