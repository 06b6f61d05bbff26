"""「Amazonアカウント新規登録・連携」 end to end: kessai and the Amazon Pay simulator over real
HTTP on loopback. kessai makes the account's key pair, the operator's browser posts the
registration form to Amazon, the merchant's button makes Amazon post the encrypted
credentials to the account's keyShareURL, and the account then pays with the keys it got.
A payload that does not open with the account's key, an account that does not exist or has
not started are refused in Japanese with nothing changed; no key reaches a log or an answer."""

import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from kessai.accounts import service as accounts
from kessai.accounts.integrations import MASK
from kessai.accounts.models import PaymentMethod, ProviderAccount
from kessai.accounts.secrets import decrypted_secrets
from kessai.apikeys.service import create_key
from kessai.core.db import transaction
from kessai.providers.amazon_pay.provider import checkout
from kessai.providers.amazon_pay.sim import SANDBOX_MERCHANT_ID, SimulatorConfig, create_simulator
from kessai.providers.amazon_pay.sim import registration as amazon
from kessai.services import Services
from kessai.web.app import create_app
from tests.loopback import serve

CORS = {
    "access-control-allow-origin": "https://payments.amazon.com",
    "access-control-allow-methods": "GET, POST",
    "access-control-allow-headers": "Content-Type",
}


@dataclass
class Linking:
    api: httpx.AsyncClient
    browser: httpx.AsyncClient
    sim_app: Any
    sim_url: str
    api_url: str
    services: Services

    async def new_account(self, name: str) -> int:
        account = await accounts.create_account(
            self.services, "amazon_pay_v2", name, {}, actor="テスト"
        )
        async with transaction(self.services.sessions) as s:
            row = await s.get(ProviderAccount, account.id)
            assert row is not None
            row.settings = {**row.settings, "endpoint": self.sim_url}  # the Sandbox
        return account.id

    async def start(self, account_id: int) -> dict[str, Any]:
        r = await self.api.post(f"/api/v1/provider-accounts/{account_id}/key-exchange")
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def register(self, started: dict[str, Any]) -> str:
        """The operator's browser posts the form to Amazon: the registration's own page."""
        r = await self.browser.post(started["registration_url"], data=started["fields"])
        assert r.status_code == 200, r.text
        found = re.search(r'action="(register/[^"]+/complete)"', r.text)
        assert found, r.text
        return found[1]

    async def finish(self, action: str) -> httpx.Response:
        """The merchant's button on Amazon's page."""
        return await self.browser.post(f"{self.sim_url}/{action}")

    async def account(self, account_id: int) -> dict[str, Any]:
        r = await self.api.get(f"/api/v1/provider-accounts/{account_id}")
        return dict(r.json())


@pytest.fixture
async def linking(live_services: Services) -> AsyncIterator[Linking]:
    svc = live_services
    sim_app = create_simulator(SimulatorConfig(now=svc.clock.now))
    async with serve(sim_app) as sim_url, serve(create_app(svc)) as api_url:
        async with transaction(svc.sessions) as s:
            key = await create_key(s, "admin", svc.clock.now())
        async with (
            httpx.AsyncClient(
                base_url=api_url, headers={"Authorization": f"Bearer {key}"}, timeout=30
            ) as api,
            httpx.AsyncClient(timeout=30) as browser,
        ):
            yield Linking(api, browser, sim_app, sim_url.rstrip("/"), api_url.rstrip("/"), svc)


async def test_the_registration_form_is_amazons(linking: Linking) -> None:
    account_id = await linking.new_account("Amazon Pay")
    started = await linking.start(account_id)
    assert started["registration_url"] == f"{linking.sim_url}/register"
    fields = started["fields"]
    assert fields["onboardingVersion"] == "2"
    assert fields["keyShareURL"] == f"{linking.api_url}/key-exchange/amazon_pay/{account_id}"
    assert amazon.load_public_key(fields["publicKey"]) is not None
    assert "PRIVATE" not in str(started)
    shown = await linking.account(account_id)
    assert shown["values"]["private_key"] == MASK  # kept, sealed, never shown
    assert shown["complete"] is False  # 未連携 until Amazon hands the keys over


