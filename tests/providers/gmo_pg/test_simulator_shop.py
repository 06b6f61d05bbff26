"""The simulator's shop APIs behave like GMO's test environment: states, rules, error codes."""

from collections.abc import AsyncIterator

import pytest

from kessai.providers.gmo_pg import codec
from kessai.providers.gmo_pg.simulator import (
    CHALLENGE_CARD,
    DECLINE_CARDS,
    SimulatorConfig,
)
from tests.providers.gmo_pg.test_simulator_support import SHOP, VISA, Gmo, errors, simulator

EXEC_KEYS = {"ACS", "OrderID", "Forward", "Method", "PayTimes", "Approve", "TranID", "TranDate"}
EXEC_KEYS |= {"CheckString"}
CHANGE_KEYS = {"AccessID", "AccessPass", "Forward", "Approve", "TranID", "TranDate"}


@pytest.fixture
async def gmo() -> AsyncIterator[Gmo]:
    async with simulator() as client:
        yield client


async def test_authorize_then_capture(gmo: Gmo) -> None:
    order_id, access, reply = await gmo.authorize(amount=1200)
    assert set(reply) == EXEC_KEYS
    assert reply["ACS"] == "0"
    assert reply["OrderID"] == order_id
    assert len(reply["TranID"]) == 28
    assert len(reply["TranDate"]) == 14

    found = await gmo.search(order_id)
    assert (found["Status"], found["JobCd"], found["Amount"]) == ("AUTH", "AUTH", "1200")
    assert found["CardNo"] == "************1111"
    assert found["AccessID"] == access["AccessID"]
    assert found["TranID"] == reply["TranID"]

    sold = await gmo.call("AlterTran", **access, JobCd="SALES", Amount=1200)
    assert set(sold) == CHANGE_KEYS
    found = await gmo.search(order_id)
    assert (found["Status"], found["JobCd"]) == ("SALES", "SALES")
    assert found["TranID"] == sold["TranID"] != reply["TranID"]


async def test_capture_at_once_and_return(gmo: Gmo) -> None:
    order_id, access, _ = await gmo.authorize(job="CAPTURE")
    assert (await gmo.search(order_id))["Status"] == "CAPTURE"
    returned = await gmo.call("AlterTran", **access, JobCd="RETURN")
    assert set(returned) == CHANGE_KEYS
    assert (await gmo.search(order_id))["Status"] == "RETURN"


async def test_returnx_of_an_authorization_is_refused_like_gmo(gmo: Gmo) -> None:
    order_id, access, _ = await gmo.authorize()  # AUTH: nothing sold in an earlier month
    refused = await gmo.call("AlterTran", **access, JobCd="RETURNX")
    assert errors(refused) == ["E11010003"]
    assert (await gmo.search(order_id))["Status"] == "AUTH"
    returned = await gmo.call("AlterTran", **access, JobCd="RETURN")
    assert set(returned) == CHANGE_KEYS


async def test_exec_tran_twice_is_refused_without_a_second_charge(gmo: Gmo) -> None:
    order_id, access, first = await gmo.authorize()
    again = await gmo.call(
        "ExecTran", OrderID=order_id, **access, Method="1", CardNo=VISA, Expire="3012"
    )
    assert errors(again) == ["E11010001"]
    assert again["ErrCode"] == "E11"
    assert (await gmo.search(order_id))["TranID"] == first["TranID"]
    results = [c["result"] for c in await gmo.calls("ExecTran")]
    assert results == ["ok", "error"]


async def test_order_id_rules(gmo: Gmo) -> None:
    await gmo.entry("order-1")
    reused = await gmo.call("EntryTran", OrderID="order-1", JobCd="AUTH", Amount=100)
    assert errors(reused) == ["E01040010"]
    too_long = await gmo.call("EntryTran", OrderID="x" * 28, JobCd="AUTH", Amount=100)
    assert errors(too_long) == ["E01040003"]
    assert "ErrCode" not in await gmo.call("EntryTran", OrderID="y" * 27, JobCd="AUTH", Amount=1)
    bad = await gmo.call("EntryTran", OrderID="order_1", JobCd="AUTH", Amount=100)
    assert errors(bad) == ["E01040013"]
    missing = await gmo.call("EntryTran", JobCd="AUTH", Amount=100)
    assert errors(missing) == ["E01040001"]


async def test_entry_parameters_are_checked_together(gmo: Gmo) -> None:
    reply = await gmo.call("EntryTran", OrderID="o-9", JobCd="SALES", Amount="12345678")
    assert errors(reply) == ["E01050004", "E01060005"]
    assert reply["ErrCode"] == "E01|E01"
    reply = await gmo.call("EntryTran", OrderID="o-9", JobCd="AUTH", Amount="")
    assert errors(reply) == ["E01060001"]
    reply = await gmo.call("EntryTran", OrderID="o-9", JobCd="", Amount="1x", Tax="y")
    assert errors(reply) == ["E01050001", "E01060006", "E01070006"]


