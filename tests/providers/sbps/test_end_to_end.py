"""SBPS クレジットカード end to end: kessai's API over loopback, SBPS's simulator over
loopback, every request signed with sps_hashcode and checked by the simulator."""

from tests.providers.sbps.conftest import SHIPMENT, Sbps


async def test_authorize_commits_and_capture_sells(sbps: Sbps) -> None:
    order = await sbps.order(1000)
    answer = (await sbps.act(order, "authorize")).json()
    assert answer["outcome"] == "succeeded"
    assert answer["order"]["payment_status_label"] == "仮売上完了"
    reference = answer["order"]["provider_reference"]
    assert sbps.held(reference)["status"] == "2"  # 確定
    assert [c["api"] for c in await sbps.calls()] == ["ST01-00131-101", "ST02-00101-101"]

    sold = (await sbps.act(order, "capture", **SHIPMENT)).json()
    assert sold["order"]["payment_status_label"] == "売上完了"
    assert sbps.held(reference)["status"] == "3"


async def test_cancel_before_and_after_the_sale(sbps: Sbps) -> None:
    for sell in (False, True):
        order = await sbps.order(1000)
        reference = (await sbps.act(order, "authorize")).json()["order"]["provider_reference"]
        if sell:
            await sbps.act(order, "capture", **SHIPMENT)
        answer = (await sbps.act(order, "cancel")).json()
        assert answer["order"]["payment_status_label"] == "取消完了"
        assert sbps.held(reference)["status"] == "4"


async def test_partial_refund_after_the_sale(sbps: Sbps) -> None:
    order = await sbps.order(1000)
    reference = (await sbps.act(order, "authorize")).json()["order"]["provider_reference"]
    await sbps.act(order, "capture", **SHIPMENT)
    refunded = (await sbps.act(order, "change-amount", amount=700, tax=0)).json()
    assert refunded["outcome"] == "succeeded"
    assert refunded["order"]["amount"] == 700
    assert sbps.held(reference)["amount"] == 700
    assert len(await sbps.calls("ST02-00307-101")) == 1
    more = (await sbps.act(order, "change-amount", amount=900, tax=0)).json()
    assert more["outcome"] == "declined"
    assert sbps.held(reference)["amount"] == 700


async def test_a_decrease_before_the_sale_is_sold_at_the_new_amount(sbps: Sbps) -> None:
    order = await sbps.order(1000)
    reference = (await sbps.act(order, "authorize")).json()["order"]["provider_reference"]
    assert (await sbps.act(order, "change-amount", amount=800, tax=0)).json()["outcome"] == (
        "succeeded"
    )
    await sbps.act(order, "capture", **SHIPMENT)
    assert (sbps.held(reference)["status"], sbps.held(reference)["amount"]) == ("3", 800)


async def test_a_declined_card_shows_sbps_code_and_words(sbps: Sbps) -> None:
    order = await sbps.order(1000, card="4000000000000028")
    answer = (await sbps.act(order, "authorize")).json()
    assert answer["outcome"] == "declined"
    assert answer["order"]["payment_status_label"] == "仮売上失敗"
    assert answer["provider_code"] == "10142001"
    assert "残高" in answer["provider_message"]


async def test_the_fifth_reauthorization_is_refused_before_anything_is_sent(sbps: Sbps) -> None:
    order = await sbps.order(1000)
    await sbps.act(order, "authorize")
    for _ in range(4):
        token = await sbps.token()
        answer = (await sbps.act(order, "reauthorize", payment_source=token)).json()
        assert answer["outcome"] == "succeeded", answer
    assert answer["order"]["provider_reference"].endswith("-5")
    before = await sbps.history(order)
    calls = await sbps.calls()

    refused = await sbps.act(order, "reauthorize", payment_source=await sbps.token())
    assert refused.status_code == 409
    assert refused.json()["detail"]["rule_code"] == "reauthorization_limit"
    assert "4回まで" in refused.json()["message"]
    assert await sbps.history(order) == before
    assert await sbps.calls() == calls
    # The last authorization still stands and can be sold.
    sold = (await sbps.act(order, "capture", **SHIPMENT)).json()
    assert sold["order"]["payment_status_label"] == "売上完了"


async def test_a_lost_answer_to_the_payment_is_found_by_order_id(sbps: Sbps) -> None:
    order = await sbps.order(1000)
    await sbps.control(lose_response={"count": 1, "api": "ST01-00131-101", "commit": True})
    lost = (await sbps.act(order, "authorize")).json()
    assert lost["outcome"] == "unknown"
    settled = (await sbps.act(order, "reconcile")).json()
    assert settled["order"]["payment_status_label"] == "仮売上完了"
    # Not yet 確定 at SBPS: the 売上 sends the 確定 first, and no second 決済.
    sold = (await sbps.act(order, "capture", **SHIPMENT)).json()
    assert sold["order"]["payment_status_label"] == "売上完了"
    assert len(await sbps.calls("ST01-00131-101")) == 1


async def test_the_authorization_window_follows_the_card_brand(sbps: Sbps) -> None:
    visa = await sbps.order(1000)  # VISA: 60日
    jcb = await sbps.order(1000, card="3530111333300000")  # JCB: 90日
    for order in (visa, jcb):
        await sbps.act(order, "authorize")
    moved = await sbps.api.post("/api/v1/sandbox/clock", json={"advance_days": 61})
    assert moved.status_code == 200, moved.text

    expired = (await sbps.act(visa, "capture", **SHIPMENT)).json()
    assert expired["outcome"] == "declined"
    assert expired["provider_code"] == "sbps_authorization_expired"
    assert "VISA: 60日" in expired["provider_message"]
    assert expired["order"]["payment_status_label"] == "売上失敗"
    assert "reauthorize" in expired["order"]["allowed_actions"]
    assert await sbps.calls("ST02-00201-101") == []

    sold = (await sbps.act(jcb, "capture", **SHIPMENT)).json()
    assert sold["order"]["payment_status_label"] == "売上完了"
