"""会員・カード (SaveMember, SearchMember, DeleteMember, SaveCard, SearchCard, DeleteCard,
TradedCard) against a loopback idPass endpoint."""

import pytest

from kessai.core.errors import ConfigurationError
from kessai.providers.gmo_pg import codec
from kessai.providers.gmo_pg.connector import GmoPgConnector
from kessai.providers.store import ReferenceStore
from kessai.providers.vault import ProviderError, ProviderUnreachable, StoredCard
from tests.providers.gmo_pg.test_connector_http import (
    DROP,
    SHOP_ID,
    SHOP_PASS,
    SITE_ID,
    SITE_PASS,
    FakeGmo,
    settings_for,
)

SITE = {"SiteID": SITE_ID, "SitePass": SITE_PASS}
ONE_CARD = (
    "CardSeq=0&DefaultFlag=0&CardName=&CardNo=*************111&Expire=2812&HolderName=&DeleteFlag=0"
)


async def test_save_member_sends_the_member_and_site(gmo: FakeGmo, conn: GmoPgConnector) -> None:
    gmo.answer("SaveMember", "MemberID=cust-42")
    await conn.save_member("cust-42", "John Smith")
    assert gmo.calls("SaveMember")[0].params == {
        "MemberID": "cust-42",
        "MemberName": "John Smith",
        **SITE,
    }


async def test_saving_an_existing_member_again_updates_it(
    gmo: FakeGmo, conn: GmoPgConnector
) -> None:
    gmo.answer("SaveMember", "ErrCode=E01&ErrInfo=E01390010", "ErrCode=E01&ErrInfo=E01390010")
    gmo.answer("UpdateMember", "MemberID=cust-42")
    await conn.save_member("cust-42", "山田 花子")
    await conn.save_member("cust-42")  # nothing to update
    assert gmo.apis() == ["SaveMember", "UpdateMember", "SaveMember"]
    assert gmo.calls("UpdateMember")[0].params["MemberName"] == "山田 花子"


async def test_find_member(gmo: FakeGmo, conn: GmoPgConnector) -> None:
    gmo.answer(
        "SearchMember",
        "MemberID=cust-42&MemberName=John Smith&DeleteFlag=0",
        "MemberID=cust-42&MemberName=John Smith&DeleteFlag=1",
        "ErrCode=E01&ErrInfo=E01390002",
    )
    assert await conn.find_member("cust-42") is True
    assert await conn.find_member("cust-42") is False  # deleted
    assert await conn.find_member("cust-42") is False  # unknown
    assert gmo.calls("SearchMember")[0].params == {"MemberID": "cust-42", **SITE}


async def test_delete_member_twice_is_fine(gmo: FakeGmo, conn: GmoPgConnector) -> None:
    gmo.answer("DeleteMember", "MemberID=cust-42", "ErrCode=E01&ErrInfo=E01390002")
    await conn.delete_member("cust-42")
    await conn.delete_member("cust-42")
    assert len(gmo.calls("DeleteMember")) == 2


async def test_save_card_registers_the_token_and_reads_back_its_expiry(
    gmo: FakeGmo, conn: GmoPgConnector
) -> None:
    gmo.answer("SaveCard", "CardSeq=0&CardNo=*************111&Forward=2a99662")
    gmo.answer("SearchCard", ONE_CARD)
    card = await conn.save_card("cust-42", "tok-abcdef0123")
    assert card == StoredCard("cust-42", "0", "*************111", "2812")
    assert gmo.calls("SaveCard")[0].params == {
        "MemberID": "cust-42",
        "Token": "tok-abcdef0123",
        **SITE,
    }
    assert gmo.calls("SearchCard")[0].params == {
        "MemberID": "cust-42",
        "SeqMode": "0",
        "CardSeq": "0",
        **SITE,
    }


async def test_a_saved_card_is_returned_even_if_the_search_after_it_fails(
    gmo: FakeGmo, conn: GmoPgConnector
) -> None:
    gmo.answer("SaveCard", "CardSeq=3&CardNo=*************111&Forward=2a99662")
    gmo.answer("SearchCard", DROP)
    card = await conn.save_card("cust-42", "tok-abcdef0123")
    assert (card.card_seq, card.masked_number, card.expire) == ("3", "*************111", "")


