"""Seed 003's capability matrix, row by row, written out by hand (never derived from ROWS)."""

import re
from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from kessai.payments.capabilities import (
    AUTHORIZATION_DAYS,
    PROVIDERS,
    ROWS,
    Carrier,
    Decision,
    MethodFlags,
    MethodKind,
    PaymentContext,
    Phase,
    UnknownMethod,
    Verdict,
    accepts_security_code,
    authorization_days,
    authorization_days_for,
    authorization_expired,
    can_cancel,
    can_change_amount,
    captures_on_authorize,
    requires_security_code,
    row,
)

JST = ZoneInfo("Asia/Tokyo")
BEFORE = Phase.BEFORE_CAPTURE
AFTER = Phase.AFTER_CAPTURE
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def jst(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=JST)


ALL_FLAGS = MethodFlags(
    cancel_api_link=True,
    terminate_api_link=True,
    capture_on_authorize=True,
    post_capture_amount_change_link=True,
    gmops_cancel_link=True,
    gmops_modify_link=True,
    atobarai_com_modify_link=True,
    reduce_link=True,
    security_code_required=True,
)
NO_FLAGS = MethodFlags()
NOW = jst(2024, 5, 10, 12, 0)
ORDERED_AT = jst(2024, 5, 1, 10, 0)
AUTHORIZED_AT = jst(2024, 5, 1, 10, 5)
CAPTURED_AT = jst(2024, 5, 2, 10, 0)


def ctx(
    provider: str,
    method_type: str,
    *,
    flags: MethodFlags = ALL_FLAGS,
    now: datetime = NOW,
    ordered_at: datetime = ORDERED_AT,
    authorized_at: datetime | None = AUTHORIZED_AT,
    captured_at: datetime | None = CAPTURED_AT,
    paid: bool = True,
    three_d_secure: bool = False,
    tracking_linked: bool = False,
    old_amount: int | None = 10000,
    new_amount: int | None = 8000,
    carrier: Carrier | None = None,
) -> PaymentContext:
    return PaymentContext(
        provider=provider,
        method_type=method_type,
        flags=flags,
        now=now,
        ordered_at=ordered_at,
        authorized_at=authorized_at,
        captured_at=captured_at,
        paid=paid,
        three_d_secure=three_d_secure,
        tracking_linked=tracking_linked,
        old_amount=old_amount,
        new_amount=new_amount,
        carrier=carrier,
    )


def assert_decision(d: Decision, verdict: Verdict, code: str) -> None:
    assert (d.verdict, d.code) == (verdict, code), d.rule
    assert d.rule.strip()
    assert JAPANESE.search(d.rule), d.rule


# --- every row: (provider, method_type, kind) -----------------------------------------------

C, D, W, R, V, X = (  # X: offline
    MethodKind.CARD,
    MethodKind.DEFERRED,
    MethodKind.WALLET,
    MethodKind.CARRIER,
    MethodKind.CVS,
    MethodKind.OFFLINE,
)

ALL_ROWS: list[tuple[str, str, MethodKind]] = [
    ("smbc_finance", "atobarai", D),
    ("smbc_gmo", "credit_card", C),
    ("veritrans3g", "credit_card", C),
    ("veritrans3g", "carrier", R),
    ("veritrans3g", "unionpay", W),
    ("veritrans3g", "recruit", W),
    ("veritrans4g", "credit_card", C),
    ("veritrans4g", "rakuten_pay", W),
    ("gmo_pg", "credit_card", C),
    ("gmo_pg", "credit_card_recurring", C),
    ("gmo_pg", "credit_card_link", C),
    ("gmo_pg", "rakuten_pay", W),
    ("gmo_pg", "rakuten_pay_v2", W),
    ("gmo_pg", "recruit", W),
    ("gmo_pg", "line_pay", W),
    ("gmo_pg", "carrier", R),
    ("gmo_pg", "epos", W),
    ("gmo_pg", "paypay", W),
    ("gmo_pg", "au_pay", W),
    ("gmo_ps", "atobarai", D),
    ("gmo_ps", "kakebarai", D),
    ("gmo_ps", "atokara", D),
    ("catchball", "atobarai", D),
    ("sbps", "credit_card", C),
    ("sbps", "carrier", R),
    ("sbps", "paypay", W),
    ("sbps", "au_pay", W),
    ("sbps", "epos", W),
    ("sony_payment", "credit_card", C),
    ("yamato_credit_finance", "kakebarai", D),
    ("yamato", "credit_card", C),
    ("yamato", "paypay", W),
    ("yamato", "atobarai", D),
    ("yamato", "atobarai_smartphone", D),
    ("paygent", "credit_card", C),
    ("paygent", "carrier", R),
    ("paygent", "paidy", W),
    ("paygent", "paypay", W),
    ("zeus", "credit_card", C),
    ("paidy", "paidy", W),
    ("paidy", "paidy_v2", W),
    ("net_protections", "np_atobarai", D),
    ("net_protections", "np_atobarai_instant", D),
    ("net_protections", "np_atobarai_instant_common", D),
    ("net_protections", "np_kakebarai", D),
    ("net_protections", "atone_monthly_cvs", D),
    ("net_protections", "atone_monthly_cvs_common", D),
    ("net_protections", "atone_each", D),
    ("amazon", "amazon_pay", W),
    ("amazon", "amazon_pay_v2", W),
    ("paypal", "paypal", W),
    ("resona", "credit_card", C),
    ("resona", "credit_card_3ds", C),
    ("merpay", "merpay", W),
    ("docomo", "d_barai", R),
    ("rakuten_card", "credit_card", C),
    ("rakuten_card", "cvs", V),
    ("smartpay", "smartpay", W),
    ("komoju", "wechat_pay", W),
    ("komoju", "alipay", W),
    ("paypay", "paypay", W),  # kessai's own row: PayPay contracted directly
    ("offline", "bank_transfer", X),
    ("offline", "cod", X),
    ("offline", "external", X),
]
# GMO PG's pay-later methods (issue #12), rows beyond the seed's matrix.
BEYOND_SEED = [("gmo_pg", "cvs", V), ("gmo_pg", "pay_easy", V), ("gmo_pg", "bank_transfer", V)]


def test_rows_are_exactly_the_seed_rows_each_once() -> None:
    keys = [(r.provider, r.method_type) for r in ROWS]
    assert len(keys) == len(set(keys))
    assert set(keys) == {(p, m) for p, m, _ in ALL_ROWS + BEYOND_SEED}
    assert len(ROWS) == len(ALL_ROWS) + len(BEYOND_SEED)


