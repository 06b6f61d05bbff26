"""The admin's side of an account kessai cannot connect to (connector "none" in production):
the account list, the account page, the 新規登録 choice and form, the payment method list and
page show 「決済代行会社との接続: 未対応」 with the reason, the 接続テスト says it, and an order
action is refused with the same words before anything is written. Not so in the sandbox.
"""

import html
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from kessai.services import Services
from kessai.users.service import Role
from tests.accounts.unconnected import (
    NOTICE,
    NP,
    NP_REALTIME,
    NP_WORDS,
    PAIDY,
    PAIDY_WORDS,
    account,
    method,
    stored_order,
)
from tests.admin.conftest import add_user, admin_app, csrf_of, login
from tests.web.conftest import client_for, new_key, snapshot

ADMIN = "admin@example.jp"


@asynccontextmanager
async def signed_in(services: Services, base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    await add_user(services, ADMIN, Role.ADMIN)
    transport = httpx.ASGITransport(app=admin_app(services))
    async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
        await login(client, ADMIN)
        yield client


@pytest.fixture
async def api(prod_services: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(prod_services, await new_key(prod_services)) as client:
        yield client


@pytest.fixture
async def admin(prod_services: Services) -> AsyncIterator[httpx.AsyncClient]:
    # Production's session cookie is Secure: only sent over https.
    async with signed_in(prod_services, "https://kessai.test") as client:
        yield client


async def test_admin_pages_show_the_notice(
    prod_services: Services, api: httpx.AsyncClient, admin: httpx.AsyncClient
) -> None:
    np = await method(api, NP)
    paidy = await method(api, PAIDY)
    real = await account(api, "np_atobarai_realtime", NP_REALTIME)

    page = html.unescape((await admin.get("/admin/settings/accounts")).text)
    rows = page.split("<tr>")
    np_row = next(r for r in rows if "np_atobarai 本番" in r)
    paidy_row = next(r for r in rows if "paidy 本番" in r)
    real_row = next(r for r in rows if "np_atobarai_realtime 本番" in r)
    assert f"{NOTICE}</span>" in np_row
    assert NP_WORDS in np_row
    assert f"{NOTICE}</span>" in paidy_row
    assert PAIDY_WORDS in paidy_row
    assert NOTICE not in real_row

    page = html.unescape((await admin.get(f"/admin/settings/accounts/{np['account_id']}")).text)
    assert f"{NOTICE}</strong> {NP_WORDS}" in page
    page = html.unescape((await admin.get(f"/admin/settings/accounts/{real['id']}")).text)
    assert NOTICE not in page

    token = await csrf_of(admin, "/admin/settings/accounts")
    r = await admin.post(
        f"/admin/settings/accounts/{paidy['account_id']}/test", data={"csrf_token": token}
    )
    assert r.status_code == 200
    assert PAIDY_WORDS in html.unescape(r.text)

    # Before an account exists: the list of integrations and the 新規登録 form.
    choices = (await admin.get("/admin/settings/accounts/new")).text.split("<li>")
    badged = {c.split("/new/", 1)[1].split('"', 1)[0] for c in choices if NOTICE in c}
    assert {"np_atobarai", "paidy", "zeus"} <= badged
    assert not {"np_atobarai_realtime", "gmo_pg", "sbps", "paypay"} & badged
    page = html.unescape((await admin.get("/admin/settings/accounts/new/np_atobarai")).text)
    assert f"{NOTICE}</strong> {NP_WORDS}" in page
    page = html.unescape((await admin.get("/admin/settings/accounts/new/gmo_pg")).text)
    assert NOTICE not in page

    page = html.unescape((await admin.get("/admin/settings/methods")).text)
    assert page.count(NOTICE) == 2
    page = html.unescape((await admin.get(f"/admin/settings/methods/{np['id']}")).text)
    assert f"{NOTICE}</strong> {NP_WORDS}" in page


async def test_admin_order_action_is_refused_with_the_same_words(
    prod_services: Services, api: httpx.AsyncClient, admin: httpx.AsyncClient
) -> None:
    m = await method(api, NP)
    order_id = await stored_order(prod_services, m["id"], authorized=True)
    before = await snapshot(prod_services, order_id)

    page = await admin.get(f"/admin/orders/{order_id}/actions/capture")
    assert page.status_code == 409
    assert NP_WORDS in html.unescape(page.text)
    token = await csrf_of(admin, f"/admin/orders/{order_id}")
    r = await admin.post(
        f"/admin/orders/{order_id}/actions/capture",
        data={"csrf_token": token, "shipped_on": "2026-03-02", "tracking_number": "4412"},
    )
    assert r.status_code == 409
    assert NP_WORDS in html.unescape(r.text)
    assert await snapshot(prod_services, order_id) == before


async def test_the_sandbox_shows_no_notice(services: Services) -> None:
    """The simulated connector serves such an account there: nothing to warn about."""
    async with client_for(services, await new_key(services)) as sandbox:
        m = await method(sandbox, NP)
    async with signed_in(services, "http://kessai.test") as admin:
        for path in (
            "/admin/settings/accounts",
            f"/admin/settings/accounts/{m['account_id']}",
            "/admin/settings/accounts/new",
            "/admin/settings/accounts/new/np_atobarai",
            f"/admin/settings/methods/{m['id']}",
        ):
            page = await admin.get(path)
            assert page.status_code == 200, path
            assert NOTICE not in page.text, path
