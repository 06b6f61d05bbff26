"""Which connector serves an account. Connectors are built per account, never from globals.

The registry knows no provider by name: default_registry registers each declaration of
kessai.providers.installed (a folder's provider.py) by its `connect` factory.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kessai.accounts.connection import require_connected
from kessai.accounts.models import ProviderAccount
from kessai.core.clock import Clock
from kessai.core.errors import Conflict
from kessai.providers.installed import PROVIDERS
from kessai.providers.kit import ConnectorContext, Provider
from kessai.providers.store import ReferenceStore

# A factory takes the account's id and settings and returns a connector object that
# implements some of the protocols of kessai.providers.contract.
ConnectorFactory = Callable[[int, Mapping[str, Any]], object]
# A connector's own rules for its settings, without building it (no network, no session):
# raises ConfigurationError whose detail["problems"] maps each setting to what is wrong.
SettingsCheck = Callable[[Mapping[str, Any]], object]


class ConnectorRegistry:
    def __init__(self) -> None:
        self._factories: dict[str, ConnectorFactory] = {}
        self._checks: dict[str, SettingsCheck] = {}
        self._built: dict[tuple[str, int], object] = {}
        # How an account's stored settings become a connector's (secrets decrypted);
        # build_services installs the real one, over the keyring.
        self.settings_of: Callable[[ProviderAccount], Mapping[str, Any]] = lambda a: a.settings

    def connector_for(self, account: ProviderAccount) -> object:
        """The connector serving this account, built from its decrypted settings; 409
        provider_not_connected for an account kessai cannot connect (nothing is built)."""
        require_connected(account)
        key = (account.connector, account.id)
        if key in self._built:
            return self._built[key]
        return self.for_account(account.connector, account.id, self.settings_of(account))

    def register(
        self, name: str, factory: ConnectorFactory, check: SettingsCheck | None = None
    ) -> None:
        self._factories[name] = factory
        if check is not None:
            self._checks[name] = check

    def check_settings(self, connector: str, settings: Mapping[str, Any]) -> None:
        """The connector's own rules (ConfigurationError), so that an account is never saved
        with settings its connector would refuse on the first payment."""
        check = self._checks.get(connector)
        if check is not None:
            check(settings)

    def names(self) -> list[str]:
        return sorted(self._factories)

    def for_account(self, connector: str, account_id: int, settings: Mapping[str, Any]) -> object:
        """The account's connector, built once and kept (connectors hold HTTP sessions)."""
        key = (connector, account_id)
        built = self._built.get(key)
        if built is None:
            try:
                factory = self._factories[connector]
            except KeyError:
                raise Conflict(
                    f"接続モジュール「{connector}」はこの環境では利用できません"
                    "(シミュレーターはサンドボックス環境でのみ使えます)",
                    code="unknown_connector",
                ) from None
            built = factory(account_id, settings)
            self._built[key] = built
        return built

    async def forget(self, account_id: int) -> None:
        """Drop (and close) a built connector after its account's settings change."""
        for key in [k for k in self._built if k[1] == account_id]:
            await _close(self._built.pop(key))

    async def aclose(self) -> None:
        """Close every built connector (their HTTP sessions) at shutdown."""
        built, self._built = list(self._built.values()), {}
        for connector in built:
            await _close(connector)


async def _close(connector: object) -> None:
    close = getattr(connector, "aclose", None)
    if close is not None:
        await close()


@dataclass(frozen=True)
class ConnectorEnv:
    """What real connectors need from the process: the database (for their reference
    store) and the clock."""

    sessions: async_sessionmaker[AsyncSession]
    clock: Clock


def default_registry(
    *,
    sandbox: bool,
    env: ConnectorEnv | None = None,
    providers: Sequence[Provider] = PROVIDERS,
) -> ConnectorRegistry:
    """Every declared connector; the simulated ones only in sandbox mode, never in
    production. Without an env (no database) only connectors that need no store."""
    registry = ConnectorRegistry()
    for provider in providers:
        if provider.sandbox_only and not sandbox:
            continue
        if env is None and provider.needs_store:
            continue
        registry.register(provider.name, _factory(provider, env), check=provider.check_settings)
    return registry


def _factory(provider: Provider, env: ConnectorEnv | None) -> ConnectorFactory:
    def build(account_id: int, settings: Mapping[str, Any]) -> object:
        store = None if env is None else ReferenceStore(env.sessions, env.clock, account_id)
        return provider.connect(ConnectorContext(account_id, settings, store))

    return build