async def test_round_trip_links_the_account_and_it_pays_with_the_keys(
    linking: Linking, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    account_id = await linking.new_account("Amazon Pay")
    action = await linking.register(await linking.start(account_id))
    r = await linking.finish(action)
    assert r.status_code == 200, r.text
    assert 'data-ok="true"' in r.text
    shown = await linking.account(account_id)
    assert shown["complete"] is True, shown
    values = shown["values"]
    assert values["merchant_id"] == SANDBOX_MERCHANT_ID
    assert values["public_key_id"].startswith("SANDBOX-")
    assert values["private_key"] == MASK
    # The exchanged key id is the one the simulator registered for this account's key.
    assert values["public_key_id"] in linking.sim_app.state.simulator.keys
    history = await linking.api.get(f"/api/v1/provider-accounts/{account_id}/change-history")
    assert {"公開鍵 ID", "出品者 ID"} <= {c["field_label"] for c in history.json()}
    # Nothing secret in the logs: not the private key, not the decrypted key id's cipher.
    async with transaction(linking.services.sessions) as s:
        row = await s.get(ProviderAccount, account_id)
        assert row is not None
        private = decrypted_secrets(row, linking.services.keyring)["private_key"]
    assert isinstance(private, bytes)
    assert b"PRIVATE KEY" in private
    body = private.decode().splitlines()[1]
    assert body not in caplog.text

    # The account authorizes through the simulator, signing with the exchanged keys.
    async with transaction(linking.services.sessions) as s:
        now = linking.services.clock.now()
        s.add(
            PaymentMethod(
                code="amazon-pay",
                name="Amazon Pay",
                provider="amazon",
                method_type="amazon_pay_v2",
                account_id=account_id,
                cancel_api_link=True,
                created_at=now,
                updated_at=now,
            )
        )
    source = await checkout(linking.sim_url, {"test_payment_method": "1111"})
    r = await linking.api.post(
        "/api/v1/orders",
        json={
            "payment_method": "amazon-pay",
            "amount": 3_300,
            "tax": 300,
            "customer": {"name": "山田 花子"},
            "payment_source": dict(source),
        },
    )
    assert r.status_code == 201, r.text
    r = await linking.api.post(f"/api/v1/orders/{r.json()['id']}/payment/authorize", json={})
    assert r.json()["order"]["payment_status_label"] == "仮売上完了", r.text
    charges = linking.sim_app.state.simulator.state.kind("charge")
    assert [c["chargeAmount"]["amount"] for c in charges.values()] == ["3300"]


async def test_a_payload_for_another_account_is_refused_and_changes_nothing(
    linking: Linking,
) -> None:
    first = await linking.new_account("Amazon Pay A")
    second = await linking.new_account("Amazon Pay B")
    await linking.register(await linking.start(first))
    await linking.start(second)
    (record,) = linking.sim_app.state.simulator.state.kind(amazon.KIND).values()
    record["publicKeyId"] = amazon.public_key_id(record)
    replayed = amazon.payload(
        record, SANDBOX_MERCHANT_ID, "amzn1.application-oa2-client." + "0" * 32
    )
    before = await linking.account(second)
    r = await linking.browser.post(
        f"{linking.api_url}/key-exchange/amazon_pay/{second}", data={"payload": replayed}
    )
    assert r.status_code == 400
    assert r.json() == {
        "result": "error",
        "message": "連携情報を復号できませんでした(このアカウントで始めた連携ではありません)",
    }
    assert {k: r.headers[k] for k in CORS} == CORS
    assert await linking.account(second) == before
    assert record["publicKeyId"] not in r.text


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("", "連携情報(payload)が送られていません"),
        ("{not json", "連携情報(payload)がJSONではありません"),
        ('{"merchantId": "A1"}', "連携情報に merchantId・storeId・publicKeyId がそろっていません"),
        (
            '{"merchantId": "A1KESSAISIM01", "storeId": "x", "publicKeyId": "bm90IGEga2V5"}',
            "連携情報を復号できませんでした(このアカウントで始めた連携ではありません)",
        ),
    ],
)
async def test_a_payload_that_does_not_open_is_refused(
    linking: Linking, payload: str, message: str
) -> None:
    account_id = await linking.new_account("Amazon Pay")
    await linking.start(account_id)
    before = await linking.account(account_id)
    r = await linking.browser.post(
        f"{linking.api_url}/key-exchange/amazon_pay/{account_id}", data={"payload": payload}
    )
    assert (r.status_code, r.json()) == (400, {"result": "error", "message": message})
    assert await linking.account(account_id) == before


