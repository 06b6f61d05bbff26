"""接続テスト for GMO PG against the simulator on loopback: right credentials say 接続できました,
a wrong ShopPass or SitePass shows GMO's own message, no server says 接続できませんでした."""

import dataclasses
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from kessai.accounts import service
from kessai.accounts.connection_tests import CONNECTED, UNREACHABLE, check_account
from kessai.accounts.models import ProviderAccount
from kessai.core.crypto import Keyring, SecretBox, generate_key
from kessai.core.db import transaction
from kessai.providers.gmo_pg import errors
from kessai.providers.gmo_pg.simulator import (
    TEST_SHOP_ID,
    TEST_SHOP_PASS,
    TEST_SITE_ID,
    TEST_SITE_PASS,
    create_simulator,
)
from kessai.services import Services
from tests.loopback import serve


@pytest.fixture
async def sim_url() -> AsyncIterator[str]:
    async with serve(create_simulator()) as url:
        yield url


def closed_port_url() -> str:
    """A loopback URL nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def settings_for(endpoint: str, **overrides: Any) -> dict[str, Any]:
    """What accounts.secrets.connector_settings hands a connection test (decrypted)."""
    values: dict[str, Any] = {
        "shop_id": TEST_SHOP_ID,
        "shop_password": TEST_SHOP_PASS,
        "site_id": TEST_SITE_ID,
        "site_password": TEST_SITE_PASS,
        "endpoint": endpoint,
    }
    values.update(overrides)
    return values


def account(account_id: int = 1) -> ProviderAccount:
    return ProviderAccount(id=account_id, provider="gmo_pg", integration="gmo_pg", name="GMO PG")


async def calls(sim_url: str) -> list[str]:
    async with httpx.AsyncClient() as client:
        r = await client.get(f"{sim_url}/_calls")
    return [c["api"] for c in r.json()["calls"]]


async def test_right_credentials_connect(services: Services, sim_url: str) -> None:
    result = await check_account(services, account(), settings_for(sim_url))
    assert result.ok is True
    assert result.message == CONNECTED
    assert result.detail["gateway"]["checked"] == ["shop", "site"]
    # Only the two searches reached GMO: a connection test writes nothing there.
    assert await calls(sim_url) == ["SearchTrade", "SearchMember"]


@pytest.mark.parametrize(
    ("overrides", "code", "api"),
    [
        ({"site_password": "wrongpass"}, "E01210002", "SearchMember"),
        ({"site_id": "tsite99999999"}, "E01210002", "SearchMember"),
        ({"shop_password": "wrongpass"}, "E01030002", "SearchTrade"),
        ({"shop_id": "tshop99999999"}, "E01030002", "SearchTrade"),
    ],
)
async def test_wrong_credentials_show_gmos_message(
    services: Services, sim_url: str, overrides: dict[str, str], code: str, api: str
) -> None:
    result = await check_account(services, account(), settings_for(sim_url, **overrides))
    assert result.ok is False
    gmo_message = errors.message_for([code])
    assert "存在しません" in gmo_message
    assert result.message == gmo_message  # verbatim
    gateway = result.detail["gateway"]
    assert (gateway["code"], gateway["api"], gateway["reason"]) == (code, api, "credentials")
    for secret in ("wrongpass", TEST_SHOP_PASS, TEST_SITE_PASS):
        assert secret not in repr(result)


async def test_no_server_means_not_connected(services: Services) -> None:
    result = await check_account(services, account(), settings_for(closed_port_url()))
    assert result.ok is False
    assert result.message == UNREACHABLE
    assert result.detail["gateway"]["api"] == "SearchTrade"


async def test_settings_that_cannot_make_a_request_are_named(services: Services) -> None:
    result = await check_account(
        services, account(), settings_for(closed_port_url(), shop_password=None)
    )
    assert result.ok is False
    assert "ショップパスワードが設定されていません" in result.message


async def test_through_the_account_service_with_secrets_sealed(
    services: Services, sim_url: str
) -> None:
    """The account as the shop saves it (passwords encrypted), tested by its id."""
    keyed = dataclasses.replace(services, _keyring=Keyring(SecretBox.from_text(generate_key())))
    values = {k: v for k, v in settings_for(sim_url).items() if k != "endpoint"}
    saved = await service.create_account(keyed, "gmo_pg", "GMO PG 本番", values, actor="test")
    async with transaction(keyed.sessions) as s:
        stored = await s.get(ProviderAccount, saved.id)
        assert stored is not None
        assert TEST_SITE_PASS not in repr(stored.secrets)
        # The schema has no endpoint field: the simulator's URL is set straight into settings.
        stored.settings = {**stored.settings, "endpoint": sim_url}
    result = await service.test_connection(keyed, saved.id)
    assert (result.ok, result.message) == (True, CONNECTED)
    await service.update_account(keyed, saved.id, {"site_password": "wrongpass"}, actor="test")
    result = await service.test_connection(keyed, saved.id)
    assert result.ok is False
    assert result.message == errors.message_for(["E01210002"])