@pytest.mark.parametrize(("provider", "method_type", "kind"), ALL_ROWS)
def test_row_kind_name_and_provider(provider: str, method_type: str, kind: MethodKind) -> None:
    r = row(provider, method_type)
    assert isinstance(r.kind, MethodKind)
    assert r.kind is kind
    assert r.name.strip()
    assert provider in PROVIDERS
    assert JAPANESE.search(PROVIDERS[provider]) or PROVIDERS[provider].isascii()


def test_display_names_quote_the_seed() -> None:
    assert row("gmo_pg", "credit_card_recurring").name == "クレジットカード(継続課金)"
    assert row("gmo_pg", "credit_card_link").name == "クレジットカード(リンクタイプ)"
    assert row("yamato", "paypay").name == "クロネコwebコレクト PayPay"
    assert row("paidy", "paidy_v2").name == "Paidy翌月払い(コンビニ/銀行)ver.2"
    assert row("net_protections", "np_atobarai_instant_common").name == (
        "NP後払い(NPコネクトプロ/即時与信:共通インターフェース)"
    )
    assert row("rakuten_card", "cvs").name.startswith("コンビニ決済(セブンイレブン")
    assert PROVIDERS["gmo_pg"] == "GMOペイメントゲートウェイ"
    assert PROVIDERS["sony_payment"] == "ソニーペイメントサービス(e-SCOTT Smart)"


def test_carriers_named_by_the_seed() -> None:
    assert row("gmo_pg", "carrier").carriers == (
        Carrier.D_BARAI,
        Carrier.SOFTBANK_B,
        Carrier.AU_EASY,
    )
    assert row("sbps", "carrier").carriers == (
        Carrier.D_BARAI,
        Carrier.SOFTBANK_KEITAI,
        Carrier.AU_EASY,
    )
    assert row("veritrans3g", "carrier").carriers == (
        Carrier.D_BARAI,
        Carrier.SOFTBANK_A,
        Carrier.SOFTBANK_B,
        Carrier.AU_EASY,
    )
    assert row("paygent", "carrier").carriers == (Carrier.AU_EASY,)


@pytest.mark.parametrize(
    ("provider", "method_type"),
    [("gmo_pg", "cod"), ("nowhere", "credit_card"), ("offline", "credit_card")],
)
def test_unknown_method_is_a_value_error_in_japanese(provider: str, method_type: str) -> None:
    with pytest.raises(UnknownMethod) as caught:
        row(provider, method_type)
    assert isinstance(caught.value, ValueError)
    assert JAPANESE.search(str(caught.value))
    with pytest.raises(UnknownMethod):
        can_cancel(ctx(provider, method_type), BEFORE)
    with pytest.raises(UnknownMethod):
        can_change_amount(ctx(provider, method_type), AFTER)


# --- §2 キャンセル連携 -------------------------------------------------------------------------
# before / after: "link" = listed (every flag on, paid, inside every window),
# "not" = not listed, "local" = no provider at all, "3ds" = りそな 3Dセキュア exclusion.
# linkage: "api" (取消/解約API連携フラグ), "gmops" (GMOPS後払い キャンセルAPI連携フラグ),
# "default" (デフォルトでキャンセル連携).

CANCEL: list[tuple[str, str, str, str, str]] = [
    ("smbc_finance", "atobarai", "link", "not", "api"),
    ("smbc_gmo", "credit_card", "link", "link", "api"),
    ("veritrans3g", "credit_card", "link", "link", "api"),
    ("veritrans3g", "carrier", "not", "not", "api"),
    ("veritrans3g", "unionpay", "not", "not", "api"),
    ("veritrans3g", "recruit", "not", "not", "api"),
    ("veritrans4g", "credit_card", "link", "link", "api"),
    ("veritrans4g", "rakuten_pay", "link", "not", "api"),
    ("gmo_pg", "credit_card", "link", "link", "api"),
    ("gmo_pg", "credit_card_recurring", "link", "link", "api"),
    ("gmo_pg", "credit_card_link", "link", "link", "api"),
    ("gmo_pg", "rakuten_pay", "link", "link", "api"),
    ("gmo_pg", "rakuten_pay_v2", "link", "link", "api"),
    ("gmo_pg", "recruit", "not", "not", "api"),
    ("gmo_pg", "line_pay", "link", "link", "api"),
    ("gmo_pg", "carrier", "link", "link", "api"),
    ("gmo_pg", "epos", "not", "link", "api"),
    ("gmo_pg", "paypay", "link", "link", "api"),
    ("gmo_pg", "au_pay", "link", "link", "api"),
    ("gmo_ps", "atobarai", "link", "not", "gmops"),
    ("gmo_ps", "kakebarai", "link", "not", "api"),
    ("gmo_ps", "atokara", "link", "not", "default"),
    ("catchball", "atobarai", "link", "not", "api"),
    ("sbps", "credit_card", "link", "link", "api"),
    ("sbps", "carrier", "link", "link", "api"),
    ("sbps", "paypay", "link", "link", "api"),
    ("sbps", "au_pay", "link", "link", "api"),
    ("sbps", "epos", "link", "link", "api"),
    ("sony_payment", "credit_card", "link", "link", "api"),
    ("yamato_credit_finance", "kakebarai", "link", "not", "api"),
    ("yamato", "credit_card", "link", "link", "api"),
    ("yamato", "paypay", "link", "link", "api"),
    ("yamato", "atobarai", "link", "not", "api"),
    ("yamato", "atobarai_smartphone", "link", "not", "api"),
    ("paygent", "credit_card", "link", "link", "api"),
    ("paygent", "carrier", "not", "not", "api"),
    ("paygent", "paidy", "link", "link", "api"),
    ("paygent", "paypay", "link", "link", "api"),
    ("zeus", "credit_card", "link", "link", "api"),
    ("paidy", "paidy", "link", "not", "api"),
    ("paidy", "paidy_v2", "link", "link", "api"),
    ("net_protections", "np_atobarai", "link", "link", "api"),
    ("net_protections", "np_atobarai_instant", "link", "link", "api"),
    ("net_protections", "np_atobarai_instant_common", "link", "link", "api"),
    ("net_protections", "np_kakebarai", "link", "link", "api"),
    ("net_protections", "atone_monthly_cvs", "link", "link", "api"),
    ("net_protections", "atone_monthly_cvs_common", "link", "link", "api"),
    ("net_protections", "atone_each", "link", "link", "api"),
    ("amazon", "amazon_pay", "link", "not", "api"),
    ("amazon", "amazon_pay_v2", "link", "not", "api"),
    ("paypal", "paypal", "not", "not", "api"),
    ("resona", "credit_card", "link", "link", "api"),
    ("resona", "credit_card_3ds", "3ds", "3ds", "api"),
    ("merpay", "merpay", "link", "link", "api"),
    ("docomo", "d_barai", "link", "link", "api"),
    ("rakuten_card", "credit_card", "link", "link", "api"),
    ("rakuten_card", "cvs", "link", "not", "api"),
    ("smartpay", "smartpay", "link", "link", "api"),
    ("komoju", "wechat_pay", "link", "link", "default"),
    ("komoju", "alipay", "link", "link", "default"),
    ("paypay", "paypay", "link", "link", "api"),
    ("offline", "bank_transfer", "local", "local", "api"),
    ("offline", "cod", "local", "local", "api"),
    ("offline", "external", "local", "local", "api"),
]

