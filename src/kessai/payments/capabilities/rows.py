"""The data: seed 003's matrix, one CapabilityRow per provider × method type.

Reading the seed's tables: a line that starts without a provider name continues the provider
above it (e.g. under ペイジェント: クレジットカード(都度課金), Paidy, PayPay). Rows are listed
here in the seed's order of first appearance; a section that does not list a row leaves its
field at None / NONE.
"""

from kessai.payments.capabilities.model import (
    AmountFlag,
    AmountRule,
    CancelLinkage,
    CancelRule,
    CapabilityRow,
    CaptureOnAuthorize,
    Carrier,
    MethodKind,
    SecurityCode,
)
from kessai.payments.capabilities.windows import Anchor, Window

PROVIDERS: dict[str, str] = {
    "smbc_finance": "SMBCファイナンスサービス",
    "smbc_gmo": "SMBC GMO PAYMENT(SMBCマルチペイメントサービス)",
    "veritrans3g": "DGフィナンシャルテクノロジー(VeriTrans3G)",
    "veritrans4g": "DGフィナンシャルテクノロジー(VeriTrans4G)",
    "gmo_pg": "GMOペイメントゲートウェイ",
    "gmo_ps": "GMOペイメントサービス",
    "catchball": "キャッチボール",
    "sbps": "SBペイメントサービス",
    "sony_payment": "ソニーペイメントサービス(e-SCOTT Smart)",
    "yamato_credit_finance": "ヤマトクレジットファイナンス",
    "yamato": "ヤマト運輸",
    "paygent": "ペイジェント",
    "zeus": "ゼウス",
    "paidy": "Paidy",
    "net_protections": "ネットプロテクションズ",
    "amazon": "アマゾンジャパン",
    "paypal": "PayPal",
    "resona": "りそなPayResort",
    "merpay": "メルペイ",
    "docomo": "NTTドコモ",
    "rakuten_card": "楽天カード",
    "smartpay": "Smartpay",
    "komoju": "KOMOJU",
    "offline": "決済代行会社連携なし",
    # Contracted directly (their own 与信期限), no row in seed 003's matrix (PayPay's row is
    # kessai's own, see the end of ROWS):
    "score": "SCORE(スコア後払い)",
    "paypay": "PayPay",
    "rakuten_pay": "楽天ペイ",
    "atone": "atone",
}

# 与信期限 (days an authorization stays valid) per provider code. Not in seed 003: supplied by
# the product brief. SBペイメントサービス is 45〜90日 depending on the card brand; 90 is the
# provider maximum (an account override can shorten it).
AUTHORIZATION_DAYS: dict[str, int] = {
    "gmo_pg": 60,
    "sbps": 90,
    "gmo_ps": 90,
    "zeus": 90,
    "amazon": 30,
    "net_protections": 90,
    "score": 60,
    "paidy": 30,
    "paypay": 30,
    "rakuten_pay": 30,
    "atone": 90,
}

AUTHORIZATION_NOTES: dict[str, str] = {
    "sbps": "SBペイメントサービスの与信期限はカードブランドにより45〜90日(上限の90日を採用)",
}

# 与信期限 of the method itself, preferred over the gateway's when the method runs through one
# (e.g. PayPay via GMOペイメントゲートウェイ is 30 days, not GMO PG's 60).
METHOD_AUTHORIZATION_DAYS: dict[str, int] = {
    "paypay": 30,
    "rakuten_pay": 30,
    "rakuten_pay_v2": 30,
    "paidy": 30,
    "paidy_v2": 30,
    "atone_monthly_cvs": 90,
    "atone_monthly_cvs_common": 90,
    "atone_each": 90,
    "amazon_pay": 30,
    "amazon_pay_v2": 30,
}

# --- shorthands for the table -------------------------------------------------------------

K = MethodKind
API = CancelRule()  # 取消/解約API連携フラグ, 備考 "-"
DEFAULT = CancelRule(linkage=CancelLinkage.DEFAULT)  # デフォルトでキャンセル連携
LINK = AmountRule()  # 金額変更連携, 備考 "-"
FLAG = CaptureOnAuthorize.FLAG
SC = SecurityCode.SUPPORTED

