"""Members, saved cards, TradedCard and the storefront token endpoint of the simulator."""

from collections.abc import AsyncIterator

import pytest

from kessai.providers.gmo_pg import codec
from kessai.providers.gmo_pg.simulator import SimulatorConfig
from tests.providers.gmo_pg.test_simulator_support import SITE, VISA, Gmo, errors, simulator

MASTER = "5555555555554444"


@pytest.fixture
async def gmo() -> AsyncIterator[Gmo]:
    async with simulator() as client:
        yield client


async def test_member_lifecycle(gmo: Gmo) -> None:
    assert await gmo.site_call("SaveMember", MemberID="m-1", MemberName="山田 太郎") == {
        "MemberID": "m-1"
    }
    assert errors(await gmo.site_call("SaveMember", MemberID="m-1")) == ["E01390010"]
    found = await gmo.site_call("SearchMember", MemberID="m-1")
    assert found == {"MemberID": "m-1", "MemberName": "山田 太郎", "DeleteFlag": "0"}

    await gmo.site_call("UpdateMember", MemberID="m-1", MemberName="山田 花子")
    assert (await gmo.site_call("SearchMember", MemberID="m-1"))["MemberName"] == "山田 花子"

    assert await gmo.site_call("DeleteMember", MemberID="m-1") == {"MemberID": "m-1"}
    assert errors(await gmo.site_call("SearchMember", MemberID="m-1")) == ["E01390002"]
    assert errors(await gmo.site_call("UpdateMember", MemberID="m-1")) == ["E01390002"]


async def test_member_id_and_site_checks(gmo: Gmo) -> None:
    assert errors(await gmo.site_call("SaveMember", MemberID="")) == ["E01220001"]
    assert errors(await gmo.site_call("SaveMember", MemberID="a" * 61)) == ["E01220005"]
    assert errors(await gmo.site_call("SaveMember", MemberID="bad id")) == ["E01220008"]
    wrong_site = await gmo.site_call("SaveMember", MemberID="m-2", SitePass="nope")
    assert errors(wrong_site) == ["E01210002"]
    no_site = await gmo.call("SaveMember", MemberID="m-2")  # shop credentials only
    assert errors(no_site) == ["E01190001", "E01200001"]


async def test_cards_are_searched_pipe_joined(gmo: Gmo) -> None:
    await gmo.site_call("SaveMember", MemberID="m-3")
    first = await gmo.site_call("SaveCard", MemberID="m-3", CardNo=VISA, Expire="3012")
    assert first == {"CardSeq": "0", "CardNo": "************1111", "Forward": "2a99662"}
    second = await gmo.site_call(
        "SaveCard", MemberID="m-3", Token=await gmo.token(MASTER), DefaultFlag="1"
    )
    assert second["CardSeq"] == "1"

    cards = await gmo.site_call("SearchCard", MemberID="m-3", SeqMode="0")
    assert codec.split_multi(cards["CardSeq"]) == ["0", "1"]
    assert codec.split_multi(cards["DefaultFlag"]) == ["0", "1"]
    assert codec.split_multi(cards["CardNo"]) == ["************1111", "************4444"]
    assert codec.split_multi(cards["Expire"]) == ["3012", "3012"]

    assert await gmo.site_call("DeleteCard", MemberID="m-3", CardSeq="0") == {"CardSeq": "0"}
    live = await gmo.site_call("SearchCard", MemberID="m-3", SeqMode="0")
    assert live["CardSeq"] == "1"
    physical = await gmo.site_call("SearchCard", MemberID="m-3", SeqMode="1")
    assert codec.split_multi(physical["DeleteFlag"]) == ["1", "0"]
    assert errors(await gmo.site_call("DeleteCard", MemberID="m-3", CardSeq="0")) == ["E01240002"]
    one = await gmo.site_call("SearchCard", MemberID="m-3", CardSeq="1")
    assert one["CardNo"] == "************4444"


async def test_save_card_replaces_the_card_at_card_seq(gmo: Gmo) -> None:
    await gmo.member_with_card("m-4")
    replaced = await gmo.site_call(
        "SaveCard", MemberID="m-4", CardSeq="0", CardNo=MASTER, Expire="2901"
    )
    assert replaced["CardSeq"] == "0"
    cards = await gmo.site_call("SearchCard", MemberID="m-4")
    assert (cards["CardSeq"], cards["CardNo"], cards["Expire"]) == ("0", "************4444", "2901")
    missing = await gmo.site_call(
        "SaveCard", MemberID="m-4", CardSeq="7", CardNo=VISA, Expire="3012"
    )
    assert errors(missing) == ["E01240002"]


async def test_a_member_holds_at_most_five_cards() -> None:
    async with simulator(SimulatorConfig(max_cards_per_member=5)) as gmo:
        await gmo.site_call("SaveMember", MemberID="m-5")
        for _ in range(5):
            saved = await gmo.site_call("SaveCard", MemberID="m-5", CardNo=VISA, Expire="3012")
            assert "ErrCode" not in saved
        full = await gmo.site_call("SaveCard", MemberID="m-5", CardNo=VISA, Expire="3012")
        assert errors(full) == ["E01230009"]


