"""PayPay's webhooks (Transaction events) are not signed. kessai takes one only from an
address the account lists (webhook_sources: PayPay asks merchants to allow its addresses),
and the inbox asks PayPay for the payment's state before anything moves: a forged, late or
repeated event changes nothing that PayPay does not itself hold.

PayPay's event carries no id of its own: the event id is the payment (order_id), its state
and what distinguishes one notification of that state from another (a reauthorization id,
the authorization's expiry, the time it was paid), so a resend of the same event is the same
event, and a later AUTHORIZED after a reauthorization is a new one.
"""

import ipaddress
import json
from collections.abc import Mapping
from typing import Any

from kessai.providers.kit import Forged, Notification, Verified
from kessai.providers.paypay.config import parse_sources


def _source_allowed(host: str | None, settings: Mapping[str, Any]) -> bool:
    try:
        networks = parse_sources(settings.get("webhook_sources"))
        address = ipaddress.ip_address(host or "")
    except ValueError:
        return False
    return any(address in network for network in networks)


def verify(note: Notification, settings: Mapping[str, Any]) -> Verified:
    if not _source_allowed(note.client_host, settings):
        raise Forged("通知元のIPアドレスが許可されていません")
    try:
        body = json.loads(note.body)
    except ValueError:
        raise Forged("通知の本文がJSONではありません") from None
    if not isinstance(body, dict) or body.get("notification_type") != "Transaction":
        raise Forged("PayPayの取引通知(notification_type: Transaction)ではありません")
    merchant = settings.get("merchant_id")
    if merchant and str(body.get("merchant_id") or "") != str(merchant):
        raise Forged("通知の加盟店IDがアカウントの設定と一致しません")
    order_id, state = body.get("order_id"), body.get("state")
    if not isinstance(order_id, str) or not order_id or not isinstance(state, str) or not state:
        raise Forged("通知に決済番号(order_id)または状態(state)がありません")
    marks = [str(body.get(k) or "") for k in ("reauth_request_id", "expires_at", "paid_at")]
    reference = body.get("merchant_order_id")
    return Verified(
        event_id=":".join([order_id[:64], state[:30], *(m[:30] for m in marks)]),
        reference=reference if isinstance(reference, str) and reference else None,
        event=f"Transaction {state}",
        data={k: body[k] for k in ("order_id", "state", "order_amount") if k in body},
    )
