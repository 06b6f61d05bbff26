"""Every provider kessai has, in one list: adding a provider folder adds one line here.

Each entry is the `PROVIDER` of a folder's provider.py (see kessai.providers.kit). The
registry, the simulators mounted in sandbox mode, `kessai simulate`, the webhook inbox and
the conformance suite all read this list and nothing else.
"""

from kessai.providers.amazon_pay.provider import PROVIDER as AMAZON_PAY
from kessai.providers.fake.provider import PROVIDER as FAKE
from kessai.providers.gmo_pg.provider import PROVIDER as GMO_PG
from kessai.providers.kit import Provider
from kessai.providers.komoju.provider import PROVIDER as KOMOJU
from kessai.providers.np_atobarai.provider import PROVIDER as NP_ATOBARAI
from kessai.providers.paypay.provider import PROVIDER as PAYPAY
from kessai.providers.sbps.provider import PROVIDER as SBPS

PROVIDERS: tuple[Provider, ...] = (GMO_PG, AMAZON_PAY, KOMOJU, PAYPAY, NP_ATOBARAI, SBPS, FAKE)

BY_NAME: dict[str, Provider] = {p.name: p for p in PROVIDERS}
# Seed 001 integration → the provider whose connector reads its settings.
BY_INTEGRATION: dict[str, Provider] = {
    code: p
    for p in PROVIDERS
    for code in ([p.integration] if p.integration else []) + sorted(p.other_integrations)
}
BY_SIM_PATH: dict[str, Provider] = {p.sim_path: p for p in PROVIDERS if p.sim_path}


# The connector of an account whose provider has none of its own yet (sandbox only).
SIMULATED = FAKE.name


def offering(file_service: str) -> tuple[str, ...]:
    """The seed-003 provider codes whose accounts run this monthly file exchange
    ("card_updater": 自動洗替, "recurring": 継続課金)."""
    return tuple(
        sorted({c for p in PROVIDERS if file_service in p.file_services for c in p.provider_codes})
    )


def by_integration(integration: str | None) -> Provider | None:
    return BY_INTEGRATION.get(integration or "")


def provider(name: str) -> Provider | None:
    return BY_NAME.get(name)


def is_simulated(connector: str | None) -> bool:
    """Does this connector only pretend (the sandbox's simulated provider)?"""
    found = BY_NAME.get(connector or "")
    return found is not None and found.sandbox_only


def title_of(connector: str) -> str:
    found = BY_NAME.get(connector)
    return found.title if found else connector
