"""Secrets and masking, updates that keep secrets, completeness, and the rules that look
across integrations (ルミーズテンキーパッド, 名義人の固定値)."""

from collections.abc import Mapping
from typing import Any

import pytest

from kessai.accounts.integrations import (
    MASK,
    check_configured,
    cross_errors,
    derived_values,
    facebook_feed_url,
    integration,
    is_configured,
    mask,
    missing_for_action,
    missing_for_enable,
    secret_keys,
    shown,
    validate,
)
from kessai.core.errors import InvalidInput
from tests.accounts.pki import NOW, PNG

SECRETS: dict[str, set[str]] = {
    "gmo_pg": {"shop_password", "site_password", "sftp_password"},
    "gmo_ps": {"password"},
    "gmo_epsilon": set(),
    "yamato": {"password", "access_key"},
    "yamato_atobarai": {"password"},
    "paygent": {"private_key", "client_certificate", "ca_certificate", "connection_password"},
    "sbps": {"basic_auth_password", "hash_key", "encryption_key", "encryption_iv"},
    "zeus": {"client_ip_zkey"},
    "veritrans4g": {"ac_certificate", "merchant_password"},
    "sbps_carrier": {"basic_auth_password", "hash_key", "encryption_key", "encryption_iv"},
    "score": {"shop_password"},
    "np_atobarai": {"sp_code"},  # the API's Basic-auth password
    "np_atobarai_realtime": {"sp_code"},
    "atobarai_com": set(),
    "atodine": {"connection_password"},
    "atone": {"secret_key"},
    "paidy": {"secret_key"},
    "amazon_pay": {"client_secret", "secret_access_key"},
    "amazon_pay_v2": {"private_key", "ipn_certificate"},
    "line_pay": {"channel_secret"},
    "densan": set(),
    "relation": set(),
    "mail_dealer": set(),
    "line_id": set(),
    "paypal": set(),
    "one_d_color": {"api_key"},
    "product_data_feed": set(),
    "remise_tenkey": set(),
    "at_score": set(),
    "komoju": {"secret_key", "webhook_secret"},
}

GMO_PG = {
    "shop_id": "tshop00012345",
    "shop_password": "shop-pass",
    "site_id": "tsite00012345",
    "site_password": "site-pass",
}
ZEUS = {"client_ip": "2019000000", "client_ip_zkey": "zkey"}
SBPS = {
    "merchant_id": "30132",
    "service_id": "002",
    "basic_auth_id": "30132002",
    "basic_auth_password": "p",
    "hash_key": "h",
}
PAYGENT = {
    "private_key": b"stored",
    "client_certificate": b"stored",
    "ca_certificate": b"stored",
    "connection_id": "c",
    "connection_password": "p",
    "merchant_id": "1",
    "token_key": "t",
}
VERITRANS = {"ac_certificate": b"stored", "merchant_ccid": "A1", "merchant_password": "p"}
TENKEY_ON = {"enabled": True, "port": 8080}
GATEWAYS = "GMO PG・Zeus・SBPS・Paygent・Veritrans(クレジットカード・後払い)"


def check(code: str, values: Mapping[str, object], **kw: Any) -> dict[str, Any]:
    return validate(integration(code), values, now=NOW, **kw)


def errors_of(exc: pytest.ExceptionInfo[InvalidInput]) -> list[tuple[str, str]]:
    return [(e["field"], e["code"]) for e in exc.value.detail["errors"]]


# --- secrets and masking ------------------------------------------------------------------


@pytest.mark.parametrize(("code", "keys"), SECRETS.items())
def test_secret_fields_are_the_passwords_keys_and_certificates(code: str, keys: set[str]) -> None:
    assert secret_keys(integration(code)) == keys


def test_mask_hides_every_secret_and_says_which_are_set() -> None:
    values = {**GMO_PG, "sftp_host": "192.0.2.10", "sftp_password": None}
    shown_values = mask(integration("gmo_pg"), values)
    assert shown_values["shop_id"] == "tshop00012345"
    assert shown_values["sftp_host"] == "192.0.2.10"
    assert shown_values["shop_password"] == MASK == "********"
    assert shown_values["site_password"] == "********"
    assert shown_values["sftp_password"] is None
    assert "epos_banner_reset" not in shown_values
    assert "shop-pass" not in repr(shown_values)
    assert "site-pass" not in repr(shown_values)


def test_mask_hides_uploaded_key_files() -> None:
    shown_values = mask(integration("paygent"), {**PAYGENT, "private_key": b"-----BEGIN"})
    assert shown_values["private_key"] == "********"
    assert shown_values["token_key"] == "t"


# --- updates ------------------------------------------------------------------------------


