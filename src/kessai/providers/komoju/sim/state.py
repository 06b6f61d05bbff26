"""What the KOMOJU simulator holds and how its API answers: sessions, payments, card tokens
and the idempotency keys already answered. A card is kept as its last four digits only."""

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# KOMOJU's own test cards (doc.komoju.com/docs/test-cards; any expiry and security code)
# and the error code each answers here. insufficient_funds is the code KOMOJU's docs name
# (Komoju-Scenario: insufficient_funds); card_declined for 使用不可 and card_expired for
# 期限切れ are kessai's reading, as the docs give those cards no code.
CARDS: dict[str, str] = {
    "4111111111111111": "ok",
    "4123111111111000": "insufficient_funds",  # 残高不足
    "4123111111111042": "card_expired",  # 期限切れのカード
    "4123111111111059": "card_declined",  # クレジットカード使用不可
}
WALLETS = ("wechatpay", "alipay")
Records = dict[str, dict[str, dict[str, Any]]]


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, param: str | None = None) -> None:
        super().__init__(code)
        self.status, self.code, self.message, self.param = status, code, message, param

    def json(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "param": self.param}}


@dataclass
class Answer:
    status: int
    body: dict[str, Any]
    changed: list[tuple[str, str]] = field(default_factory=list)
    events: list[tuple[str, str]] = field(default_factory=list)  # (type, payment id)


def _amount(body: Mapping[str, Any]) -> int:
    amount = body.get("amount")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise ApiError(
            422, "missing_parameter", "A required parameter (amount) is missing", "amount"
        )
    if body.get("currency", "JPY") != "JPY":
        raise ApiError(422, "currency_not_supported", "currency must be JPY", "currency")
    return amount