async def test_a_missing_or_unstarted_account_is_refused(linking: Linking) -> None:
    r = await linking.browser.post(
        f"{linking.api_url}/key-exchange/amazon_pay/99999", data={"payload": "{}"}
    )
    assert r.status_code == 404
    assert r.json() == {
        "result": "error",
        "message": "外部連携アカウント(ID: 99999)が見つかりません",
    }
    assert {k: r.headers[k] for k in CORS} == CORS
    account_id = await linking.new_account("Amazon Pay")
    r = await linking.browser.post(
        f"{linking.api_url}/key-exchange/amazon_pay/{account_id}", data={"payload": "{}"}
    )
    assert r.status_code == 400
    assert "連携が始まっていません" in r.json()["message"]


async def test_the_preflight_answers_amazons_cors_headers(linking: Linking) -> None:
    r = await linking.browser.options(f"{linking.api_url}/key-exchange/amazon_pay/1")
    assert r.status_code == 200
    assert {k: r.headers[k] for k in CORS} == CORS


async def test_a_key_exchange_is_refused_for_an_account_without_one(linking: Linking) -> None:
    account = await accounts.create_account(linking.services, "gmo_pg", "GMO", {}, actor="テスト")
    r = await linking.api.post(f"/api/v1/provider-accounts/{account.id}/key-exchange")
    assert r.status_code == 409
    assert r.json()["code"] == "key_exchange_unsupported"
    assert r.json()["message"] == "この外部連携アカウントは鍵の連携に対応していません"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"onboardingVersion": "1"}, "onboardingVersion must be 2 for the key exchange"),
        ({"publicKey": "bm90IGEga2V5"}, "publicKey must be a 2048-bit RSA public key"),
        ({"keyShareURL": "ftp://shop.invalid/keys"}, "keyShareURL must be an http(s) URL"),
        ({"spId": ""}, "spId is required"),
    ],
)
async def test_amazon_refuses_a_registration_form_it_cannot_take(
    linking: Linking, change: dict[str, str], message: str
) -> None:
    account_id = await linking.new_account("Amazon Pay")
    started = await linking.start(account_id)
    r = await linking.browser.post(
        started["registration_url"], data={**started["fields"], **change}
    )
    assert r.status_code == 400
    assert message in r.text
    assert linking.sim_app.state.simulator.state.kind(amazon.KIND) == {}


def test_outside_a_simulator_the_installations_sp_id_is_sent_to_amazon(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from kessai.core.errors import InvalidInput
    from kessai.providers.amazon_pay import registration as reg

    monkeypatch.delenv(reg.SP_ID_VARIABLE, raising=False)
    with pytest.raises(InvalidInput) as missing:
        reg.registration({}, "PUBLIC", "https://kessai.example/key-exchange/amazon_pay/1")
    assert missing.value.code == "amazon_pay_sp_id_missing"
    assert reg.SP_ID_VARIABLE in missing.value.message
    monkeypatch.setenv(reg.SP_ID_VARIABLE, "A1KESSAISPID")
    url, fields = reg.registration({}, "PUBLIC", "https://kessai.example/key-exchange/1")
    assert (url, fields["spId"]) == (reg.REGISTRATION_URL, "A1KESSAISPID")
    _, own = reg.registration({"sp_id": "A2SHOPOWN"}, "PUBLIC", "https://kessai.example/k/1")
    assert own["spId"] == "A2SHOPOWN"  # a shop with its own spId keeps it