EXPECTED = {
    "link": (Verdict.LINK, "ok"),
    "not": (Verdict.REFUSE, "not_supported"),
    "local": (Verdict.LOCAL, "local_only"),
    "3ds": (Verdict.REFUSE, "three_d_secure_excluded"),
}


def test_cancel_table_covers_every_row() -> None:
    assert {(p, m) for p, m, *_ in CANCEL} == {(p, m) for p, m, _ in ALL_ROWS}


@pytest.mark.parametrize(("provider", "method_type", "before", "after", "linkage"), CANCEL)
def test_cancel_with_flags_on(
    provider: str, method_type: str, before: str, after: str, linkage: str
) -> None:
    for phase, expected in ((BEFORE, before), (AFTER, after)):
        d = can_cancel(ctx(provider, method_type), phase)
        assert_decision(d, *EXPECTED[expected])
        assert PROVIDERS[provider] in d.rule


@pytest.mark.parametrize(("provider", "method_type", "before", "after", "linkage"), CANCEL)
def test_cancel_with_flags_off(
    provider: str, method_type: str, before: str, after: str, linkage: str
) -> None:
    for phase, listed in ((BEFORE, before), (AFTER, after)):
        d = can_cancel(ctx(provider, method_type, flags=NO_FLAGS), phase)
        if listed == "link" and linkage != "default":
            assert_decision(d, Verdict.REFUSE, "flag_off")
            gmops = "GMOPS後払い キャンセルAPI連携フラグ"
            assert (gmops if linkage == "gmops" else "取消API連携フラグ") in d.rule
            assert "強制取消処理" in d.rule
            assert "管理画面" in d.rule
        else:
            assert_decision(d, *EXPECTED[listed])
        assert PROVIDERS[provider] in d.rule


@pytest.mark.parametrize(
    "flags",
    [MethodFlags(cancel_api_link=True), MethodFlags(terminate_api_link=True)],
)
def test_either_cancel_flag_is_enough(flags: MethodFlags) -> None:
    for phase in (BEFORE, AFTER):
        assert can_cancel(ctx("sbps", "credit_card", flags=flags), phase).verdict is Verdict.LINK


def test_gmops_atobarai_needs_its_own_cancel_flag() -> None:
    api_only = MethodFlags(cancel_api_link=True, terminate_api_link=True)
    d = can_cancel(ctx("gmo_ps", "atobarai", flags=api_only), BEFORE)
    assert_decision(d, Verdict.REFUSE, "flag_off")
    assert "GMOPS後払い キャンセルAPI連携フラグ" in d.rule
    d = can_cancel(ctx("gmo_ps", "atobarai", flags=MethodFlags(gmops_cancel_link=True)), BEFORE)
    assert_decision(d, Verdict.LINK, "ok")
    # GMO掛け払い (same provider) uses the ordinary flags
    d = can_cancel(ctx("gmo_ps", "kakebarai", flags=MethodFlags(gmops_cancel_link=True)), BEFORE)
    assert_decision(d, Verdict.REFUSE, "flag_off")


@pytest.mark.parametrize(
    ("provider", "method_type", "phases"),
    [
        ("komoju", "wechat_pay", (BEFORE, AFTER)),
        ("komoju", "alipay", (BEFORE, AFTER)),
        ("gmo_ps", "atokara", (BEFORE,)),
    ],
)
def test_default_cancel_links_without_flags(
    provider: str, method_type: str, phases: tuple[Phase, ...]
) -> None:
    for phase in phases:
        d = can_cancel(ctx(provider, method_type, flags=NO_FLAGS), phase)
        assert_decision(d, Verdict.LINK, "ok")
        assert "デフォルト" in d.rule


def test_atokara_after_capture_is_not_listed() -> None:
    d = can_cancel(ctx("gmo_ps", "atokara"), AFTER)
    assert_decision(d, Verdict.REFUSE, "not_supported")
    assert "アトカラ(GMOペイメントサービス)" in d.rule


def test_resona_three_d_secure_is_excluded() -> None:
    for phase in (BEFORE, AFTER):
        d = can_cancel(ctx("resona", "credit_card", three_d_secure=True), phase)
        assert_decision(d, Verdict.REFUSE, "three_d_secure_excluded")
        assert "3Dセキュア" in d.rule
        assert "りそなPayResort" in d.rule
        assert can_cancel(ctx("resona", "credit_card"), phase).verdict is Verdict.LINK
    # 3Dセキュア on another provider's card changes nothing
    assert can_cancel(ctx("sbps", "credit_card", three_d_secure=True), BEFORE).verdict is (
        Verdict.LINK
    )


def test_sbps_paypay_unpaid_cancel_is_not_linked() -> None:
    for flags in (ALL_FLAGS, NO_FLAGS):
        d = can_cancel(ctx("sbps", "paypay", flags=flags, paid=False), BEFORE)
        assert_decision(d, Verdict.LOCAL, "unpaid_not_linked")
        assert "未入金受注をキャンセルした場合は連携しない" in d.rule
    assert_decision(can_cancel(ctx("sbps", "paypay"), BEFORE), Verdict.LINK, "ok")
    # the 備考 is only on the オーソリ確定前 row; other PayPay rows ignore `paid`
    assert_decision(can_cancel(ctx("sbps", "paypay", paid=False), AFTER), Verdict.LINK, "ok")
    assert_decision(can_cancel(ctx("gmo_pg", "paypay", paid=False), BEFORE), Verdict.LINK, "ok")


def test_carrier_outside_the_row_is_refused() -> None:
    d = can_cancel(ctx("sbps", "carrier", carrier=Carrier.SOFTBANK_B), BEFORE)
    assert_decision(d, Verdict.REFUSE, "carrier_not_supported")
    d = can_cancel(ctx("sbps", "carrier", carrier=Carrier.SOFTBANK_KEITAI), BEFORE)
    assert_decision(d, Verdict.LINK, "ok")


