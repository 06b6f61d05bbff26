"""The simulated connector (擬似決済): serves every provider and method in the sandbox, for
the demo and the core tests, until a provider's own connector and simulator arrive.

It talks to no server: its ledger (kept in the reference store) is the provider, and faults
are its scenarios, picked by test amounts (connector.TEST_AMOUNTS) or `scenario`. Its
"simulator" is the one page a customer visits, the 3-D Secure step (sim.py).
"""

from kessai.providers.fake import declines
from kessai.providers.fake.connector import FakeConnector
from kessai.providers.fake.sim import create_simulator
from kessai.providers.kit import ConnectorContext, Provider, Sandbox, SandboxInput

NAME = "fake"


def connect(ctx: ConnectorContext) -> FakeConnector:
    return FakeConnector(ctx.account_id, ctx.settings, ctx.store)


PROVIDER = Provider(
    name=NAME,
    title="擬似決済(シミュレーター)",
    connect=connect,
    sandbox_only=True,
    needs_store=False,  # with a store its ledger outlives the process; without, memory
    final_decline=declines.is_final_decline,
    simulator=create_simulator,
    sim_path="fake",
    sandbox=Sandbox(
        succeed=SandboxInput(1000),
        decline=SandboxInput(9001),
        hard_decline=SandboxInput(9005),
        account_settings=lambda _base_url: {},
    ),
)
