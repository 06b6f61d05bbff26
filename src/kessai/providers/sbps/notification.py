"""SBPS's result notices (結果通知): an XML API document `<sps-api-request id="NT01-…">`
posted to kessai, signed with sps_hashcode like every request, and answered with
`<sps-api-response id="<the same id>"><res_result>OK</res_result></sps-api-response>` in
Shift_JIS, as the notice fixtures of anchors/sbps show. The inbox answers only after the
notice is stored, and looks the transaction up at SBPS before anything moves.
"""

from collections.abc import Mapping
from typing import Any

from kessai.providers.kit import Forged, Notification, Verified
from kessai.providers.sbps import codec


def verify(note: Notification, settings: Mapping[str, Any]) -> Verified:
    try:
        doc = codec.decode(note.body)
    except codec.CodecError as exc:
        raise Forged(f"SBPSの通知として読めません ({exc})") from None
    api_id = doc.api_id or ""
    if doc.root != "sps-api-request" or not api_id.startswith("NT01-"):
        raise Forged("SBPSの結果通知ではありません")
    if (doc.get("merchant_id"), doc.get("service_id")) != (
        str(settings.get("merchant_id") or ""),
        str(settings.get("service_id") or ""),
    ):
        raise Forged("マーチャントID・サービスIDがこのアカウントと一致しません")
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
    """What SBPS expects once the notice is taken: OK, under the notice's own id."""
    body = codec.encode("sps-api-response", verified.event, [("res_result", "OK")], None)
    return body, "text/xml; charset=Shift_JIS"