# --- §2 time windows: (provider, method_type, phase, context fields, now inside, now past) ---

CANCEL_WINDOWS: list[tuple[str, str, Phase, dict[str, datetime | None], datetime, datetime]] = [
    # 楽天ペイ(GMO PG) 注文日の5ヵ月後の末日を超えるとエラー: 2023-09-15 -> 2024-02-29 (leap)
    (
        "gmo_pg",
        "rakuten_pay",
        BEFORE,
        {"ordered_at": jst(2023, 9, 15, 10, 0)},
        jst(2024, 2, 29, 23, 59, 59, 999999),
        jst(2024, 3, 1, 0, 0),
    ),
    # 2022-09-30 -> 2023-02-28 (not a leap year)
    (
        "gmo_pg",
        "rakuten_pay",
        BEFORE,
        {"ordered_at": jst(2022, 9, 30, 23, 0)},
        jst(2023, 2, 28, 23, 59),
        jst(2023, 3, 1, 0, 0),
    ),
    # 2024-01-31 -> 2024-06-30
    (
        "gmo_pg",
        "rakuten_pay",
        BEFORE,
        {"ordered_at": jst(2024, 1, 31, 12, 0)},
        jst(2024, 6, 30, 23, 59),
        jst(2024, 7, 1, 0, 0),
    ),
    # 2023-12-31 15:30 UTC is 2024-01-01 in Tokyo -> 2024-06-30 (not 2024-05-31)
    (
        "gmo_pg",
        "rakuten_pay",
        BEFORE,
        {"ordered_at": datetime(2023, 12, 31, 15, 30, tzinfo=UTC)},
        datetime(2024, 6, 30, 14, 59, tzinfo=UTC),
        datetime(2024, 6, 30, 15, 0, tzinfo=UTC),
    ),
    # 楽天ペイ(GMO PG) オーソリ確定日から翌月末日を超えるとエラー: 2024-01-31 -> 2024-02-29
    (
        "gmo_pg",
        "rakuten_pay",
        AFTER,
        {"captured_at": jst(2024, 1, 31, 18, 0)},
        jst(2024, 2, 29, 23, 59),
        jst(2024, 3, 1, 0, 0),
    ),
    # across the year: 2024-12-15 -> 2025-01-31
    (
        "gmo_pg",
        "rakuten_pay",
        AFTER,
        {"captured_at": jst(2024, 12, 15, 9, 0)},
        jst(2025, 1, 31, 23, 59),
        jst(2025, 2, 1, 0, 0),
    ),
    # 2024-01-31 15:30 UTC is 2024-02-01 in Tokyo -> 2024-03-31
    (
        "gmo_pg",
        "rakuten_pay",
        AFTER,
        {"captured_at": datetime(2024, 1, 31, 15, 30, tzinfo=UTC)},
        jst(2024, 3, 31, 23, 59),
        jst(2024, 4, 1, 0, 0),
    ),
    # PayPay(GMO PG) 決済日時から30日: 2024-02-01 10:00 -> 2024-03-02 10:00 (leap February)
    (
        "gmo_pg",
        "paypay",
        BEFORE,
        {"authorized_at": jst(2024, 2, 1, 10, 0)},
        jst(2024, 3, 2, 10, 0),
        jst(2024, 3, 2, 10, 1),
    ),
    # PayPay(GMO PG) 決済日時から180日: 2024-01-01 09:00 -> 2024-06-29 09:00
    (
        "gmo_pg",
        "paypay",
        AFTER,
        {"authorized_at": jst(2024, 1, 1, 9, 0)},
        jst(2024, 6, 29, 9, 0),
        jst(2024, 6, 29, 9, 1),
    ),
    # au PAY(GMO PG) 決済日時から90日: 2023-12-01 09:00 -> 2024-02-29 09:00
    (
        "gmo_pg",
        "au_pay",
        BEFORE,
        {"authorized_at": jst(2023, 12, 1, 9, 0)},
        jst(2024, 2, 29, 9, 0),
        jst(2024, 2, 29, 9, 1),
    ),
    (
        "gmo_pg",
        "au_pay",
        AFTER,
        {"authorized_at": jst(2023, 12, 1, 9, 0)},
        jst(2024, 2, 29, 9, 0),
        jst(2024, 2, 29, 9, 1),
    ),
    # クロネコwebコレクト PayPay 決済日時から30日: 2024-02-20 15:00 -> 2024-03-21 15:00
    (
        "yamato",
        "paypay",
        BEFORE,
        {"authorized_at": jst(2024, 2, 20, 15, 0)},
        jst(2024, 3, 21, 15, 0),
        jst(2024, 3, 21, 15, 1),
    ),
    (
        "yamato",
        "paypay",
        AFTER,
        {"authorized_at": jst(2024, 2, 20, 15, 0)},
        jst(2024, 3, 21, 15, 0),
        jst(2024, 3, 21, 15, 1),
    ),
    # d払い 決済日時の翌々月末20時を過ぎるとエラー: 2023-12-15 -> 2024-02-29 20:00
    (
        "docomo",
        "d_barai",
        BEFORE,
        {"authorized_at": jst(2023, 12, 15, 11, 0)},
        jst(2024, 2, 29, 20, 0),
        jst(2024, 2, 29, 20, 1),
    ),
    (
        "docomo",
        "d_barai",
        AFTER,
        {"authorized_at": jst(2023, 12, 15, 11, 0)},
        jst(2024, 2, 29, 20, 0),
        jst(2024, 2, 29, 20, 1),
    ),
    # 2024-01-31 15:30 UTC is 2024-02-01 in Tokyo -> 2024-04-30 20:00 JST (= 11:00 UTC)
    (
        "docomo",
        "d_barai",
        AFTER,
        {"authorized_at": datetime(2024, 1, 31, 15, 30, tzinfo=UTC)},
        datetime(2024, 4, 30, 11, 0, tzinfo=UTC),
        datetime(2024, 4, 30, 11, 1, tzinfo=UTC),
    ),
    # across the year: 2024-11-10 -> 2025-01-31 20:00
    (
        "docomo",
        "d_barai",
        BEFORE,
        {"authorized_at": jst(2024, 11, 10, 8, 0)},
        jst(2025, 1, 31, 20, 0),
        jst(2025, 1, 31, 20, 0, 1),
    ),
    # GMO PG card, 月跨りの返品: 決済日時から90日 (2024-01-10 12:00 -> 2024-04-09 12:00)
    (
        "gmo_pg",
        "credit_card",
        AFTER,
        {"authorized_at": jst(2024, 1, 10, 12, 0), "captured_at": jst(2024, 1, 11, 12, 0)},
        jst(2024, 4, 9, 12, 0),
        jst(2024, 4, 9, 12, 1),
    ),
    # 楽天カード オーソリ確定日時から170日: 2024-01-10 12:00 -> 2024-06-28 12:00
    (
        "rakuten_card",
        "credit_card",
        AFTER,
        {"authorized_at": jst(2024, 1, 9, 12, 0), "captured_at": jst(2024, 1, 10, 12, 0)},
        jst(2024, 6, 28, 12, 0),
        jst(2024, 6, 28, 12, 1),
    ),
    # before オーソリ確定 the 170 days count from 決済日時 (no オーソリ確定日時 yet)
    (
        "rakuten_card",
        "credit_card",
        BEFORE,
        {"authorized_at": jst(2024, 1, 10, 12, 0), "captured_at": None},
        jst(2024, 6, 28, 12, 0),
        jst(2024, 6, 28, 12, 1),
    ),
]