async def test_shop_credentials(gmo: Gmo) -> None:
    reply = await gmo.call("EntryTran", ShopID="", OrderID="o-1", JobCd="AUTH", Amount=1)
    assert errors(reply) == ["E01010001"]
    reply = await gmo.call("EntryTran", ShopPass="wrong", OrderID="o-1", JobCd="AUTH", Amount=1)
    assert errors(reply) == ["E01030002"]
    reply = await gmo.call("EntryTran", ShopID="shop*1", OrderID="o-1", JobCd="AUTH", Amount=1)
    assert errors(reply) == ["E01010008"]


async def test_someone_elses_access_pass_finds_nothing(gmo: Gmo) -> None:
    order_id, access, _ = await gmo.authorize()
    wrong = {**access, "AccessPass": "0" * 32}
    assert errors(await gmo.call("AlterTran", **wrong, JobCd="VOID")) == ["E01110002"]
    assert (await gmo.search(order_id))["Status"] == "AUTH"


async def test_search_trade_of_an_unknown_order(gmo: Gmo) -> None:
    assert errors(await gmo.search("never-entered")) == ["E01110002"]
    assert errors(await gmo.call("SearchTrade")) == ["E01040001"]


@pytest.mark.parametrize(("card", "info"), sorted(DECLINE_CARDS.items()))
async def test_decline_cards(gmo: Gmo, card: str, info: str) -> None:
    order_id, _, reply = await gmo.authorize(card=card)
    assert errors(reply) == [info]
    assert reply["ErrCode"] == "G" + info[3:5]
    found = await gmo.search(order_id)
    assert found["Status"] == "UNPROCESSED"
    assert found["Approve"] == ""


async def test_card_number_must_pass_the_check_digit(gmo: Gmo) -> None:
    _, _, reply = await gmo.authorize(card="4111111111111112")
    assert errors(reply) == ["E41170099"]


async def test_payment_method_rules(gmo: Gmo) -> None:
    _, _, reply = await gmo.authorize(Method="2")
    assert errors(reply) == ["E01270001"]
    _, _, reply = await gmo.authorize(Method="9")
    assert errors(reply) == ["E01260002"]
    order_id, _, reply = await gmo.authorize(Method="2", PayTimes="3")
    assert reply["PayTimes"] == "3"
    assert (await gmo.search(order_id))["PayTimes"] == "3"


async def test_void_then_authorize_again(gmo: Gmo) -> None:
    order_id, access, _ = await gmo.authorize(amount=800)
    assert "ErrCode" not in await gmo.call("AlterTran", **access, JobCd="VOID")
    assert (await gmo.search(order_id))["Status"] == "VOID"
    assert errors(await gmo.call("AlterTran", **access, JobCd="SALES", Amount=800)) == ["E11010003"]
    again = await gmo.call("AlterTran", **access, JobCd="AUTH", Amount=900, Method="1")
    assert set(again) == CHANGE_KEYS
    found = await gmo.search(order_id)
    assert (found["Status"], found["Amount"]) == ("AUTH", "900")


async def test_sales_amount_must_match_the_authorization(gmo: Gmo) -> None:
    order_id, access, _ = await gmo.authorize(amount=500)
    assert errors(await gmo.call("AlterTran", **access, JobCd="SALES", Amount=501)) == ["E01060010"]
    assert (await gmo.search(order_id))["Status"] == "AUTH"


async def test_nothing_to_alter_before_exec_tran(gmo: Gmo) -> None:
    access = await gmo.entry("not-paid")
    assert errors(await gmo.call("AlterTran", **access, JobCd="VOID")) == ["E11010002"]
    assert errors(await gmo.call("ChangeTran", **access, JobCd="AUTH", Amount=5)) == ["E11010002"]


async def test_change_amount_after_capture(gmo: Gmo) -> None:
    order_id, access, _ = await gmo.authorize(amount=1000, job="CAPTURE")
    changed = await gmo.call("ChangeTran", **access, JobCd="CAPTURE", Amount=700, Tax=70)
    assert set(changed) == CHANGE_KEYS
    found = await gmo.search(order_id)
    assert (found["Status"], found["Amount"], found["Tax"]) == ("CAPTURE", "700", "70")
    assert errors(await gmo.call("ChangeTran", **access, JobCd="VOID", Amount=1)) == ["E01050004"]


async def test_authorization_expires_after_sixty_days(gmo: Gmo) -> None:
    order_id, access, _ = await gmo.authorize(amount=300)
    await gmo.control(advance_seconds=61 * 24 * 3600)
    reply = await gmo.call("AlterTran", **access, JobCd="SALES", Amount=300)
    assert errors(reply) == ["E01420010"]
    assert (await gmo.search(order_id))["Status"] == "AUTH"


async def test_client_fields_come_back_in_cp932(gmo: Gmo) -> None:
    text = "～①ｶﾅ漢字"  # ～ and ① are where shift_jis and CP932 differ
    order_id, _, reply = await gmo.authorize(ClientField1=text, ClientFieldFlag="1")
    assert reply["ClientField1"] == text
    assert (await gmo.search(order_id))["ClientField1"] == text
    raw = await gmo.post("SearchTrade", {**SHOP, "OrderID": order_id})
    assert text.encode("cp932") in raw.content


