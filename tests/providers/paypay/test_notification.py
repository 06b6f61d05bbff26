"""PayPay's unsigned webhooks: taken only from the account's listed addresses, for its
merchant, and the same event resent keeps the same id."""

import json
from typing import Any

import pytest

from kessai.providers.kit import Forged, Notification
from kessai.providers.paypay.notification import verify

SETTINGS = {"webhook_sources": "203.0.113.0/24, 198.51.100.7", "merchant_id": "123456789"}
EVENT = {  # the spec's "AUTHORIZED | Create a payment authorization" example, our reference
    "notification_type": "Transaction",
    "merchant_id": "123456789",
    "store_id": "123456",
    "pos_id": "123",
    "order_id": "123456789123456",
    "merchant_order_id": "A12345",
    "authorized_at": "2020-03-13T13:35:30Z",
    "expires_at": "2020-04-13T13:35:29Z",
    "paid_at": None,
    "order_amount": "12345",
    "state": "AUTHORIZED",
}


def _note(body: dict[str, Any], host: str = "203.0.113.9") -> Notification:
    return Notification(json.dumps(body).encode(), {}, client_host=host)


def test_an_event_from_a_listed_address() -> None:
    verified = verify(_note(EVENT), SETTINGS)
    assert (verified.reference, verified.event) == ("A12345", "Transaction AUTHORIZED")
    assert verified.event_id == verify(_note(EVENT, "198.51.100.7"), SETTINGS).event_id
    reauthorized = verify(_note({**EVENT, "reauth_request_id": "r1"}), SETTINGS)
    captured = verify(_note({**EVENT, "state": "COMPLETED"}), SETTINGS)
    assert len({verified.event_id, reauthorized.event_id, captured.event_id}) == 3


@pytest.mark.parametrize(
    ("body", "host", "settings"),
    [
        (EVENT, "192.0.2.1", SETTINGS),  # not a listed address
        (EVENT, None, SETTINGS),
        (EVENT, "203.0.113.9", {"webhook_sources": ""}),  # nothing listed: nothing taken
        ({**EVENT, "merchant_id": "999"}, "203.0.113.9", SETTINGS),
        ({**EVENT, "notification_type": "file.created"}, "203.0.113.9", SETTINGS),
        ({k: v for k, v in EVENT.items() if k != "order_id"}, "203.0.113.9", SETTINGS),
    ],
    ids=["address", "no-address", "none-listed", "merchant", "type", "no-order"],
)
def test_refused(body: dict[str, Any], host: str | None, settings: dict[str, str]) -> None:
    with pytest.raises(Forged):
        verify(_note(body, host or ""), settings)
