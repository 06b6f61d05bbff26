"""NP後払い end to end: kessai's API over loopback, NP's simulator over loopback.

与信 (OK, 保留 then OK, NG), 出荷報告 (and its lost answer, settled by a lookup without a
second report), 取消 before and after the shipment, 金額変更 only before 伝票番号連携, and
input NP would refuse turned away before anything is sent.
"""

from kessai.jobs.schedules import tick
from tests.providers.np_atobarai.conftest import SHIPMENT, Np


async def test_credit_check_ok(np: Np) -> None:
    order = await np.order(1000)
    answer = (await np.act(order, "authorize")).json()
    assert answer["outcome"] == "succeeded"
    assert answer["order"]["payment_status_label"] == "与信審査完了"
    held = np.records[answer["order"]["provider_reference"]]
    assert (held["authori_result"], held["billed_amount"]) == ("00", 1000)
    assert answer["order"]["provider_transaction_id"] == held["np_transaction_id"]


async def test_hold_shows_the_reasons_in_japanese_then_passes(np: Np) -> None:
    order = await np.order(29003)
    answer = (await np.act(order, "authorize")).json()
    assert answer["outcome"] == "pending"
    assert answer["order"]["payment_status_label"] == "与信審査中"
    (row,) = await np.history(order)
    assert row["provider_code"] == "10"
    assert "RE009 住所不備" in row["provider_message"]
    assert "RE021 電話番号不備" in row["provider_message"]

    settled = (await np.act(order, "reconcile")).json()
    assert settled["order"]["payment_status_label"] == "与信審査完了"


async def test_hold_then_ng(np: Np) -> None:
    order = await np.order(29004)
    assert (await np.act(order, "authorize")).json()["outcome"] == "pending"
    settled = (await np.act(order, "reconcile")).json()
    assert settled["order"]["payment_status_label"] == "与信審査エラー"
    assert settled["provider_code"] == "NG999"


async def test_ng(np: Np) -> None:
    order = await np.order(29001)
    answer = (await np.act(order, "authorize")).json()
    assert answer["outcome"] == "declined"
    assert answer["order"]["payment_status_label"] == "与信審査エラー"
    assert answer["provider_code"] == "NG001"
    assert "限度額超過" in answer["provider_message"]
    assert "reauthorize" in answer["order"]["allowed_actions"]


async def test_shipment_report_carries_the_carrier_code_and_slip(np: Np) -> None:
    order = await np.order(1000)
    await np.act(order, "authorize")
    answer = (await np.act(order, "capture", **SHIPMENT)).json()
    assert answer["outcome"] == "succeeded"
    assert answer["order"]["payment_status_label"] == "売上完了"
    held = np.records[answer["order"]["provider_reference"]]
    assert (held["status"], held["pd_company_code"], held["slip_no"]) == (
        "shipped",
        "59010",  # ヤマト運輸
        "4412-3456-7890",
    )


async def test_lost_shipment_answer_is_settled_by_lookup_with_no_second_report(np: Np) -> None:
    order = await np.order(1000)
    await np.act(order, "authorize")
    await np.control(lose_response={"count": 1, "api": "shipments", "commit": True})
    lost = (await np.act(order, "capture", **SHIPMENT)).json()
    assert lost["outcome"] == "unknown"
    assert lost["order"]["payment_status_label"] == "出荷報告依頼中"
    assert lost["order"]["needs_reconcile"] is True

    settled = (await np.act(order, "reconcile")).json()
    assert settled["order"]["payment_status_label"] == "売上完了"
    # A 売上処理 clicked again reports nothing more.
    again = (await np.act(order, "capture", **SHIPMENT)).json()
    assert again["outcome"] == "local"
    assert len(await np.calls("shipments")) == 1
    held = np.records[lost["order"]["provider_reference"]]
    assert held["shipments_reported"] == 1


async def test_shipment_report_that_never_arrived_is_sent_once_more_after_lookup(np: Np) -> None:
    order = await np.order(1000)
    await np.act(order, "authorize")
    await np.control(lose_response={"count": 1, "api": "shipments", "commit": False})
    assert (await np.act(order, "capture", **SHIPMENT)).json()["outcome"] == "unknown"
    settled = (await np.act(order, "reconcile")).json()
    assert settled["order"]["payment_status_label"] == "出荷報告失敗"
    assert (await np.act(order, "capture", **SHIPMENT)).json()["outcome"] == "succeeded"
    held = np.records[settled["order"]["provider_reference"]]
    assert held["shipments_reported"] == 1


async def test_shipment_lookup_that_cannot_answer_leaves_the_order_for_a_person(np: Np) -> None:
    order = await np.order(1000)
    await np.act(order, "authorize")
    await np.control(lose_response={"count": 1, "api": "shipments", "commit": True})
    await np.act(order, "capture", **SHIPMENT)
    await np.control(server_error={"count": None, "api": "transactions/find"})
    undecided = await np.act(order, "reconcile")
    assert undecided.status_code == 502
    assert await np.status(order) == "shipment_report_requested"
    assert len(await np.calls("shipments")) == 1