DECREASE_ONLY = AmountRule(note="減額のみ可能", decrease_only=True)
NOT_LINKED_UNTIL_CAPTURE = AmountRule(
    note="減額のみ可能\n※金額変更時には連携せず、オーソリ確定時に金額が確定します。",
    decrease_only=True,
    local_only=True,
)
ATOBARAI_COM_MODIFY = AmountRule(
    note="受注編集時に「後払い.com 取引修正連携」欄で「連携する」を選択",
    flag=AmountFlag.ATOBARAI_COM_MODIFY,
)
KURONEKO_PAYPAY_REDUCE = AmountRule(
    note="・減額のみ可能\n・受注編集時に「減額連携する」を選択",
    decrease_only=True,
    flag=AmountFlag.REDUCE,
)
ATONE_AFTER = AmountRule(
    note="「オーソリ確定後金額変更連携フラグ:オーソリ確定後の金額変更連携を可能とする」を選択した場合",
    flag=AmountFlag.POST_CAPTURE,
)
RAKUTEN_PAY_V2_CANCEL = CancelRule(
    note="注文キャンセルの注意事項については\nこちら(外部サイト)\nをご参照ください。"
)
RAKUTEN_PAY_V2_AMOUNT = AmountRule(
    note="・金額変更の注意事項については\n こちら(外部サイト)をご参照ください。"
)


def _days(anchor: Anchor, days: int, note: str) -> Window:
    return Window(anchor=anchor, note=note, days=days)


PAYPAY_30 = _days(Anchor.AUTHORIZED_AT, 30, "決済日時から30日を超えるとエラー")
PAYPAY_180 = _days(Anchor.AUTHORIZED_AT, 180, "決済日時から180日を超えるとエラー")
AU_PAY_90 = _days(Anchor.AUTHORIZED_AT, 90, "決済日時から90日を超えるとエラー")
D_BARAI = Window(
    anchor=Anchor.AUTHORIZED_AT, note="決済日時の翌々月末20時を過ぎるとエラー", months=2, hour=20
)
RAKUTEN_CARD_170_NOTE = "オーソリ確定日時から170日を超えるとエラー"
# Not in seed 003 (its GMO PG card rows say "-"): GMO's own EC-CUBE module refuses a
# cancel across a month end (RETURNX) once a deadline after the transaction has passed; its
# older module uses 90 days. Shown here like the seed's windows, before any call.
GMO_CARD_RETURNX = Window(
    anchor=Anchor.AUTHORIZED_AT,
    note="月跨りの返品(RETURNX)は決済日時から90日を超えるとエラー",
    days=90,
)
GMO_CARD_AFTER = CancelRule(window=GMO_CARD_RETURNX)
BEYOND_SEED = "seed 003 の表にない決済 (GMOペイメントゲートウェイで利用できる後払い型の決済)"

# --- the table ----------------------------------------------------------------------------

