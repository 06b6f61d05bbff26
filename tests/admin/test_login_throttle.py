"""The login throttle is kept in the database: per account and per client address, the same
for every server process, with each lockout shown to an administrator who can lift it."""

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from kessai.core.settings import Env, Settings
from kessai.services import Services, build_services
from tests.admin.conftest import BASE_URL, add_user, admin_app, csrf_of, login
from tests.conftest import TEST_SECRET_KEY

EMAIL = "admin@example.jp"
OTHER = "other@example.jp"
WRONG = "guess guess guess"
PAGE = "/admin/settings/login-lockouts"


def client_from(services: Services, address: str) -> httpx.AsyncClient:
    """A browser at `address`, on a server process of `services`."""
    transport = httpx.ASGITransport(app=admin_app(services), client=(address, 50000))
    return httpx.AsyncClient(transport=transport, base_url=BASE_URL)


@pytest.fixture
async def second_process(services: Services) -> AsyncIterator[Services]:
    other = build_services(
        Settings(
            database_url=services.settings.database_url,
            env=Env.SANDBOX,
            secret_key=TEST_SECRET_KEY,
        )
    )
    other.clock.set_now(services.clock.now())
    yield other
    await other.close()


async def test_an_account_waits_after_five_failures_in_any_process(
    services: Services, second_process: Services
) -> None:
    await add_user(services, EMAIL)
    await add_user(services, OTHER)
    async with (
        client_from(services, "192.0.2.1") as here,
        client_from(second_process, "192.0.2.2") as there,
    ):
        for browser in (here, there, here, there, here):  # two servers, two addresses
            assert (await login(browser, EMAIL, WRONG)).status_code == 401
        for browser in (here, there):
            refused = await login(browser, EMAIL)  # even the right password waits
            assert refused.status_code == 429
            assert "待ってから" in refused.text
        assert (await login(there, OTHER)).status_code == 303  # another account is free

    services.clock.advance(timedelta(minutes=15))
    async with client_from(services, "192.0.2.1") as later:
        assert (await login(later, EMAIL)).status_code == 303


async def test_one_address_guessing_across_many_accounts_is_stopped(
    services: Services, second_process: Services
) -> None:
    await add_user(services, EMAIL)
    async with client_from(services, "198.51.100.7") as guesser:
        for n in range(20):
            r = await login(guesser, f"user{n}@example.jp", WRONG)
            assert r.status_code == 401, n
        assert (await login(guesser, f"user{20}@example.jp", WRONG)).status_code == 429
        assert (await login(guesser, EMAIL)).status_code == 429
    async with client_from(second_process, "198.51.100.7") as same_address:
        assert (await login(same_address, EMAIL)).status_code == 429
    async with client_from(services, "203.0.113.9") as elsewhere:
        assert (await login(elsewhere, EMAIL)).status_code == 303


async def test_an_administrator_sees_and_lifts_a_lockout(services: Services) -> None:
    await add_user(services, EMAIL)
    await add_user(services, OTHER)
    async with client_from(services, "192.0.2.1") as attacker:
        for _ in range(5):
            await login(attacker, OTHER, WRONG)
        assert (await login(attacker, OTHER)).status_code == 429
    async with client_from(services, "192.0.2.50") as admin:
        assert (await login(admin, EMAIL)).status_code == 303
        page = await admin.get(PAGE)
        assert page.status_code == 200
        assert OTHER in page.text
        assert "アカウント" in page.text
        token = await csrf_of(admin, PAGE)
        lifted = await admin.post(
            f"{PAGE}/lift", data={"csrf_token": token, "kind": "account", "key": OTHER}
        )
        assert lifted.status_code == 303
        page = await admin.get(PAGE)
        assert "ログイン制限を解除しました" in page.text
        assert OTHER not in page.text
    async with client_from(services, "192.0.2.1") as owner:
        assert (await login(owner, OTHER)).status_code == 303
