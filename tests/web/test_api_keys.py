"""API keys: scopes (storefront < operator < admin) with 403 outside them, revocation that
takes effect at once in every process, and the last-used time, through the API and CLI."""

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from kessai.apikeys import scopes
from kessai.apikeys.scopes import Scope
from kessai.apikeys.service import create_key
from kessai.core.db import transaction
from kessai.core.settings import Env, Settings
from kessai.services import Services, build_services
from kessai.web.app import create_app
from tests.conftest import TEST_SECRET_KEY
from tests.web.conftest import act, card_method, client_for, new_order, snapshot


async def key_of(services: Services, scope: Scope, name: str | None = None) -> str:
    async with transaction(services.sessions) as s:
        return await create_key(s, name or scope.value, services.clock.now(), scope)


@pytest.fixture
async def other_process(services: Services) -> AsyncIterator[Services]:
    """A second server process on the same database (its own engine, its own memory)."""
    other = build_services(
        Settings(
            database_url=services.settings.database_url,
            env=Env.SANDBOX,
            secret_key=TEST_SECRET_KEY,
        )
    )
    yield other
    await other.close()


def _forbidden(r: httpx.Response, need: str) -> None:
    assert r.status_code == 403, r.text
    body = r.json()
    assert body["code"] == "insufficient_scope"
    assert body["detail"]["required"] == need
    assert "権限" in body["message"]


async def test_a_storefront_key_creates_and_authorizes_but_nothing_more(
    services: Services,
) -> None:
    method = await card_method(services)
    async with client_for(services, await key_of(services, Scope.STOREFRONT)) as shop:
        order = await new_order(shop, method.code)
        assert (await act(shop, order["id"], "authorize")).status_code == 200
        before = await snapshot(services, order["id"])
        calls = len(services.registry.fake(method.account_id).calls)
        # Both paths of a payment action: the plain JSON one and FastAPI's (no body).
        _forbidden(await act(shop, order["id"], "capture"), "operator")
        _forbidden(await shop.post(f"/api/v1/orders/{order['id']}/payment/capture"), "operator")
        _forbidden(await act(shop, order["id"], "force-capture"), "operator")
        _forbidden(await act(shop, order["id"], "change-amount", {"amount": 100}), "operator")
        assert await snapshot(services, order["id"]) == before
        assert len(services.registry.fake(method.account_id).calls) == calls
        _forbidden(await shop.get("/api/v1/orders"), "operator")
        _forbidden(await shop.get(f"/api/v1/orders/{order['id']}/payment-history"), "operator")
        _forbidden(await shop.get("/api/v1/provider-accounts"), "admin")
        _forbidden(await shop.post("/api/v1/sandbox/clock", json={"advance_days": 1}), "admin")
        _forbidden(await shop.get("/api/v1/api-keys"), "admin")
        assert (await shop.get(f"/api/v1/orders/{order['id']}")).status_code == 200


async def test_an_operator_key_runs_every_payment_action_but_not_the_admin_ones(
    services: Services,
) -> None:
    method = await card_method(services)
    async with client_for(services, await key_of(services, Scope.OPERATOR)) as ops:
        order = await new_order(ops, method.code)
        assert (await act(ops, order["id"], "authorize")).status_code == 200
        assert (await act(ops, order["id"], "capture")).status_code == 200
        assert (await ops.get("/api/v1/orders")).status_code == 200
        _forbidden(await ops.post("/api/v1/sandbox/clock", json={"advance_days": 1}), "admin")
        _forbidden(await ops.patch("/api/v1/shop/settings", json={"shop_name": "x"}), "admin")
        _forbidden(
            await ops.patch("/api/v1/provider-accounts/1", json={"values": {"shop_id": "x"}}),
            "admin",
        )
        _forbidden(await ops.post("/api/v1/api-keys", json={"name": "mine"}), "admin")
    assert services.clock.offset == timedelta(0)


def test_every_api_route_has_its_scope_stated() -> None:
    """A route left out of scopes.NEEDED would silently need admin: each is placed."""
    app = create_app(build_services(Settings(database_url="sqlite+aiosqlite://", env=Env.SANDBOX)))
    routes = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        if path.startswith("/api/")
        for method in operations
    }
    assert routes - {("POST", scopes.BY_ACTION)} == set(scopes.NEEDED)


async def test_a_key_revoked_in_another_process_stops_at_once(
    services: Services, other_process: Services
) -> None:
    key = await key_of(services, Scope.STOREFRONT, "till")
    admin_key = await key_of(services, Scope.ADMIN, "admin")
    async with client_for(services, key) as here, client_for(other_process, admin_key) as there:
        assert (await here.get("/api/v1/payment-methods")).status_code == 200
        listed = (await there.get("/api/v1/api-keys")).json()
        till = next(k for k in listed if k["name"] == "till")
        assert till["scope"] == "storefront"
        assert till["last_used_at"] is not None  # used just now, through the other process
        r = await there.post(f"/api/v1/api-keys/{till['id']}/revoke")
        assert r.status_code == 200, r.text
        assert r.json()["revoked_at"] is not None
        # No waiting: the very next request in the first process is refused.
        r = await here.get("/api/v1/payment-methods")
        assert (r.status_code, r.json()["code"]) == (401, "unauthorized")
        method = await card_method(services)
        r = await here.post(
            "/api/v1/orders",
            json={"payment_method": method.code, "amount": 100, "customer": {"name": "a"}},
        )
        assert r.status_code == 401


async def test_keys_are_issued_with_a_scope_and_shown_once(services: Services) -> None:
    async with client_for(services, await key_of(services, Scope.ADMIN)) as admin:
        r = await admin.post("/api/v1/api-keys", json={"name": "shop-front", "scope": "storefront"})
        assert r.status_code == 201, r.text
        issued = r.json()
        assert issued["key"].startswith(f"ks_{issued['prefix']}_")
        assert (issued["scope"], issued["scope_label"]) == ("storefront", "ストアフロント")
        listed = (await admin.get("/api/v1/api-keys")).json()
        assert all("key" not in k for k in listed)
        assert issued["key"] not in (await admin.get("/api/v1/api-keys")).text
        bad = await admin.post("/api/v1/api-keys", json={"name": "x", "scope": "root"})
        assert bad.status_code == 422
    async with client_for(services, issued["key"]) as shop:
        assert (await shop.get("/api/v1/payment-methods")).status_code == 200
        _forbidden(await shop.get("/api/v1/jobs"), "operator")


async def test_last_used_is_written_at_most_once_a_minute(services: Services) -> None:
    key = await key_of(services, Scope.ADMIN, "watch")
    async with client_for(services, key) as api:

        async def last_used() -> str | None:
            keys = (await api.get("/api/v1/api-keys")).json()
            found: str | None = next(k for k in keys if k["name"] == "watch")["last_used_at"]
            return found

        first = await last_used()
        assert first is not None
        services.clock.advance(timedelta(seconds=30))
        assert await last_used() == first
        services.clock.advance(timedelta(seconds=31))
        assert await last_used() != first
