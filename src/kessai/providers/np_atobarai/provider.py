"""NP後払い (ネットプロテクションズ, NP後払いリアルタイム): what this folder declares.

- connector.py: 取引登録 (与信: 00 OK / 10 保留 / 20 NG / RE), 取引変更, 取消, 出荷報告
  (carriers.py: 配送業者名 → pd_company_code), the status lookup; buyer.py reads and checks
  the 請求先・配送先・商品 of the payment source before anything is sent.
- errors.py: NP's codes in words (保留理由, NG理由, API errors); which NG is final.
- sim/: the simulator of NP's test environment (test amounts in sim/rules.py).
"""

from collections.abc import Mapping
from typing import Any

from kessai.providers.kit import (
    AsgiApp,
    Provider,
    Sandbox,
    SandboxInput,
    SimulatorContext,
    with_store,
)
from kessai.providers.np_atobarai import errors
from kessai.providers.np_atobarai.config import NpConfig
from kessai.providers.np_atobarai.connector import NpAtobaraiConnector
from kessai.providers.np_atobarai.sandbox import (
    TEST_BUYER,
    TEST_SHOP_CODE,
    TEST_SP_CODE,
    TEST_TERMINAL_ID,
)


def simulator(ctx: SimulatorContext) -> AsgiApp:
    from kessai.providers.np_atobarai.sim import create_simulator

    return create_simulator(ctx)


def sandbox_settings(base_url: str) -> Mapping[str, Any]:
    return {
        "shop_code": TEST_SHOP_CODE,
        "sp_code": TEST_SP_CODE,
        "terminal_id": TEST_TERMINAL_ID,
        "endpoint_url": f"{base_url}/v1",
    }


def charges(simulator_app: Any, _connector: object) -> int:
    """Transactions whose credit check passed (cancelled later or not)."""
    sim = simulator_app.state.simulator
    return sum(1 for t in sim.transactions.values() if t["authori_result"] == errors.OK)


PROVIDER = Provider(
    name="np_atobarai",
    title="NP後払い (ネットプロテクションズ)",
    connect=with_store("NP後払い", NpAtobaraiConnector),
    check_settings=NpConfig.from_settings,
    provider_codes=frozenset({"net_protections"}),
    method_types=frozenset({"np_atobarai", "np_atobarai_instant", "np_atobarai_instant_common"}),
    integration="np_atobarai_realtime",
    final_decline=errors.is_final_decline,
    simulator=simulator,
    sim_path="np-atobarai",
    simulator_help=(
        "  API: /v1/transactions, /v1/shipments, /v1/transactions/find …\n"
        f"  SHOP_CODE {TEST_SHOP_CODE} / SP_CODE {TEST_SP_CODE} / 端末ID {TEST_TERMINAL_ID}"
    ),
    sandbox=Sandbox(
        method=("net_protections", "np_atobarai_instant_common"),
        succeed=SandboxInput(1000, TEST_BUYER),
        decline=SandboxInput(29001, TEST_BUYER, code="NG001"),
        hard_decline=SandboxInput(29002, TEST_BUYER, code="NG999"),
        pending=SandboxInput(29003, TEST_BUYER, code="RE009"),  # 保留, then 00 on a look
        account_settings=sandbox_settings,
        charges=charges,
        fault_calls={
            "authorize": "transactions",
            "capture": "shipments",
            "cancel": "transactions/cancel",
            "change_amount": "transactions/update",
            "lookup": "transactions/find",
        },
    ),
)
