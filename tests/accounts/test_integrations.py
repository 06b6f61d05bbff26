"""Seed 001's 29 integrations: the catalog, a valid input for each, and every stated rule.

Expected names, codes, outputs and error codes are written out by hand from the seed.
"""

from collections.abc import Mapping
from typing import Any

import pytest

from kessai.accounts.integrations import (
    INTEGRATIONS,
    Channel,
    integration,
    validate,
)
from kessai.core.errors import InvalidInput
from kessai.payments.capabilities import PROVIDERS
from tests.accounts.integration_cases import CASES, NP_URL
from tests.accounts.pki import NOW, PNG

SEED_NAMES = [
    "GMO PG",
    "GMO 後払い",
    "GMO Epsilon",
    "ヤマト",
    "ヤマト後払い",
    "Paygent",
    "SBPS",
    "Zeus",
    "Veritrans(クレジットカード・後払い)",
    "SBPSキャリア",
    "スコア後払い(ニッセン後払い)",
    "NP 後払い",
    "NP 後払いリアルタイム",
    "後払い.com",
    "アトディーネ",
    "atone",
    "Paidy",
    "Amazon Pay(v1)",
    "Amazon Pay(v2)",
    "LINE Pay",
    "電算システム",
    "Re:lation",
    "MailDealer",
    "LINE ID",
    "PayPal",
    "1d color",
    "商品データフィード",
    "ルミーズテンキーパッド",
    "at score",
]
# After the seed's 29: providers kessai connects to directly (accounts.integrations
# defs_komoju, defs_direct).
DIRECT_NAMES = ["KOMOJU", "PayPay"]

# code → capabilities provider (None: not one of seed 003's payment providers).
PROVIDER_LINKS: dict[str, str | None] = {
    "gmo_pg": "gmo_pg",
    "gmo_ps": "gmo_ps",
    "gmo_epsilon": None,
    "yamato": "yamato",
    "yamato_atobarai": "yamato",
    "paygent": "paygent",
    "sbps": "sbps",
    "zeus": "zeus",
    "veritrans4g": "veritrans4g",
    "sbps_carrier": "sbps",
    "score": "score",
    "np_atobarai": "net_protections",
    "np_atobarai_realtime": "net_protections",
    "atobarai_com": "catchball",
    "atodine": None,
    "atone": "atone",
    "paidy": "paidy",
    "amazon_pay": "amazon",
    "amazon_pay_v2": "amazon",
    "line_pay": None,
    "densan": None,
    "relation": None,
    "mail_dealer": None,
    "line_id": None,
    "paypal": "paypal",
    "one_d_color": None,
    "product_data_feed": None,
    "remise_tenkey": None,
    "at_score": None,
    "komoju": "komoju",
    "paypay": "paypay",
}
NOT_PAYMENTS = {
    "relation",
    "mail_dealer",
    "line_id",
    "one_d_color",
    "product_data_feed",
    "remise_tenkey",
    "at_score",
}


def errors_of(exc: pytest.ExceptionInfo[InvalidInput]) -> list[tuple[str, str]]:
    return [(e["field"], e["code"]) for e in exc.value.detail["errors"]]


def check(code: str, values: Mapping[str, object], **kw: Any) -> dict[str, Any]:
    return validate(integration(code), values, now=NOW, **kw)


# --- the catalog --------------------------------------------------------------------------


def test_exactly_the_29_integrations_of_the_seed_in_its_order() -> None:
    assert len(SEED_NAMES) == 29
    assert [spec.name for spec in INTEGRATIONS] == SEED_NAMES + DIRECT_NAMES
    assert [spec.number for spec in INTEGRATIONS] == list(range(1, 30 + len(DIRECT_NAMES)))
    assert [spec.code for spec in INTEGRATIONS] == list(PROVIDER_LINKS)


@pytest.mark.parametrize(("code", "provider"), PROVIDER_LINKS.items())
def test_payment_integrations_link_to_a_capabilities_provider(
    code: str, provider: str | None
) -> None:
    spec = integration(code)
    assert spec.provider == provider
    if provider is not None:
        assert provider in PROVIDERS


