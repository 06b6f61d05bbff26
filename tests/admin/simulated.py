"""An account on a provider's own simulator, made from its declaration, for 試験購入 tests."""

from kessai.accounts.models import PaymentMethod, ProviderAccount
from kessai.accounts.secrets import write_values
from kessai.core.db import transaction
from kessai.providers.installed import BY_NAME
from kessai.providers.kit import ConnectorContext
from kessai.providers.store import ReferenceStore
from kessai.services import Services


async def method_on_simulator(
    services: Services, base_url: str, name: str, provider_code: str, method_type: str
) -> str:
    """An account on the provider's simulator at base_url/sim/<path> (its declared sandbox
    settings, secrets sealed) and one method, through the declared connector."""
    provider = BY_NAME[name]
    assert provider.sandbox is not None
    services.registry.register(
        provider.name,
        lambda account_id, settings: provider.connect(
            ConnectorContext(
                account_id,
                settings,
                ReferenceStore(services.sessions, services.clock, account_id),
            )
        ),
    )
    values = provider.sandbox.account_settings(f"{base_url}/sim/{provider.sim_path}")
    code = f"shop-{name}"
    now = services.clock.now()
    async with transaction(services.sessions) as s:
        account = ProviderAccount(
            provider=provider_code,
            integration=provider.integration,
            name=f"{provider.title} サンドボックス",
            connector=provider.name,
            settings={},
            secrets={},
            created_at=now,
            updated_at=now,
        )
        s.add(account)
        await s.flush()
        write_values(services.keyring, account, values)
        s.add(
            PaymentMethod(
                code=code,
                name=f"{provider.title} 試験",
                provider=provider_code,
                method_type=method_type,
                account_id=account.id,
                enabled=True,
                cancel_api_link=True,
                created_at=now,
                updated_at=now,
            )
        )
    return code
