"""SBPS's link type (リンク型) on the wire, no I/O: two Shift_JIS forms, each signed with
sps_hashcode = SHA-1 (hex) over its field values in SBPS's order (an empty or absent field
contributes nothing), then the hash key.

- 購入要求 (A01-1): the customer's browser posts it to SBPS's purchase page
  (/f01/FepBuyInfoReceive.do); PURCHASE is its order.
- 結果CGI: SBPS posts the purchase's fields and its result to the merchant's pagecon_url;
  NOTICE is its order. The merchant answers the text "OK," when it took the notice, or
  "NG,<reason>" (SBPS sends it again).
Values travel as percent-encoded Shift_JIS (application/x-www-form-urlencoded).
"""

from collections.abc import Mapping, Sequence
from urllib.parse import parse_qsl, urlencode

from kessai.providers.sbps import codec
from kessai.providers.sbps.codec import ENCODING

PURCHASE = (
    "pay_method",
    "merchant_id",
    "service_id",
    "cust_code",
    "sps_cust_no",
    "sps_payment_no",
    "order_id",
    "item_id",
    "pay_item_id",
    "item_name",
    "tax",
    "amount",
    "pay_type",
    "auto_charge_type",
    "service_type",
    "div_settele",
    "last_charge_month",
    "camp_type",
    "tracking_id",
    "terminal_type",
    "success_url",
    "cancel_url",
    "error_url",
    "pagecon_url",
    "free1",
    "free2",
    "free3",
    "free_csv",
    "request_date",
    "limit_second",
)

NOTICE = (
    "pay_method",
    "merchant_id",
    "service_id",
    "cust_code",
    "order_id",
    "item_id",
    "item_name",
    "amount",
    "sps_cust_no",
    "sps_payment_no",
    "pay_item_id",
    "tax",
    "pay_type",
    "auto_charge_type",
    "service_type",
    "div_settele",
    "last_charge_month",
    "camp_type",
    "tracking_id",
    "terminal_type",
    "free1",
    "free2",
    "free3",
    "dtl_rowno",
    "dtl_item_id",
    "dtl_item_name",
    "dtl_item_count",
    "dtl_tax",
    "dtl_amount",
    "dtl_free1",
    "dtl_free2",
    "dtl_free3",
    "request_date",
    "res_pay_method",
    "res_result",
    "res_tracking_id",
    "res_sps_cust_no",
    "res_sps_payment_no",
    "res_payinfo_key",
    "res_payment_date",
    "res_err_code",
    "res_date",
    "limit_second",
)

NOTICE_TAKEN = "OK,"  # the merchant's answer to a 結果CGI it stored


class FormError(ValueError):
    """Not SBPS's form (not Shift_JIS, a field twice, or one SBPS does not know)."""


def hashcode(values: Mapping[str, str], order: Sequence[str], hash_key: str) -> str:
    """SBPS's sps_hashcode (codec.hashcode) over the form's values in `order`."""
    return codec.hashcode([(name, values.get(name) or "") for name in order], hash_key)


def signed(values: Mapping[str, str], order: Sequence[str], hash_key: str) -> list[tuple[str, str]]:
    """The fields in SBPS's order (those given), then sps_hashcode over them."""
    unknown = set(values) - set(order)
    if unknown:
        raise FormError(f"fields SBPS does not take: {', '.join(sorted(unknown))}")
    fields = [(name, values[name]) for name in order if name in values]
    return [*fields, ("sps_hashcode", hashcode(values, order, hash_key))]


def verifies(values: Mapping[str, str], order: Sequence[str], hash_key: str) -> bool:
    given = values.get("sps_hashcode") or ""
    return given.lower() == hashcode(values, order, hash_key)


def encode(fields: Sequence[tuple[str, str]]) -> str:
    """A form body or URL query: percent-encoded Shift_JIS."""
    return urlencode(fields, encoding=ENCODING)


def decode(raw: bytes | str, order: Sequence[str] | None = None) -> dict[str, str]:
    """A form body or query → its fields; with `order`, only those fields and sps_hashcode
    are taken (FormError for another)."""
    try:
        text = raw.decode("ascii") if isinstance(raw, bytes) else raw
        pairs = parse_qsl(text, keep_blank_values=True, encoding=ENCODING, errors="strict")
    except UnicodeDecodeError:
        raise FormError("not percent-encoded Shift_JIS") from None
    values: dict[str, str] = {}
    for name, value in pairs:
        if name in values:
            raise FormError(f"{name[:40]} given twice")
        if order is not None and name != "sps_hashcode" and name not in order:
            raise FormError(f"{name[:40]} is not a field of this form")
        values[name] = value
    return values
