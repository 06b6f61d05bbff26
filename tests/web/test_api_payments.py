"""POST /api/v1/orders/{id}/payment/{action} for every action, and both histories."""

from datetime import datetime, timedelta
from typing import Any

import httpx

from kessai.providers.fake.connector import DECLINE_CODE, DECLINE_MESSAGE
from kessai.services import Services
from tests.web.conftest import (
    KEY_NAME,
    act,
    authorized_order,
    card_method,
    deferred_method,
    new_order,
)

ACTOR = f"api:{KEY_NAME}"
SHIPMENT = {
    "shipped_on": "2026-11-22",
    "tracking_number": "1234-5678-9012",
    "carrier": "ヤマト運輸",
}
RESULT_KEYS = {
    "outcome",
    "message",
    "attempt_id",
    "provider_code",
    "provider_message",
    "redirect_url",
    "order",
}


async def history(api: httpx.AsyncClient, order_id: int) -> list[dict[str, Any]]:
    r = await api.get(f"/api/v1/orders/{order_id}/payment-history")
    assert r.status_code == 200
    rows: list[dict[str, Any]] = r.json()
    return rows


async def changes(api: httpx.AsyncClient, order_id: int) -> list[tuple[str, Any, Any]]:
    r = await api.get(f"/api/v1/orders/{order_id}/change-history")
    assert r.status_code == 200
    for c in r.json():
        assert c["actor"] == ACTOR
    return [(c["field_label"], c["before"], c["after"]) for c in r.json()]


