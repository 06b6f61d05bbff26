"""The NP room's own rules, without a server: the buyer NP would refuse, the carrier codes
(editable per account), the settings of seed 001, NP's answers in kessai's words."""

import json

import pytest

from kessai.core.errors import ConfigurationError
from kessai.providers.contract import InputProblem, OutcomeKind, ProviderState
from kessai.providers.np_atobarai import buyer, carriers, errors
from kessai.providers.np_atobarai.config import NpConfig
from kessai.providers.np_atobarai.connector import credit_check, lookup_of
from kessai.providers.np_atobarai.sandbox import TEST_BUYER

SETTINGS = {"shop_code": "akt1234567", "sp_code": "SP-1", "terminal_id": "T-1"}


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"customer_name": " "}, "customer_name", "氏名"),
        ({"zip_code": "150-001"}, "zip_code", "郵便番号"),
        ({"address": "渋谷区神宮前1-2-3"}, "address", "都道府県"),
        ({"tel": "1234-5678"}, "tel", "電話番号"),
        ({"email": "not-an-address"}, "email", "メールアドレス"),
        ({"dest_customer_name": "配送 太郎"}, "dest_zip_code", "配送先の郵便番号"),
        ({"goods": '[{"goods_name": "本", "goods_price": 400, "quantity": 2}]'}, "goods", "一致"),
        ({"goods": "[]"}, "goods", "JSON"),
    ],
)
def test_a_buyer_np_would_refuse_is_named_by_field(
    change: dict[str, str], field: str, words: str
) -> None:
    found = buyer.read({**TEST_BUYER, **change}, 1000)
    assert isinstance(found, InputProblem)
    assert found.field == f"payment_source.{field}"
    assert words in found.message


def test_registration_carries_the_buyer_the_destination_and_the_goods() -> None:
    goods = [
        {"goods_name": "本", "goods_price": 400, "quantity": 2},
        {"goods_name": "送料", "goods_price": 200, "quantity": 1},
    ]
    source = {
        **TEST_BUYER,
        "dest_customer_name": "配送 太郎",
        "dest_zip_code": "5300001",
        "dest_address": "大阪府大阪市北区梅田1-1",
        "dest_tel": "06-1234-5678",
        "goods": json.dumps(goods, ensure_ascii=False),
    }
    found = buyer.read(source, 1000)
    assert isinstance(found, buyer.Buyer)
    body = buyer.registration("20260301000001", "2026-03-01", 1000, found)
    assert body["settlement_type"] == "02"
    assert body["customer"]["zip_code"] == "1500001"
    assert body["dest_customer"]["address"] == "大阪府大阪市北区梅田1-1"
    assert body["goods"] == goods


def test_an_amount_change_reprices_the_one_line_or_adds_an_adjustment() -> None:
    one = (buyer.Goods(buyer.DEFAULT_GOODS, 1000, 1),)
    assert buyer.adjusted(one, 800) == (buyer.Goods(buyer.DEFAULT_GOODS, 800, 1),)
    two = (buyer.Goods("本", 400, 2), buyer.Goods("送料", 200, 1))
    assert buyer.adjusted(two, 900)[-1] == buyer.Goods(buyer.ADJUSTMENT, -100, 1)
    assert buyer.adjusted((*two, buyer.Goods(buyer.ADJUSTMENT, -100, 1)), 1000) == two


def test_carrier_names_map_to_np_codes_and_an_account_adds_its_own() -> None:
    assert carriers.code_for("ヤマト運輸", {}) == "59010"
    assert carriers.code_for("佐川急便", {}) == "50000"
    assert carriers.code_for("59041", {}) == "59041"
    assert carriers.code_for("ペンギン便", {}) is None
    mapping, problems = carriers.parse_overrides("ペンギン便=55555, ヤマト=59020")
    assert problems == []
    assert carriers.code_for("ペンギン便", mapping) == "55555"
    assert carriers.code_for("ヤマト", mapping) == "59020"  # the account's word wins
    _, problems = carriers.parse_overrides("ペンギン便=12345、だめな項目")
    assert len(problems) == 2


def test_settings_follow_seed_001() -> None:
    config = NpConfig.from_settings({**SETTINGS, "carrier_codes": "ペンギン便=55555"})
    assert config.endpoint_url == "https://ctcp.np-payment-gateway.com/v1"
    assert config.carrier_codes == {"ペンギン便": "55555"}
    assert "SP-1" not in repr(config)
    with pytest.raises(ConfigurationError) as refused:
        NpConfig.from_settings(
            {
                **SETTINGS,
                "shop_code": "akt123",
                "endpoint_url": "https://www.getsafety-online.com/np_set3/npcb1/services/NPConnectPro?wsdl",
            }
        )
    assert set(refused.value.detail["problems"]) == {"shop_code", "endpoint_url"}


def test_np_answers_in_words() -> None:
    ok = credit_check({"np_transaction_id": "NP1", "authori_result": "00"})
    assert (ok.kind, ok.transaction_id) == (OutcomeKind.SUCCEEDED, "NP1")
    hold = credit_check({"authori_result": "10", "authori_hold": ["RE009", "RE014"]})
    assert hold.kind is OutcomeKind.PENDING
    assert hold.message is not None
    assert "RE014 住所確認" in hold.message
    ng = credit_check({"authori_result": "20", "authori_ng": "NG999"})
    assert (ng.kind, ng.code, ng.hard) == (OutcomeKind.DECLINED, "NG999", True)
    assert credit_check({"authori_result": "20", "authori_ng": "NG001"}).hard is False
    assert credit_check({"authori_result": "RE"}).kind is OutcomeKind.DECLINED
    assert errors.is_final_decline("NG999")
    assert not errors.is_final_decline("NG002")
    shipped = lookup_of({"np_transaction_id": "NP1", "status": "shipped", "billed_amount": 900})
    assert (shipped.state, shipped.amount, shipped.shipment_reported) == (
        ProviderState.CAPTURED,
        900,
        True,
    )
    held = lookup_of({"status": "registered", "authori_result": "10", "authori_hold": ["RE026"]})
    assert held.state is ProviderState.PENDING
