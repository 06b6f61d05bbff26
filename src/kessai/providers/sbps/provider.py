"""SBPS (SBペイメントサービス) クレジットカード (都度課金) and キャリア決済 (d払い,
auかんたん決済, ソフトバンクまとめて支払い): what this folder declares. Accounts of both
SBPS integrations (「SBPS」 and 「SBPSキャリア」 ask for the same settings) are served here.

- connector.py: 決済 + 確定, 売上, 取消返金, 部分返金, 決済結果参照 over the XML API
  (codec.py: Shift_JIS, sps_hashcode, Base64 and 3DES fields; requests.py the documents);
  キャリア決済 sends the customer to SBPS's purchase page with the link type's 購入要求
  (link.py), and SBPS's notices (notification.py: the 結果CGI form, the XML API's NT01) are
  answered as SBPS expects; brands.py the 与信期限 by card brand;
  errors.py res_err_code in words.
- sim/: the simulator of SBPS's sandbox (test cards in sandbox.py, the carriers' page).
"""

from collections.abc import Mapping
from typing import Any

import httpx

from kessai.providers.kit import (
    AsgiApp,
    Provider,
    Sandbox,
    SandboxInput,
    SimulatorContext,
    with_store,
)
from kessai.providers.sbps import errors, notification
from kessai.providers.sbps.config import SbpsConfig
from kessai.providers.sbps.connector import SbpsConnector
from kessai.providers.sbps.sandbox import (
    HARD_DECLINE_CARD,
    SOFT_DECLINE_CARD,
    SUCCESS_CARD,
    TEST_BASIC_ID,
    TEST_BASIC_PASSWORD,
    TEST_ENCRYPTION_IV,
    TEST_ENCRYPTION_KEY,
    TEST_HASH_KEY,
    TEST_MERCHANT_ID,
    TEST_SERVICE_ID,
)


def simulator(ctx: SimulatorContext) -> AsgiApp:
    from kessai.providers.sbps.sim import create_simulator

    return create_simulator(ctx)


def sandbox_settings(base_url: str) -> Mapping[str, Any]:
    return {
        "merchant_id": TEST_MERCHANT_ID,
        "service_id": TEST_SERVICE_ID,
        "basic_auth_id": TEST_BASIC_ID,
        "basic_auth_password": TEST_BASIC_PASSWORD,
        "hash_key": TEST_HASH_KEY,
        "encryption_key": TEST_ENCRYPTION_KEY,
        "encryption_iv": TEST_ENCRYPTION_IV,
        "endpoint_url": f"{base_url}/api/xmlapi.do",
        "purchase_url": f"{base_url}/f01/FepBuyInfoReceive.do",
    }


def charges(simulator_app: Any, _connector: object) -> int:
    """Authorizations SBPS holds or held (not declined), cancelled later or not."""
    sim = simulator_app.state.simulator
    return sum(1 for t in sim.transactions.values() if t["status"] != "9")


async def token_for(base_url: str, source: Mapping[str, str]) -> Mapping[str, str]:
    """A test card becomes a one-time token at the simulator, as SBPS's token JS does."""
    card = source.get("test_card")
    if not card:
        return source
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        reply = await client.post("/token", json={"cc_number": card, "cc_expiration": "203012"})
    issued = reply.json()["tokenResponse"]
    rest = {k: v for k, v in source.items() if k != "test_card"}
    return rest | {"token": issued["token"], "token_key": issued["tokenKey"]}


PROVIDER = Provider(
    name="sbps",
    title="SBペイメントサービス (クレジットカード)",
    connect=with_store("SBPS", SbpsConnector),
    check_settings=SbpsConfig.from_settings,
    provider_codes=frozenset({"sbps"}),
    method_types=frozenset({"credit_card", "carrier"}),
    integration="sbps",
    other_integrations=frozenset({"sbps_carrier"}),
    final_decline=errors.is_final_decline,
    simulator=simulator,
    sim_path="sbps",
    webhook=notification.verify,
    webhook_answer=notification.answer,
    simulator_help=(
        "  XML API: /api/xmlapi.do, トークン: /token, キャリア決済: /f01/FepBuyInfoReceive.do\n"
        f"  マーチャントID {TEST_MERCHANT_ID} / サービスID {TEST_SERVICE_ID}"
    ),
    sandbox=Sandbox(
        method=("sbps", "credit_card"),
        succeed=SandboxInput(1000, {"test_card": SUCCESS_CARD}),
        decline=SandboxInput(1000, {"test_card": SOFT_DECLINE_CARD}, code="10142001"),
        hard_decline=SandboxInput(1000, {"test_card": HARD_DECLINE_CARD}, code="10143001"),
        account_settings=sandbox_settings,
        charges=charges,
        prepare=token_for,
        fault_calls={
            "authorize": "ST01-00131-101",
            "capture": "ST02-00201-101",
            "cancel": "ST02-00303-101",
            "change_amount": "ST02-00307-101",
            "lookup": "MG01-00101-101",
        },
        amount_at_capture=True,
    ),
)
