"""The vocabulary of the capability matrix: kinds, phases, verdicts, flags, rules and rows."""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from kessai.core.errors import InvalidInput
from kessai.payments.capabilities.windows import Window


class UnknownMethod(InvalidInput, ValueError):
    """No row for this provider × method type (or no such provider)."""

    code = "unknown_method"


class MethodKind(StrEnum):
    """What the payment core needs to know about a method."""

    CARD = "card"  # クレジットカード (都度課金/継続課金/リンクタイプ/3Dセキュア)
    DEFERRED = "deferred"  # 後払い / 掛け払い (売上 = 出荷報告: 発送完了日 + 配送伝票番号)
    WALLET = "wallet"  # PayPay, 楽天ペイ, LINE Pay, au PAY, Amazon Pay, メルペイ, Paidy …
    CARRIER = "carrier"  # キャリア決済, d払い (NTTドコモ)
    CVS = "cvs"  # コンビニ決済
    OFFLINE = "offline"  # 銀行振込, 代金引換, 外部決済: no provider linkage at all


class Phase(StrEnum):
    BEFORE_CAPTURE = "before_capture"  # オーソリ確定前
    AFTER_CAPTURE = "after_capture"  # オーソリ確定後

    @property
    def label(self) -> str:
        return "オーソリ確定前" if self is Phase.BEFORE_CAPTURE else "オーソリ確定後"


class Verdict(StrEnum):
    LINK = "link"  # call the provider
    LOCAL = "local"  # apply in kessai only, no provider call
    REFUSE = "refuse"  # refused before any call


class DecisionCode(StrEnum):
    """The stable machine codes a Decision carries (a StrEnum, so it compares equal to str)."""

    OK = "ok"
    LOCAL_ONLY = "local_only"
    NOT_SUPPORTED = "not_supported"
    FLAG_OFF = "flag_off"
    INCREASE_NOT_ALLOWED = "increase_not_allowed"
    AMOUNT_REQUIRED = "amount_required"
    WINDOW_EXPIRED = "window_expired"
    MISSING_TIMESTAMP = "missing_timestamp"
    TRACKING_LINKED = "tracking_linked"
    THREE_D_SECURE_EXCLUDED = "three_d_secure_excluded"
    UNPAID_NOT_LINKED = "unpaid_not_linked"
    CARRIER_NOT_SUPPORTED = "carrier_not_supported"
    CARRIER_UNKNOWN = "carrier_unknown"


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    code: str  # a DecisionCode value
    rule: str  # Japanese text naming the rule, quoting the seed


class Carrier(StrEnum):
    """The carriers behind a キャリア決済 row (the seed names them in parentheses)."""

    D_BARAI = "d_barai"  # d払い
    SOFTBANK_A = "softbank_a"  # ソフトバンクまとめて支払い(A)
    SOFTBANK_B = "softbank_b"  # ソフトバンクまとめて支払い(B)
    SOFTBANK_KEITAI = "softbank_keitai"  # ソフトバンクケータイ支払い
    AU_EASY = "au_easy"  # auかんたん決済

    @property
    def label(self) -> str:
        return CARRIER_LABELS[self]


CARRIER_LABELS: dict[Carrier, str] = {
    Carrier.D_BARAI: "d払い",
    Carrier.SOFTBANK_A: "ソフトバンクまとめて支払い(A)",
    Carrier.SOFTBANK_B: "ソフトバンクまとめて支払い(B)",
    Carrier.SOFTBANK_KEITAI: "ソフトバンクケータイ支払い",
    Carrier.AU_EASY: "auかんたん決済",
}


@dataclass(frozen=True)
class MethodFlags:
    """The per-payment-method flags of the seed (all default False)."""

    cancel_api_link: bool = False  # 取消API連携フラグ: 受注取消時に取り消し連携する
    terminate_api_link: bool = False  # 解約API連携フラグ: 受注取消時に解約連携する
    capture_on_authorize: bool = False  # オーソリ時確定フラグ
    post_capture_amount_change_link: bool = False  # オーソリ確定後金額変更連携フラグ
    gmops_cancel_link: bool = False  # GMOPS後払い キャンセルAPI連携フラグ
    gmops_modify_link: bool = False  # GMOPS後払い 取引修正API連携フラグ
    atobarai_com_modify_link: bool = False  # 後払い.com 取引修正連携 (連携する)
    reduce_link: bool = False  # 減額連携する (クロネコwebコレクト PayPay)
    security_code_required: bool = False  # クレジットカードセキュリティコードチェック 必須


@dataclass(frozen=True)
class PaymentContext:
    provider: str  # provider code (see PROVIDERS)
    method_type: str  # method type code (see ROWS)
    flags: MethodFlags
    now: datetime  # aware datetime (any tz; rules evaluate in Asia/Tokyo)
    ordered_at: datetime  # 注文日
    authorized_at: datetime | None = None  # 決済日時 (when the authorization succeeded)
    captured_at: datetime | None = None  # オーソリ確定日時
    paid: bool = True  # False = 未入金受注
    three_d_secure: bool = False  # the payment used 3Dセキュア
    tracking_linked: bool = False  # 伝票番号連携済
    old_amount: int | None = None
    new_amount: int | None = None
    carrier: Carrier | None = None  # which carrier, for キャリア決済 rows (None = unknown)