@pytest.mark.parametrize(
    ("provider", "method_type", "phase", "fields", "inside", "past"), CANCEL_WINDOWS
)
def test_cancel_windows(
    provider: str,
    method_type: str,
    phase: Phase,
    fields: dict[str, datetime | None],
    inside: datetime,
    past: datetime,
) -> None:
    base = replace(ctx(provider, method_type), **fields)  # type: ignore[arg-type]
    assert_decision(can_cancel(replace(base, now=inside), phase), Verdict.LINK, "ok")
    d = can_cancel(replace(base, now=past), phase)
    assert_decision(d, Verdict.REFUSE, "window_expired")
    assert PROVIDERS[provider] in d.rule
    assert "を超えるとエラー" in d.rule or "を過ぎるとエラー" in d.rule
    assert "強制取消処理" in d.rule


def test_cancel_window_rule_quotes_the_seed() -> None:
    d = can_cancel(
        ctx("gmo_pg", "paypay", authorized_at=jst(2024, 1, 1, 0, 0), now=jst(2024, 5, 1, 0, 0)),
        BEFORE,
    )
    assert d.rule.startswith("PayPay(GMOペイメントゲートウェイ): 決済日時から30日を超えるとエラー")


@pytest.mark.parametrize(
    ("provider", "method_type", "phase", "missing"),
    [
        ("gmo_pg", "paypay", BEFORE, "authorized_at"),
        ("gmo_pg", "au_pay", AFTER, "authorized_at"),
        ("yamato", "paypay", BEFORE, "authorized_at"),
        ("docomo", "d_barai", AFTER, "authorized_at"),
        ("gmo_pg", "rakuten_pay", AFTER, "captured_at"),
        ("rakuten_card", "credit_card", AFTER, "captured_at"),
        ("rakuten_card", "credit_card", BEFORE, "authorized_at"),
    ],
)
def test_window_without_its_timestamp_is_refused(
    provider: str, method_type: str, phase: Phase, missing: str
) -> None:
    base = ctx(provider, method_type)
    if missing == "authorized_at":
        base = replace(base, authorized_at=None)
    else:
        base = replace(base, captured_at=None)
    d = can_cancel(base, phase)
    assert_decision(d, Verdict.REFUSE, "missing_timestamp")
    assert PROVIDERS[provider] in d.rule


def test_flag_check_comes_before_the_window() -> None:
    late = ctx("gmo_pg", "paypay", flags=NO_FLAGS, now=jst(2025, 1, 1, 0, 0))
    assert can_cancel(late, BEFORE).code == "flag_off"


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="タイムゾーン"):
        can_cancel(ctx("gmo_pg", "paypay", now=datetime(2024, 5, 1, 12, 0)), BEFORE)


# --- §3 金額変更連携 ---------------------------------------------------------------------------
# before / after with every flag on, a decrease 10000 -> 8000, 伝票番号 not yet linked,
# carrier auかんたん決済 on キャリア決済 rows: "link", "not" (not listed), "local".

AMOUNT: list[tuple[str, str, str, str]] = [
    ("smbc_finance", "atobarai", "not", "not"),
    ("smbc_gmo", "credit_card", "link", "link"),
    ("veritrans3g", "credit_card", "link", "not"),
    ("veritrans3g", "carrier", "not", "not"),
    ("veritrans3g", "unionpay", "not", "not"),
    ("veritrans3g", "recruit", "not", "not"),
    ("veritrans4g", "credit_card", "link", "not"),
    ("veritrans4g", "rakuten_pay", "not", "link"),
    ("gmo_pg", "credit_card", "link", "link"),
    ("gmo_pg", "credit_card_recurring", "link", "link"),
    ("gmo_pg", "credit_card_link", "link", "link"),
    ("gmo_pg", "rakuten_pay", "not", "not"),
    ("gmo_pg", "rakuten_pay_v2", "link", "link"),
    ("gmo_pg", "recruit", "not", "not"),
    ("gmo_pg", "line_pay", "not", "not"),
    ("gmo_pg", "carrier", "not", "link"),
    ("gmo_pg", "epos", "not", "link"),
    ("gmo_pg", "paypay", "not", "not"),
    ("gmo_pg", "au_pay", "not", "not"),
    ("gmo_ps", "atobarai", "link", "not"),
    ("gmo_ps", "kakebarai", "link", "not"),
    ("gmo_ps", "atokara", "link", "link"),
    ("catchball", "atobarai", "link", "link"),
    ("sbps", "credit_card", "link", "link"),
    ("sbps", "carrier", "not", "not"),
    ("sbps", "paypay", "not", "not"),
    ("sbps", "au_pay", "not", "not"),
    ("sbps", "epos", "link", "link"),
    ("sony_payment", "credit_card", "not", "not"),
    ("yamato_credit_finance", "kakebarai", "not", "not"),
    ("yamato", "credit_card", "link", "not"),
    ("yamato", "paypay", "link", "link"),
    ("yamato", "atobarai", "not", "not"),
    ("yamato", "atobarai_smartphone", "not", "not"),
    ("paygent", "credit_card", "link", "link"),
    ("paygent", "carrier", "not", "not"),
    ("paygent", "paidy", "not", "not"),
    ("paygent", "paypay", "not", "not"),
    ("zeus", "credit_card", "not", "not"),
    ("paidy", "paidy", "not", "not"),
    ("paidy", "paidy_v2", "not", "not"),
    ("net_protections", "np_atobarai", "link", "not"),
    ("net_protections", "np_atobarai_instant", "link", "not"),
    ("net_protections", "np_atobarai_instant_common", "link", "not"),
    ("net_protections", "np_kakebarai", "link", "not"),
    ("net_protections", "atone_monthly_cvs", "link", "link"),
    ("net_protections", "atone_monthly_cvs_common", "link", "link"),
    ("net_protections", "atone_each", "link", "link"),
    ("amazon", "amazon_pay", "local", "not"),
    ("amazon", "amazon_pay_v2", "local", "not"),
    ("paypal", "paypal", "not", "not"),
    ("resona", "credit_card", "not", "not"),
    ("resona", "credit_card_3ds", "not", "not"),
    ("merpay", "merpay", "local", "not"),
    ("docomo", "d_barai", "link", "link"),
    ("rakuten_card", "credit_card", "link", "link"),
    ("rakuten_card", "cvs", "not", "not"),
    ("smartpay", "smartpay", "not", "not"),
    ("komoju", "wechat_pay", "not", "not"),
    ("komoju", "alipay", "not", "not"),
    ("paypay", "paypay", "link", "link"),  # 減額のみ: Update a payment authorization / 返金
    ("offline", "bank_transfer", "local", "not"),
    ("offline", "cod", "local", "not"),
    ("offline", "external", "local", "not"),
]


