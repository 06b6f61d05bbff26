"""3DES on the wire: the simulator's account takes pay_method_info encrypted with its key and
IV, signed over the plain values, and refuses what does not decrypt before charging anything."""

import pytest

from kessai.accounts.models import ProviderAccount
from kessai.accounts.secrets import seal
from kessai.core.db import transaction
from kessai.providers.sbps import codec
from kessai.providers.sbps.sandbox import (
    TEST_ENCRYPTION_IV,
    TEST_ENCRYPTION_KEY,
    TEST_HASH_KEY,
)
from tests.providers.sbps.conftest import Sbps

PLAIN = [("merchant_id", "30132"), ("pay_method_info", [("dealings_type", "10")])]


def test_sealed_fields_are_signed_plain_and_open_with_the_key() -> None:
    raw = codec.encode(
        "sps-api-request", "ST01-00131-101", PLAIN, TEST_HASH_KEY, (TEST_ENCRYPTION_KEY, "x" * 8)
    )
    sealed = codec.decode(raw)
    assert sealed.get("pay_method_info/dealings_type") != "10"
    opened = codec.unseal(sealed.nodes, TEST_ENCRYPTION_KEY, "x" * 8)
    assert codec.Document(sealed.root, sealed.api_id, opened).verifies(TEST_HASH_KEY)
    with pytest.raises(codec.CodecError):
        codec.unseal(sealed.nodes, "a-wrong-3des-key-24-char", "x" * 8)


async def _account_keys(sbps: Sbps, key: str | None, iv: str | None) -> None:
    """The account's 3DES key and IV (secrets, sealed like the admin seals them), or none."""
    h = sbps.harness
    async with transaction(h.services.sessions) as s:
        account = await s.get(ProviderAccount, h.account.id)
        assert account is not None
        secrets = {k: v for k, v in account.secrets.items() if not k.startswith("encryption_")}
        for name, value in (("encryption_key", key), ("encryption_iv", iv)):
            if value is not None:
                secrets[name] = seal(h.services.keyring, account.id, name, value)
        account.secrets = secrets
    await h.services.registry.forget(h.account.id)


@pytest.mark.parametrize(
    ("key", "iv"),
    [("a-wrong-3des-key-24-char", TEST_ENCRYPTION_IV), (None, None)],
    ids=["wrong key", "plain text"],
)
async def test_fields_that_do_not_decrypt_are_refused_and_nothing_is_charged(
    sbps: Sbps, key: str | None, iv: str | None
) -> None:
    await _account_keys(sbps, key, iv)
    order = await sbps.order(1000)
    answer = (await sbps.act(order, "authorize")).json()
    assert answer["outcome"] == "declined"
    assert answer["order"]["payment_status_label"] == "決済エラー"
    assert answer["provider_code"] == "10105998"
    assert sbps.harness.sim_app.state.simulator.transactions == {}
    assert [(c["api"], c["result"]) for c in await sbps.calls()] == [("ST01-00131-101", "error")]


async def test_the_connector_encrypts_with_the_account_key(sbps: Sbps) -> None:
    order = await sbps.order(1000)
    answer = (await sbps.act(order, "authorize")).json()
    assert answer["outcome"] == "succeeded"
    assert sbps.held(answer["order"]["provider_reference"])["status"] == "2"