def test_a_secret_left_empty_keeps_the_stored_value() -> None:
    stored = check("gmo_pg", GMO_PG)
    for blank in ("", "   ", None):
        again = check("gmo_pg", {**GMO_PG, "shop_password": blank}, existing=stored)
        assert again["shop_password"] == "shop-pass"
    omitted = {k: v for k, v in GMO_PG.items() if k != "site_password"}
    assert check("gmo_pg", omitted, existing=stored)["site_password"] == "site-pass"


def test_a_new_secret_replaces_the_stored_one() -> None:
    stored = check("gmo_pg", GMO_PG)
    assert check("gmo_pg", {"shop_password": "new"}, existing=stored)["shop_password"] == "new"


def test_clear_empties_a_secret_on_purpose() -> None:
    stored = check("gmo_pg", {**GMO_PG, "sftp_password": "s"})
    cleared = check("gmo_pg", {}, existing=stored, clear=["sftp_password"])
    assert cleared["sftp_password"] is None
    assert cleared["shop_password"] == "shop-pass"


def test_an_unknown_field_to_clear_is_refused() -> None:
    with pytest.raises(InvalidInput) as exc:
        check("gmo_pg", {}, clear=["shop_pasword"])
    assert errors_of(exc) == [("shop_pasword", "unknown_field")]


def test_left_out_fields_keep_their_stored_values_and_empty_ones_are_cleared() -> None:
    stored = check("gmo_pg", {**GMO_PG, "sftp_host": "192.0.2.10", "security_code": True})
    updated = check("gmo_pg", {"sftp_host": ""}, existing=stored)
    assert updated["sftp_host"] is None
    assert updated["security_code"] is True
    assert updated["shop_id"] == "tshop00012345"


def test_a_stored_secret_satisfies_a_required_field() -> None:
    stored = check(
        "gmo_pg",
        {"sftp_host": "192.0.2.1", "sftp_login_id": "u", "sftp_password": "p"},
    )
    cleaned = check("gmo_pg", {"auto_card_update": True, "sftp_password": ""}, existing=stored)
    assert cleaned["sftp_password"] == "p"


def test_an_uploaded_file_left_empty_keeps_the_stored_file() -> None:
    stored = {**PAYGENT}
    cleaned = check("paygent", {"private_key": b"", "ca_certificate": None}, existing=stored)
    assert cleaned["private_key"] == b"stored"
    assert cleaned["ca_certificate"] == b"stored"


# --- completeness -------------------------------------------------------------------------


def test_missing_for_enable_names_the_empty_required_fields() -> None:
    assert missing_for_enable(integration("gmo_pg"), {}) == [
        "ショップ ID",
        "ショップパスワード",
        "サイト ID",
        "サイトパスワード",
    ]
    assert missing_for_enable(integration("gmo_pg"), {**GMO_PG, "shop_password": ""}) == [
        "ショップパスワード"
    ]
    assert missing_for_enable(integration("gmo_pg"), GMO_PG) == []
    assert missing_for_enable(integration("densan"), {}) == ["固有値7桁(数字)"]
    assert missing_for_enable(integration("np_atobarai_realtime"), {"sp_code": "S"}) == [
        "SHOP_CODE",
        "端末ID",
    ]
    assert missing_for_enable(integration("relation"), {"enabled": False}) == [
        "サブドメイン",
        "メッセージボックスID",
    ]


def test_a_switched_on_feature_adds_its_fields_to_what_is_missing() -> None:
    assert missing_for_enable(integration("gmo_pg"), {**GMO_PG, "auto_card_update": True}) == [
        "SFTP 接続先 IP アドレス",
        "SFTP ログインID",
        "SFTP パスワード",
    ]


def test_incomplete_accounts_can_be_saved_but_are_not_configured() -> None:
    spec = integration("zeus")
    saved = check("zeus", {"client_ip": "2019000000"})
    assert missing_for_enable(spec, saved) == ["ClientIpZkey"]
    assert not is_configured(spec, saved)
    assert not is_configured(spec, None)
    assert is_configured(spec, ZEUS)


# --- rules across integrations ------------------------------------------------------------


def test_tenkey_pad_needs_a_card_gateway_account() -> None:
    with pytest.raises(InvalidInput) as exc:
        check("remise_tenkey", TENKEY_ON, configured={})
    assert errors_of(exc) == [("enabled", "partner_account_required")]
    error = exc.value.detail["errors"][0]
    assert error["integration"] == "remise_tenkey"
    assert error["message"] == (
        f"ルミーズテンキーパッドを有効にするには、{GATEWAYS}のいずれかのアカウント設定が必要です"
    )


