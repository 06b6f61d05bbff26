"""What the Amazon Pay simulator holds and how its API answers: checkout sessions, charge
permissions, charges, refunds and the idempotency keys already answered.

Records are plain JSON objects by kind and id, written to kessai's database after each call
(kessai.providers.simulator.store); the buyer's card is a simulated payment method, shown by
its last four digits only, as Amazon's Sandbox shows it.
"""

import itertools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

AUTHORIZATION_DAYS = 30
# Simulated payment methods of the Sandbox buyer (last four digits → what happens), as
# Amazon's "Use Sandbox simulations" lists them: 1111 succeeds, 3064 and 3434 cancel the
# checkout session (BuyerCanceled, Declined), 4354 ends HardDeclined (Amazon answers it after
# a 30-second pending state; here at once). Amazon has no soft-decline method: 0002 is
# kessai's own.
PAYMENT_METHODS: dict[str, str] = {
    "1111": "ok",
    "3064": "BuyerCanceled",
    "3434": "Declined",
    "0002": "SoftDeclined",
    "4354": "HardDeclined",
}
_CHECKOUT_CANCELED = ("BuyerCanceled", "Declined")
SIMULATION_CODES = ("SoftDeclined", "HardDeclined", "AmazonRejected", "ProcessingFailure")
_INTEGER_YEN = re.compile(r"[1-9][0-9]{0,8}")

Records = dict[str, dict[str, dict[str, Any]]]


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.message = message


def _money(value: Any, label: str) -> int:
    if not isinstance(value, Mapping):
        raise ApiError(400, "MissingParameterValue", f"{label} is required")
    if value.get("currencyCode") != "JPY":
        raise ApiError(400, "InvalidParameterValue", f"{label}.currencyCode must be JPY")
    amount = str(value.get("amount") or "")
    if not _INTEGER_YEN.fullmatch(amount):
        raise ApiError(
            400,
            "InvalidParameterValue",
            f"{label}.amount '{amount[:20]}' is not valid for JPY: whole yen only",
        )
    return int(amount)


def money(amount: int) -> dict[str, str]:
    return {"amount": str(amount), "currencyCode": "JPY"}