async def test_cancel_before_and_after_the_shipment(np: Np) -> None:
    before = await np.order(1000)
    await np.act(before, "authorize")
    answer = (await np.act(before, "cancel")).json()
    assert answer["order"]["payment_status_label"] == "取消完了"
    assert np.records[answer["order"]["provider_reference"]]["status"] == "canceled"

    after = await np.order(1000)
    await np.act(after, "authorize")
    await np.act(after, "capture", **SHIPMENT)
    answer = (await np.act(after, "cancel")).json()
    assert answer["order"]["payment_status_label"] == "取消完了"
    assert np.records[answer["order"]["provider_reference"]]["status"] == "canceled"


async def test_amount_change_before_the_slip_and_never_after(np: Np) -> None:
    order = await np.order(1000)
    await np.act(order, "authorize")
    changed = (await np.act(order, "change-amount", amount=800, tax=0)).json()
    assert changed["outcome"] == "succeeded"
    reference = changed["order"]["provider_reference"]
    assert np.records[reference]["billed_amount"] == 800

    await np.act(order, "capture", **SHIPMENT)
    refused = await np.act(order, "change-amount", amount=700, tax=0)
    assert refused.status_code == 409
    assert np.records[reference]["billed_amount"] == 800
    assert len(await np.calls("transactions/update")) == 1


async def test_amount_change_refused_while_the_slip_is_being_reported(np: Np) -> None:
    order = await np.order(1000)
    await np.act(order, "authorize")
    await np.control(lose_response={"count": 1, "api": "shipments", "commit": True})
    await np.act(order, "capture", **SHIPMENT)
    refused = await np.act(order, "change-amount", amount=700, tax=0)
    assert refused.status_code == 409
    assert await np.calls("transactions/update") == []


async def test_bad_input_is_refused_before_anything_is_sent(np: Np) -> None:
    order = await np.order(1000, address="渋谷区神宮前1-2-3")  # no 都道府県
    refused = await np.act(order, "authorize")
    assert refused.status_code == 422
    assert refused.json()["code"] == "np_input_invalid"
    assert "都道府県" in refused.json()["message"]
    assert await np.status(order) == "pending"
    assert await np.history(order) == []

    order = await np.order(1000)
    await np.act(order, "authorize")
    before = await np.history(order)
    no_slip = await np.act(order, "capture", shipped_on="2026-03-02", carrier="ヤマト運輸")
    assert no_slip.status_code == 422
    assert no_slip.json()["code"] == "shipment_required"
    unknown = await np.act(order, "capture", **{**SHIPMENT, "carrier": "ペンギン便"})
    assert unknown.status_code == 422
    assert unknown.json()["code"] == "np_unknown_carrier"
    assert await np.status(order) == "credit_check_passed"
    assert await np.history(order) == before
    assert await np.calls("shipments") == []


async def test_reauthorization_opens_a_transaction_without_a_slip(np: Np) -> None:
    order = await np.order(1000)
    first = (await np.act(order, "authorize")).json()["order"]["provider_reference"]
    await np.control(inject_error={"info": "E0100115", "api": "shipments"})
    failed = (await np.act(order, "capture", **SHIPMENT)).json()
    assert failed["order"]["payment_status_label"] == "出荷報告失敗"

    again = (await np.act(order, "reauthorize")).json()
    second = again["order"]["provider_reference"]
    assert second != first
    assert again["order"]["payment_status_label"] == "与信審査完了"
    assert np.records[first]["status"] == "canceled"
    assert "slip_no" not in np.records[second]
    # The new transaction has had no slip sent: its amount may change, its 出荷報告 is new.
    changed = (await np.act(order, "change-amount", amount=900, tax=0)).json()
    assert changed["outcome"] == "succeeded"
    assert (await np.act(order, "capture", **SHIPMENT)).json()["outcome"] == "succeeded"
    assert np.records[second]["slip_no"] == "4412-3456-7890"


async def test_the_hourly_lookup_settles_a_lost_shipment_answer_by_itself(np: Np) -> None:
    deciding = await np.order(29003)
    await np.act(deciding, "authorize")
    order = await np.order(1000)
    await np.act(order, "authorize")
    await np.control(lose_response={"count": 1, "api": "shipments", "commit": True})
    await np.act(order, "capture", **SHIPMENT)
    assert await np.status(order) == "shipment_report_requested"

    services = np.harness.services
    assert await tick(services)
    await services.dispatcher.drain()
    assert await np.status(order) == "captured"
    assert await np.status(deciding) == "credit_check_passed"  # 保留 looked at again too
    assert len(await np.calls("shipments")) == 1