async def test_a_card_number_is_never_accepted_as_a_token(
    gmo: FakeGmo, conn: GmoPgConnector
) -> None:
    with pytest.raises(ProviderError) as raised:
        await conn.save_card("cust-42", "4111111111111111")
    assert raised.value.code == "invalid_token"
    assert gmo.seen == []


async def test_search_cards_reads_pipe_joined_records(gmo: FakeGmo, conn: GmoPgConnector) -> None:
    body = (
        "CardSeq=0|1|2&DefaultFlag=1|0|0&CardName=|仕事用|"
        "&CardNo=*************111|************4444|************0000"
        "&Expire=2812|2905|2301&HolderName=TARO YAMADA||&DeleteFlag=0|0|1"
    ).encode(codec.ENCODING)
    gmo.answer("SearchCard", body)
    cards = await conn.search_cards("cust-42")
    assert cards == [
        StoredCard("cust-42", "0", "*************111", "2812", "TARO YAMADA", None, True, False),
        StoredCard("cust-42", "1", "************4444", "2905", None, None, False, False),
        StoredCard("cust-42", "2", "************0000", "2301", None, None, False, True),
    ]
    assert gmo.calls("SearchCard")[0].params == {"MemberID": "cust-42", "SeqMode": "0", **SITE}


async def test_a_member_without_cards_has_none(gmo: FakeGmo, conn: GmoPgConnector) -> None:
    gmo.answer("SearchCard", "ErrCode=E01&ErrInfo=E01240002")
    assert await conn.search_cards("cust-42") == []


async def test_delete_card(gmo: FakeGmo, conn: GmoPgConnector) -> None:
    gmo.answer("DeleteCard", "CardSeq=1")
    await conn.delete_card("cust-42", "1")
    assert gmo.calls("DeleteCard")[0].params == {"MemberID": "cust-42", "CardSeq": "1", **SITE}


async def test_traded_card_registers_the_card_of_an_order(
    gmo: FakeGmo, conn: GmoPgConnector
) -> None:
    gmo.answer("TradedCard", "CardSeq=0&CardNo=************1111&Forward=2a99662")
    gmo.answer("SearchCard", ONE_CARD.replace("*************111", "************1111"))
    card = await conn.traded_card("20260316000001", "cust-42")
    assert (card.card_seq, card.masked_number, card.expire) == ("0", "************1111", "2812")
    assert gmo.calls("TradedCard")[0].params == {
        "OrderID": "20260316000001",
        "MemberID": "cust-42",
        "ShopID": SHOP_ID,
        "ShopPass": SHOP_PASS,
        **SITE,
    }


async def test_gmo_refusals_carry_code_and_message_verbatim(
    gmo: FakeGmo, conn: GmoPgConnector
) -> None:
    gmo.answer("DeleteCard", "ErrCode=E01&ErrInfo=E01240002")
    with pytest.raises(ProviderError) as raised:
        await conn.delete_card("cust-42", "9")
    assert raised.value.code == "E01240002"
    assert raised.value.message == "指定されたカードが存在しません。"


async def test_no_answer_or_rate_limit_is_unreachable(gmo: FakeGmo, conn: GmoPgConnector) -> None:
    gmo.answer("SaveMember", DROP)
    with pytest.raises(ProviderUnreachable):
        await conn.save_member("cust-42")
    gmo.always["SearchMember"] = "ErrCode=E92&ErrInfo=E92000002"
    with pytest.raises(ProviderUnreachable):
        await conn.find_member("cust-42")


@pytest.mark.parametrize("member_id", ["", "cust 42", "a" * 61, "会員"])
async def test_a_member_id_gmo_would_refuse_is_refused_locally(
    gmo: FakeGmo, conn: GmoPgConnector, member_id: str
) -> None:
    with pytest.raises(ProviderError) as raised:
        await conn.find_member(member_id)
    assert raised.value.code == "invalid_member_id"
    assert gmo.seen == []


async def test_a_shop_only_account_cannot_keep_cards(gmo: FakeGmo, store: ReferenceStore) -> None:
    settings = {k: v for k, v in settings_for(gmo.url).items() if not k.startswith("site")}
    conn = GmoPgConnector(store.account_id, settings, store)
    with pytest.raises(ConfigurationError) as raised:
        await conn.save_member("cust-42")
    assert "サイトID" in raised.value.message
    assert gmo.seen == []
