"""What the PayPay simulator holds: its test merchant and users, QR codes and payments.
Payments (with their codes) are records of the simulator base's store,
kept by each call that changed them; the call log is the base's."""

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kessai.providers.simulator.base import SimClock
from kessai.providers.simulator.faults import InjectError, LoseResponse, RateLimit, ServerError
from kessai.providers.simulator.store import SimulatorStore

SIMULATOR = "paypay"
TEST_API_KEY = "a_kessaiSandbox_0001"
TEST_API_SECRET = "kessai-paypay-sandbox-secret"  # noqa: S105 — the public test merchant
TEST_MERCHANT_ID = "000000000000000001"

# Linked PayPay users of the sandbox (userAuthorizationId) and how their wallet answers.
# PayPay documents no sandbox value that triggers a decline: these user ids are kessai's own.
USER_OK = "sim-user-ok"
USER_NO_FUNDS = "sim-user-no-funds"  # NO_SUFFICIENT_FUND: a later try may pass
USER_SUSPICIOUS = "sim-user-suspicious"  # UNACCEPTABLE_OP: never
USER_DECLINES = {USER_NO_FUNDS: "NO_SUFFICIENT_FUND", USER_SUSPICIOUS: "UNACCEPTABLE_OP"}


@dataclass
class SimulatorConfig:
    now: Callable[[], datetime] | None = None
    wall: Callable[[], float] = time.time  # the clock a signature's epoch is checked against
    store: SimulatorStore | None = None
    sleep: Callable[[float], Any] | None = None
    public_url: str | None = None
    qr_minutes: int = 5  # how long an unpaid QR code can be paid
    webhook_url: str | None = None  # set in PayPay's merchant panel; here by /_control
    latency_seconds: float = 0.0
    lose_response: LoseResponse | None = None
    rate_limit: RateLimit | None = None
    inject_error: InjectError | None = None
    server_error: ServerError | None = None


@dataclass
class Payment:
    merchant_payment_id: str
    payment_id: str
    amount: int
    is_authorization: bool
    status: str  # CREATED AUTHORIZED COMPLETED REFUNDED CANCELED FAILED EXPIRED
    requested_at: int
    order_description: str | None = None
    user: str | None = None
    code_id: str | None = None
    accepted_at: int | None = None
    expires_at: int | None = None  # the authorization's (or the unpaid code's) end
    charged: bool = False  # ever authorized or paid: what the provider took
    captures: list[dict[str, Any]] = field(default_factory=list)
    refunds: list[dict[str, Any]] = field(default_factory=list)
    revert: dict[str, Any] | None = None
    reauthorizations: int = 0
    reauth_request_id: str | None = None
    canceled_at: int | None = None
    code_ends: int | None = None  # an unpaid code can be paid until then

    def refunded(self) -> int:
        return sum(r["amount"]["amount"] for r in self.refunds)

    def details(self) -> dict[str, Any]:
        """Get payment details' data."""
        money = {"amount": self.amount, "currency": "JPY"}
        return {
            "paymentId": self.payment_id if self.status != "CREATED" else None,
            "status": self.status,
            "acceptedAt": self.accepted_at,
            "refunds": {"data": list(self.refunds)},
            "captures": {"data": list(self.captures)},
            "revert": self.revert,
            "merchantPaymentId": self.merchant_payment_id,
            "userAuthorizationId": self.user,
            "amount": money,
            "requestedAt": self.requested_at,
            "expiresAt": self.expires_at,
            "canceledAt": self.canceled_at,
            "storeId": None,
            "terminalId": None,
            "orderReceiptNumber": None,
            "orderDescription": self.order_description,
            "orderItems": None,
            "paymentMethods": [{"amount": money, "type": "WALLET"}] if self.charged else [],
        }


@dataclass
class State:
    clock: SimClock
    payments: dict[str, Payment] = field(default_factory=dict)  # by merchantPaymentId
    codes: dict[str, str] = field(default_factory=dict)  # codeId → merchantPaymentId
    nonces: dict[tuple[str, str], int] = field(default_factory=dict)  # (key, nonce) → epoch

    def reset(self) -> None:
        self.payments.clear()
        self.codes.clear()
        self.nonces.clear()

    def epoch(self) -> int:
        return int(self.clock.now().timestamp())

    def by_payment_id(self, payment_id: str) -> Payment | None:
        return next((p for p in self.payments.values() if p.payment_id == payment_id), None)

    def new_payment_id(self) -> str:
        return f"0{secrets.randbelow(10**18):018d}"


def restore(state: State, records: dict[str, dict[str, dict[str, Any]]]) -> None:
    for data in records.get("payment", {}).values():
        payment = Payment(**data)
        state.payments[payment.merchant_payment_id] = payment
        if payment.code_id:
            state.codes[payment.code_id] = payment.merchant_payment_id