@pytest.mark.parametrize("code", list(PROVIDER_LINKS))
def test_payment_methods_can_be_enabled_in_lp_shop_and_order_entry(code: str) -> None:
    expected = () if code in NOT_PAYMENTS else (Channel.LP, Channel.SHOP, Channel.ORDER_ENTRY)
    assert integration(code).channels == expected


def test_channels_have_the_seeds_names() -> None:
    assert [c.label for c in integration("gmo_pg").channels] == ["LP", "ショップ", "受注作成"]


def test_unknown_integration_is_a_japanese_invalid_input() -> None:
    with pytest.raises(InvalidInput) as exc:
        integration("gmo_pgg")
    assert exc.value.code == "unknown_integration"
    assert exc.value.message == "外部連携アカウント「gmo_pgg」は存在しません"


def test_fields_carry_the_seeds_labels() -> None:
    labels = {code: [f.label for f in integration(code).fields] for code in ("gmo_pg", "paygent")}
    assert labels["gmo_pg"] == [
        "ショップ ID",
        "ショップパスワード",
        "サイト ID",
        "サイトパスワード",
        "SFTP 接続先 IP アドレス",
        "SFTP ログインID",
        "SFTP パスワード",
        "セキュリティコードの入力",
        "エポス連携",
        "エポス提携店コード",
        "バナーURL",
        "デフォルトバナーに戻す",
        "自動洗替",
        # Beyond the seed: what the SFTP exchange of 自動洗替 needs (port, pinned host key)
        # and the files' layout and calendar from the merchant's spec sheet.
        "SFTP ポート番号",
        "SFTP ホスト鍵フィンガープリント",
        "洗替依頼ファイルの送信先ディレクトリ",
        "洗替結果ファイルの取得元ディレクトリ",
        "洗替依頼ファイル名",
        "洗替結果ファイル名",
        "洗替依頼ファイルの項目",
        "洗替結果ファイルの項目",
        "文字コード",
        '項目の囲み(")',
        "見出し行",
        "洗替依頼の送信日",
        "洗替依頼の送信期限日",
        "洗替結果の取得日",
        "洗替結果の取得時刻(時)",
        "洗替結果の待機日数",
        # 継続課金 (seed 002): the files and the 8th / 18th / 27th, as the spec sheet says.
        "売上データファイルのディレクトリ",
        "売上データファイル名",
        "売上データファイルの項目",
        "売上結果ファイルのディレクトリ",
        "売上結果ファイル名",
        "売上結果ファイルの項目",
        "有効性チェック結果ファイルのディレクトリ",
        "有効性チェック結果ファイル名",
        "有効性チェック結果ファイルの項目",
        "継続課金ファイルの文字コード",
        '継続課金ファイルの項目の囲み(")',
        "継続課金ファイルの見出し行",
        "売上データの送信日",
        "売上データの送信時刻(時)",
        "売上結果の取得日",
        "売上結果の取得時刻(時)",
        "有効性チェック結果の取得日",
        "有効性チェック結果の取得時刻(時)",
        "売上データの送信期限日",
        "売上結果・有効性チェック結果の待機日数",
    ]
    assert labels["paygent"] == [
        "秘密鍵",
        "クライアント証明書",
        "認証済み CA",
        "接続 ID",
        "接続パスワード",
        "マーチャント ID",
        "トークン生成鍵",
    ]
    assert [s.title for s in integration("paypal").sections] == [
        "PayPal 認証情報",
        "PayPal サンドボックス",
    ]


# --- a valid input for every integration --------------------------------------------------


def test_every_integration_has_a_valid_case() -> None:
    assert set(CASES) == set(PROVIDER_LINKS)


@pytest.mark.parametrize("code", list(CASES))
def test_valid_input_is_cleaned(code: str) -> None:
    given, expected = CASES[code]
    assert check(code, given) == expected


# --- every rule the seed states -----------------------------------------------------------

