"""試験購入 over HTTP with the simulated connector: a purchase per scenario (an approval page,
a credit check), production refusing it all, and the permission and CSRF rules on its form.
The GMO PG card path (token in the browser, 3-D Secure challenge) is walked in Chromium by
tests/e2e/test_admin_walk.py."""

from dataclasses import replace

import httpx
import pytest
from sqlalchemy import select

from kessai.core.db import transaction
from kessai.core.settings import Env
from kessai.orders.models import Order
from kessai.services import Services
from kessai.users.service import Role
from tests.admin.conftest import add_user, hidden, login
from tests.factories import make_method

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def buy(client: httpx.AsyncClient, method: str, scenario: str) -> httpx.Response:
    page = await client.get("/admin/sandbox/shop")
    assert page.status_code == 200
    return await client.post(
        "/admin/sandbox/shop",
        data={
            "csrf_token": hidden(page.text, "csrf_token"),
            "payment_method": method,
            "amount": "5,500",
            "customer_name": "試験 花子",
            "scenario": scenario,
        },
    )


async def test_purchases_through_an_approval_page_and_a_credit_check(
    client: httpx.AsyncClient, services: Services
) -> None:
    wallet = await make_method(services, method_type="paypay")
    deferred = await make_method(services, provider="net_protections", method_type="np_atobarai")
    await add_user(services, "ops@example.jp", role=Role.OPERATOR)
    await login(client, "ops@example.jp")

    page = await client.get("/admin/sandbox/shop")
    assert wallet.code in page.text
    assert deferred.code in page.text

    bought = await buy(client, wallet.code, "challenge")
    assert bought.status_code == 303
    approve = bought.headers["location"]
    assert approve.startswith("/admin/sandbox/approve?number=SB")
    approval = await client.get(approve)
    assert "承認してショップに戻る" in approval.text
    back = await client.get(approve.replace("/approve?", "/return?"))
    assert back.status_code == 303
    result = await client.get(back.headers["location"])
    assert 'id="result-status">仮売上完了' in result.text
    assert "管理画面で受注を開く" in result.text

    checked = await buy(client, deferred.code, "pending")
    result = await client.get(checked.headers["location"])
    assert 'id="result-status">与信審査中' in result.text
    assert "決済照会" in result.text
    async with transaction(services.sessions) as s:
        orders = (await s.scalars(select(Order).order_by(Order.id))).all()
    assert [o.payment_status for o in orders] == ["authorized", "credit_check_pending"]
    assert all(o.number.startswith("SB") for o in orders)
    assert orders[0].amount == 5_500


async def test_without_permission_or_csrf_nothing_is_bought(
    client: httpx.AsyncClient, services: Services
) -> None:
    method = await make_method(services)
    await add_user(services, "viewer@example.jp", role=Role.VIEWER)
    await login(client, "viewer@example.jp")
    assert (await client.get("/admin/sandbox/shop")).status_code == 403
    orders_page = await client.get("/admin/orders")
    assert "試験購入" not in orders_page.text
    forged = await client.post(
        "/admin/sandbox/shop",
        data={
            "csrf_token": hidden(orders_page.text, "csrf_token"),
            "payment_method": method.code,
            "amount": "1000",
        },
    )
    assert forged.status_code == 403
    await add_user(services, "ops@example.jp", role=Role.OPERATOR)
    await client.post("/admin/logout", data={"csrf_token": hidden(orders_page.text, "csrf_token")})
    await login(client, "ops@example.jp")
    no_csrf = await client.post(
        "/admin/sandbox/shop", data={"payment_method": method.code, "amount": "1000"}
    )
    assert no_csrf.status_code == 403
    async with transaction(services.sessions) as s:
        assert (await s.scalars(select(Order))).all() == []


async def test_production_has_no_sandbox_shop(
    client: httpx.AsyncClient, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    await add_user(services, "admin@example.jp")
    await login(client, "admin@example.jp")
    monkeypatch.setattr(services, "settings", replace(services.settings, env=Env.PRODUCTION))
    assert (await client.get("/admin/sandbox/shop")).status_code == 404
    assert "試験購入" not in (await client.get("/admin/orders")).text