@dataclass
class Answer:
    status: int
    body: dict[str, Any]
    changed: list[tuple[str, str]] = field(default_factory=list)  # (kind, id) to write
    notify: list[tuple[str, str, str]] = field(default_factory=list)  # (type, id, permission)


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

    def new_id(self, prefix: str) -> str:
        n = next(self._ids)
        return f"{prefix}-{n:07d}-{int(self.now().timestamp()) % 10_000_000:07d}"

    def _get(self, kind: str, ident: str, label: str) -> dict[str, Any]:
        found = self.kind(kind).get(ident)
        if found is None:
            raise ApiError(404, "ResourceNotFound", f"{label} '{ident[:64]}' was not found")
        return found

    def _stamp(self) -> str:
        return self.now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    @staticmethod
    def _status(obj: dict[str, Any], state: str, reason: str | None = None) -> None:
        obj["statusDetails"] = {"state": state, "reasonCode": reason, "reasonDescription": None}

    # --- checkout sessions ----------------------------------------------------------------
    def create_session(self, body: Mapping[str, Any], redirect: Callable[[str], str]) -> Answer:
        web = body.get("webCheckoutDetails") or {}
        if not body.get("storeId"):
            raise ApiError(400, "MissingParameterValue", "storeId is required")
        ident = self.new_id("S03")
        session = {
            "checkoutSessionId": ident,
            "storeId": body["storeId"],
            "chargePermissionType": "OneTime",
            "webCheckoutDetails": {
                "checkoutResultReturnUrl": web.get("checkoutResultReturnUrl"),
                "amazonPayRedirectUrl": redirect(ident),
            },
            "paymentDetails": {"paymentIntent": "Confirm"},
            "merchantMetadata": body.get("merchantMetadata") or {},
            "paymentPreferences": [],
            "chargePermissionId": None,
            "chargeId": None,
            "creationTimestamp": self._stamp(),
        }
        self._status(session, "Open")
        self.kind("session")[ident] = session
        return Answer(201, session, [("session", ident)])

    def get_session(self, ident: str) -> Answer:
        return Answer(200, self._get("session", ident, "CheckoutSession"))

    def buyer_chooses(self, ident: str, last4: str) -> dict[str, Any]:
        """The customer's side: signed in to the Sandbox and picked a payment method."""
        session = self._get("session", ident, "CheckoutSession")
        if session["statusDetails"]["state"] != "Open":
            raise ApiError(422, "InvalidCheckoutSessionStatus", "the session is not Open")
        if last4 not in PAYMENT_METHODS:
            raise ApiError(400, "InvalidParameterValue", "unknown simulated payment method")
        session["paymentPreferences"] = [{"paymentDescriptor": f"Visa ****{last4}"}]
        session["_method"] = last4
        return session

    def complete(self, ident: str, body: Mapping[str, Any]) -> Answer:
        session = self._get("session", ident, "CheckoutSession")
        amount = _money(body.get("chargeAmount"), "chargeAmount")
        state = session["statusDetails"]["state"]
        if state == "Completed":
            return Answer(200, session)
        if state == "Canceled":
            raise ApiError(422, "CheckoutSessionCanceled", "the checkout session was canceled")
        method = session.get("_method")
        if not method:
            raise ApiError(
                422, "InvalidCheckoutSessionStatus", "the buyer has not finished the checkout"
            )
        if PAYMENT_METHODS[method] in _CHECKOUT_CANCELED:
            self._status(session, "Canceled", PAYMENT_METHODS[method])
            return Answer(200, session, [("session", ident)])
        permission = self.new_id("S03")
        self.kind("permission")[permission] = {
            "chargePermissionId": permission,
            "chargePermissionType": "OneTime",
            "limits": {"amountLimit": money(amount), "amountBalance": money(amount)},
            "creationTimestamp": self._stamp(),
            "merchantMetadata": session["merchantMetadata"],
            "_method": method,
            "_session": ident,
        }
        self._status(self.kind("permission")[permission], "Chargeable")
        session["chargePermissionId"] = permission
        session["paymentDetails"]["chargeAmount"] = money(amount)
        self._status(session, "Completed")
        return Answer(200, session, [("session", ident), ("permission", permission)])

    def get_permission(self, ident: str) -> Answer:
        return Answer(200, self._get("permission", ident, "ChargePermission"))

    # --- charges --------------------------------------------------------------------------
    def create_charge(self, body: Mapping[str, Any], simulation: str | None) -> Answer:
        ident = str(body.get("chargePermissionId") or "")
        permission = self._get("permission", ident, "ChargePermission")
        amount = _money(body.get("chargeAmount"), "chargeAmount")
        if permission["statusDetails"]["state"] != "Chargeable":
            raise ApiError(
                422,
                "InvalidChargePermissionStatus",
                f"the charge permission is {permission['statusDetails']['state']}",
            )
        limit = int(permission["limits"]["amountBalance"]["amount"])
        if amount > limit:
            raise ApiError(
                400, "TransactionAmountExceeded", "the amount exceeds what the buyer approved"
            )
        outcome = simulation if simulation in SIMULATION_CODES else None
        outcome = outcome or PAYMENT_METHODS[permission["_method"]]
        if outcome != "ok":
            raise ApiError(422, outcome, f"the charge was declined ({outcome})")
        charge_id = self.new_id("S03C")
        now = self.now()
        capture = body.get("captureNow") is True
        charge = {
            "chargeId": charge_id,
            "chargePermissionId": ident,
            "chargeAmount": money(amount),
            "captureAmount": money(amount) if capture else None,
            "refundedAmount": money(0),
            "creationTimestamp": self._stamp(),
            "expirationTimestamp": (now + timedelta(days=AUTHORIZATION_DAYS)).isoformat(),
        }
        self._status(charge, "Captured" if capture else "Authorized")
        self.kind("charge")[charge_id] = charge
        self._status(permission, "Closed" if capture else "NonChargeable", "ChargeInProgress")
        return Answer(
            201,
            charge,
            [("charge", charge_id), ("permission", ident)],
            [("CHARGE", charge_id, ident)],
        )

    def get_charge(self, ident: str) -> Answer:
        charge = self._get("charge", ident, "Charge")
        self._expire(charge)
        return Answer(200, charge)

    def _expire(self, charge: dict[str, Any]) -> None:
        expires = datetime.fromisoformat(charge["expirationTimestamp"])
        if charge["statusDetails"]["state"] == "Authorized" and self.now() > expires:
            self._status(charge, "Canceled", "ExpiredUnused")
            permission = self.kind("permission")[charge["chargePermissionId"]]
            self._status(permission, "Closed", "Expired")

    def capture(self, ident: str, body: Mapping[str, Any]) -> Answer:
        charge = self._get("charge", ident, "Charge")
        amount = _money(body.get("captureAmount"), "captureAmount")
        self._expire(charge)
        state = charge["statusDetails"]["state"]
        if state == "Captured" and charge["captureAmount"] == money(amount):
            return Answer(200, charge)
        if state != "Authorized":
            raise ApiError(422, "InvalidChargeStatus", f"the charge is {state}")
        if amount > int(charge["chargeAmount"]["amount"]):
            raise ApiError(400, "TransactionAmountExceeded", "more than the charge authorized")
        charge["captureAmount"] = money(amount)
        self._status(charge, "Captured")
        permission = charge["chargePermissionId"]
        self._status(self.kind("permission")[permission], "Closed", "ChargeCaptured")
        return Answer(
            200,
            charge,
            [("charge", ident), ("permission", permission)],
            [("CHARGE", ident, permission)],
        )

    def cancel(self, ident: str, body: Mapping[str, Any]) -> Answer:
        charge = self._get("charge", ident, "Charge")
        self._expire(charge)
        state = charge["statusDetails"]["state"]
        if state == "Canceled":
            return Answer(200, charge)
        if state != "Authorized":
            raise ApiError(422, "InvalidChargeStatus", f"the charge is {state}")
        self._status(charge, "Canceled", "MerchantCanceled")
        charge["statusDetails"]["reasonDescription"] = str(body.get("cancellationReason") or "")
        permission = charge["chargePermissionId"]
        self._status(self.kind("permission")[permission], "Chargeable")
        return Answer(
            200,
            charge,
            [("charge", ident), ("permission", permission)],
            [("CHARGE", ident, permission)],
        )

    def refund(self, body: Mapping[str, Any]) -> Answer:
        charge_id = str(body.get("chargeId") or "")
        charge = self._get("charge", charge_id, "Charge")
        amount = _money(body.get("refundAmount"), "refundAmount")
        if charge["statusDetails"]["state"] != "Captured":
            raise ApiError(422, "InvalidChargeStatus", "only a captured charge can be refunded")
        refunded = int(charge["refundedAmount"]["amount"])
        if refunded + amount > int(charge["captureAmount"]["amount"]):
            raise ApiError(400, "TransactionAmountExceeded", "more than was captured")
        charge["refundedAmount"] = money(refunded + amount)
        ident = self.new_id("S03R")
        refund = {
            "refundId": ident,
            "chargeId": charge_id,
            "refundAmount": money(amount),
            "creationTimestamp": self._stamp(),
        }
        # Amazon answers RefundInitiated and settles later; the simulator settles at once
        # and says so in the IPN.
        self._status(refund, "RefundInitiated")
        self.kind("refund")[ident] = refund
        answer = Answer(201, dict(refund), [("refund", ident), ("charge", charge_id)])
        self._status(refund, "Refunded")
        answer.notify.append(("REFUND", ident, charge["chargePermissionId"]))
        return answer

    def get_refund(self, ident: str) -> Answer:
        return Answer(200, self._get("refund", ident, "Refund"))
