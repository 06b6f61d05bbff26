"""Payment actions refused: a clear 4xx, and the order, 決済履歴 and 変更履歴 stay as they were."""

from typing import Any

import httpx
import pytest

from kessai.services import Services
from tests.web.conftest import (
    act,
    authorized_order,
    card_method,
    database_text,
    deferred_method,
    new_order,
    snapshot,
)

PAN = "4111111111111111"

BAD_ACTIONS: list[tuple[str, str, Any, str]] = [
    ("amount zero", "change-amount", {"amount": 0}, "invalid_input"),
    ("amount negative", "change-amount", {"amount": -1}, "invalid_input"),
    ("amount above limit", "change-amount", {"amount": 300_001}, "amount_out_of_range"),
    ("amount overflow", "change-amount", {"amount": 10**20}, "amount_out_of_range"),
    ("tax above amount", "change-amount", {"amount": 1_000, "tax": 1_001}, "tax_out_of_range"),
    ("tax negative", "change-amount", {"amount": 1_000, "tax": -1}, "invalid_input"),
    ("amount missing", "change-amount", {}, "amount_required"),
    ("amount unchanged", "change-amount", {"amount": 5_500, "tax": 500}, "amount_unchanged"),
    ("amount as text", "change-amount", {"amount": "1000円"}, "invalid_input"),
    ("unknown field", "capture", {"tracking_no": "1"}, "invalid_input"),
    ("amount on capture", "capture", {"amount": 1_000}, "field_not_applicable"),
    ("source on cancel", "cancel", {"payment_source": {"token": "t"}}, "field_not_applicable"),
    ("unknown scenario", "capture", {"sandbox": {"scenario": "explode"}}, "invalid_input"),
    ("bad date", "capture", {"shipped_on": "2026-02-30"}, "invalid_input"),
    ("card number", "reauthorize", {"payment_source": {"token": PAN}}, "card_data_not_accepted"),
    (
        "security code",
        "reauthorize",
        {"payment_source": {"token": "tok", "security_code": "123"}},
        "card_data_not_accepted",
    ),
    ("body not an object", "capture", [1, 2], "invalid_input"),
]


async def test_bad_input_changes_nothing(
    services: Services, api: httpx.AsyncClient, subtests: pytest.Subtests
) -> None:
    method = await card_method(services, max_amount=300_000)
    order = await authorized_order(api, method.code)
    calls = len(services.registry.fake(method.account_id).calls)
    before = await snapshot(services, order["id"])
    for case, action, body, code in BAD_ACTIONS:
        with subtests.test(case):
            r = await api.post(f"/api/v1/orders/{order['id']}/payment/{action}", json=body)
            assert r.status_code == 422, r.text
            out = r.json()
            assert set(out) == {"code", "message", "detail"}
            assert out["code"] == code
            assert out["message"]
            assert await snapshot(services, order["id"]) == before
            assert len(services.registry.fake(method.account_id).calls) == calls
    assert (await api.get(f"/api/v1/orders/{order['id']}")).json() == order


async def test_messages_say_what_is_wrong(services: Services, api: httpx.AsyncClient) -> None:
    method = await card_method(services, max_amount=300_000)
    order = await authorized_order(api, method.code)
    r = await act(api, order["id"], "capture", {"amount": 1_000})
    assert "amount" in r.json()["message"]
    assert "売上処理" in r.json()["message"]
    r = await act(api, order["id"], "change-amount", {"amount": 1_000, "tax": 1_001})
    assert r.json()["message"] == "消費税額は0円以上、合計金額以下で指定してください"
    r = await act(api, order["id"], "capture", {"sandbox": {"scenario": "explode"}})
    assert "sandbox.scenario" in r.json()["message"]


async def test_card_number_in_payment_source_never_reaches_the_database(
    services: Services, api: httpx.AsyncClient
) -> None:
    method = await card_method(services)
    order = await new_order(api, method.code)
    r = await act(api, order["id"], "authorize", {"payment_source": {"card_number": PAN}})
    assert r.status_code == 422
    assert r.json()["code"] == "card_data_not_accepted"
    assert r.json()["detail"] == {"field": "payment_source.card_number"}
    assert PAN not in r.text
    assert PAN not in await database_text(services)
    assert services.registry.fake(method.account_id).calls == []


async def test_shipment_report_without_tracking_number(
    services: Services, api: httpx.AsyncClient
) -> None:
    method = await deferred_method(services)
    order = await authorized_order(api, method.code)
    assert order["payment_status_label"] == "与信審査完了"
    before = await snapshot(services, order["id"])
    r = await act(api, order["id"], "capture", {"shipped_on": "2026-11-22"})
    assert r.status_code == 422
    assert r.json()["code"] == "shipment_required"
    assert r.json()["message"] == "後払いの売上処理(出荷報告)には配送伝票番号が必要です"
    assert r.json()["detail"] == {"missing": ["配送伝票番号"]}
    r = await act(api, order["id"], "capture")
    assert r.json()["detail"] == {"missing": ["発送完了日", "配送伝票番号"]}
    assert await snapshot(services, order["id"]) == before
    assert [c.operation for c in services.registry.fake(method.account_id).calls] == ["authorize"]