ROWS: tuple[CapabilityRow, ...] = (
    # SMBCファイナンスサービス
    CapabilityRow(
        "smbc_finance",
        "atobarai",
        "後払い決済",
        K.DEFERRED,
        cancel_before=API,
    ),
    # SMBC GMO PAYMENT (SMBCマルチペイメントサービス)
    CapabilityRow(
        "smbc_gmo",
        "credit_card",
        "クレジットカード(都度課金)",
        K.CARD,
        cancel_before=API,
        cancel_after=API,
        amount_before=LINK,
        amount_after=LINK,
        capture_on_authorize=FLAG,
        security_code=SC,
    ),
    # DGフィナンシャルテクノロジー (VeriTrans3G): §2 オーソリ確定前 says only
    # "クレジットカード"; every other section says "クレジットカード(都度課金)": one method.
    CapabilityRow(
        "veritrans3g",
        "credit_card",
        "クレジットカード(都度課金)",
        K.CARD,
        cancel_before=API,
        cancel_after=API,
        amount_before=LINK,
        capture_on_authorize=FLAG,
        security_code=SC,
    ),
    CapabilityRow(
        "veritrans3g",
        "carrier",
        "キャリア決済(d払い・ソフトバンクまとめて支払い(A)・ソフトバンクまとめて支払い(B)・"
        "auかんたん決済)",
        K.CARRIER,
        capture_on_authorize=FLAG,
        carriers=(Carrier.D_BARAI, Carrier.SOFTBANK_A, Carrier.SOFTBANK_B, Carrier.AU_EASY),
    ),
    CapabilityRow(
        "veritrans3g",
        "unionpay",
        "銀聯ネット決済",
        K.WALLET,
        capture_on_authorize=FLAG,
    ),
    CapabilityRow(
        "veritrans3g",
        "recruit",
        "リクルートかんたん支払い",
        K.WALLET,
        capture_on_authorize=FLAG,
    ),
    # DGフィナンシャルテクノロジー (VeriTrans4G)
    CapabilityRow(
        "veritrans4g",
        "credit_card",
        "クレジットカード(都度課金)",
        K.CARD,
        cancel_before=API,
        cancel_after=API,
        amount_before=LINK,
        capture_on_authorize=FLAG,
        security_code=SC,
    ),
    CapabilityRow(
        "veritrans4g",
        "rakuten_pay",
        "楽天ペイ",
        K.WALLET,
        cancel_before=API,
        amount_after=DECREASE_ONLY,
        capture_on_authorize=FLAG,
    ),
    # GMOペイメントゲートウェイ. §2–§4 list "クレジットカード(都度課金・継続課金)" as one row;
    # §5 separates them (継続課金: PCIDSS利用時のみ), so they are two method types here.
    CapabilityRow(
        "gmo_pg",
        "credit_card",
        "クレジットカード(都度課金)",
        K.CARD,
        cancel_before=API,
        cancel_after=GMO_CARD_AFTER,
        amount_before=LINK,
        amount_after=LINK,
        capture_on_authorize=FLAG,
        security_code=SC,
    ),
    CapabilityRow(
        "gmo_pg",
        "credit_card_recurring",
        "クレジットカード(継続課金)",
        K.CARD,
        cancel_before=API,
        cancel_after=GMO_CARD_AFTER,
        amount_before=LINK,
        amount_after=LINK,
        capture_on_authorize=FLAG,
        security_code=SecurityCode.PCIDSS_ONLY,
    ),
    CapabilityRow(
        "gmo_pg",
        "credit_card_link",
        "クレジットカード(リンクタイプ)",
        K.CARD,
        cancel_before=API,
        cancel_after=GMO_CARD_AFTER,
        amount_before=LINK,
        amount_after=LINK,
        capture_on_authorize=FLAG,
        security_code=SC,
    ),
    CapabilityRow(
        "gmo_pg",
        "rakuten_pay",
        "楽天ペイ",
        K.WALLET,
        cancel_before=CancelRule(
            note="注文日の5ヵ月後の末日を超えるとエラー",
            window=Window(
                anchor=Anchor.ORDERED_AT, note="注文日の5ヵ月後の末日を超えるとエラー", months=5
            ),
        ),
        cancel_after=CancelRule(
            note="オーソリ確定日から翌月末日を超えるとエラー",
            window=Window(
                anchor=Anchor.CAPTURED_AT,
                note="オーソリ確定日から翌月末日を超えるとエラー",
                months=1,
            ),
        ),
        capture_on_authorize=FLAG,
    ),
    CapabilityRow(
        "gmo_pg",
        "rakuten_pay_v2",
        "楽天ペイ V2",
        K.WALLET,
        cancel_before=RAKUTEN_PAY_V2_CANCEL,
        cancel_after=RAKUTEN_PAY_V2_CANCEL,
        amount_before=RAKUTEN_PAY_V2_AMOUNT,
        amount_after=RAKUTEN_PAY_V2_AMOUNT,
        capture_on_authorize=FLAG,
    ),
    CapabilityRow(
        "gmo_pg",
        "recruit",
        "リクルートかんたん支払い",
        K.WALLET,
        capture_on_authorize=FLAG,
    ),
    CapabilityRow(
        "gmo_pg",
        "line_pay",
        "LINE Pay",
        K.WALLET,
        cancel_before=API,
        cancel_after=API,
        capture_on_authorize=FLAG,
    ),
    CapabilityRow(
        "gmo_pg",
        "carrier",
        "キャリア決済(d払い・ソフトバンクまとめて支払い(B)・auかんたん決済)",
        K.CARRIER,
        cancel_before=API,
        cancel_after=API,
        # §3 オーソリ確定後 lists "キャリア決済(d払い・auかんたん決済)": not ソフトバンク.
        amount_after=AmountRule(carriers=(Carrier.D_BARAI, Carrier.AU_EASY)),
        capture_on_authorize=FLAG,
        carriers=(Carrier.D_BARAI, Carrier.SOFTBANK_B, Carrier.AU_EASY),
        # The NTTドコモ row's d払い deadline is d払い's own: it holds through GMO PG too.
        carrier_windows=((Carrier.D_BARAI, D_BARAI),),
    ),
    # エポスかんたん決済 appears under GMOペイメントゲートウェイ only in the オーソリ確定後
    # tables of §2 and §3 (before the next provider name), so it is GMO PG's row.
    CapabilityRow(
        "gmo_pg",
        "epos",
        "エポスかんたん決済",
        K.WALLET,
        cancel_after=API,
        amount_after=DECREASE_ONLY,
    ),
    CapabilityRow(
        "gmo_pg",
        "paypay",
        "PayPay",
        K.WALLET,
        cancel_before=CancelRule(note=PAYPAY_30.note, window=PAYPAY_30),
        cancel_after=CancelRule(note=PAYPAY_180.note, window=PAYPAY_180),
        capture_on_authorize=FLAG,
    ),
    CapabilityRow(
        "gmo_pg",
        "au_pay",
        "au PAY",
        K.WALLET,
        cancel_before=CancelRule(note=AU_PAY_90.note, window=AU_PAY_90),
        cancel_after=CancelRule(note=AU_PAY_90.note, window=AU_PAY_90),
        capture_on_authorize=FLAG,
    ),
    # Beyond seed 003's matrix (issue #12): GMO PG's pay-later methods. The customer pays a
    # slip later; GMO's 結果通知 says so. Only an unpaid コンビニ slip can be cancelled
    # (CvsCancel); once paid, a refund is the shop's own bank transfer.
    CapabilityRow(
        "gmo_pg",
        "cvs",
        "コンビニ決済",
        K.CVS,
        cancel_before=API,
        note=BEYOND_SEED,
    ),
    CapabilityRow("gmo_pg", "pay_easy", "Pay-easy", K.CVS, cancel_before=API, note=BEYOND_SEED),
    CapabilityRow(
        "gmo_pg", "bank_transfer", "銀行振込", K.CVS, cancel_before=API, note=BEYOND_SEED
    ),
    # GMOペイメントサービス
    CapabilityRow(
        "gmo_ps",
        "atobarai",
        "後払い決済",
        K.DEFERRED,
        cancel_before=CancelRule(
            note="「GMOPS後払い キャンセルAPI連携フラグ:受注取消時に取消連携する」を選択",
            linkage=CancelLinkage.GMOPS_FLAG,
        ),
        amount_before=AmountRule(
            note="「GMOPS後払い 取引修正API連携フラグ:受注編集時に取引修正連携する」を選択",
            flag=AmountFlag.GMOPS_MODIFY,
        ),
    ),
    CapabilityRow(
        "gmo_ps",
        "kakebarai",
        "GMO掛け払い",
        K.DEFERRED,
        cancel_before=API,
        amount_before=LINK,
    ),
    # アトカラ: デフォルトでキャンセル連携 only オーソリ確定前; §2 オーソリ確定後 does not list it.
    CapabilityRow(
        "gmo_ps",
        "atokara",
        "アトカラ",
        K.DEFERRED,
        cancel_before=DEFAULT,
        amount_before=LINK,
        amount_after=DECREASE_ONLY,
        capture_on_authorize=FLAG,
    ),
    # キャッチボール
    CapabilityRow(
        "catchball",
        "atobarai",
        "後払い.com",
        K.DEFERRED,
        cancel_before=API,
        amount_before=ATOBARAI_COM_MODIFY,
        amount_after=ATOBARAI_COM_MODIFY,
    ),
    # SBペイメントサービス
    CapabilityRow(
        "sbps",
        "credit_card",
        "クレジットカード(都度課金)",
        K.CARD,
        cancel_before=API,
        cancel_after=API,
        amount_before=LINK,
        amount_after=LINK,
        capture_on_authorize=FLAG,
        security_code=SC,
    ),
    CapabilityRow(
        "sbps",
        "carrier",
        "キャリア決済(d払い/ソフトバンクケータイ支払い/auかんたん決済)",
        K.CARRIER,
        cancel_before=API,
        cancel_after=API,
        carriers=(Carrier.D_BARAI, Carrier.SOFTBANK_KEITAI, Carrier.AU_EASY),
    ),
    CapabilityRow(
        "sbps",
        "paypay",
        "PayPay",
        K.WALLET,
        cancel_before=CancelRule(
            note="未入金受注をキャンセルした場合は連携しない", unpaid_local=True
        ),
        cancel_after=API,
        capture_on_authorize=FLAG,
    ),
    CapabilityRow(
        "sbps",
        "au_pay",
        "au PAY",
        K.WALLET,
        cancel_before=API,
        cancel_after=API,
        capture_on_authorize=FLAG,
    ),
    CapabilityRow(
        "sbps",
        "epos",
        "エポスかんたん決済",
        K.WALLET,
        cancel_before=API,
        cancel_after=API,
        amount_before=DECREASE_ONLY,
        amount_after=AmountRule(
            note="・減額のみ可能\n・「オーソリ確定後金額変更連携フラグ:オーソリ確定後の金額変更連携を"
            "可能とし、同時に確定する」を選択",
            decrease_only=True,
            flag=AmountFlag.POST_CAPTURE,
        ),
        capture_on_authorize=FLAG,
    ),
    # ソニーペイメントサービス (e-SCOTT Smart)
    CapabilityRow(
        "sony_payment",
        "credit_card",
        "クレジットカード(都度課金)",
        K.CARD,
        cancel_before=API,
        cancel_after=API,
        capture_on_authorize=FLAG,
        security_code=SC,
    ),
    # ヤマトクレジットファイナンス
    CapabilityRow(
        "yamato_credit_finance",
        "kakebarai",
        "クロネコ掛け払い",
        K.DEFERRED,
        cancel_before=API,
    ),
    # ヤマト運輸
    CapabilityRow(
        "yamato",
        "credit_card",
        "クロネコwebコレクト クレジットカード(都度課金)",
        K.CARD,
        cancel_before=API,
        cancel_after=API,
        amount_before=LINK,
        security_code=SC,
    ),
    CapabilityRow(
        "yamato",
        "paypay",
        "クロネコwebコレクト PayPay",
        K.WALLET,
        cancel_before=CancelRule(note=PAYPAY_30.note, window=PAYPAY_30),
        cancel_after=CancelRule(note=PAYPAY_30.note, window=PAYPAY_30),
        amount_before=KURONEKO_PAYPAY_REDUCE,
        amount_after=KURONEKO_PAYPAY_REDUCE,
    ),
    CapabilityRow(
        "yamato",
        "atobarai",
        "クロネコ代金後払い",
        K.DEFERRED,
        cancel_before=API,
    ),
    CapabilityRow(
        "yamato",
        "atobarai_smartphone",
        "クロネコ代金後払いスマホタイプ",
        K.DEFERRED,
        cancel_before=API,
    ),
    # ペイジェント
    CapabilityRow(
        "paygent",
        "credit_card",
        "クレジットカード(都度課金)",
        K.CARD,
        cancel_before=API,
        cancel_after=API,
        amount_before=LINK,
        amount_after=LINK,
        capture_on_authorize=FLAG,
        security_code=SC,
    ),
    CapabilityRow(
        "paygent",
        "carrier",
        "キャリア決済(auかんたん決済)",
        K.CARRIER,
        capture_on_authorize=FLAG,
        carriers=(Carrier.AU_EASY,),
    ),
    CapabilityRow(
        "paygent",
        "paidy",
        "Paidy",
        K.WALLET,
        cancel_before=API,
        cancel_after=API,
    ),
    CapabilityRow(
        "paygent",
        "paypay",
        "PayPay",
        K.WALLET,
        cancel_before=API,
        cancel_after=API,
        capture_on_authorize=FLAG,
    ),
    # ゼウス
    CapabilityRow(
        "zeus",
        "credit_card",
        "クレジットカード(都度課金)",
        K.CARD,
        cancel_before=API,
        cancel_after=API,
        security_code=SC,
    ),
    # Paidy: only ver.2 is listed オーソリ確定後.
    CapabilityRow(
        "paidy",
        "paidy",
        "Paidy翌月払い(コンビニ/銀行ATM)",
        K.WALLET,
        cancel_before=API,
    ),
    CapabilityRow(
        "paidy",
        "paidy_v2",
        "Paidy翌月払い(コンビニ/銀行)ver.2",
        K.WALLET,
        cancel_before=API,
        cancel_after=API,
    ),
    # ネットプロテクションズ
    CapabilityRow(
        "net_protections",
        "np_atobarai",
        "NP後払い(NPコネクトプロ)",
        K.DEFERRED,
        cancel_before=API,
        cancel_after=API,
        amount_before=LINK,
    ),
    CapabilityRow(
        "net_protections",
        "np_atobarai_instant",
        "NP後払い(NPコネクトプロ/即時与信)",
        K.DEFERRED,
        cancel_before=API,
        cancel_after=API,
        amount_before=LINK,
        capture_on_authorize=FLAG,
    ),
    CapabilityRow(
        "net_protections",
        "np_atobarai_instant_common",
        "NP後払い(NPコネクトプロ/即時与信:共通インターフェース)",
        K.DEFERRED,
        cancel_before=API,
        cancel_after=API,
        amount_before=AmountRule(note="伝票番号連携前のみ可能", before_tracking_only=True),
    ),
    CapabilityRow(
        "net_protections",
        "np_kakebarai",
        "NP掛け払い",
        K.DEFERRED,
        cancel_before=API,
        cancel_after=API,
        amount_before=LINK,
    ),
    CapabilityRow(
        "net_protections",
        "atone_monthly_cvs",
        "atone 翌月後払い(コンビニ)",
        K.DEFERRED,
        cancel_before=API,
        cancel_after=API,
        amount_before=LINK,
        amount_after=ATONE_AFTER,
        capture_on_authorize=FLAG,
    ),
    CapabilityRow(
        "net_protections",
        "atone_monthly_cvs_common",
        "atone 翌月後払い(コンビニ:共通インターフェース)",
        K.DEFERRED,
        cancel_before=API,
        cancel_after=API,
        amount_before=LINK,
        amount_after=ATONE_AFTER,
        capture_on_authorize=FLAG,
    ),
    CapabilityRow(
        "net_protections",
        "atone_each",
        "atone つど後払い",
        K.DEFERRED,
        cancel_before=API,
        cancel_after=API,
        amount_before=LINK,
        amount_after=ATONE_AFTER,
        capture_on_authorize=FLAG,
    ),
    # アマゾンジャパン
    CapabilityRow(
        "amazon",
        "amazon_pay",
        "Amazon Pay",
        K.WALLET,
        cancel_before=API,
        amount_before=NOT_LINKED_UNTIL_CAPTURE,
        capture_on_authorize=FLAG,
    ),
    CapabilityRow(
        "amazon",
        "amazon_pay_v2",
        "Amazon Pay V2",
        K.WALLET,
        cancel_before=API,
        amount_before=NOT_LINKED_UNTIL_CAPTURE,
        capture_on_authorize=FLAG,
    ),
    # PayPal (§4 only)
    CapabilityRow(
        "paypal",
        "paypal",
        "PayPal決済",
        K.WALLET,
        capture_on_authorize=FLAG,
    ),
    # りそなPayResort: 3Dセキュア認証を行う場合はキャンセル連携の対象外.
    CapabilityRow(
        "resona",
        "credit_card",
        "クレジットカード(都度課金)",
        K.CARD,
        cancel_before=API,
        cancel_after=API,
        capture_on_authorize=FLAG,
        security_code=SC,
        cancel_excluded_with_3ds=True,
    ),
    CapabilityRow(
        "resona",
        "credit_card_3ds",
        "クレジットカード(3Dセキュア対応)",
        K.CARD,
        capture_on_authorize=FLAG,
        security_code=SC,
        three_d_secure_method=True,
        cancel_excluded_with_3ds=True,
    ),
    # メルペイ
    CapabilityRow(
        "merpay",
        "merpay",
        "メルペイ(オンライン決済)",
        K.WALLET,
        cancel_before=API,
        cancel_after=API,
        amount_before=NOT_LINKED_UNTIL_CAPTURE,
        capture_on_authorize=FLAG,
    ),
    # NTTドコモ
    CapabilityRow(
        "docomo",
        "d_barai",
        "d払い",
        K.CARRIER,
        cancel_before=CancelRule(note=D_BARAI.note, window=D_BARAI),
        cancel_after=CancelRule(note=D_BARAI.note, window=D_BARAI),
        amount_before=AmountRule(note=D_BARAI.note, window=D_BARAI),
        amount_after=AmountRule(note=D_BARAI.note, window=D_BARAI),
    ),
    # 楽天カード. Before オーソリ確定 there is no オーソリ確定日時 yet: the 170 days are counted
    # from 決済日時, which is never later than any オーソリ確定日時, so the check is never
    # looser than the seed's rule.
    CapabilityRow(
        "rakuten_card",
        "credit_card",
        "クレジットカード",
        K.CARD,
        cancel_before=CancelRule(
            note=RAKUTEN_CARD_170_NOTE,
            window=_days(Anchor.AUTHORIZED_AT, 170, RAKUTEN_CARD_170_NOTE),
        ),
        cancel_after=CancelRule(
            note=RAKUTEN_CARD_170_NOTE,
            window=_days(Anchor.CAPTURED_AT, 170, RAKUTEN_CARD_170_NOTE),
        ),
        amount_before=LINK,
        amount_after=LINK,
        capture_on_authorize=FLAG,
        security_code=SC,
    ),
    # コンビニ決済 continues the 楽天カード block (楽天カード's コンビニ決済 covers exactly these
    # six chains).
    CapabilityRow(
        "rakuten_card",
        "cvs",
        "コンビニ決済(セブンイレブン・ファミリーマート・ローソン・ミニストップ・セイコーマート・"
        "デイリーヤマザキ)",
        K.CVS,
        cancel_before=API,
    ),
    # Smartpay
    CapabilityRow(
        "smartpay",
        "smartpay",
        "Smartpay",
        K.WALLET,
        cancel_before=API,
        cancel_after=API,
        capture_on_authorize=FLAG,
        note="オーソリ同時確定は ※決済方式:通常注文方式 の場合のみ可能",
    ),
    # KOMOJU: キャンセル連携もオーソリ確定もデフォルト.
    CapabilityRow(
        "komoju",
        "wechat_pay",
        "WeChat Pay",
        K.WALLET,
        cancel_before=DEFAULT,
        cancel_after=DEFAULT,
        capture_on_authorize=CaptureOnAuthorize.ALWAYS,
    ),
    CapabilityRow(
        "komoju",
        "alipay",
        "Alipay",
        K.WALLET,
        cancel_before=DEFAULT,
        cancel_after=DEFAULT,
        capture_on_authorize=CaptureOnAuthorize.ALWAYS,
    ),
    # PayPay contracted directly (not a row of seed 003, whose PayPay rows run through a
    # gateway): the seed's PayPay windows (決済日時から30日 before オーソリ確定, 180日 after,
    # as for GMOペイメントゲートウェイ's PayPay), and what PayPay's own API links: a decrease
    # (Update a payment authorization before capture, a partial refund after it).
    CapabilityRow(
        "paypay",
        "paypay",
        "PayPay",
        K.WALLET,
        cancel_before=CancelRule(note=PAYPAY_30.note, window=PAYPAY_30),
        cancel_after=CancelRule(note=PAYPAY_180.note, window=PAYPAY_180),
        amount_before=DECREASE_ONLY,
        amount_after=DECREASE_ONLY,
        capture_on_authorize=FLAG,
    ),
    # No provider linkage at all (seed 004: 銀行振込・代金引換・外部決済).
    CapabilityRow("offline", "bank_transfer", "銀行振込", K.OFFLINE),
    CapabilityRow("offline", "cod", "代金引換", K.OFFLINE),
    CapabilityRow("offline", "external", "外部決済", K.OFFLINE),
)
