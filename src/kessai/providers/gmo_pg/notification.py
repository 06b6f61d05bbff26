"""GMO PG 結果通知: the form GMO posts to the shop's 結果通知プログラム URL after a payment
changes at GMO (CP932 form, like idPass). GMO expects the body "0" once the shop has taken the
notification; any other answer, or none, and GMO sends it again later.

Fields read: ShopID (or SiteID for a member's notification), OrderID (our reference), Status
(AUTH, CAPTURE, SALES, VOID, RETURN, PAYSUCCESS, EXPIRED …), JobCd, Amount, Tax, AccessID,
TranID, TranDate, ErrCode, ErrInfo, PayType. ShopPass arrives masked and is never read.

GMO does not sign the notification. What can be checked here is that it names this account's
shop (or site); the connector then holds it against what it knows of the OrderID
(check_notification: the AccessID GMO gave for it, the pay type, the amount), and the inbox
asks GMO (SearchTrade / SearchTradeMulti) for the transaction's current state before anything
moves, so a forged notification can at most make kessai look a transaction up.
"""

from collections.abc import Mapping
from typing import Any

from kessai.providers.gmo_pg import codec
from kessai.providers.gmo_pg.link import METHOD
from kessai.providers.gmo_pg.methods import pay_type_of
from kessai.providers.kit import Forged, Notification, Verified
from kessai.providers.store import ReferenceStore

KEPT = (
    *("Status", "JobCd", "Amount", "Tax", "AccessID"),
    *("TranID", "TranDate", "ErrCode", "ErrInfo", "PayType"),
)


def verify(note: Notification, settings: Mapping[str, Any]) -> Verified:
    try:
        fields = codec.decode_request(note.body)
    except (UnicodeDecodeError, ValueError):
        raise Forged("結果通知の形式が正しくありません") from None
    shop_id, site_id = settings.get("shop_id"), settings.get("site_id")
    if fields.get("ShopID"):
        if fields["ShopID"] != shop_id:
            raise Forged("結果通知のショップIDがこのアカウントと一致しません")
    elif not site_id or fields.get("SiteID") != site_id:
        raise Forged("結果通知のショップID・サイトIDがこのアカウントと一致しません")
    order_id, status = fields.get("OrderID", ""), fields.get("Status", "")
    if not order_id or not status:
        raise Forged("結果通知にオーダーIDまたはステータスがありません")
    # GMO sends the same notification again until it hears "0": the same fields, the same id.
    # (The amount is part of it: a notification naming another amount is another one, kept
    # and shown, never merged with the true one.)
    parts = [order_id, status, *(fields.get(k, "") for k in ("TranID", "TranDate", "Amount"))]
    event_id = ":".join(parts)
    return Verified(
        event_id=event_id[:200],
        reference=order_id,
        event=status,
        data={k: fields[k] for k in KEPT if k in fields},
    )


async def check(
    store: ReferenceStore, reference: str, data: Mapping[str, Any], amount: int
) -> str | None:
    """A verified 結果通知 held against what kessai knows of the OrderID: the AccessID GMO
    gave for it, its pay type and its amount (Amount + Tax). The disagreement, or None."""
    stored = await store.get(reference) or {}
    known = stored.get("access_id")
    # A payment link's transaction is made at GMO when the customer pays: its AccessID is
    # first learnt here, and SearchTrade confirms it before anything moves.
    link_unpaid = stored.get("pay_method") == METHOD and not known
    if not known and not link_unpaid:
        return f"オーダーID {reference} の取引ID(AccessID)が登録されていません"
    if not link_unpaid and data.get("AccessID") != known:
        return "取引ID(AccessID)がこのオーダーIDの取引と一致しません"
    expected = pay_type_of(str(stored.get("pay_method") or ""))
    if (data.get("PayType") or "0") != expected:
        return f"決済方法(PayType {data.get('PayType')})がこの取引({expected})と一致しません"
    raw, tax = str(data.get("Amount") or ""), str(data.get("Tax") or "0")
    total = int(raw) + int(tax) if raw.isdigit() and tax.isdigit() else None
    if total != amount:
        shown = f"{total:,}円" if total is not None else f"「{raw[:20]}」"
        return f"通知の金額 {shown} が受注の金額 {amount:,}円 と一致しません"
    return None