async def test_malformed_json(services: Services, api: httpx.AsyncClient) -> None:
    method = await card_method(services)
    order = await authorized_order(api, method.code)
    before = await snapshot(services, order["id"])
    r = await api.post(
        f"/api/v1/orders/{order['id']}/payment/capture",
        content=b'{"tracking_number": "1',
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 422
    assert r.json()["code"] == "malformed_json"
    assert await snapshot(services, order["id"]) == before


async def test_unknown_order(services: Services, api: httpx.AsyncClient) -> None:
    await card_method(services)
    before = await snapshot(services)
    for action in ("authorize", "capture", "force-cancel", "reconcile"):
        r = await act(api, 4040, action)
        assert r.status_code == 404
        assert r.json()["code"] == "order_not_found"
        assert r.json()["message"] == "受注が見つかりませんでした (id: 4040)"
    r = await api.get("/api/v1/orders/4040/change-history")
    assert (r.status_code, r.json()["code"]) == (404, "order_not_found")
    assert await snapshot(services) == before


async def test_unknown_action(services: Services, api: httpx.AsyncClient) -> None:
    method = await card_method(services)
    order = await authorized_order(api, method.code)
    before = await snapshot(services, order["id"])
    for action in ("refund", "Capture", "force_capture"):
        r = await act(api, order["id"], action)
        assert r.status_code == 404, r.text
        assert r.json()["code"] == "unknown_action"
        assert action in r.json()["message"]
        assert "capture" in r.json()["detail"]["allowed"]
    assert await snapshot(services, order["id"]) == before


async def test_illegal_transition_names_the_status_and_the_action(
    services: Services, api: httpx.AsyncClient
) -> None:
    method = await card_method(services)
    order = await new_order(api, method.code)
    before = await snapshot(services, order["id"])
    r = await act(api, order["id"], "capture")
    assert r.status_code == 409
    assert r.json()["code"] == "illegal_transition"
    assert r.json()["message"] == "決済状況が「決済準備中」の受注には売上処理を実行できません"
    assert r.json()["detail"] == {"payment_status": "pending", "action": "capture"}
    assert await snapshot(services, order["id"]) == before

    order = await authorized_order(api, method.code)
    await act(api, order["id"], "cancel")
    r = await act(api, order["id"], "authorize")
    assert (r.status_code, r.json()["code"]) == (409, "illegal_transition")
    assert "取消完了" in r.json()["message"]
    assert "オーソリ" in r.json()["message"]


async def test_rule_refusal_names_the_rule_and_sends_nothing(
    services: Services, api: httpx.AsyncClient
) -> None:
    method = await card_method(services, cancel_api_link=False)
    order = await authorized_order(api, method.code)
    before = await snapshot(services, order["id"])
    r = await act(api, order["id"], "cancel")
    assert r.status_code == 409
    body = r.json()
    assert body["code"] == "rule_refused"
    assert "取消API連携フラグ・解約API連携フラグが無効" in body["message"]
    assert body["detail"]["rule_code"] == "flag_off"
    assert body["detail"]["rule"] in body["message"]
    got = (await api.get(f"/api/v1/orders/{order['id']}")).json()
    assert got == order  # still 仮売上完了: nothing moved
    # 決済履歴 holds provider calls and real changes: a refusal that changed nothing adds
    # no row (and never kessai's code as a provider's).
    assert await snapshot(services, order["id"]) == before
    rows = (await api.get(f"/api/v1/orders/{order['id']}/payment-history")).json()
    assert [r["operation"] for r in rows] == ["authorize"]
    assert all(r["provider_code"] != "rule_refused" for r in rows)
    assert [c.operation for c in services.registry.fake(method.account_id).calls] == ["authorize"]


async def test_provider_unreachable_is_a_502_and_nothing_moves(
    services: Services, api: httpx.AsyncClient
) -> None:
    method = await card_method(services)
    order = await authorized_order(api, method.code)
    r = await act(api, order["id"], "capture", {"sandbox": {"scenario": "not_sent"}})
    assert r.status_code == 502
    assert r.json()["code"] == "provider_unavailable"
    assert "送信されていません" in r.json()["message"]
    got = (await api.get(f"/api/v1/orders/{order['id']}")).json()
    assert (got["payment_status_label"], got["needs_reconcile"]) == ("仮売上完了", False)
    assert services.registry.fake(method.account_id).captures() == 0
