"""An account kessai cannot connect to its provider (connector "none" in production) says so
over the API before anything is stored or sent: order and 定期受注 creation, every payment
action, 決済状況一括変更 and the 定期 billing run answer 409 provider_not_connected (or a
failed row) naming the account type, and so does the 接続テスト. The sandbox keeps serving
such accounts with its simulated connector (the admin's side:
tests/admin/test_not_connected_ui.py).
"""

import re
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from kessai.accounts.integrations import integration
from kessai.core.db import transaction
from kessai.customers.models import Customer
from kessai.jobs.service import submit
from kessai.orders.models import Order
from kessai.payments.models import PaymentAttempt
from kessai.providers.installed import PROVIDERS
from kessai.services import Services
from kessai.subscriptions.models import Subscription
from tests.accounts.unconnected import (
    CODE,
    NP,
    NP_REALTIME,
    NP_WORDS,
    PAIDY,
    Kind,
    account,
    method,
    refused,
    stored_order,
    stored_subscription,
)
from tests.bulk.helpers import csv_rows, finished
from tests.web.conftest import client_for, new_key, order_body, snapshot

KINDS = pytest.mark.parametrize("kind", [NP, PAIDY], ids=["np_atobarai", "paidy"])


@pytest.fixture
async def api(prod_services: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(prod_services, await new_key(prod_services)) as client:
        yield client


@KINDS
async def test_the_account_and_its_method_say_they_cannot_connect(
    api: httpx.AsyncClient, kind: Kind
) -> None:
    m = await method(api, kind)
    acc = (await api.get(f"/api/v1/provider-accounts/{m['account_id']}")).json()
    assert (acc["connector"], acc["connected"], acc["connection_notice"]) == (
        "none",
        False,
        kind.words,
    )
    assert acc["complete"] is True  # every field is set: the connection is what is missing
    assert (m["connected"], m["connection_notice"]) == (False, kind.words)

    r = await api.post(f"/api/v1/provider-accounts/{acc['id']}/test")
    assert r.status_code == 200
    assert r.json() == {
        "ok": False,
        "message": kind.words,
        "detail": {"code": CODE, "integration": kind.integration},
    }

    # An account kessai does connect to says nothing of the kind.
    real = await account(api, "np_atobarai_realtime", NP_REALTIME)
    assert (real["connector"], real["connected"], real["connection_notice"]) == (
        "np_atobarai",
        True,
        None,
    )


@KINDS
async def test_an_order_is_refused_before_anything_is_stored(
    prod_services: Services, api: httpx.AsyncClient, kind: Kind
) -> None:
    m = await method(api, kind)
    before = await snapshot(prod_services)
    async with transaction(prod_services.sessions) as s:
        customers = await s.scalar(select(func.count()).select_from(Customer))

    r = await api.post("/api/v1/orders", json=order_body(m["code"]))

    refused(r, kind)
    assert await snapshot(prod_services) == before
    async with transaction(prod_services.sessions) as s:
        assert await s.scalar(select(func.count()).select_from(Customer)) == customers


async def test_a_subscription_is_refused_before_anything_is_stored(
    prod_services: Services, api: httpx.AsyncClient
) -> None:
    m = await method(api, NP)
    now = prod_services.clock.now()
    async with transaction(prod_services.sessions) as s:
        customer = Customer(name="定期 花子", email="hanako@example.jp", created_at=now)
        s.add(customer)
        await s.flush()
    r = await api.post(
        "/api/v1/subscriptions",
        json={
            "customer_id": customer.id,
            "payment_method": m["code"],
            "items": [{"name": "青汁", "sku": "AOJIRU", "quantity": 1, "unit_price": 5_500}],
            "tax": 500,
            "cycle": {"kind": "months", "interval": 1},
            "next_ship_on": "2026-12-01",
        },
    )
    refused(r, NP)
    async with transaction(prod_services.sessions) as s:
        assert await s.scalar(select(func.count()).select_from(Subscription)) == 0


@KINDS
async def test_every_payment_action_is_refused_before_anything_is_written(
    prod_services: Services, api: httpx.AsyncClient, kind: Kind
) -> None:
    m = await method(api, kind)
    pending = await stored_order(prod_services, m["id"])
    live = await stored_order(prod_services, m["id"], authorized=True)
    steps = [
        (pending, "authorize", {}),
        (pending, "reauthorize", {}),
        (live, "capture", {"shipped_on": "2026-03-02", "tracking_number": "4412-3456-7890"}),
        (live, "cancel", {}),
        (live, "change-amount", {"amount": 5_000}),
        (live, "reauthorize", {}),
    ]
    for order_id, action, body in steps:
        before = await snapshot(prod_services, order_id)
        r = await api.post(f"/api/v1/orders/{order_id}/payment/{action}", json=body)
        if action == "change-amount" and not kind.amount_linked:
            # Seed 003 refuses it first: nothing would be sent, connected or not.
            assert (r.status_code, r.json()["code"]) == (409, "rule_refused")
        else:
            refused(r, kind)
        assert await snapshot(prod_services, order_id) == before, (
            action
        )  # no 決済履歴, nothing moved
    async with transaction(prod_services.sessions) as s:
        assert await s.scalar(select(func.count()).select_from(PaymentAttempt)) == 0

    # What the order offers says the same, so no screen offers a call that cannot be made.
    got = (await api.get(f"/api/v1/orders/{pending}")).json()
    assert "authorize" not in got["allowed_actions"]
    assert "cancel" in got["allowed_actions"]  # nothing at the provider: kessai cancels alone
    got = (await api.get(f"/api/v1/orders/{live}")).json()
    assert not {"capture", "cancel", "change-amount"} & set(got["allowed_actions"])
    assert "force-cancel" in got["allowed_actions"]


async def test_bulk_capture_records_the_refusal_for_each_order(
    prod_services: Services, api: httpx.AsyncClient
) -> None:
    m = await method(api, NP)
    orders = [await stored_order(prod_services, m["id"], authorized=True) for _ in range(2)]
    before = [await snapshot(prod_services, o) for o in orders]

    r = await api.post(
        "/api/v1/orders/bulk-payment-actions", json={"action": "capture", "order_ids": orders}
    )

    assert r.status_code == 202, r.text
    job = await finished(prod_services, r.json()["id"])
    assert (job.total, job.succeeded, job.failed) == (2, 0, 2)
    rows = await csv_rows(api, job.id)
    assert [int(row["受注ID"]) for row in rows] == orders
    for row in rows:
        assert (row["結果"], row["処理後の決済状況"], row["メッセージ"]) == (
            "失敗",
            "仮売上完了",
            NP_WORDS,
        )
    assert [await snapshot(prod_services, o) for o in orders] == before


async def test_the_billing_run_fails_the_cycle_without_a_child_order(
    prod_services: Services, api: httpx.AsyncClient
) -> None:
    m = await method(api, NP)
    day = date(2026, 11, 22)
    sid = await stored_subscription(prod_services, m["id"], day)

    job, _ = await submit(
        prod_services, "billing", created_by="test", params={"date": day.isoformat()}
    )
    await prod_services.dispatcher.drain()

    job = await finished(prod_services, job.id)
    assert (job.total, job.succeeded, job.failed, job.skipped) == (1, 0, 1, 0)
    [row] = await csv_rows(api, job.id)
    assert (row["定期受注番号"], row["受注番号"], row["結果"]) == ("1000000001", "", "失敗")
    assert row["メッセージ"] == NP_WORDS
    async with transaction(prod_services.sessions) as s:
        assert await s.scalar(select(func.count()).select_from(Order)) == 0
        sub = await s.get(Subscription, sid)
        assert sub is not None
        assert (sub.cycle, sub.next_ship_on) == (0, day)  # still due once it is fixed


async def test_a_method_kessai_settles_alone_is_not_refused(api: httpx.AsyncClient) -> None:
    """電算システム has no connector either, but its methods never call one."""
    acc = await account(api, "densan", {"unique_value": "0012345"})
    assert acc["connected"] is False
    r = await api.post(
        "/api/v1/payment-methods",
        json={
            "code": "cvs_postal",
            "name": "コンビニ郵貯後払い",
            "account_id": acc["id"],
            "method_type": "external",
            "enabled": True,
        },
    )
    assert r.status_code == 201, r.text
    assert (r.json()["connected"], r.json()["connection_notice"]) == (True, None)
    r = await api.post("/api/v1/orders", json=order_body("cvs_postal"))
    assert r.status_code == 201, r.text


async def test_the_sandbox_still_simulates_such_an_account(services: Services) -> None:
    """No notice, no refusal: the simulated connector serves the account as before."""
    async with client_for(services, await new_key(services)) as sandbox:
        m = await method(sandbox, NP)
        acc = (await sandbox.get(f"/api/v1/provider-accounts/{m['account_id']}")).json()
        assert (acc["connector"], acc["simulated"], acc["connected"]) == ("fake", True, True)
        assert acc["connection_notice"] is None
        r = await sandbox.post("/api/v1/orders", json=order_body(m["code"]))
        assert r.status_code == 201, r.text
        r = await sandbox.post(f"/api/v1/orders/{r.json()['id']}/payment/authorize", json={})
        assert r.status_code == 200, r.text
        assert r.json()["outcome"] in ("succeeded", "pending")


def test_the_readme_names_the_integrations_kessai_connects_to() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## 接続できる外部連携アカウント", 1)[1].split("(one line each", 1)[0]
    connected = {
        integration(code).name
        for p in PROVIDERS
        if not p.sandbox_only
        for code in ([p.integration] if p.integration else []) + sorted(p.other_integrations)
    }
    assert set(re.findall(r"「([^」]+)」", section)) == connected