RULES = [
    # GMO 後払い: 数字10桁のサイトID
    ("gmo_ps", {"site_id": "123456789"}, "site_id", "not_10_digits"),
    ("gmo_ps", {"site_id": "12345678901"}, "site_id", "not_10_digits"),
    ("gmo_ps", {"site_id": "１２３４５６７８９０"}, "site_id", "not_10_digits"),
    ("gmo_ps", {"site_id": "12345abcde"}, "site_id", "not_10_digits"),
    # GMO 後払い: abから始まる加盟店コード
    ("gmo_ps", {"merchant_code": "cd00012345"}, "merchant_code", "not_ab_prefix"),
    ("gmo_ps", {"merchant_code": "ab"}, "merchant_code", "not_ab_prefix"),
    # NP 後払いリアルタイム: aktから始まる10桁のコード
    ("np_atobarai_realtime", {"shop_code": "akt000000"}, "shop_code", "not_akt_code"),
    ("np_atobarai_realtime", {"shop_code": "akt00000001"}, "shop_code", "not_akt_code"),
    ("np_atobarai_realtime", {"shop_code": "abc0000000"}, "shop_code", "not_akt_code"),
    # 電算システム: 固有値7桁(数字)
    ("densan", {"unique_value": "123456"}, "unique_value", "not_7_digits"),
    ("densan", {"unique_value": "12345678"}, "unique_value", "not_7_digits"),
    ("densan", {"unique_value": "12a4567"}, "unique_value", "not_7_digits"),
    # GMO PG: SFTP 接続先 IP アドレス
    ("gmo_pg", {"sftp_host": "sftp.example.com"}, "sftp_host", "invalid_ip_address"),
    # GMO PG: エポス連携 needs 自動洗替, the SFTP settings and エポス提携店コード
    (
        "gmo_pg",
        {
            "epos_enabled": True,
            "epos_partner_code": "EP1",
            "sftp_host": "192.0.2.1",
            "sftp_login_id": "u",
            "sftp_password": "p",
        },
        "epos_enabled",
        "auto_card_update_required",
    ),
    (
        "gmo_pg",
        {
            "epos_enabled": True,
            "auto_card_update": True,
            "sftp_host": "192.0.2.1",
            "sftp_login_id": "u",
            "sftp_password": "p",
        },
        "epos_partner_code",
        "required",
    ),
    # GMO PG 自動洗替: the pinned host key, the port and the files' layout
    (
        "gmo_pg",
        {"sftp_host_key_fingerprint": "MD5:16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48"},
        "sftp_host_key_fingerprint",
        "invalid_host_key_fingerprint",
    ),
    ("gmo_pg", {"sftp_port": 0}, "sftp_port", "out_of_range"),
    ("gmo_pg", {"updater_request_name": "req.csv"}, "updater_request_name", "invalid_file_name"),
    (
        "gmo_pg",
        {"updater_result_name": "../{yyyymm}.csv"},
        "updater_result_name",
        "invalid_file_name",
    ),
    ("gmo_pg", {"updater_result_dir": "a/../b"}, "updater_result_dir", "invalid_directory"),
    (
        "gmo_pg",
        {"updater_request_columns": "member_id,cvv"},
        "updater_request_columns",
        "invalid_columns",
    ),
    (
        "gmo_pg",
        {"updater_result_columns": "member_id,card_seq"},
        "updater_result_columns",
        "invalid_columns",
    ),
    ("gmo_pg", {"updater_encoding": "euc-jp"}, "updater_encoding", "invalid_choice"),
    ("gmo_pg", {"updater_result_day": 31}, "updater_result_day", "out_of_range"),
    # GMO PG 継続課金: the files and days as the shop's spec sheet says
    (
        "gmo_pg",
        {"recurring_result_columns": "terminal_seq,result"},
        "recurring_result_columns",
        "invalid_columns",
    ),
    ("gmo_pg", {"recurring_send_name": "teiki.csv"}, "recurring_send_name", "invalid_file_name"),
    ("gmo_pg", {"recurring_check_day": 29}, "recurring_check_day", "out_of_range"),
    ("gmo_pg", {"recurring_send_hour": 24}, "recurring_send_hour", "out_of_range"),
    # GMO PG: バナーURL is an uploaded image
    ("gmo_pg", {"epos_banner": b"<svg></svg>"}, "epos_banner", "invalid_image"),
    # GMO Epsilon: ホスト名 and トークン取得 URL
    ("gmo_epsilon", {"host": "secure epsilon"}, "host", "invalid_hostname"),
    ("gmo_epsilon", {"token_url": "ftp://secure.epsilon.jp/token"}, "token_url", "invalid_url"),
    # スコア後払い: ホスト
    ("score", {"host": "-nissen-.co.jp"}, "host", "invalid_hostname"),
    ("score", {"host": "https://collect-operation.nissen.co.jp"}, "host", "invalid_hostname"),
    # NP 後払い: 環境接続先URL
    ("np_atobarai", {"endpoint_url": "www.getsafety-online.com"}, "endpoint_url", "invalid_url"),
    # Paidy: モーダル表示 入力ページ/確認ページ; ロゴURL
    ("paidy", {"modal_page": "checkout"}, "modal_page", "invalid_choice"),
    ("paidy", {"logo_url": "javascript:alert(1)"}, "logo_url", "invalid_url"),
    # Re:lation / MailDealer: one メッセージボックスID; サブドメイン; 有効 needs both
    ("relation", {"message_box_id": "1,2"}, "message_box_id", "multiple_message_box_ids"),
    ("relation", {"message_box_id": "1 2"}, "message_box_id", "multiple_message_box_ids"),
    ("relation", {"message_box_id": "1、2"}, "message_box_id", "multiple_message_box_ids"),
    ("relation", {"subdomain": "my_shop"}, "subdomain", "invalid_subdomain"),
    ("relation", {"enabled": True, "message_box_id": "1"}, "subdomain", "required"),
    ("mail_dealer", {"message_box_id": "1;2"}, "message_box_id", "multiple_message_box_ids"),
    ("mail_dealer", {"enabled": True, "subdomain": "shop"}, "message_box_id", "required"),
    # ルミーズテンキーパッド: ポート番号
    ("remise_tenkey", {"port": 0}, "port", "out_of_range"),
    ("remise_tenkey", {"port": "65536"}, "port", "out_of_range"),
    ("remise_tenkey", {"port": "80a"}, "port", "invalid_number"),
    ("remise_tenkey", {"port": True}, "port", "invalid_number"),
    ("remise_tenkey", {"enabled": True}, "port", "required"),
    # PayPal: Sandbox 環境 is ON or OFF
    ("paypal", {"sandbox": "maybe"}, "sandbox", "invalid_flag"),
    # 商品データフィード: the Facebook link is computed, not entered
    ("product_data_feed", {"facebook": "https://evil.example/feed.csv"}, "facebook", "read_only"),
    # Every integration: unknown keys, over-long and multi-line text, wrong types
    ("zeus", {"client_ip_key": "x"}, "client_ip_key", "unknown_field"),
    ("line_id", {"channel_id": "1"}, "channel_id", "unknown_field"),
    ("yamato", {"merchant_code": "x" * 256}, "merchant_code", "too_long"),
    ("line_pay", {"channel_id": "123\n456"}, "channel_id", "control_character"),
    ("sbps", {"merchant_id": ["30132"]}, "merchant_id", "invalid_type"),
    ("atone", {"secret_key": 12345}, "secret_key", "invalid_type"),
]


