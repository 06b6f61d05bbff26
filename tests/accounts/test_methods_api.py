"""支払い方法管理 over the REST API: list, enable, channels, create; a refused save changes
nothing and every change reaches 変更履歴."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from kessai.accounts.integrations import integration
from kessai.accounts.models import PaymentMethod, ProviderAccount
from kessai.core.db import transaction
from kessai.history.models import ChangeRecord
from kessai.services import Services
from tests.factories import make_method
from tests.web.conftest import client_for, new_key, order_body


@pytest.fixture
async def api(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    """An integrator's client (API key "storefront")."""
    async with client_for(services, await new_key(services)) as client:
        yield client


GMO_PG_COMPLETE = {"shop_id": "tshop00012345", "site_id": "tsite00012345"}
GMO_PG_SECRETS = ("shop_password", "site_password")


async def make_account(
    services: Services,
    code: str,
    settings: dict[str, Any] | None = None,
    secrets: tuple[str, ...] = (),
) -> ProviderAccount:
    """An account as the account service leaves it: settings, and a token per set secret
    (completeness never decrypts, so the token's content does not matter here)."""
    spec = integration(code)
    now = services.clock.now()
    async with transaction(services.sessions) as s:
        account = ProviderAccount(
            provider=spec.provider or spec.code,
            integration=code,
            name=spec.name,
            connector="fake",
            settings=dict(settings or {}),
            secrets=dict.fromkeys(secrets, "v1.sealed-token"),
            created_at=now,
            updated_at=now,
        )
        s.add(account)
        await s.flush()
        return account


async def gmo_account(services: Services, *, complete: bool = True) -> ProviderAccount:
    if complete:
        return await make_account(services, "gmo_pg", GMO_PG_COMPLETE, GMO_PG_SECRETS)
    return await make_account(services, "gmo_pg", {"shop_id": "tshop00012345"})


async def create(api: httpx.AsyncClient, **body: Any) -> httpx.Response:
    return await api.post("/api/v1/payment-methods", json=body)


async def history(api: httpx.AsyncClient, method_id: int) -> list[dict[str, Any]]:
    r = await api.get(f"/api/v1/payment-methods/{method_id}/change-history")
    assert r.status_code == 200, r.text
    rows: list[dict[str, Any]] = r.json()
    return rows


async def count(services: Services, model: Any) -> int:
    async with transaction(services.sessions) as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_new_method_on_a_complete_account(
    services: Services, api: httpx.AsyncClient
) -> None:
    account = await gmo_account(services)
    r = await create(
        api,
        code="card",
        name="クレジットカード",
        account_id=account.id,
        method_type="credit_card",
        enabled=True,
        channels=["shop", "lp"],
        flags={"capture_on_authorize": True, "security_code_required": True},
    )
    assert r.status_code == 201, r.text
    m = r.json()
    assert (m["provider"], m["method_type"], m["kind"]) == ("gmo_pg", "credit_card", "card")
    assert (m["account_id"], m["integration"], m["enabled"]) == (account.id, "gmo_pg", True)
    assert m["channels"] == ["lp", "shop"]  # the seed's order, whatever order was sent
    assert m["flags"]["capture_on_authorize"] is True
    assert m["flags"]["security_code_required"] is True
    assert m["flags"]["reduce_link"] is False
    assert m["missing"] == []
    assert {"capture_on_authorize", "cancel_api_link", "security_code_required"} <= set(
        m["offered_flags"]
    )
    assert "gmops_cancel_link" not in m["offered_flags"]
    rows = await history(api, m["id"])
    fields = {row["field"] for row in rows}
    assert {"created", "name", "enabled", "channels", "capture_on_authorize"} <= fields
    assert {row["actor"] for row in rows} == {"api:storefront"}
    by_field = {row["field"]: row for row in rows}
    assert by_field["channels"]["after"] == "LP・ショップ"
    assert "利用可能な画面" in by_field["channels"]["reason"]
    # Orders can use it at once.
    order = await api.post("/api/v1/orders", json=order_body("card", channel="lp"))
    assert order.status_code == 201, order.text


async def test_the_list_names_what_an_incomplete_account_lacks(
    services: Services, api: httpx.AsyncClient
) -> None:
    incomplete = await gmo_account(services, complete=False)
    complete = await gmo_account(services)
    for account, code in ((incomplete, "a"), (complete, "b")):
        r = await create(
            api, code=code, name=f"カード{code}", account_id=account.id, method_type="credit_card"
        )
        assert r.status_code == 201, r.text
    listed = {m["code"]: m for m in (await api.get("/api/v1/payment-methods")).json()}
    assert listed["a"]["missing"] == ["ショップパスワード", "サイト ID", "サイトパスワード"]
    assert listed["b"]["missing"] == []
    assert listed["a"]["enabled"] is False  # a new method starts disabled unless asked
    assert listed["a"]["channels"] == ["lp", "shop", "order_entry"]
    assert listed["a"]["account_id"] == incomplete.id