def amount_ctx(provider: str, method_type: str, **fields: object) -> PaymentContext:
    carrier = Carrier.AU_EASY if method_type == "carrier" else None
    return replace(ctx(provider, method_type, carrier=carrier), **fields)  # type: ignore[arg-type]


def test_amount_table_covers_every_row() -> None:
    assert {(p, m) for p, m, *_ in AMOUNT} == {(p, m) for p, m, _ in ALL_ROWS}


@pytest.mark.parametrize(("provider", "method_type", "before", "after"), AMOUNT)
def test_amount_change(provider: str, method_type: str, before: str, after: str) -> None:
    for phase, expected in ((BEFORE, before), (AFTER, after)):
        d = can_change_amount(amount_ctx(provider, method_type), phase)
        assert_decision(d, *EXPECTED[expected])
        assert PROVIDERS[provider] in d.rule


@pytest.mark.parametrize(
    ("provider", "method_type"),
    [
        ("smbc_finance", "atobarai"),
        ("gmo_ps", "atobarai"),
        ("net_protections", "np_atobarai"),
        ("yamato", "atobarai"),
        ("offline", "bank_transfer"),
        ("offline", "cod"),
        ("offline", "external"),
    ],
)
def test_no_amount_change_after_capture_quotes_seed_004(provider: str, method_type: str) -> None:
    d = can_change_amount(amount_ctx(provider, method_type), AFTER)
    assert_decision(d, Verdict.REFUSE, "not_supported")
    assert "売上完了後に金額修正ができない" in d.rule


DECREASE_ONLY: list[tuple[str, str, Phase]] = [
    ("veritrans4g", "rakuten_pay", AFTER),
    ("gmo_pg", "epos", AFTER),
    ("gmo_ps", "atokara", AFTER),
    ("sbps", "epos", BEFORE),
    ("sbps", "epos", AFTER),
    ("yamato", "paypay", BEFORE),
    ("yamato", "paypay", AFTER),
    ("amazon", "amazon_pay", BEFORE),
    ("amazon", "amazon_pay_v2", BEFORE),
    ("merpay", "merpay", BEFORE),
]


@pytest.mark.parametrize(("provider", "method_type", "phase"), DECREASE_ONLY)
def test_decrease_only(provider: str, method_type: str, phase: Phase) -> None:
    up = can_change_amount(amount_ctx(provider, method_type, new_amount=12000), phase)
    assert_decision(up, Verdict.REFUSE, "increase_not_allowed")
    assert "減額のみ可能" in up.rule
    assert PROVIDERS[provider] in up.rule
    same = can_change_amount(amount_ctx(provider, method_type, new_amount=10000), phase)
    assert same.verdict is not Verdict.REFUSE
    unknown = can_change_amount(amount_ctx(provider, method_type, old_amount=None), phase)
    assert_decision(unknown, Verdict.REFUSE, "amount_required")


@pytest.mark.parametrize(
    ("provider", "method_type", "phase"),
    [
        ("gmo_pg", "credit_card", BEFORE),
        ("gmo_pg", "credit_card", AFTER),
        ("gmo_ps", "atokara", BEFORE),
        ("net_protections", "atone_each", AFTER),
        ("docomo", "d_barai", BEFORE),
        ("rakuten_card", "credit_card", AFTER),
    ],
)
def test_increase_allowed_where_not_decrease_only(
    provider: str, method_type: str, phase: Phase
) -> None:
    d = can_change_amount(amount_ctx(provider, method_type, new_amount=12000), phase)
    assert_decision(d, Verdict.LINK, "ok")


@pytest.mark.parametrize(
    ("provider", "method_type"),
    [("amazon", "amazon_pay"), ("amazon", "amazon_pay_v2"), ("merpay", "merpay")],
)
def test_amount_fixed_at_capture_is_local(provider: str, method_type: str) -> None:
    d = can_change_amount(amount_ctx(provider, method_type, flags=NO_FLAGS), BEFORE)
    assert_decision(d, Verdict.LOCAL, "local_only")
    assert "金額変更時には連携せず、オーソリ確定時に金額が確定" in d.rule


AMOUNT_FLAGS: list[tuple[str, str, Phase, str, str]] = [
    ("gmo_ps", "atobarai", BEFORE, "gmops_modify_link", "GMOPS後払い 取引修正API連携フラグ"),
    ("catchball", "atobarai", BEFORE, "atobarai_com_modify_link", "後払い.com 取引修正連携"),
    ("catchball", "atobarai", AFTER, "atobarai_com_modify_link", "後払い.com 取引修正連携"),
    ("yamato", "paypay", BEFORE, "reduce_link", "減額連携する"),
    ("yamato", "paypay", AFTER, "reduce_link", "減額連携する"),
    ("sbps", "epos", AFTER, "post_capture_amount_change_link", "オーソリ確定後金額変更連携フラグ"),
    (
        "net_protections",
        "atone_monthly_cvs",
        AFTER,
        "post_capture_amount_change_link",
        "オーソリ確定後金額変更連携フラグ",
    ),
    (
        "net_protections",
        "atone_monthly_cvs_common",
        AFTER,
        "post_capture_amount_change_link",
        "オーソリ確定後金額変更連携フラグ",
    ),
    (
        "net_protections",
        "atone_each",
        AFTER,
        "post_capture_amount_change_link",
        "オーソリ確定後金額変更連携フラグ",
    ),
]


