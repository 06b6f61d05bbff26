"""KOMOJU webhooks: an event (id, type, resource "event", data: the payment, created_at,
reason) posted with X-Komoju-ID, X-Komoju-Event and X-Komoju-Signature, the lowercase hex
HMAC-SHA256 of the raw body under the webhook's secret token.

KOMOJU's events come late, repeated and out of order (a stale cancel after a capture, a
failed payment repeated and then captured: ../shared/anchors/komoju/SOURCE.md). Nothing here
trusts what the event says: the inbox stores it once by KOMOJU's event id and looks the
payment up at KOMOJU before anything moves. The event names the payment by its id, which is
the transaction id kessai keeps for the order.
"""

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from kessai.providers.kit import Forged, Notification, Verified


def signature(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(note: Notification, settings: Mapping[str, Any]) -> Verified:
    secret = settings.get("webhook_secret")
    if not isinstance(secret, str) or not secret:
        raise Forged("このアカウントにはWebhookのシークレットトークンが設定されていません")
    given = note.headers.get("x-komoju-signature", "")
    if not given or not hmac.compare_digest(signature(secret, note.body), given.strip()):
        raise Forged("Webhookの署名(X-Komoju-Signature)が一致しません")
    try:
        event = json.loads(note.body)
        event_id, kind, payment = str(event["id"]), str(event["type"]), event["data"]
        payment_id = str(payment["id"])
    except (ValueError, KeyError, TypeError):
        raise Forged("Webhookの本文を読めません") from None
    header_id = note.headers.get("x-komoju-id")
    if header_id and header_id != event_id:
        raise Forged("WebhookのX-Komoju-IDが本文のイベントIDと一致しません")
    return Verified(
        event_id=event_id[:200],
        reference=payment_id[:60],
        event=kind[:60],
        data={
            "status": str(payment.get("status") or ""),
            "external_order_num": str(payment.get("external_order_num") or ""),
        },
    )
