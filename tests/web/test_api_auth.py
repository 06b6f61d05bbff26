"""API keys (Authorization: Bearer), OpenAPI and /docs, as an integrating engineer meets them."""

import re

import httpx
import pytest
from sqlalchemy import text

from kessai.apikeys.service import revoke_key
from kessai.core.db import transaction
from kessai.core.errors import InvalidInput
from kessai.services import Services
from kessai.web.app import create_app
from tests.web.conftest import BASE_URL, KEY_NAME, card_method, client_for, new_key, new_order

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def assert_unauthorized(r: httpx.Response) -> None:
    assert r.status_code == 401, r.text
    body = r.json()
    assert set(body) == {"code", "message", "detail"}
    assert body["code"] == "unauthorized"
    assert JAPANESE.search(body["message"]), body["message"]
    assert r.headers["www-authenticate"] == "Bearer"


BAD_HEADERS: dict[str, dict[str, str]] = {
    "none": {},
    "empty": {"Authorization": ""},
    "basic": {"Authorization": "Basic dXNlcjpwYXNz"},
    "bearer-no-key": {"Authorization": "Bearer"},
    "malformed": {"Authorization": "Bearer not-a-kessai-key"},
    "unknown-key": {"Authorization": "Bearer ks_000000000000_wrongsecret"},
}
PROTECTED = [
    ("GET", "/api/v1/payment-methods"),
    ("GET", "/api/v1/orders"),
    ("POST", "/api/v1/orders"),
    ("GET", "/api/v1/orders/1"),
    ("POST", "/api/v1/orders/1/payment/authorize"),
    ("GET", "/api/v1/orders/1/payment-history"),
    ("GET", "/api/v1/orders/1/change-history"),
    ("GET", "/api/v1/sandbox/clock"),
    ("POST", "/api/v1/sandbox/clock"),
]


async def test_requests_without_a_valid_key_are_refused(
    app_client: httpx.AsyncClient, subtests: pytest.Subtests
) -> None:
    for case, headers in BAD_HEADERS.items():
        for method, path in PROTECTED:
            with subtests.test(case, request=f"{method} {path}"):
                r = await app_client.request(method, path, headers=headers, json={})
                assert_unauthorized(r)


async def test_right_prefix_with_a_wrong_secret_is_refused(
    services: Services, app_client: httpx.AsyncClient
) -> None:
    key = await new_key(services)
    prefix = key.rsplit("_", 1)[0]
    r = await app_client.get(
        "/api/v1/orders", headers={"Authorization": f"Bearer {prefix}_{'x' * 43}"}
    )
    assert_unauthorized(r)


async def test_a_valid_key_works_and_the_scheme_is_case_insensitive(
    services: Services, app_client: httpx.AsyncClient
) -> None:
    key = await new_key(services)
    for scheme in ("Bearer", "bearer"):
        r = await app_client.get("/api/v1/orders", headers={"Authorization": f"{scheme} {key}"})
        assert r.status_code == 200, r.text
        assert r.json()["total"] == 0


async def test_a_revoked_key_is_refused(services: Services) -> None:
    key = await new_key(services, "old-storefront")
    async with client_for(services, key) as client:
        assert (await client.get("/api/v1/orders")).status_code == 200
        async with transaction(services.sessions) as s:
            assert await revoke_key(s, "old-storefront", services.clock.now()) == 1
        assert_unauthorized(await client.get("/api/v1/orders"))


async def test_keys_are_stored_hashed(services: Services) -> None:
    key = await new_key(services)
    secret = key.split("_", 2)[2]  # ks_<hex prefix>_<secret>: the secret may hold "_"
    async with transaction(services.sessions) as s:
        rows = (await s.execute(text("SELECT * FROM api_keys"))).all()
    assert len(rows) == 1
    stored = repr(tuple(rows[0]))
    assert KEY_NAME in stored
    assert key not in stored
    assert secret not in stored