class CancelLinkage(StrEnum):
    """What switches a cancel linkage on."""

    API_FLAGS = "api_flags"  # 取消API連携フラグ または 解約API連携フラグ
    GMOPS_FLAG = "gmops_flag"  # GMOPS後払い キャンセルAPI連携フラグ
    DEFAULT = "default"  # 各種API連携フラグを利用せず、デフォルトでキャンセル連携できます


class AmountFlag(StrEnum):
    """The flag an amount-change row needs, named by its MethodFlags attribute."""

    GMOPS_MODIFY = "gmops_modify_link"
    ATOBARAI_COM_MODIFY = "atobarai_com_modify_link"
    REDUCE = "reduce_link"
    POST_CAPTURE = "post_capture_amount_change_link"

    @property
    def label(self) -> str:
        return AMOUNT_FLAG_LABELS[self]

    def enabled(self, flags: MethodFlags) -> bool:
        value: bool = getattr(flags, self.value)
        return value


AMOUNT_FLAG_LABELS: dict[AmountFlag, str] = {
    AmountFlag.GMOPS_MODIFY: "「GMOPS後払い 取引修正API連携フラグ:受注編集時に取引修正連携する」",
    AmountFlag.ATOBARAI_COM_MODIFY: "「後払い.com 取引修正連携」欄の「連携する」",
    AmountFlag.REDUCE: "「減額連携する」",
    AmountFlag.POST_CAPTURE: "「オーソリ確定後金額変更連携フラグ」",
}


class CaptureOnAuthorize(StrEnum):
    """§4 オーソリ同時確定."""

    NONE = "none"  # not listed
    FLAG = "flag"  # 「オーソリ時確定フラグ」にチェックを入れると同時にオーソリ確定
    ALWAYS = "always"  # デフォルトでオーソリしたタイミングにオーソリ確定 (KOMOJU)


class SecurityCode(StrEnum):
    """§5 セキュリティコードの入力."""

    NONE = "none"
    SUPPORTED = "supported"
    PCIDSS_ONLY = "pcidss_only"  # PCIDSS利用時のみ (GMO 継続課金)


@dataclass(frozen=True)
class CancelRule:
    """One listed row of §2 for one phase."""

    note: str = "-"  # 備考, verbatim
    linkage: CancelLinkage = CancelLinkage.API_FLAGS
    window: Window | None = None
    unpaid_local: bool = False  # 未入金受注をキャンセルした場合は連携しない


@dataclass(frozen=True)
class AmountRule:
    """One listed row of §3 for one phase."""

    note: str = "-"  # 備考, verbatim
    decrease_only: bool = False  # 減額のみ可能
    local_only: bool = False  # 金額変更時には連携せず(オーソリ確定時に確定)
    flag: AmountFlag | None = None  # the flag the 備考 says to select
    before_tracking_only: bool = False  # 伝票番号連携前のみ可能
    carriers: tuple[Carrier, ...] = ()  # non-empty: only these carriers
    window: Window | None = None


@dataclass(frozen=True)
class CapabilityRow:
    provider: str
    method_type: str
    name: str  # Japanese display name of the method
    kind: MethodKind
    cancel_before: CancelRule | None = None  # §2 オーソリ確定前 (None = not listed)
    cancel_after: CancelRule | None = None  # §2 オーソリ確定後
    amount_before: AmountRule | None = None  # §3 オーソリ確定前
    amount_after: AmountRule | None = None  # §3 オーソリ確定後
    capture_on_authorize: CaptureOnAuthorize = CaptureOnAuthorize.NONE  # §4
    security_code: SecurityCode = SecurityCode.NONE  # §5
    carriers: tuple[Carrier, ...] = ()  # キャリア決済: the carriers the seed names
    three_d_secure_method: bool = False  # the method itself is 3Dセキュア
    cancel_excluded_with_3ds: bool = False  # 3Dセキュア認証を行う場合はキャンセル連携の対象外
    # A carrier's own cancel deadline, whichever gateway carries it (d払い via GMO PG keeps
    # NTTドコモ's 翌々月末20時): applies in both phases when the payment names that carrier.
    carrier_windows: tuple[tuple[Carrier, Window], ...] = ()
    note: str = ""  # other 備考 (e.g. §4 Smartpay)

    def cancel_rule(self, phase: Phase) -> CancelRule | None:
        return self.cancel_before if phase is Phase.BEFORE_CAPTURE else self.cancel_after

    def amount_rule(self, phase: Phase) -> AmountRule | None:
        return self.amount_before if phase is Phase.BEFORE_CAPTURE else self.amount_after