@pytest.mark.parametrize(
    ("code", "values"),
    [
        ("gmo_pg", GMO_PG),
        ("zeus", ZEUS),
        ("sbps", SBPS),
        ("paygent", PAYGENT),
        ("veritrans4g", VERITRANS),
    ],
)
def test_tenkey_pad_works_with_gmo_pg_zeus_sbps_paygent_and_veritrans(
    code: str, values: dict[str, object]
) -> None:
    assert check("remise_tenkey", TENKEY_ON, configured={code: values})["enabled"] is True


@pytest.mark.parametrize(
    "configured",
    [
        {"sbps_carrier": SBPS},  # SBPSキャリア is not the card gateway
        {"yamato": {"merchant_code": "1", "password": "p", "access_key": "k"}},
        {"gmo_pg": {**GMO_PG, "site_password": None}},  # GMO PG not complete
    ],
)
def test_tenkey_pad_refuses_other_or_incomplete_accounts(
    configured: dict[str, dict[str, object]],
) -> None:
    with pytest.raises(InvalidInput) as exc:
        check("remise_tenkey", TENKEY_ON, configured=configured)
    assert errors_of(exc) == [("enabled", "partner_account_required")]


def test_tenkey_pad_switched_off_needs_nothing() -> None:
    assert check("remise_tenkey", {"enabled": False}, configured={})["enabled"] is False


def test_holder_name_is_only_for_zeus() -> None:
    values = {**TENKEY_ON, "holder_name": "TENKEY"}
    with pytest.raises(InvalidInput) as exc:
        check("remise_tenkey", values, configured={"gmo_pg": GMO_PG})
    assert errors_of(exc) == [("holder_name", "only_with_other_account")]
    assert exc.value.detail["errors"][0]["message"] == (
        "名義人の固定値はZeusのアカウントを設定した場合のみ設定できます"
    )
    assert check("remise_tenkey", values, configured={"zeus": ZEUS})["holder_name"] == "TENKEY"


def test_holder_name_is_shown_only_with_zeus() -> None:
    holder = integration("remise_tenkey").field("holder_name")
    port = integration("remise_tenkey").field("port")
    assert not shown(holder, {"gmo_pg": GMO_PG})
    assert shown(holder, {"zeus": ZEUS})
    assert shown(port, {})


def test_removing_the_last_gateway_breaks_the_set() -> None:
    tenkey = {**TENKEY_ON, "holder_name": "TENKEY"}
    assert cross_errors({"zeus": ZEUS, "remise_tenkey": tenkey}) == []
    with pytest.raises(InvalidInput) as exc:
        check_configured({"remise_tenkey": tenkey})
    assert exc.value.code == "invalid_account_settings"
    assert [(e["integration"], e["field"], e["code"]) for e in exc.value.detail["errors"]] == [
        ("remise_tenkey", "enabled", "partner_account_required"),
        ("remise_tenkey", "holder_name", "only_with_other_account"),
    ]


def test_cross_rules_need_known_integrations() -> None:
    with pytest.raises(InvalidInput) as exc:
        cross_errors({"nope": {}})
    assert exc.value.code == "unknown_integration"


# --- buttons and computed fields ----------------------------------------------------------


def test_paypal_link_needs_the_seller_merchant_id() -> None:
    paypal = integration("paypal")
    assert [a.label for a in paypal.actions] == ["PayPalアカウントと連携", "連携削除"]
    assert missing_for_action(paypal, "link_account", {}) == ["Seller Merchant ID"]
    assert missing_for_action(paypal, "link_account", {"seller_merchant_id": "M1"}) == []


def test_facebook_feed_link_is_derived_from_the_shop_url() -> None:
    feed = integration("product_data_feed")
    assert derived_values(feed, "https://shop.example.com/") == {
        "facebook": "https://shop.example.com/feeds/facebook.csv"
    }
    assert facebook_feed_url("https://shop.example.com") == (
        "https://shop.example.com/feeds/facebook.csv"
    )
    assert [a.label for a in feed.actions] == ["データフィード作成"]
    assert check("product_data_feed", {}) == {}
    assert mask(feed, {}) == {}


def test_banner_is_an_image_not_a_secret() -> None:
    gmo = integration("gmo_pg")
    assert "epos_banner" not in secret_keys(gmo)
    assert mask(gmo, {"epos_banner": PNG})["epos_banner"] == PNG


def test_require_complete_refuses_blank_required_fields() -> None:
    with pytest.raises(InvalidInput) as exc:
        check("yamato", {"merchant_code": "1"}, require_complete=True)
    assert errors_of(exc) == [("password", "required"), ("access_key", "required")]
    assert exc.value.detail["errors"][0]["message"] == "パスワードを入力してください"
    assert check("yamato", {"merchant_code": "1"})["password"] is None
