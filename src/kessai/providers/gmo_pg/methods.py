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
DocomoCancelReturn, AuSales, AuCancelReturn, SbSales, SbCancel; PayType 45 = PayPay), and
of GMO's PHP client (DocomoIncrease with IncreaseAmount/IncreaseTax; DocomoCancelReturn and
AuCancelReturn with CancelAmount/CancelTax, a part of the amount giving a 減額).
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
    # 金額変更: a decrease is a partial <cancel> (CancelAmount = the difference), an increase
    # is <increase> (IncreaseAmount); None: GMO has no such call for the method.
    partial_cancel: bool = False
    increase: str | None = None
    change: str | None = None  # 金額変更 by the new Amount itself (<X>Change)
    sales_amount: bool = True  # <sales> takes Amount
    cancel_amount: bool = True  # <cancel> takes CancelAmount

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
    RedirectMethod(
        "d_barai",
        "d払い",
        "Docomo",
        "9",
        None,
        "DocomoSales",
        "DocomoCancelReturn",
        partial_cancel=True,
        increase="DocomoIncrease",
    ),
    RedirectMethod(
        "au_easy",
        "auかんたん決済",
        "Au",
        "8",
        None,
        "AuSales",
        "AuCancelReturn",
        partial_cancel=True,
    ),
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
    # 楽天ペイ V2, リクルートかんたん支払い and エポスかんたん決済: the Entry/Exec names and
    # parameters are those of GMO's own PHP client (EntryTranRakutenpay/ExecTranRakutenpay with
    # RetURL; EntryTranRecruit/ExecTranRecruit with RetURL and ItemName, RecruitSales /
    # RecruitCancel without an amount, RecruitChange with Amount; EntryTranEpospay/
    # ExecTranEpospay). Their PayType numbers and the sales/cancel/change calls of 楽天ペイ V2
    # and エポス are not in GMO's public material: declared as GMO's merchant spec gives them.
    RedirectMethod(
        "rakuten_pay_v2",
        "楽天ペイ V2",
        "Rakutenpay",
        "50",
        None,
        "RakutenpaySales",
        "RakutenpayCancelReturn",
        item_field=None,
        error_url=False,
        change="RakutenpayChange",
    ),
    RedirectMethod(
        "recruit",
        "リクルートかんたん支払い",
        "Recruit",
        "19",
        None,
        "RecruitSales",
        "RecruitCancel",
        error_url=False,
        change="RecruitChange",
        sales_amount=False,
        cancel_amount=False,
    ),
    RedirectMethod(
        "epos",
        "エポスかんたん決済",
        "Epospay",
        "47",
        None,
        "EpospaySales",
        "EpospayCancelReturn",
        item_field=None,
        error_url=False,
        partial_cancel=True,  # seed 003: 減額のみ可能
    ),
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
SEED_003_REDIRECTS = (
    "paypay",
    CARRIER,
    "rakuten_pay",
    "rakuten_pay_v2",
    "recruit",
    "line_pay",
    "au_pay",
    "epos",
)


def redirect_method(method_type: str, source: Mapping[str, str]) -> RedirectMethod | None:
    """The redirect method an authorization runs, or None (クレジットカード and the rest)."""
    if method_type == CARRIER:
        return BY_KEY.get(source.get("carrier", ""))
    return BY_KEY.get(method_type)


@dataclass(frozen=True)
class SlipMethod:
    """A pay-later method: the customer gets a slip and pays at a counter or a bank."""

    key: str  # kessai's method type
    name: str
    suffix: str  # EntryTran<suffix> / ExecTran<suffix>
    pay_type: str
    cancel: str | None  # the call cancelling an unpaid slip (None: it just expires)
    # ExecTran<X> parameters: (GMO name, payment_source key, required)
    exec_fields: tuple[tuple[str, str, bool], ...]
    labels: Mapping[str, str]  # payment_source key → 日本語, for refusals
    slip_fields: tuple[tuple[str, str], ...]  # (GMO answer key, the slip's 日本語 label)

    @property
    def entry(self) -> str:
        return f"EntryTran{self.suffix}"

    @property
    def exec(self) -> str:
        return f"ExecTran{self.suffix}"