@pytest.mark.parametrize(("code", "given", "field", "error"), RULES)
def test_each_rule_names_the_field_and_a_stable_code(
    code: str, given: dict[str, object], field: str, error: str
) -> None:
    with pytest.raises(InvalidInput) as exc:
        check(code, given)
    assert exc.value.code == "invalid_account_settings"
    assert errors_of(exc) == [(field, error)]


@pytest.mark.parametrize(
    ("code", "given", "message"),
    [
        ("gmo_ps", {"site_id": "123"}, "認証 ID / サイト IDは数字10桁で入力してください"),
        ("gmo_ps", {"merchant_code": "x1"}, "加盟店コードはabから始まるコードを入力してください"),
        (
            "np_atobarai_realtime",
            {"shop_code": "akt1"},
            "SHOP_CODEはaktから始まる10桁のコードを入力してください(例:akt0000000)",
        ),
        ("densan", {"unique_value": "1"}, "固有値7桁(数字)は7桁の半角数字で入力してください"),
        ("relation", {"message_box_id": "1,2"}, "メッセージボックスIDは1つだけ設定できます"),
        (
            "paidy",
            {"modal_page": "x"},
            "モーダル表示は「入力ページ」・「確認ページ」のいずれかを選択してください",
        ),
        ("paypal", {"sandbox": "x"}, "Sandbox 環境は「ON」か「OFF」を指定してください"),
        (
            "remise_tenkey",
            {"enabled": True},
            "有効・無効を有効にする場合はポート番号を入力してください",
        ),
        (
            "gmo_pg",
            {"epos_enabled": True, "auto_card_update": True, "sftp_host": "192.0.2.1"},
            "自動洗替・エポス連携を有効にする場合はSFTP ログインIDを入力してください",
        ),
    ],
)
def test_messages_are_japanese_and_name_the_rule(
    code: str, given: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidInput) as exc:
        check(code, given)
    assert message in [e["message"] for e in exc.value.detail["errors"]]


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(InvalidInput) as exc:
        check(
            "gmo_pg",
            {
                "shop_id": "x" * 300,
                "sftp_host": "not-an-ip",
                "security_code": "perhaps",
                "epos_enabled": True,
                "colour": "red",
            },
        )
    assert errors_of(exc) == [
        ("colour", "unknown_field"),
        ("shop_id", "too_long"),
        ("sftp_host", "invalid_ip_address"),
        ("security_code", "invalid_flag"),
        ("sftp_login_id", "required"),
        ("sftp_password", "required"),
        ("epos_partner_code", "required"),
        ("epos_enabled", "auto_card_update_required"),
    ]
    assert exc.value.message == "GMO PGの設定に8件の誤りがあります"
    first = exc.value.detail["errors"][1]
    assert first == {
        "field": "shop_id",
        "label": "ショップ ID",
        "code": "too_long",
        "message": "ショップ IDは255文字以内で入力してください",
    }
    assert exc.value.detail["integration"] == "gmo_pg"