async def test_pay_with_a_saved_card(gmo: Gmo) -> None:
    await gmo.member_with_card("member-1")
    order_id = gmo.order_id()
    access = await gmo.entry(order_id)
    reply = await gmo.call(
        "ExecTran",
        **access,
        OrderID=order_id,
        Method="1",
        MemberID="member-1",
        CardSeq="0",
        SiteID="tsite00000001",
        SitePass="tsitepass",
    )
    assert set(reply) == EXEC_KEYS
    found = await gmo.search(order_id)
    assert (found["MemberID"], found["SiteID"]) == ("member-1", "tsite00000001")
    assert found["CardNo"] == "************1111"


async def test_3ds2_challenge_then_secure_tran2(gmo: Gmo) -> None:
    order_id, access, reply = await gmo.authorize(
        card=CHALLENGE_CARD, TdsType="2", Tds2RetUrl="https://shop.example/back?x=1"
    )
    assert set(reply) == {"ACS", "RedirectUrl"}
    assert reply["ACS"] == "2"
    url = reply["RedirectUrl"]
    assert "/payment/Tds2Challenge?tds2TransID=" in url
    assert "&" in url  # kept whole by the codec
    assert (await gmo.search(order_id))["Status"] == "AUTHENTICATED"
    assert errors(await gmo.call("SecureTran2", **access)) == ["E21020002"]

    page = await gmo.client.get(url)
    assert page.status_code == 303
    location = page.headers["location"]
    assert location.startswith("https://shop.example/back?x=1&")
    assert f"AccessID={access['AccessID']}" in location
    assert f"OrderID={order_id}" in location

    done = await gmo.post("SecureTran2", access)  # AccessID and AccessPass only
    fields = codec.parse_response(done.content)
    assert set(fields) == EXEC_KEYS - {"ACS"}
    assert fields["Approve"]
    assert (await gmo.search(order_id))["Status"] == "AUTH"
    assert errors(await gmo.call("SecureTran2", **access)) == ["E11010001"]


async def test_failed_challenge_is_not_authorized(gmo: Gmo) -> None:
    order_id, access, reply = await gmo.authorize(card=CHALLENGE_CARD, TdsType="2")
    page = await gmo.client.get(reply["RedirectUrl"] + "&result=N")
    assert page.status_code == 200  # no return URL given: the page says so itself
    assert "失敗" in page.text
    assert errors(await gmo.call("SecureTran2", **access)) == ["E21020001"]
    assert (await gmo.search(order_id))["Status"] == "AUTHENTICATED"


async def test_other_cards_pass_3ds2_without_a_challenge(gmo: Gmo) -> None:
    order_id, _, reply = await gmo.authorize(TdsType="2")
    assert reply["ACS"] == "0"
    assert (await gmo.search(order_id))["Status"] == "AUTH"


async def test_challenge_url_style_answers_like_the_2025_recordings() -> None:
    async with simulator(SimulatorConfig(tds2_style="challenge_url")) as gmo:
        _, access, reply = await gmo.authorize(card=CHALLENGE_CARD, TdsType="2")
        assert reply["Tds2TransResult"] == "C"
        assert reply["Approve"] == ""
        assert reply["Tds2ChallengeUrl"].endswith("&lang=ja")
        await gmo.client.get(reply["Tds2ChallengeUrl"])
        assert (await gmo.call("Tds2Result", **access))["Tds2TransResult"] == "Y"
        assert "ErrCode" not in await gmo.call("SecureTran2", **access)


async def test_unknown_api_answers_like_gmo(gmo: Gmo) -> None:
    reply = await gmo.call("EntryTranSuica", OrderID="p-1", JobCd="CAPTURE", Amount=100)
    assert errors(reply) == ["E91099997"]
    assert reply["ErrCode"] == "E91"


async def test_mounted_under_a_prefix_the_urls_follow() -> None:
    import httpx
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from kessai.providers.gmo_pg.simulator import create_simulator

    outer = Starlette(routes=[Mount("/sim/gmo-pg", app=create_simulator())])
    transport = httpx.ASGITransport(app=outer)
    async with httpx.AsyncClient(transport=transport, base_url="http://kessai.test") as client:
        base = "/sim/gmo-pg/payment"

        async def call(api: str, **params: str) -> dict[str, str]:
            body = codec.encode_request({**SHOP, **params})
            return codec.parse_response(
                (await client.post(f"{base}/{api}.idPass", content=body)).content
            )

        access = await call("EntryTran", OrderID="m-1", JobCd="AUTH", Amount="100")
        params = {"OrderID": "m-1", "Method": "1", "CardNo": CHALLENGE_CARD, "Expire": "3012"}
        reply = await call("ExecTran", **access, **params, TdsType="2")
        assert reply["RedirectUrl"].startswith(
            "http://kessai.test/sim/gmo-pg/payment/Tds2Challenge?"
        )
        assert (await client.get(reply["RedirectUrl"])).status_code == 200
        assert "ErrCode" not in await call("SecureTran2", **access)
        script = await client.get("/sim/gmo-pg/ext/js/token.js")
        assert '"http://kessai.test/sim/gmo-pg"' in script.text