class State:
    def __init__(self, now: Callable[[], datetime]) -> None:
        self.now = now
        self.records: Records = {}
        self._ids = itertools.count(1)

    def kind(self, name: str) -> dict[str, dict[str, Any]]:
        return self.records.setdefault(name, {})

    def restore(self, records: Records) -> None:
        self.records = {k: dict(v) for k, v in records.items()}
        self._ids = itertools.count(sum(len(v) for v in records.values()) + 1)

    def new_id(self, prefix: str = "") -> str:
        return f"{prefix}{next(self._ids):06d}{int(self.now().timestamp()) % 10**8:08d}"

    def _stamp(self) -> str:
        return self.now().strftime("%Y-%m-%dT%H:%M:%SZ")

    def _payment(self, ident: str) -> dict[str, Any]:
        found = self.kind("payment").get(ident)
        if found is None:
            raise ApiError(404, "not_found", "The requested resource could not be found")
        return found

    def _new_payment(self, amount: int, kind: str, order: str | None) -> dict[str, Any]:
        ident = self.new_id()
        payment = {
            "id": ident,
            "resource": "payment",
            "status": "pending",
            "amount": amount,
            "tax": 0,
            "total": amount,
            "currency": "JPY",
            "payment_details": {"type": kind},
            "external_order_num": order,
            "captured_at": None,
            "amount_refunded": 0,
            "refunds": [],
            "created_at": self._stamp(),
        }
        self.kind("payment")[ident] = payment
        return payment

    # --- sessions (the hosted page) ----------------------------------------------------
    def create_session(self, body: Mapping[str, Any], url: Callable[[str], str]) -> Answer:
        amount = _amount(body)
        types = body.get("payment_types") or list(WALLETS)
        if not isinstance(types, list) or not set(types) <= set(WALLETS):
            raise ApiError(422, "invalid_payment_type", "payment_types is invalid", "payment_types")
        ident = self.new_id("s")
        session = {
            "id": ident,
            "resource": "session",
            "mode": "payment",
            "amount": amount,
            "currency": "JPY",
            "payment_types": types,
            "session_url": url(ident),
            "return_url": body.get("return_url"),
            "status": "pending",
            "payment": None,
            "external_order_num": body.get("external_order_num"),
            "created_at": self._stamp(),
        }
        self.kind("session")[ident] = session
        return Answer(200, session, [("session", ident)])

    def session(self, ident: str) -> dict[str, Any]:
        found = self.kind("session").get(ident)
        if found is None:
            raise ApiError(404, "not_found", "The requested resource could not be found")
        return found

    def customer_pays(self, ident: str, kind: str, outcome: str) -> Answer:
        """The customer's side: pays (WeChat Pay / Alipay capture at once), fails, cancels."""
        session = self.session(ident)
        if session["status"] != "pending":
            raise ApiError(422, "bad_request", "the session is over")
        if kind not in session["payment_types"]:
            raise ApiError(422, "invalid_payment_type", "not offered in this session")
        if outcome == "cancel":
            session["status"] = "cancelled"
            return Answer(200, session, [("session", ident)])
        payment = self._new_payment(session["amount"], kind, session["external_order_num"])
        session["payment"] = payment
        if outcome == "fail":
            payment["status"] = "failed"
            changed = [("session", ident), ("payment", payment["id"])]
            return Answer(200, session, changed, [("payment.failed", payment["id"])])
        payment["status"] = "captured"
        payment["captured_at"] = self._stamp()
        session["status"] = "completed"
        changed = [("session", ident), ("payment", payment["id"])]
        return Answer(200, session, changed, [("payment.captured", payment["id"])])

    # --- card tokens and payments ------------------------------------------------------
    def token(self, body: Mapping[str, Any]) -> Answer:
        details = body.get("payment_details") or {}
        number = str(details.get("number") or "").replace(" ", "")
        if number not in CARDS:
            raise ApiError(422, "invalid_number", "The card number is invalid", "number")
        ident = f"tok_{self.new_id()}"
        self.kind("token")[ident] = {"last_four_digits": number[-4:], "outcome": CARDS[number]}
        return Answer(200, {"id": ident, "resource": "token"}, [("token", ident)])

    def create_payment(self, body: Mapping[str, Any]) -> Answer:
        amount = _amount(body)
        token = self.kind("token").pop(str(body.get("payment_details") or ""), None)
        if token is None:
            raise ApiError(422, "invalid_token", "The token is invalid", "payment_details")
        if token["outcome"] != "ok":
            raise ApiError(402, token["outcome"], f"The card was declined ({token['outcome']})")
        payment = self._new_payment(amount, "credit_card", body.get("external_order_num"))
        payment["payment_details"]["last_four_digits"] = token["last_four_digits"]
        capture = body.get("capture") is not False
        payment["status"] = "captured" if capture else "authorized"
        if capture:
            payment["captured_at"] = self._stamp()
        event = "payment.captured" if capture else "payment.authorized"
        return Answer(200, payment, [("payment", payment["id"])], [(event, payment["id"])])

    def get_payment(self, ident: str) -> Answer:
        return Answer(200, self._payment(ident))

    def list_payments(self, order: str | None) -> Answer:
        data = [
            p for p in self.kind("payment").values() if order in (None, p["external_order_num"])
        ]
        return Answer(200, {"resource": "list", "data": data, "total": len(data)})

    def capture(self, ident: str) -> Answer:
        payment = self._payment(ident)
        if payment["status"] != "authorized":
            raise ApiError(422, "not_capturable", f"the payment is {payment['status']}")
        payment["status"] = "captured"
        payment["captured_at"] = self._stamp()
        return Answer(200, payment, [("payment", ident)], [("payment.captured", ident)])

    def cancel(self, ident: str) -> Answer:
        payment = self._payment(ident)
        if payment["status"] == "cancelled":
            return Answer(200, payment)
        if payment["status"] not in ("authorized", "pending"):
            raise ApiError(422, "not_cancellable", f"the payment is {payment['status']}")
        payment["status"] = "cancelled"
        return Answer(200, payment, [("payment", ident)], [("payment.cancelled", ident)])

    def refund(self, ident: str, body: Mapping[str, Any]) -> Answer:
        payment = self._payment(ident)
        amount = body.get("amount", payment["amount"] - payment["amount_refunded"])
        if payment["status"] != "captured":
            raise ApiError(422, "not_refundable", f"the payment is {payment['status']}")
        if not isinstance(amount, int) or amount > payment["amount"] - payment["amount_refunded"]:
            raise ApiError(422, "invalid_parameter", "amount exceeds the refundable", "amount")
        payment["amount_refunded"] += amount
        payment["refunds"].append(
            {
                "id": self.new_id("r"),
                "resource": "refund",
                "amount": amount,
                "created_at": self._stamp(),
            }
        )
        if payment["amount_refunded"] == payment["amount"]:
            payment["status"] = "refunded"
        return Answer(200, payment, [("payment", ident)], [("payment.refunded", ident)])