def test_auto_card_update_needs_the_sftp_settings() -> None:
    with pytest.raises(InvalidInput) as exc:
        check("gmo_pg", {"auto_card_update": True})
    assert errors_of(exc) == [
        ("sftp_host", "required"),
        ("sftp_login_id", "required"),
        ("sftp_password", "required"),
    ]


# --- defaults -----------------------------------------------------------------------------


def test_defaults_fill_what_the_form_leaves_out() -> None:
    assert check("paypal", {})["sandbox"] is True
    assert check("paypal", {"sandbox": "OFF"})["sandbox"] is False
    assert check("score", {})["host"] == "collect-operation.nissen.co.jp"
    assert check("score", {"host": "  "})["host"] == "collect-operation.nissen.co.jp"
    assert check("score", {"host": "collect.example.jp"})["host"] == "collect.example.jp"
    assert check("score", {"host": "127.0.0.1:8443"})["host"] == "127.0.0.1:8443"
    assert check("np_atobarai", {})["endpoint_url"] == NP_URL
    assert check("paidy", {})["modal_page"] == "input"
    gmo = check("gmo_pg", {})
    assert (gmo["security_code"], gmo["epos_enabled"], gmo["auto_card_update"]) == (
        False,
        False,
        False,
    )
    assert check("relation", {})["enabled"] is False
    assert check("remise_tenkey", {})["enabled"] is False


def test_flags_accept_the_words_of_the_form() -> None:
    for word, expected in [("ON", True), ("OFF", False), ("true", True), ("0", False)]:
        assert check("amazon_pay", {"show_furigana": word})["show_furigana"] is expected
    assert check("veritrans4g", {"security_code": "非表示"})["security_code"] is False


def test_epos_banner_goes_back_to_the_default_banner() -> None:
    stored = {"epos_banner": PNG}
    assert check("gmo_pg", {}, existing=stored)["epos_banner"] == PNG
    cleaned = check("gmo_pg", {"epos_banner_reset": True}, existing=stored)
    assert cleaned["epos_banner"] is None
    assert "epos_banner_reset" not in cleaned