async def test_the_actor_of_every_change_is_the_key_name(
    services: Services, api: httpx.AsyncClient
) -> None:
    method = await card_method(services)
    order = await new_order(api, method.code)
    r = await api.post(f"/api/v1/orders/{order['id']}/payment/authorize", json={})
    assert r.status_code == 200
    history = (await api.get(f"/api/v1/orders/{order['id']}/payment-history")).json()
    changes = (await api.get(f"/api/v1/orders/{order['id']}/change-history")).json()
    assert {h["actor"] for h in history} == {f"api:{KEY_NAME}"}
    assert {c["actor"] for c in changes} == {f"api:{KEY_NAME}"}


ISSUE_PATHS = {
    "/api/v1/payment-methods": {"get"},
    "/api/v1/orders": {"get", "post"},
    "/api/v1/orders/{order_id}": {"get"},
    "/api/v1/orders/{order_id}/payment/{action}": {"post"},
    "/api/v1/orders/{order_id}/payment-history": {"get"},
    "/api/v1/orders/{order_id}/change-history": {"get"},
    "/api/v1/sandbox/clock": {"get", "post"},
}


async def test_openapi_lists_every_path_of_the_issue(app_client: httpx.AsyncClient) -> None:
    r = await app_client.get("/openapi.json")
    assert r.status_code == 200
    spec = r.json()
    for path, methods in ISSUE_PATHS.items():
        assert path in spec["paths"], path
        assert methods <= set(spec["paths"][path]), (path, spec["paths"][path].keys())
    action = next(
        p
        for p in spec["paths"]["/api/v1/orders/{order_id}/payment/{action}"]["post"]["parameters"]
        if p["name"] == "action"
    )
    assert set(action["schema"]["enum"]) == {
        "authorize",
        "capture",
        "cancel",
        "change-amount",
        "force-capture",
        "force-cancel",
        "reauthorize",
        "reconcile",
    }
    schemes = spec["components"]["securitySchemes"]
    assert any(s.get("scheme", "").lower() == "bearer" for s in schemes.values())


async def test_docs_are_served(app_client: httpx.AsyncClient) -> None:
    r = await app_client.get("/docs")
    assert r.status_code == 200
    assert "swagger" in r.text.lower()
    assert "/openapi.json" in r.text


async def test_auth_is_checked_before_the_body_is_read(app_client: httpx.AsyncClient) -> None:
    r = await app_client.post(
        "/api/v1/orders", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert_unauthorized(r)


async def test_the_longest_key_name_still_fits_every_history(services: Services) -> None:
    with pytest.raises(InvalidInput):
        await new_key(services, "k" * 97)
    name = "k" * 96
    key = await new_key(services, name)
    method = await card_method(services)
    async with client_for(services, key) as client:
        order = await new_order(client, method.code)
        r = await client.post(f"/api/v1/orders/{order['id']}/payment/authorize", json={})
        assert r.status_code == 200, r.text
        history = (await client.get(f"/api/v1/orders/{order['id']}/payment-history")).json()
    assert history[0]["actor"] == f"api:{name}"


async def test_unexpected_errors_are_json_too(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr("kessai.orders.endpoints.search_orders", broken)
    key = await new_key(services)
    transport = httpx.ASGITransport(app=create_app(services), raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport, base_url=BASE_URL, headers={"Authorization": f"Bearer {key}"}
    ) as client:
        r = await client.get("/api/v1/orders")
    assert r.status_code == 500
    assert r.json()["code"] == "internal_error"
    assert JAPANESE.search(r.json()["message"])
    assert "secret internals" not in r.text


async def test_unknown_paths_and_methods_answer_json(api: httpx.AsyncClient) -> None:
    r = await api.get("/api/v1/refunds")
    assert (r.status_code, r.json()["code"]) == (404, "not_found")
    r = await api.delete("/api/v1/orders")
    assert (r.status_code, r.json()["code"]) == (405, "method_not_allowed")
