"""GMO PG 結果通知: the form GMO posts to the shop's 結果通知プログラム URL after a payment
changes at GMO (CP932 form, like idPass). GMO expects the body "0" once the shop has taken the
notification; any other answer, or none, and GMO sends it again later.

Fields read: ShopID, OrderID (our reference), Status (AUTH, CAPTURE, SALES, VOID, RETURN …),
JobCd, Amount, Tax, AccessID, TranID, TranDate, ErrCode, ErrInfo, PayType. ShopPass arrives
masked and is never read.

GMO does not sign the notification. What can be checked here is that it names this account's
shop; the inbox then asks GMO (SearchTrade) for the transaction's current state before
anything moves, so a forged notification can at most make kessai look a transaction up.
"""

from collections.abc import Mapping
from typing import Any

from kessai.providers.gmo_pg import codec
from kessai.providers.kit import Forged, Notification, Verified

KEPT = (
    *("Status", "JobCd", "Amount", "Tax", "AccessID"),
    *("TranID", "TranDate", "ErrCode", "ErrInfo", "PayType"),
)


def verify(note: Notification, settings: Mapping[str, Any]) -> Verified:
    try:
        fields = codec.decode_request(note.body)
    except (UnicodeDecodeError, ValueError):
        raise Forged("結果通知の形式が正しくありません") from None
    shop_id = settings.get("shop_id")
    if not shop_id or fields.get("ShopID") != shop_id:
        raise Forged("結果通知のショップIDがこのアカウントと一致しません")
    order_id, status = fields.get("OrderID", ""), fields.get("Status", "")
    if not order_id or not status:
        raise Forged("結果通知にオーダーIDまたはステータスがありません")
    # GMO sends the same notification again until it hears "0": the same fields, the same id.
    event_id = ":".join([order_id, status, fields.get("TranID", ""), fields.get("TranDate", "")])
    return Verified(
        event_id=event_id[:200],
        reference=order_id,
        event=status,
        data={k: fields[k] for k in KEPT if k in fields},
    )