async def test_an_incomplete_account_cannot_be_enabled_and_nothing_changes(
    services: Services, api: httpx.AsyncClient
) -> None:
    account = await gmo_account(services, complete=False)
    made = await create(
        api, code="card", name="カード", account_id=account.id, method_type="credit_card"
    )
    method_id = made.json()["id"]
    before = await history(api, method_id)
    r = await api.patch(
        f"/api/v1/payment-methods/{method_id}", json={"enabled": True, "name": "新しい名前"}
    )
    assert r.status_code == 409, r.text
    body = r.json()
    assert body["code"] == "account_incomplete"
    assert "「ショップパスワード」が未設定です" in body["message"]
    assert "「サイトパスワード」が未設定です" in body["message"]
    assert body["detail"]["missing"] == ["ショップパスワード", "サイト ID", "サイトパスワード"]
    assert {e["field"] for e in body["detail"]["errors"]} == {
        "shop_password",
        "site_id",
        "site_password",
    }
    after = (await api.get(f"/api/v1/payment-methods/{method_id}")).json()
    assert (after["enabled"], after["name"]) == (False, "カード")
    assert await history(api, method_id) == before
    # Created enabled on that account: refused too, and no method row is left behind.
    methods = await count(services, PaymentMethod)
    r = await create(
        api,
        code="card2",
        name="カード2",
        account_id=account.id,
        method_type="credit_card",
        enabled=True,
    )
    assert r.status_code == 409
    assert r.json()["code"] == "account_incomplete"
    assert await count(services, PaymentMethod) == methods


async def test_enable_disable_and_rename_are_recorded(
    services: Services, api: httpx.AsyncClient
) -> None:
    account = await gmo_account(services)
    made = await create(
        api, code="card", name="カード", account_id=account.id, method_type="credit_card"
    )
    method_id = made.json()["id"]
    r = await api.patch(
        f"/api/v1/payment-methods/{method_id}", json={"enabled": True, "name": "クレジットカード"}
    )
    assert r.status_code == 200, r.text
    assert (r.json()["enabled"], r.json()["name"]) == (True, "クレジットカード")
    r = await api.patch(f"/api/v1/payment-methods/{method_id}", json={"enabled": False})
    assert r.json()["enabled"] is False
    changes = [row for row in await history(api, method_id) if "変更" in (row["reason"] or "")]
    assert [(c["field"], c["before"], c["after"]) for c in changes] == [
        ("enabled", "無効", "有効"),
        ("name", "カード", "クレジットカード"),
        ("enabled", "有効", "無効"),
    ]
    assert changes[0]["field_label"] == "有効/無効"
    assert "有効/無効" in changes[0]["reason"]
    # Sending the current values again records nothing.
    again = await api.patch(f"/api/v1/payment-methods/{method_id}", json={"enabled": False})
    assert again.status_code == 200
    assert [c for c in await history(api, method_id) if "変更" in (c["reason"] or "")] == changes


async def test_channels_limit_where_orders_may_use_the_method(
    services: Services, api: httpx.AsyncClient
) -> None:
    method = await make_method(services, code="card")
    r = await api.patch(f"/api/v1/payment-methods/{method.id}", json={"channels": ["lp"]})
    assert r.status_code == 200, r.text
    assert r.json()["channels"] == ["lp"]
    refused = await api.post("/api/v1/orders", json=order_body("card", channel="shop"))
    assert refused.status_code == 422
    assert refused.json()["code"] == "payment_method_not_in_channel"
    assert "ショップ" in refused.json()["message"]
    assert (
        await api.post("/api/v1/orders", json=order_body("card", channel="lp"))
    ).status_code == 201
    # Without a channel the order is not tied to one (an API integration of its own).
    assert (await api.post("/api/v1/orders", json=order_body("card"))).status_code == 201
    unknown = await api.patch(f"/api/v1/payment-methods/{method.id}", json={"channels": ["pos"]})
    assert unknown.status_code == 422
    assert (await api.get(f"/api/v1/payment-methods/{method.id}")).json()["channels"] == ["lp"]


