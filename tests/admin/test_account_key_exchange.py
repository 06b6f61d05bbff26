"""The 「Amazonアカウント新規登録・連携」 panel of an Amazon Pay (v2) account: 未連携 until the
keys arrive, the button hands the browser Amazon's registration form (and lets this one page
post to Amazon), and the account shows 連携済み once the keyShareURL got its payload."""

import html
import re

import httpx
import pytest

from kessai.accounts import key_exchange
from kessai.accounts import service as accounts
from kessai.accounts.models import ProviderAccount
from kessai.core.db import transaction
from kessai.providers.amazon_pay.sim import SANDBOX_MERCHANT_ID, SANDBOX_STORE_ID
from kessai.providers.amazon_pay.sim import registration as amazon
from kessai.services import Services
from tests.admin.conftest import add_user, csrf_of, login

SIM = "http://amazon.sim.test/sim/amazon-pay"


@pytest.fixture
async def admin(client: httpx.AsyncClient, services: Services) -> httpx.AsyncClient:
    await add_user(services, "admin@example.jp")
    await login(client, "admin@example.jp")
    return client


async def amazon_account(services: Services) -> int:
    account = await accounts.create_account(
        services, "amazon_pay_v2", "Amazon Pay", {}, actor="テスト"
    )
    async with transaction(services.sessions) as s:
        row = await s.get(ProviderAccount, account.id)
        assert row is not None
        row.settings = {**row.settings, "endpoint": SIM}
    return account.id


def state(page: str) -> str:
    found = re.search(r'id="link-state">([^<]+)<', page)
    assert found, page
    return found[1]


async def test_the_button_registers_at_amazon_and_the_account_is_linked(
    admin: httpx.AsyncClient, services: Services
) -> None:
    account_id = await amazon_account(services)
    page = (await admin.get(f"/admin/settings/accounts/{account_id}")).text
    assert state(page) == "未連携"
    assert f'action="/admin/settings/accounts/{account_id}/key-exchange"' in page

    token = await csrf_of(admin)
    r = await admin.post(
        f"/admin/settings/accounts/{account_id}/key-exchange", data={"csrf_token": token}
    )
    assert r.status_code == 200, r.text
    assert f'action="{SIM}/register"' in r.text
    assert "form-action 'self' http://amazon.sim.test" in r.headers["content-security-policy"]
    fields = {
        html.unescape(n): html.unescape(v)
        for n, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', r.text)
    }
    assert fields["onboardingVersion"] == "2"
    assert fields["keyShareURL"] == f"http://kessai.test/key-exchange/amazon_pay/{account_id}"
    assert "PRIVATE" not in r.text

    # Amazon's side: the registration finished, the credentials posted to the keyShareURL.
    record = amazon.begin(fields, lambda prefix: f"{prefix}-1")
    record["publicKeyId"] = amazon.public_key_id(record)
    payload = amazon.payload(record, SANDBOX_MERCHANT_ID, SANDBOX_STORE_ID)
    await key_exchange.receive(services, "amazon_pay", account_id, payload)

    page = (await admin.get(f"/admin/settings/accounts/{account_id}")).text
    assert state(page) == "連携済み"
    assert record["publicKeyId"] in page  # 公開鍵 ID is shown; the private key never is
    assert "PRIVATE KEY" not in page
