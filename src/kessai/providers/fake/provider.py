"""The simulated connector (擬似決済): serves every provider and method in the sandbox, for
the demo and the core tests, until a provider's own connector and simulator arrive.

It talks to no server: its ledger (kept in the reference store) is the provider, and faults
are its scenarios, picked by test amounts (connector.TEST_AMOUNTS) or `scenario`. Its
"simulator" is the one page a customer visits, the 3-D Secure step (sim.py).
"""

from kessai.providers.contract import ProviderState
from kessai.providers.fake import declines, webhook
from kessai.providers.fake.connector import DECLINE_CODE, HARD_CODE, FakeConnector
from kessai.providers.fake.sim import FakeSimulator
from kessai.providers.kit import ConnectorContext, Provider, Sandbox, SandboxInput
from kessai.providers.sandboxes import Scenario

NAME = "fake"


def connect(ctx: ConnectorContext) -> FakeConnector:
    return FakeConnector(ctx.account_id, ctx.settings, ctx.store)


def charges(_simulator_app: object, connector: object) -> int:
    """Payments its ledger holds as taken (authorized or captured, cancelled later or not)."""
    assert isinstance(connector, FakeConnector)
    return sum(1 for e in connector.ledger.values() if e.state in _CHARGED)


_CHARGED = (ProviderState.AUTHORIZED, ProviderState.CAPTURED, ProviderState.CANCELED)

# What a tester picks on the 試験購入 page (its connector takes them as options).
SCENARIOS = {
    Scenario.SUCCEED.value: "成功",
    Scenario.CHALLENGE.value: "3Dセキュア認証・ウォレットの承認画面を経由",
    Scenario.PENDING.value: "与信審査中 → 与信審査完了",
    Scenario.PENDING_REJECT.value: "与信審査中 → 与信審査エラー",
    Scenario.DECLINE.value: "エラー(カード利用不可・与信NG)",
    Scenario.UNKNOWN.value: "応答なし(結果不明)",
}


PROVIDER = Provider(
    name=NAME,
    title="擬似決済(シミュレーター)",
    connect=connect,
    sandbox_only=True,
    needs_store=False,  # with a store its ledger outlives the process; without, memory
    final_decline=declines.is_final_decline,
    simulator=FakeSimulator.create,
    sim_path="fake",
    webhook=webhook.verify,
    sandbox=Sandbox(
        method=("gmo_pg", "credit_card"),  # it plays any provider; the suite uses a card
        succeed=SandboxInput(1000),
        decline=SandboxInput(9001, code=DECLINE_CODE),
        hard_decline=SandboxInput(9005, code=HARD_CODE),
        account_settings=lambda _base_url: {},
        charges=charges,
        options=SCENARIOS,
    ),
)
