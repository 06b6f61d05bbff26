"""GMO PG's redirect-type methods, declared: one row per method, one code path for all.

Every redirect method runs the same idPass pair and the same life after it:
- EntryTran<X> (OrderID, JobCd AUTH/CAPTURE, Amount) → AccessID/AccessPass;
- ExecTran<X> (AccessID/AccessPass, OrderID, RetURL …) → Token + StartURL: the customer's
  browser goes to StartURL with AccessID and Token (GMO's page takes them as a form POST;
  kessai hands the storefront the URL with both in its query, which GMO's simulator and the
  storefront's auto-submitting form both accept), approves at the wallet or carrier, and
  comes back to RetURL; PayPal answers no StartURL: the customer goes to PaypalStart with
  ShopID and AccessID;
- <X>Sales (Amount) captures an AUTH; <X>CancelReturn / <X>Cancel (CancelAmount) cancels
  before or after capture;
- SearchTradeMulti (OrderID, PayType) tells where it stands.

Sources: the API names and parameters are those of GMO's recordings
(../shared/anchors/gmo-pg/cassettes: EntryTran/ExecTran Docomo, Linepay, RakutenId, Paypal)
and of GMO's published SDKs (PaypaySales, PaypayCancelReturn, DocomoSales,
DocomoCancelReturn, AuSales, AuCancelReturn, SbSales, SbCancel; PayType 45 = PayPay).
The other PayType numbers and the sales/cancel names of LINE Pay, 楽天ペイ and au PAY are
documented only in GMO's merchant spec (プロトコルタイプ インターフェース仕様書) and are
declared here as that spec gives them; a shop that finds one differs changes one row.
"""

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class RedirectMethod:
    key: str  # kessai's name of the method (the seed-003 method type, or its carrier)
    name: str  # for people
    suffix: str  # EntryTran<suffix> / ExecTran<suffix>
    pay_type: str  # SearchTradeMulti PayType
    start: str | None  # <start>.idPass, where the customer approves (None: StartURL given)
    sales: str  # 実売上 of an AUTH
    cancel: str  # 取消・返品 (CancelAmount)
    item_field: str | None = "ItemName"  # the product name field of ExecTran<X>
    error_url: bool = True  # ExecTran<X> takes ErrorRcvURL beside RetURL
    start_in_exec: bool = True  # ExecTran<X> answers Token + StartURL

    @property
    def entry(self) -> str:
        return f"EntryTran{self.suffix}"

    @property
    def exec(self) -> str:
        return f"ExecTran{self.suffix}"

    @property
    def start_api(self) -> str:
        return self.start or f"{self.suffix}Start"


_ROWS = (
    RedirectMethod("paypay", "PayPay", "Paypay", "45", None, "PaypaySales", "PaypayCancelReturn"),
    RedirectMethod("d_barai", "d払い", "Docomo", "9", None, "DocomoSales", "DocomoCancelReturn"),
    RedirectMethod("au_easy", "auかんたん決済", "Au", "8", None, "AuSales", "AuCancelReturn"),
    RedirectMethod(
        "softbank_b", "ソフトバンクまとめて支払い(B)", "Sb", "11", None, "SbSales", "SbCancel"
    ),
    RedirectMethod(
        "rakuten_pay",
        "楽天ペイ",
        "RakutenId",
        "18",
        None,
        "RakutenIdSales",
        "RakutenIdCancel",
    ),
    RedirectMethod(
        "line_pay",
        "LINE Pay",
        "Linepay",
        "41",
        None,
        "LinepaySales",
        "LinepayCancelReturn",
        item_field="ProductName",
    ),
    RedirectMethod("au_pay", "au PAY", "Aupay", "44", None, "AupaySales", "AupayCancelReturn"),
    RedirectMethod(
        "paypal",
        "PayPal",
        "Paypal",
        "5",
        "PaypalStart",
        "PaypalSales",
        "CancelTranPaypal",
        error_url=False,
        start_in_exec=False,
    ),
)
BY_KEY: dict[str, RedirectMethod] = {m.key: m for m in _ROWS}
BY_SUFFIX: dict[str, RedirectMethod] = {m.suffix: m for m in _ROWS}
BY_PAY_TYPE: dict[str, RedirectMethod] = {m.pay_type: m for m in _ROWS}
# キャリア決済 is one seed-003 row; the storefront names the carrier (payment_source carrier).
CARRIER = "carrier"
CARRIERS = ("d_barai", "au_easy", "softbank_b")
# The seed-003 GMO PG method types served this way (PayPal is its own provider in seed 003).
SEED_003_REDIRECTS = ("paypay", CARRIER, "rakuten_pay", "line_pay", "au_pay")


def redirect_method(method_type: str, source: Mapping[str, str]) -> RedirectMethod | None:
    """The redirect method an authorization runs, or None (クレジットカード and the rest)."""
    if method_type == CARRIER:
        return BY_KEY.get(source.get("carrier", ""))
    return BY_KEY.get(method_type)
