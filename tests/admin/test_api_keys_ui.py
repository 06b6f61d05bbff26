"""APIキー管理 in the admin: an administrator issues a key (shown once), sees its scope and
last use, and revokes it; an operator cannot open the screen."""

import re

import httpx

from kessai.services import Services
from kessai.users.service import Role
from tests.admin.conftest import add_user, csrf_of, login
from tests.web.conftest import client_for

ADMIN = "admin@example.jp"
OPERATOR = "ops@example.jp"
PAGE = "/admin/settings/api-keys"


async def test_issue_use_and_revoke_a_key(client: httpx.AsyncClient, services: Services) -> None:
    await add_user(services, ADMIN)
    await login(client, ADMIN)
    token = await csrf_of(client, PAGE)
    r = await client.post(PAGE, data={"csrf_token": token, "name": "ストア", "scope": "storefront"})
    assert r.status_code == 200, r.text
    issued = re.search(r"<code>(ks_[^<]+)</code>", r.text)
    assert issued is not None
    key = issued.group(1)
    assert "再表示できません" in r.text
    assert "ストアフロント" in r.text
    assert "未使用" in r.text

    async with client_for(services, key) as shop:
        assert (await shop.get("/api/v1/payment-methods")).status_code == 200
    page = (await client.get(PAGE)).text
    assert key not in page  # shown once, never again
    assert "未使用" not in page  # its last use is shown now
    key_id = re.search(r'action="/admin/settings/api-keys/(\d+)/revoke"', page)
    assert key_id is not None

    r = await client.post(f"{PAGE}/{key_id.group(1)}/revoke", data={"csrf_token": token})
    assert r.status_code == 303
    page = (await client.get(PAGE)).text
    assert "APIキーを失効させました" in page
    assert "失効 " in page
    async with client_for(services, key) as shop:
        assert (await shop.get("/api/v1/payment-methods")).status_code == 401


async def test_revoking_needs_the_csrf_token(client: httpx.AsyncClient, services: Services) -> None:
    await add_user(services, ADMIN)
    await login(client, ADMIN)
    token = await csrf_of(client, PAGE)
    await client.post(PAGE, data={"csrf_token": token, "name": "k", "scope": "operator"})
    r = await client.post(f"{PAGE}/1/revoke", data={})
    assert r.status_code == 403
    assert "失効 " not in (await client.get(PAGE)).text


async def test_an_operator_cannot_manage_keys(
    client: httpx.AsyncClient, services: Services
) -> None:
    await add_user(services, OPERATOR, role=Role.OPERATOR)
    await login(client, OPERATOR)
    assert (await client.get(PAGE)).status_code == 403
    assert "APIキー管理" not in (await client.get("/admin/jobs")).text