async def test_amount_limits(services: Services, api: httpx.AsyncClient) -> None:
    method = await make_method(services, code="card")
    bad = await api.patch(
        f"/api/v1/payment-methods/{method.id}", json={"min_amount": 5000, "max_amount": 100}
    )
    assert bad.status_code == 422
    assert bad.json()["detail"]["errors"][0]["code"] == "min_above_max"
    ok = await api.patch(
        f"/api/v1/payment-methods/{method.id}", json={"min_amount": 100, "max_amount": 3000}
    )
    assert ok.status_code == 200, ok.text
    over = await api.post("/api/v1/orders", json=order_body("card", amount=5_500))
    assert over.status_code == 422
    assert over.json()["code"] == "amount_out_of_range"


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"method_type": "paypal"}, "method_type_not_offered", "method_type"),
        ({"code": "has space"}, "invalid_code", "code"),
        ({"name": "  "}, "required", "name"),
        ({"flags": {"gmops_cancel_link": True}}, "flag_not_offered", "gmops_cancel_link"),
        ({"flags": {"no_such_flag": True}}, "unknown_flag", "no_such_flag"),
        ({"min_amount": 0}, "out_of_range", "min_amount"),
    ],
)
async def test_invalid_new_methods_are_refused_and_nothing_is_saved(
    services: Services, api: httpx.AsyncClient, body: dict[str, Any], code: str, field: str
) -> None:
    account = await gmo_account(services)
    sent = {
        "code": "card",
        "name": "カード",
        "account_id": account.id,
        "method_type": "credit_card",
    }
    r = await create(api, **(sent | body))
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "invalid_payment_method"
    assert (field, code) in {(e["field"], e["code"]) for e in r.json()["detail"]["errors"]}
    assert await count(services, PaymentMethod) == 0
    assert await count(services, ChangeRecord) == 0


async def test_method_types_are_the_providers_rows(
    services: Services, api: httpx.AsyncClient
) -> None:
    account = await gmo_account(services)
    r = await create(api, code="x", name="x", account_id=account.id, method_type="np_atobarai")
    message = r.json()["message"]
    assert "GMOペイメントゲートウェイ" in message
    assert "credit_card(クレジットカード(都度課金))" in message
    assert "paypay(PayPay)" in message
    ok = await create(api, code="pp", name="PayPay", account_id=account.id, method_type="paypay")
    assert ok.status_code == 201
    assert ok.json()["authorization_days"] == 30


async def test_duplicate_codes_and_non_payment_accounts(
    services: Services, api: httpx.AsyncClient
) -> None:
    account = await gmo_account(services)
    first = await create(
        api, code="card", name="カード", account_id=account.id, method_type="credit_card"
    )
    assert first.status_code == 201
    again = await create(
        api, code="card", name="カード", account_id=account.id, method_type="credit_card"
    )
    assert again.status_code == 422
    assert again.json()["detail"]["errors"][0]["code"] == "duplicate_code"
    relation = await make_account(services, "relation", {"enabled": False})
    r = await create(api, code="rel", name="x", account_id=relation.id, method_type="external")
    assert r.status_code == 422
    assert r.json()["detail"]["errors"][0]["code"] == "not_a_payment_account"
    missing = await create(
        api, code="nope", name="x", account_id=999_999, method_type="credit_card"
    )
    assert missing.json()["detail"]["errors"][0]["code"] == "unknown_account"


async def test_methods_without_an_account_are_kessai_only(
    services: Services, api: httpx.AsyncClient
) -> None:
    r = await create(api, code="bank", name="銀行振込", method_type="bank_transfer", enabled=True)
    assert r.status_code == 201, r.text
    assert (r.json()["provider"], r.json()["kind"], r.json()["enabled"]) == (
        "offline",
        "offline",
        True,
    )
    card = await create(api, code="card", name="カード", method_type="credit_card")
    assert card.status_code == 422
    assert card.json()["detail"]["errors"][0]["code"] == "method_type_not_offered"


async def test_patch_refuses_unknown_ids_fields_and_callers(
    services: Services, api: httpx.AsyncClient, app_client: httpx.AsyncClient
) -> None:
    method = await make_method(services, code="card")
    assert (await api.patch("/api/v1/payment-methods/999999", json={"enabled": False})).json()[
        "code"
    ] == "payment_method_not_found"
    extra = await api.patch(f"/api/v1/payment-methods/{method.id}", json={"provider": "zeus"})
    assert extra.status_code == 422
    assert (
        await api.patch(f"/api/v1/payment-methods/{method.id}", json={"enabled": "yes"})
    ).status_code == 422
    for verb, path in (
        ("PATCH", f"/api/v1/payment-methods/{method.id}"),
        ("POST", "/api/v1/payment-methods"),
        ("GET", f"/api/v1/payment-methods/{method.id}/change-history"),
    ):
        assert (await app_client.request(verb, path, json={})).status_code == 401
    assert (await api.get(f"/api/v1/payment-methods/{method.id}")).json()["provider"] == "gmo_pg"