def ts(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def test_authorize_then_capture(services: Services, api: httpx.AsyncClient) -> None:
    method = await card_method(services)
    order = await new_order(api, method.code, number="P-1")
    r = await act(api, order["id"], "authorize")
    assert r.status_code == 200, r.text
    result = r.json()
    assert set(result) == RESULT_KEYS
    assert result["outcome"] == "succeeded"
    assert result["message"] == "オーソリが完了しました"
    o = result["order"]
    assert (o["payment_status"], o["payment_status_label"]) == ("authorized", "仮売上完了")
    assert o["handling_status_label"] == "注文確定"
    assert o["provider_reference"] == "P-1"
    assert ts(o["authorization_expires_at"]) - ts(o["authorized_at"]) == timedelta(days=60)
    assert "capture" in o["allowed_actions"]

    # Fields of other actions sent as null (a client that serializes every field) are fine.
    r = await act(api, order["id"], "capture", {**SHIPMENT, "amount": None, "tax": None})
    assert r.status_code == 200, r.text
    o = r.json()["order"]
    assert o["payment_status_label"] == "売上完了"
    assert (o["shipped_on"], o["tracking_number"], o["shipment_count"]) == (
        "2026-11-22",
        "1234-5678-9012",
        1,
    )
    assert o["authorization_expires_at"] is None
    assert (await api.get(f"/api/v1/orders/{order['id']}")).json() == o

    rows = await history(api, order["id"])
    assert [(h["operation"], h["operation_label"], h["outcome"]) for h in rows] == [
        ("authorize", "オーソリ", "succeeded"),
        ("capture", "売上処理", "succeeded"),
    ]
    assert all(h["amount"] == 5_500 and h["reference"] == "P-1" for h in rows)
    assert rows[0]["provider_transaction_id"] == o["provider_transaction_id"]
    # The shipment is recorded with the write-ahead, the 決済状況 once the provider answered.
    assert await changes(api, order["id"]) == [
        ("決済状況", "決済準備中", "仮売上完了"),
        ("対応状況", "新規受付", "注文確定"),
        ("発送完了日", None, "2026-11-22"),
        ("配送伝票番号", None, "1234-5678-9012"),
        ("配送業者", None, "ヤマト運輸"),
        ("発送回数", "0", "1"),
        ("決済状況", "仮売上完了", "売上完了"),
    ]
    assert services.registry.fake(method.account_id).captures() == 1


async def test_capturing_a_captured_order_records_the_shipment_only(
    services: Services, api: httpx.AsyncClient
) -> None:
    method = await card_method(services)
    order = await authorized_order(api, method.code)
    await act(api, order["id"], "capture", SHIPMENT)
    r = await act(
        api, order["id"], "capture", {"shipped_on": "2026-11-24", "tracking_number": "9999-0000"}
    )
    assert r.status_code == 200
    assert r.json()["outcome"] == "local"
    o = r.json()["order"]
    assert (o["shipped_on"], o["tracking_number"], o["shipment_count"]) == (
        "2026-11-24",
        "9999-0000",
        2,
    )
    assert services.registry.fake(method.account_id).captures() == 1
    assert (await history(api, order["id"]))[-1]["outcome"] == "local"


async def test_cancel(services: Services, api: httpx.AsyncClient) -> None:
    method = await card_method(services)
    order = await authorized_order(api, method.code)
    r = await act(api, order["id"], "cancel")
    assert r.status_code == 200, r.text
    assert r.json()["outcome"] == "succeeded"
    o = r.json()["order"]
    assert (o["payment_status_label"], o["handling_status_label"]) == ("取消完了", "キャンセル")
    assert o["allowed_actions"] == []
    assert (await history(api, order["id"]))[-1]["operation_label"] == "取消処理"
    assert ("対応状況", "注文確定", "キャンセル") in await changes(api, order["id"])


async def test_change_amount(services: Services, api: httpx.AsyncClient) -> None:
    method = await card_method(services)
    order = await authorized_order(api, method.code)
    r = await act(api, order["id"], "change-amount", {"amount": 4_400, "tax": 400})
    assert r.status_code == 200, r.text
    assert r.json()["outcome"] == "succeeded"
    o = r.json()["order"]
    assert (o["amount"], o["tax"], o["payment_status_label"]) == (4_400, 400, "仮売上完了")
    last = (await history(api, order["id"]))[-1]
    assert (last["operation_label"], last["amount"]) == ("金額変更", 4_400)
    assert [c for c in await changes(api, order["id"]) if c[0] in ("合計金額", "消費税")] == [
        ("合計金額", "5500", "4400"),
        ("消費税", "500", "400"),
    ]
    calls = services.registry.fake(method.account_id).calls
    assert [(c.operation, c.amount) for c in calls] == [
        ("authorize", 5_500),
        ("change_amount", 4_400),
    ]


async def test_change_amount_before_authorization_is_local(
    services: Services, api: httpx.AsyncClient
) -> None:
    method = await card_method(services)
    order = await new_order(api, method.code)
    r = await act(api, order["id"], "change-amount", {"amount": 3_300})
    assert r.status_code == 200
    assert r.json()["outcome"] == "local"
    assert (r.json()["order"]["amount"], r.json()["order"]["tax"]) == (3_300, 500)
    assert services.registry.fake(method.account_id).calls == []


async def test_force_capture_and_force_cancel_never_call_the_provider(
    services: Services, api: httpx.AsyncClient
) -> None:
    method = await card_method(services)
    order = await authorized_order(api, method.code)
    r = await act(api, order["id"], "force-capture")
    assert r.status_code == 200, r.text
    assert r.json()["outcome"] == "local"
    assert r.json()["order"]["payment_status_label"] == "売上完了"
    r = await act(api, order["id"], "force-cancel")
    assert r.status_code == 200, r.text
    assert r.json()["order"]["payment_status_label"] == "取消完了"
    labels = [h["operation_label"] for h in await history(api, order["id"])]
    assert labels == [
        "オーソリ",
        "強制売上処理(決済サービス未連携)",
        "強制取消処理(決済サービス未連携)",
    ]
    assert [c.operation for c in services.registry.fake(method.account_id).calls] == ["authorize"]


async def test_decline_is_recorded_verbatim_then_reauthorize(
    services: Services, api: httpx.AsyncClient
) -> None:
    method = await card_method(services)
    order = await new_order(api, method.code, number="D-1")
    r = await act(api, order["id"], "authorize", {"sandbox": {"scenario": "decline"}})
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["outcome"] == "declined"
    assert (result["provider_code"], result["provider_message"]) == (DECLINE_CODE, DECLINE_MESSAGE)
    assert DECLINE_CODE in result["message"]
    assert result["order"]["payment_status_label"] == "仮売上失敗"
    assert "reauthorize" in result["order"]["allowed_actions"]
    first = (await history(api, order["id"]))[0]
    assert (first["outcome"], first["provider_code"], first["provider_message"]) == (
        "declined",
        DECLINE_CODE,
        DECLINE_MESSAGE,
    )

    r = await act(api, order["id"], "reauthorize", {"payment_source": {"token": "tok_new"}})
    assert r.status_code == 200, r.text
    assert r.json()["outcome"] == "succeeded"
    o = r.json()["order"]
    assert o["payment_status_label"] == "仮売上完了"
    assert o["provider_reference"] == "D-1-2"  # a new reference for the new authorization
    rows = await history(api, order["id"])
    assert [(h["reference"], h["outcome"]) for h in rows] == [
        ("D-1", "declined"),
        ("D-1-2", "succeeded"),
    ]


async def test_reauthorize_a_live_authorization_voids_it_first(
    services: Services, api: httpx.AsyncClient
) -> None:
    method = await card_method(services)
    order = await authorized_order(api, method.code, number="R-1")
    r = await act(api, order["id"], "reauthorize")
    assert r.status_code == 200, r.text
    assert r.json()["order"]["payment_status_label"] == "仮売上完了"
    calls = services.registry.fake(method.account_id).calls
    assert [(c.operation, c.reference) for c in calls] == [
        ("authorize", "R-1"),
        ("cancel", "R-1"),
        ("authorize", "R-1-2"),
    ]


async def test_unknown_outcome_then_reconcile(services: Services, api: httpx.AsyncClient) -> None:
    method = await card_method(services)
    order = await new_order(api, method.code)
    r = await act(api, order["id"], "authorize", {"sandbox": {"scenario": "unknown"}})
    assert r.status_code == 200
    assert r.json()["outcome"] == "unknown"
    assert r.json()["order"]["needs_reconcile"] is True
    assert r.json()["order"]["payment_status_label"] == "決済準備中"
    r = await act(api, order["id"], "reconcile")
    assert r.status_code == 200, r.text
    assert r.json()["outcome"] == "succeeded"
    o = r.json()["order"]
    assert (o["payment_status_label"], o["needs_reconcile"]) == ("仮売上完了", False)
    rows = await history(api, order["id"])
    assert [(h["operation_label"], h["outcome"]) for h in rows] == [
        ("オーソリ", "succeeded"),  # settled by the lookup below
        ("決済照会", "succeeded"),
    ]
    assert rows[0]["note"] == "決済照会により確定"


async def test_deferred_credit_check_then_shipment_report(
    services: Services, api: httpx.AsyncClient
) -> None:
    method = await deferred_method(services)
    order = await new_order(api, method.code)
    r = await act(api, order["id"], "authorize", {"sandbox": {"scenario": "pending"}})
    assert r.status_code == 200, r.text
    assert r.json()["outcome"] == "pending"
    assert r.json()["message"] == "オーソリ: 与信審査中です"
    assert r.json()["order"]["payment_status_label"] == "与信審査中"
    r = await act(api, order["id"], "reconcile")
    assert r.status_code == 200, r.text
    assert r.json()["order"]["payment_status_label"] == "与信審査完了"
    r = await act(api, order["id"], "capture", SHIPMENT)
    assert r.status_code == 200, r.text
    assert r.json()["order"]["payment_status_label"] == "売上完了"
    calls = services.registry.fake(method.account_id).calls
    assert [c.operation for c in calls] == ["authorize", "lookup", "capture"]
    ledger = services.registry.fake(method.account_id).ledger[order["number"]]
    assert ledger.shipment is not None
    assert ledger.shipment.tracking_number == "1234-5678-9012"


async def test_decline_of_a_capture_moves_to_capture_failed(
    services: Services, api: httpx.AsyncClient
) -> None:
    method = await card_method(services)
    order = await authorized_order(api, method.code)
    r = await act(api, order["id"], "capture", {"sandbox": {"scenario": "decline"}})
    assert r.status_code == 200
    assert r.json()["outcome"] == "declined"
    assert r.json()["order"]["payment_status_label"] == "売上失敗"
    assert services.registry.fake(method.account_id).captures() == 1  # it reached the provider


async def test_customer_challenge_then_reconcile(
    services: Services, api: httpx.AsyncClient
) -> None:
    method = await card_method(services)
    order = await new_order(api, method.code)
    r = await act(api, order["id"], "authorize", {"sandbox": {"scenario": "challenge"}})
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["outcome"] == "pending"
    assert result["redirect_url"]
    assert result["message"] == "オーソリ: お客様の認証(3Dセキュア)待ちです"
    o = result["order"]
    assert (o["payment_status_label"], o["redirect_url"]) == ("決済準備中", result["redirect_url"])
    assert "reconcile" in o["allowed_actions"]
    r = await act(api, order["id"], "authorize")
    assert (r.status_code, r.json()["code"]) == (409, "awaiting_customer")
    r = await act(api, order["id"], "reconcile")
    assert r.status_code == 200, r.text
    o = r.json()["order"]
    assert (o["payment_status_label"], o["redirect_url"]) == ("仮売上完了", None)
    assert "reconcile" not in o["allowed_actions"]


async def test_reconcile_with_nothing_to_settle(services: Services, api: httpx.AsyncClient) -> None:
    method = await card_method(services)
    order = await authorized_order(api, method.code)
    r = await act(api, order["id"], "reconcile")
    assert r.status_code == 409
    assert r.json()["code"] == "nothing_to_reconcile"
    assert "仮売上完了" in r.json()["message"]