@pytest.mark.parametrize(("provider", "method_type", "phase", "flag", "flag_text"), AMOUNT_FLAGS)
def test_amount_flag_required(
    provider: str, method_type: str, phase: Phase, flag: str, flag_text: str
) -> None:
    off = replace(ALL_FLAGS, **{flag: False})
    d = can_change_amount(amount_ctx(provider, method_type, flags=off), phase)
    assert_decision(d, Verdict.REFUSE, "flag_off")
    assert flag_text in d.rule
    assert PROVIDERS[provider] in d.rule
    only = MethodFlags(**{flag: True})
    assert_decision(
        can_change_amount(amount_ctx(provider, method_type, flags=only), phase), Verdict.LINK, "ok"
    )


@pytest.mark.parametrize(
    ("provider", "method_type", "phase"),
    [
        ("sbps", "epos", BEFORE),  # 減額のみ可能, no flag before capture
        ("gmo_pg", "epos", AFTER),
        ("gmo_ps", "atokara", AFTER),
        ("net_protections", "atone_each", BEFORE),
        ("gmo_pg", "credit_card", AFTER),
        ("gmo_ps", "kakebarai", BEFORE),
    ],
)
def test_amount_change_without_any_flag(provider: str, method_type: str, phase: Phase) -> None:
    d = can_change_amount(amount_ctx(provider, method_type, flags=NO_FLAGS), phase)
    assert_decision(d, Verdict.LINK, "ok")


def test_np_common_interface_only_before_tracking_linked() -> None:
    d = can_change_amount(
        amount_ctx("net_protections", "np_atobarai_instant_common", tracking_linked=True), BEFORE
    )
    assert_decision(d, Verdict.REFUSE, "tracking_linked")
    assert "伝票番号連携前のみ可能" in d.rule
    assert "ネットプロテクションズ" in d.rule
    d = can_change_amount(amount_ctx("net_protections", "np_atobarai_instant_common"), BEFORE)
    assert_decision(d, Verdict.LINK, "ok")
    # the other NP rows carry no such 備考
    d = can_change_amount(
        amount_ctx("net_protections", "np_atobarai_instant", tracking_linked=True), BEFORE
    )
    assert_decision(d, Verdict.LINK, "ok")


@pytest.mark.parametrize(
    ("carrier", "verdict", "code"),
    [
        (Carrier.D_BARAI, Verdict.LINK, "ok"),
        (Carrier.AU_EASY, Verdict.LINK, "ok"),
        (Carrier.SOFTBANK_B, Verdict.REFUSE, "carrier_not_supported"),
        (None, Verdict.REFUSE, "carrier_unknown"),
    ],
)
def test_gmo_pg_carrier_after_capture_is_d_barai_and_au_only(
    carrier: Carrier | None, verdict: Verdict, code: str
) -> None:
    d = can_change_amount(ctx("gmo_pg", "carrier", carrier=carrier), AFTER)
    assert_decision(d, verdict, code)
    assert "GMOペイメントゲートウェイ" in d.rule


@pytest.mark.parametrize("phase", [BEFORE, AFTER])
def test_d_barai_amount_window(phase: Phase) -> None:
    base = ctx("docomo", "d_barai", authorized_at=jst(2024, 3, 31, 23, 0))  # -> 2024-05-31 20:00
    inside = can_change_amount(replace(base, now=jst(2024, 5, 31, 20, 0)), phase)
    assert_decision(inside, Verdict.LINK, "ok")
    past = can_change_amount(replace(base, now=jst(2024, 5, 31, 20, 0, 1)), phase)
    assert_decision(past, Verdict.REFUSE, "window_expired")
    assert "d払い(NTTドコモ): 決済日時の翌々月末20時を過ぎるとエラー" in past.rule
    missing = can_change_amount(replace(base, authorized_at=None), phase)
    assert_decision(missing, Verdict.REFUSE, "missing_timestamp")


# --- §4 オーソリ同時確定 -----------------------------------------------------------------------

CAPTURE_WITH_FLAG: set[tuple[str, str]] = {
    ("smbc_gmo", "credit_card"),
    ("veritrans3g", "credit_card"),
    ("veritrans3g", "carrier"),
    ("veritrans3g", "unionpay"),
    ("veritrans3g", "recruit"),
    ("veritrans4g", "credit_card"),
    ("veritrans4g", "rakuten_pay"),
    ("gmo_pg", "credit_card"),
    ("gmo_pg", "credit_card_recurring"),
    ("gmo_pg", "credit_card_link"),
    ("gmo_pg", "rakuten_pay"),
    ("gmo_pg", "rakuten_pay_v2"),
    ("gmo_pg", "recruit"),
    ("gmo_pg", "line_pay"),
    ("gmo_pg", "carrier"),
    ("gmo_pg", "paypay"),
    ("gmo_pg", "au_pay"),
    ("gmo_ps", "atokara"),
    ("sbps", "credit_card"),
    ("sbps", "paypay"),
    ("sbps", "au_pay"),
    ("sbps", "epos"),
    ("paypay", "paypay"),
    ("sony_payment", "credit_card"),
    ("paygent", "credit_card"),
    ("paygent", "carrier"),
    ("paygent", "paypay"),
    ("net_protections", "np_atobarai_instant"),
    ("net_protections", "atone_monthly_cvs"),
    ("net_protections", "atone_monthly_cvs_common"),
    ("net_protections", "atone_each"),
    ("amazon", "amazon_pay"),
    ("amazon", "amazon_pay_v2"),
    ("paypal", "paypal"),
    ("resona", "credit_card"),
    ("resona", "credit_card_3ds"),
    ("merpay", "merpay"),
    ("rakuten_card", "credit_card"),
    ("smartpay", "smartpay"),
}
CAPTURE_ALWAYS: set[tuple[str, str]] = {("komoju", "wechat_pay"), ("komoju", "alipay")}


@pytest.mark.parametrize(("provider", "method_type", "kind"), ALL_ROWS)
def test_captures_on_authorize(provider: str, method_type: str, kind: MethodKind) -> None:
    key = (provider, method_type)
    with_flag = captures_on_authorize(provider, method_type, MethodFlags(capture_on_authorize=True))
    without = captures_on_authorize(provider, method_type, NO_FLAGS)
    assert with_flag is (key in CAPTURE_WITH_FLAG or key in CAPTURE_ALWAYS)
    assert without is (key in CAPTURE_ALWAYS)