async def test_save_card_for_an_unknown_member(gmo: Gmo) -> None:
    reply = await gmo.site_call("SaveCard", MemberID="ghost", CardNo=VISA, Expire="3012")
    assert errors(reply) == ["E01390002"]


async def test_tokens_are_one_time(gmo: Gmo) -> None:
    await gmo.site_call("SaveMember", MemberID="m-6")
    token = await gmo.token()
    assert "ErrCode" not in await gmo.site_call("SaveCard", MemberID="m-6", Token=token)
    assert errors(await gmo.site_call("SaveCard", MemberID="m-6", Token=token)) == ["EX1000302"]
    unknown = await gmo.site_call("SaveCard", MemberID="m-6", Token="not-a-token")
    assert errors(unknown) == ["EX1000301"]


async def test_tokens_expire_after_thirty_minutes(gmo: Gmo) -> None:
    early, late = await gmo.token(), await gmo.token()
    await gmo.control(advance_seconds=29 * 60)
    order_id = gmo.order_id()
    access = await gmo.entry(order_id)
    ok = await gmo.call("ExecTran", **access, OrderID=order_id, Method="1", Token=early)
    assert ok["ACS"] == "0"
    await gmo.control(advance_seconds=60)
    order_id = gmo.order_id()
    access = await gmo.entry(order_id)
    expired = await gmo.call("ExecTran", **access, OrderID=order_id, Method="1", Token=late)
    assert errors(expired) == ["EX1000303"]


async def test_token_bound_to_another_shop_is_unknown() -> None:
    config = SimulatorConfig(shops={"tshop00000001": "tshoppass", "tshop00000002": "pass2"})
    async with simulator(config) as gmo:
        token = await gmo.token(shopid="tshop00000002")
        order_id = gmo.order_id()
        access = await gmo.entry(order_id)
        reply = await gmo.call("ExecTran", **access, OrderID=order_id, Method="1", Token=token)
        assert errors(reply) == ["EX1000301"]


async def test_token_answer_is_shaped_like_gmo_token_js(gmo: Gmo) -> None:
    body = {"cardno": VISA, "expire": "203012", "securitycode": "1234", "tokennumber": "2"}
    answer = (await gmo.client.post("/token", json=body)).json()
    assert answer["resultCode"] == "000"
    token = answer["tokenObject"]
    assert len(token["token"]) == 2
    assert token["maskedCardNo"] == "411111******1111"
    assert token["isSecurityCodeSet"] is True
    assert len(token["toBeExpiredAt"].split("-")) == 5  # yyyy-MM-dd-HH-mm

    form = await gmo.client.post("/token", data={"cardno": MASTER, "expire": "3012"})
    assert form.json()["tokenObject"]["isSecurityCodeSet"] is False
    assert form.headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"cardno": ""}, "100"),
        ({"cardno": "4111-1111"}, "101"),
        ({"cardno": "411111111"}, "102"),
        ({"expire": ""}, "110"),
        ({"expire": "30/1"}, "111"),
        ({"expire": "301"}, "112"),
        ({"expire": "3013"}, "113"),
        ({"securitycode": "12a"}, "121"),
        ({"securitycode": "12"}, "122"),
        ({"holdername": "山田"}, "131"),
        ({"tokennumber": "11"}, "142"),
        ({"shopid": "tshop99999999"}, "180"),
    ],
)
async def test_token_result_codes(gmo: Gmo, fields: dict[str, str], code: str) -> None:
    body = {"cardno": VISA, "expire": "3012", "securitycode": "123", **fields}
    assert (await gmo.client.post("/token", json=body)).json() == {"resultCode": code}


async def test_token_script_for_the_storefront(gmo: Gmo) -> None:
    script = await gmo.client.get("/ext/js/token.js")
    assert script.status_code == 200
    assert "Multipayment" in script.text
    assert '"http://gmo.test"' in script.text


async def test_traded_card_registers_the_card_of_a_payment(gmo: Gmo) -> None:
    order_id, _, _ = await gmo.authorize(card=MASTER)
    await gmo.site_call("SaveMember", MemberID="m-7")
    saved = await gmo.call("TradedCard", **SITE, OrderID=order_id, MemberID="m-7")
    assert saved == {"CardSeq": "0", "CardNo": "************4444", "Forward": "2a99662"}
    unknown = await gmo.call("TradedCard", **SITE, OrderID="no-such-order", MemberID="m-7")
    assert errors(unknown) == ["E01110002"]


async def test_card_detail_of_a_saved_card(gmo: Gmo) -> None:
    await gmo.member_with_card("m-8", card="3530111333300000")
    detail = await gmo.call("SearchCardDetail", **SITE, MemberID="m-8", SeqMode="0")
    assert detail["Brand"] == "JCB"
    assert detail["CardNo"] == "************0000"
