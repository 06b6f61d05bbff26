"""An Amazon Pay (v2) account reads what its 連携 gives (public key id, private key file),
validated by the connector's own rules at save time and sealed like every secret."""

from collections.abc import AsyncIterator

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from kessai.accounts.integrations import MASK
from kessai.accounts.models import ProviderAccount
from kessai.accounts.secrets import connector_settings
from kessai.core.db import transaction
from kessai.providers.amazon_pay.connector import AmazonPayConnector
from kessai.services import Services
from tests.accounts.pki import key_pem
from tests.accounts.pki import new_key as ec_key
from tests.accounts.test_account_api import ACCOUNTS, upload
from tests.web.conftest import client_for, new_key


@pytest.fixture
async def api(live_services: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(live_services, await new_key(live_services)) as client:
        yield client


def rsa_pem() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


VALUES = {
    "merchant_id": "A1B2C3D4E5F6G7",
    "store_id": "amzn1.application-oa2-client.0123456789abcdef0123456789abcdef",
    "public_key_id": "SANDBOX-AHEGSJCM3FOVVDBQKHM2OXVT",
}


async def test_the_key_file_is_checked_sealed_and_read_by_the_connector(
    live_services: Services, api: httpx.AsyncClient
) -> None:
    wrong = await api.post(
        ACCOUNTS,
        json={
            "integration": "amazon_pay_v2",
            "name": "Amazon Pay",
            "values": {**VALUES, "private_key": upload(key_pem(ec_key()), "ec.pem")},
        },
    )
    assert wrong.status_code == 422, wrong.text
    (error,) = wrong.json()["detail"]["errors"]
    assert (error["field"], error["code"]) == ("private_key", "connector_rule")
    assert "RSA" in error["message"]

    private = rsa_pem()
    created = await api.post(
        ACCOUNTS,
        json={
            "integration": "amazon_pay_v2",
            "name": "Amazon Pay",
            "values": {**VALUES, "private_key": upload(private, "AmazonPay_private.pem")},
        },
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["values"]["private_key"] == MASK
    assert body["values"]["public_key_id"] == VALUES["public_key_id"]
    assert b"PRIVATE KEY" not in created.content
    async with transaction(live_services.sessions) as s:
        account = await s.get(ProviderAccount, body["id"])
        assert account is not None
        assert "private_key" not in (account.settings or {})
        assert b"PRIVATE KEY" not in str(account.secrets).encode()
        connector = live_services.registry.connector_for(account)
        settings = connector_settings(account, live_services.keyring)
    assert settings["private_key"] == private
    assert isinstance(connector, AmazonPayConnector)
    assert connector.config.base_path == "/v2"  # an environment-specific key: no /sandbox
    assert "PRIVATE" not in repr(connector)
