"""The simulated provider's notifications, signed the Standard Webhooks way, so the inbox and
its tests meet a real signature check (../shared/anchors/standard-webhooks).

Headers webhook-id, webhook-timestamp (Unix seconds) and webhook-signature ("v1,<base64>",
several separated by spaces); the signature is HMAC-SHA256 over "<id>.<timestamp>.<body>"
with the account's `webhook_secret` ("whsec_<base64>"), by the same signing kessai's own
outbound webhooks use (kessai.webhooks.signing). A timestamp more than five minutes
from now is refused (a replayed capture). Body: {"type": "payment.authorized",
"data": {"reference": "<our reference>"}}.
"""

import binascii
import hmac
import json
from collections.abc import Mapping
from typing import Any

from kessai.providers.kit import Forged, Notification, Verified
from kessai.webhooks.signing import sign

TOLERANCE_SECONDS = 5 * 60


def verify(note: Notification, settings: Mapping[str, Any]) -> Verified:
    secret = settings.get("webhook_secret")
    if not isinstance(secret, str) or not secret:
        raise Forged("このアカウントには通知の署名鍵が設定されていません")
    msg_id = note.headers.get("webhook-id", "")
    raw_ts = note.headers.get("webhook-timestamp", "")
    if not msg_id or not raw_ts.isdigit():
        raise Forged("通知の署名ヘッダーがありません")
    timestamp = int(raw_ts)
    if (
        note.received_at is None
        or abs(note.received_at.timestamp() - timestamp) > TOLERANCE_SECONDS
    ):
        raise Forged("通知の送信時刻が古すぎるか新しすぎます")
    try:
        expected = sign(secret, msg_id, timestamp, note.body)
    except (ValueError, binascii.Error):
        raise Forged("通知の署名鍵の形式が正しくありません") from None
    given = note.headers.get("webhook-signature", "").split()
    if not any(hmac.compare_digest(expected, s) for s in given):
        raise Forged("通知の署名が一致しません")
    try:
        payload = json.loads(note.body)
        kind, reference = str(payload["type"]), payload["data"]["reference"]
    except (ValueError, KeyError, TypeError):
        raise Forged("通知の本文を読めません") from None
    return Verified(event_id=msg_id[:200], reference=str(reference)[:60], event=kind[:60])
