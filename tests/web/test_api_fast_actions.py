"""web.fast_actions: the payment actions answered without FastAPI's routing, same answers.

Every other API test goes through the app as shipped (with the fast path); these check
that the fast path really takes the plain requests, and that a request it leaves to
FastAPI, or answers itself with an error, gets the very answer the app gives without it.
"""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from kessai.core.db import is_postgres
from kessai.payments import repository as repo
from kessai.services import Services
from kessai.web import fast_actions
from kessai.web.app import create_app
from kessai.web.fast_actions import FastPaymentActions
from tests.web.conftest import BASE_URL, act, authorized_order, card_method, new_order

SHIPMENT = {"shipped_on": "2026-11-22", "tracking_number": "1234-5678-9012", "carrier": "佐川"}


@pytest.fixture
def taken(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, str]]:
    """The (order id, action) of each request the fast path answered."""
    seen: list[tuple[int, str]] = []
    original = fast_actions.run_action

    async def run_action(*args: Any) -> Any:
        seen.append((args[3], args[4]))
        return await original(*args)

    monkeypatch.setattr(fast_actions, "run_action", run_action)
    return seen


@pytest.fixture
async def plain(services: Services, api_key: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app without the fast path: FastAPI answers everything."""
    app = create_app(services)
    app.user_middleware = [m for m in app.user_middleware if m.cls is not FastPaymentActions]
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {api_key}"}
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL, headers=headers) as c:
        yield c


def answer(r: httpx.Response) -> tuple[int, bytes, list[tuple[str, str]]]:
    """Status, body and headers, but the request id: new on every request, either way."""
    assert r.headers.get("x-request-id")
    headers = [(k, v) for k, v in r.headers.multi_items() if k != "x-request-id"]
    return r.status_code, r.content, sorted(headers)


async def test_plain_actions_take_the_fast_path(
    services: Services, api: httpx.AsyncClient, taken: list[tuple[int, str]]
) -> None:
    method = await card_method(services)
    order = await new_order(api, method.code)

    authorized = await act(api, order["id"], "authorize")
    captured = await act(api, order["id"], "capture", SHIPMENT)

    assert taken == [(order["id"], "authorize"), (order["id"], "capture")]
    assert authorized.json()["order"]["payment_status"] == "authorized"
    assert captured.json()["order"]["payment_status"] == "captured"
    assert (await api.get(f"/api/v1/orders/{order['id']}")).json() == captured.json()["order"]


async def test_an_action_answers_as_without_the_fast_path(
    services: Services,
    api: httpx.AsyncClient,
    plain: httpx.AsyncClient,
    taken: list[tuple[int, str]],
) -> None:
    method = await card_method(services)
    fast = await new_order(api, method.code, number="F-1")
    slow = await new_order(api, method.code, number="F-2")
    # What differs between two orders: their ids, numbers, references and times.
    differ = {"id", "number", "provider_reference", "provider_transaction_id", "customer"}
    differ |= {"ordered_at", "authorized_at", "authorization_expires_at", "captured_at"}
    differ |= {"created_at", "updated_at"}

    for action, body in (("authorize", {}), ("capture", SHIPMENT)):
        a = await act(api, fast["id"], action, body)
        b = await act(plain, slow["id"], action, body)
        assert (a.status_code, sorted(a.headers)) == (b.status_code, sorted(b.headers))
        one, other = a.json(), b.json()
        assert one["attempt_id"] != other["attempt_id"]
        for out in (one, other):
            del out["attempt_id"]
            for name in differ:
                del out["order"][name]
        assert one == other
    assert [order_id for order_id, _ in taken] == [fast["id"], fast["id"]]


async def test_refusals_answer_as_without_the_fast_path(
    services: Services, api: httpx.AsyncClient, plain: httpx.AsyncClient
) -> None:
    method = await card_method(services)
    order = await authorized_order(api, method.code)
    before = (await api.get(f"/api/v1/orders/{order['id']}")).json()
    path = f"/api/v1/orders/{order['id']}/payment"
    json_type = {"content-type": "application/json"}
    refused = {"amount": 100}  # no amount in a capture: refused, whoever reads the request
    cases: list[tuple[str, dict[str, Any]]] = [
        (f"{path}/capture", {"content": b"{}", "headers": {"content-type": "text/plain"}}),
        (f"{path}/capture", {"content": b'{"carrier": ', "headers": json_type}),
        (f"{path}/capture", {"json": []}),
        (f"{path}/capture", {"json": {"carrier": "x", "unknown": 1}}),
        (f"{path}/capture", {"json": {"tracking_number": ""}}),
        (f"{path}/capture", {"json": {"amount": 100}}),  # field_not_applicable
        (f"{path}/refund", {"json": {}}),  # unknown_action
        (f"{path}/reconcile", {"content": b""}),  # no body at all
        (f"{path}/reconcile", {"json": {}}),  # nothing_to_reconcile
        (f"{path}/capture", {"json": {}, "headers": {"Idempotency-Key": "k" * 256}}),
        (f"{path}/authorize", {"json": {"payment_source": {"card_no": "4111111111111111"}}}),
        ("/api/v1/orders/999999/payment/capture", {"json": {}}),  # order_not_found
        ("/api/v1/orders/0/payment/capture", {"json": refused}),
        (f"/api/v1/orders/00{order['id']}/payment/capture", {"json": refused}),
        (f"/api/v1/orders/{2**63}/payment/capture", {"json": refused}),
        (f"{path}/capture/", {"json": refused}),
    ]
    for url, kw in cases:
        a, b = await api.post(url, **kw), await plain.post(url, **kw)
        assert answer(a) == answer(b), (url, kw, a.text, b.text)
    for headers in ({"Authorization": "Bearer ks_nope_nope"}, {"Authorization": ""}):
        a = await api.post(f"{path}/capture", json=refused, headers=headers)
        b = await plain.post(f"{path}/capture", json=refused, headers=headers)
        assert answer(a) == answer(b)
        assert a.status_code == 401
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(services)), base_url=BASE_URL
    ) as anonymous:
        a = await anonymous.post(f"{path}/capture", json=refused)
        b = await plain.post(f"{path}/capture", json=refused, headers={"Authorization": ""})
        assert a.status_code == 401
        assert a.json() == b.json()
    assert (await api.get(f"/api/v1/orders/{order['id']}")).json() == before


async def test_a_replayed_idempotent_action_answers_the_first_response(
    services: Services, api: httpx.AsyncClient, taken: list[tuple[int, str]]
) -> None:
    method = await card_method(services)
    order = await new_order(api, method.code)
    headers = {"Idempotency-Key": "authorize-once"}
    url = f"/api/v1/orders/{order['id']}/payment/authorize"

    first = await api.post(url, json={}, headers=headers)
    again = await api.post(url, json={}, headers=headers)

    assert first.status_code == again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.content == first.content
    assert len(taken) == 2
    calls = services.registry.fake(method.account_id).calls
    assert [c.operation for c in calls] == ["authorize"]


async def test_a_created_order_is_authorized_without_a_load(
    services: Services, api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[int] = []
    original = repo._PgHotPath.read

    async def read(self: Any, order_id: int) -> repo.Seen:
        reads.append(order_id)
        return await original(self, order_id)

    monkeypatch.setattr(repo._PgHotPath, "read", read)
    method = await card_method(services)
    order = await new_order(api, method.code)

    r = await act(api, order["id"], "authorize")

    assert r.json()["order"]["payment_status"] == "authorized"
    if is_postgres(services.engine):
        assert reads == [order["id"]]  # the create's own read, inside its transaction
    assert (await api.get(f"/api/v1/orders/{order['id']}")).json() == r.json()["order"]
