"""SBPS's notices, of two kinds, each checked against the account (merchant_id, service_id,
sps_hashcode) and answered as SBPS expects:

- 結果CGI of a link-type purchase (キャリア決済): a Shift_JIS form posted to the pagecon_url
  of the 購入要求, its hash code over the fields in SBPS's order (link.NOTICE); res_result OK is
  決済完了, anything else is not paid. Answered with the text "OK,".
- The XML API's notices (Web コンビニ and Pay-easy 入金・取消, NT01-00103/00104-70x): an
  `<sps-api-request id="NT01-…">` document signed like every request, answered with
  `<sps-api-response id="<the same id>"><res_result>OK</res_result></sps-api-response>` in
  Shift_JIS, as the notice fixtures of anchors/sbps show.

The inbox answers only after the notice is stored (a notice not answered "OK" is sent again),
and looks the transaction up at SBPS before anything moves.
"""

from collections.abc import Mapping
from typing import Any

from kessai.providers.kit import Forged, Notification, Verified
from kessai.providers.sbps import codec, link

LINK_NOTICE = "結果CGI"  # Verified.event of a link-type notice: 結果CGI:<pay_method>:<res_result>


def verify(note: Notification, settings: Mapping[str, Any]) -> Verified:
    if note.body.lstrip()[:1] == b"<":
        return _verify_xml(note.body, settings)
    return _verify_form(note.body, settings)


def _check_account(merchant: str | None, service: str | None, settings: Mapping[str, Any]) -> None:
    if (merchant, service) != (
        str(settings.get("merchant_id") or ""),
        str(settings.get("service_id") or ""),
    ):
        raise Forged("マーチャントID・サービスIDがこのアカウントと一致しません")


def _verify_form(body: bytes, settings: Mapping[str, Any]) -> Verified:
    try:
        fields = link.decode(body)
    except link.FormError as exc:
        raise Forged(f"SBPSの通知として読めません ({exc})") from None
    if not fields.get("order_id") or not fields.get("res_result"):
        raise Forged("SBPSの結果通知ではありません")
    _check_account(fields.get("merchant_id"), fields.get("service_id"), settings)
    if not link.verifies(fields, link.NOTICE, str(settings.get("hash_key") or "")):
        raise Forged("sps_hashcode が一致しません")
    order_id, result = fields["order_id"], fields["res_result"]
    transaction = fields.get("res_tracking_id") or order_id
    return Verified(
        event_id=f"{LINK_NOTICE}:{transaction}:{result}",
        reference=order_id,
        event=f"{LINK_NOTICE}:{fields.get('pay_method') or ''}:{result}",
        data={
            "tracking_id": fields.get("res_tracking_id"),
            "res_result": result,
            "res_err_code": fields.get("res_err_code"),
            "amount": fields.get("amount"),
        },
    )


def _verify_xml(body: bytes, settings: Mapping[str, Any]) -> Verified:
    try:
        doc = codec.decode(body)
    except codec.CodecError as exc:
        raise Forged(f"SBPSの通知として読めません ({exc})") from None
    api_id = doc.api_id or ""
    if doc.root != "sps-api-request" or not api_id.startswith("NT01-"):
        raise Forged("SBPSの結果通知ではありません")
    _check_account(doc.get("merchant_id"), doc.get("service_id"), settings)
    if not doc.verifies(str(settings.get("hash_key") or "")):
        raise Forged("sps_hashcode が一致しません")
    transaction = doc.get("sps_transaction_id") or doc.get("tracking_id") or ""
    return Verified(
        event_id=f"{api_id}:{transaction}",
        reference=doc.get("order_id"),
        event=api_id,
        data={
            "tracking_id": doc.get("tracking_id"),
            "res_result": doc.get("res_result"),
        },
    )


def answer(verified: Verified) -> tuple[bytes, str]:
    """What SBPS expects once the notice is taken: "OK," for a 結果CGI, else OK under the
    notice's own id."""
    if verified.event.startswith(f"{LINK_NOTICE}:"):
        return link.NOTICE_TAKEN.encode("ascii"), "text/plain; charset=Shift_JIS"
    body = codec.encode("sps-api-response", verified.event, [("res_result", "OK")], None)
    return body, "text/xml; charset=Shift_JIS"
