"""An account is saved only with settings its connector accepts: GMO PG's own rules (a
ショップパスワード of at most 20 characters …) are applied at save time, so an account can
never be stored in a state where every payment through it would fail."""

from collections.abc import AsyncIterator

import httpx
import pytest

from kessai.accounts.models import ProviderAccount
from kessai.core.db import transaction
from kessai.services import Services
from tests.accounts.test_account_api import ACCOUNTS, GMO_PG, rows
from tests.web.conftest import client_for, new_key


@pytest.fixture
async def api(live_services: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(live_services, await new_key(live_services)) as client:
        yield client


def _field_errors(r: httpx.Response) -> dict[str, str]:
    assert r.status_code == 422, r.text
    return {e["field"]: e["message"] for e in r.json()["detail"]["errors"]}


async def test_a_password_the_connector_refuses_is_not_saved(
    live_services: Services, api: httpx.AsyncClient
) -> None:
    long_pass = "P" * 40
    r = await api.post(
        ACCOUNTS,
        json={
            "integration": "gmo_pg",
            "name": "GMO PG",
            "values": {**GMO_PG, "shop_password": long_pass},
        },
    )
    errors = _field_errors(r)
    assert set(errors) == {"shop_password"}
    assert "ショップパスワード" in errors["shop_password"]
    assert long_pass not in r.text
    assert (await rows(live_services)) == ([], [])

    created = await api.post(
        ACCOUNTS, json={"integration": "gmo_pg", "name": "GMO PG", "values": GMO_PG}
    )
    assert created.status_code == 201, created.text
    account_id = created.json()["id"]
    before = await rows(live_services)
    r = await api.patch(
        f"{ACCOUNTS}/{account_id}",
        json={"values": {"shop_password": long_pass, "site_id": "site-with-hyphen"}},
    )
    errors = _field_errors(r)
    assert set(errors) == {"shop_password", "site_id"}
    assert "20文字以内" in errors["shop_password"]
    assert (await rows(live_services)) == before
    # What was saved is what the connector is built from, and it builds.
    account = (await api.get(f"{ACCOUNTS}/{account_id}")).json()
    assert account["id"] == account_id
    async with transaction(live_services.sessions) as s:
        stored = await s.get(ProviderAccount, account_id)
        assert stored is not None
        live_services.registry.check_settings(
            stored.connector, live_services.registry.settings_of(stored)
        )


async def test_an_incomplete_account_is_still_saved(api: httpx.AsyncClient) -> None:
    """A field not yet filled in is missing (shown as such), not a connector refusal."""
    r = await api.post(
        ACCOUNTS,
        json={"integration": "gmo_pg", "name": "GMO PG", "values": {"shop_id": "tshop00012345"}},
    )
    assert r.status_code == 201, r.text
    assert "ショップパスワード" in r.json()["missing"]