_CUSTOMER = (
    ("CustomerName", "customer_name", True),
    ("CustomerKana", "customer_kana", True),
    ("TelNo", "tel_no", True),
    ("ReceiptsDisp11", "shop_contact", True),  # 問い合わせ先 (the slip shows it)
    ("ReceiptsDisp12", "shop_contact_tel", True),
    ("ReceiptsDisp13", "shop_contact_hours", True),
)
_CUSTOMER_LABELS = {
    "customer_name": "お客様氏名(customer_name)",
    "customer_kana": "お客様氏名カナ(customer_kana)",
    "tel_no": "電話番号(tel_no)",
    "shop_contact": "問い合わせ先(shop_contact)",
    "shop_contact_tel": "問い合わせ先電話番号(shop_contact_tel)",
    "shop_contact_hours": "問い合わせ先受付時間(shop_contact_hours)",
}
# Sources: the recordings of EntryTranCvs/ExecTranCvs/CvsCancel, EntryTranPayEasy/
# ExecTranPayEasy and EntryTranGANB/ExecTranGANB (parameter and answer names); PayType 3
# (コンビニ) as GMO's own 結果通知 handlers read it; 4 (Pay-easy) and 36 (銀行振込(バーチャル
# 口座 あおぞら)) from GMO's merchant spec.
SLIPS = (
    SlipMethod(
        "cvs",
        "コンビニ決済",
        "Cvs",
        "3",
        "CvsCancel",
        (("Convenience", "convenience", True), *_CUSTOMER),
        {"convenience": "コンビニ(convenience: GMOのコンビニコード)", **_CUSTOMER_LABELS},
        (
            ("Convenience", "コンビニ"),
            ("ReceiptNo", "受付番号"),
            ("ConfNo", "確認番号"),
            ("PaymentTerm", "支払期限"),
        ),
    ),
    SlipMethod(
        "pay_easy",
        "Pay-easy",
        "PayEasy",
        "4",
        None,
        _CUSTOMER,
        _CUSTOMER_LABELS,
        (
            ("BkCode", "収納機関番号"),
            ("CustID", "お客様番号"),
            ("ConfNo", "確認番号"),
            ("PaymentTerm", "支払期限"),
        ),
    ),
    SlipMethod(
        "bank_transfer",
        "銀行振込",
        "GANB",
        "36",
        None,
        (("TradeDays", "trade_days", False),),
        {"trade_days": "振込期限日数(trade_days)"},
        (
            ("BankName", "振込先銀行"),
            ("BankCode", "銀行コード"),
            ("BranchName", "支店"),
            ("BranchCode", "支店コード"),
            ("AccountType", "口座種別"),
            ("AccountNumber", "口座番号"),
            ("AccountHolderName", "口座名義"),
            ("AvailableDate", "振込期限"),
        ),
    ),
)
# GMO's ErrInfo for a required ExecTranCvs/ExecTranPayEasy parameter left out (its table).
MISSING: dict[str, str] = {
    "Convenience": "M01009001",
    "CustomerName": "M01010001",
    "CustomerKana": "M01011001",
    "TelNo": "M01012001",
    "ReceiptsDisp11": "M01036001",
    "ReceiptsDisp12": "M01037001",
    "ReceiptsDisp13": "M01038001",
}
SLIP_BY_KEY: dict[str, SlipMethod] = {m.key: m for m in SLIPS}
SLIP_BY_SUFFIX: dict[str, SlipMethod] = {m.suffix: m for m in SLIPS}


def pay_type_of(key: str) -> str:
    """The PayType of kessai's method key ("0": クレジットカード)."""
    found = BY_KEY.get(key) or SLIP_BY_KEY.get(key)
    return found.pay_type if found else "0"