def test_smartpay_capture_note() -> None:
    assert "※決済方式:通常注文方式 の場合のみ可能" in row("smartpay", "smartpay").note


# --- §5 セキュリティコード ---------------------------------------------------------------------

SECURITY_CODE: set[tuple[str, str]] = {
    ("smbc_gmo", "credit_card"),
    ("veritrans3g", "credit_card"),
    ("veritrans4g", "credit_card"),
    ("gmo_pg", "credit_card"),
    ("gmo_pg", "credit_card_link"),
    ("sbps", "credit_card"),
    ("sony_payment", "credit_card"),
    ("yamato", "credit_card"),
    ("paygent", "credit_card"),
    ("zeus", "credit_card"),
    ("resona", "credit_card_3ds"),
    ("resona", "credit_card"),
    ("rakuten_card", "credit_card"),
}
SECURITY_CODE_PCIDSS_ONLY: set[tuple[str, str]] = {("gmo_pg", "credit_card_recurring")}


@pytest.mark.parametrize(("provider", "method_type", "kind"), ALL_ROWS)
def test_accepts_security_code(provider: str, method_type: str, kind: MethodKind) -> None:
    key = (provider, method_type)
    assert accepts_security_code(provider, method_type) is (key in SECURITY_CODE)
    assert accepts_security_code(provider, method_type, pcidss=True) is (
        key in SECURITY_CODE or key in SECURITY_CODE_PCIDSS_ONLY
    )


def test_requires_security_code_needs_flag_and_support() -> None:
    on = MethodFlags(security_code_required=True)
    assert requires_security_code("zeus", "credit_card", on)
    assert not requires_security_code("zeus", "credit_card", NO_FLAGS)
    assert not requires_security_code("gmo_pg", "paypay", on)
    assert not requires_security_code("gmo_pg", "credit_card_recurring", on)
    assert requires_security_code("gmo_pg", "credit_card_recurring", on, pcidss=True)


# --- 与信期限 ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "days"),
    [
        ("gmo_pg", 60),
        ("sbps", 90),
        ("gmo_ps", 90),
        ("zeus", 90),
        ("amazon", 30),
        ("net_protections", 90),
        ("score", 60),
        ("paidy", 30),
        ("paypay", 30),
        ("rakuten_pay", 30),
        ("atone", 90),
        ("komoju", None),
        ("smbc_gmo", None),
        ("offline", None),
    ],
)
def test_authorization_days(provider: str, days: int | None) -> None:
    assert authorization_days(provider) == days
    assert authorization_days(provider, override=45) == 45


def test_authorization_days_table_providers_are_known() -> None:
    assert set(AUTHORIZATION_DAYS) <= set(PROVIDERS)


@pytest.mark.parametrize(
    ("provider", "method_type", "days"),
    [
        ("gmo_pg", "paypay", 30),
        ("gmo_pg", "credit_card", 60),
        ("gmo_pg", "rakuten_pay", 30),
        ("gmo_pg", "rakuten_pay_v2", 30),
        ("gmo_pg", "au_pay", 60),
        ("sbps", "paypay", 30),
        ("sbps", "credit_card", 90),
        ("paygent", "paidy", 30),
        ("paygent", "credit_card", None),
        ("paidy", "paidy_v2", 30),
        ("net_protections", "atone_each", 90),
        ("net_protections", "np_atobarai", 90),
        ("amazon", "amazon_pay_v2", 30),
        ("zeus", "credit_card", 90),
        ("komoju", "alipay", None),
        ("paypay", "paypay", 30),
        ("offline", "bank_transfer", None),
    ],
)
def test_authorization_days_for(provider: str, method_type: str, days: int | None) -> None:
    assert authorization_days_for(provider, method_type) == days
    assert authorization_days_for(provider, method_type, override=7) == 7


def test_authorization_bad_input() -> None:
    with pytest.raises(UnknownMethod):
        authorization_days("nowhere")
    with pytest.raises(UnknownMethod):
        authorization_days_for("gmo_pg", "cod")
    with pytest.raises(ValueError, match="与信期限"):
        authorization_days("gmo_pg", override=0)


def test_authorization_expired() -> None:
    at = jst(2024, 1, 31, 10, 0)
    # GMO PG 60 days -> 2024-03-31 10:00 (leap February)
    assert not authorization_expired("gmo_pg", at, jst(2024, 3, 31, 10, 0))
    assert authorization_expired("gmo_pg", at, jst(2024, 3, 31, 10, 1))
    # PayPay through GMO PG: 30 days -> 2024-03-01 10:00
    assert not authorization_expired("gmo_pg", at, jst(2024, 3, 1, 10, 0), method_type="paypay")
    assert authorization_expired("gmo_pg", at, jst(2024, 3, 1, 10, 1), method_type="paypay")
    # the account override wins
    assert authorization_expired("gmo_pg", at, jst(2024, 2, 7, 10, 1), override=7)
    assert not authorization_expired(
        "gmo_pg", at, jst(2024, 2, 7, 10, 0), override=7, method_type="paypay"
    )
    # no lifetime, never expired
    assert not authorization_expired("komoju", at, jst(2030, 1, 1, 0, 0))
    # any time zone: 2024-03-31 01:00 UTC is 10:00 JST
    assert not authorization_expired("gmo_pg", at, datetime(2024, 3, 31, 1, 0, tzinfo=UTC))
    assert authorization_expired("gmo_pg", at, datetime(2024, 3, 31, 1, 1, tzinfo=UTC))


# --- every refusal speaks Japanese and names the provider --------------------------------------


@pytest.mark.parametrize(("provider", "method_type", "kind"), ALL_ROWS)
def test_every_decision_rule_is_japanese_and_names_the_provider(
    provider: str, method_type: str, kind: MethodKind
) -> None:
    late = jst(2030, 1, 1, 0, 0)
    for flags in (ALL_FLAGS, NO_FLAGS):
        for now in (jst(2024, 5, 10, 12, 0), late):
            for new_amount in (8000, 12000):
                c = ctx(provider, method_type, flags=flags, now=now, new_amount=new_amount)
                for phase in (BEFORE, AFTER):
                    for d in (can_cancel(c, phase), can_change_amount(c, phase)):
                        assert d.rule.strip()
                        assert JAPANESE.search(d.rule), d.rule
                        assert PROVIDERS[provider] in d.rule, d.rule
                        if d.code == "flag_off":
                            assert "フラグ" in d.rule or "連携する" in d.rule
