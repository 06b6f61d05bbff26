"""Which connector serves an account. Connectors are built per account, never from globals."""

from collections.abc import Callable, Mapping
from typing import Any

from kessai.core.errors import ConfigurationError

# A factory takes the account's id and settings and returns a connector object that
# implements some of the protocols of kessai.providers.contract.
ConnectorFactory = Callable[[int, Mapping[str, Any]], object]


class ConnectorRegistry:
    def __init__(self) -> None:
        self._factories: dict[str, ConnectorFactory] = {}
        self._built: dict[tuple[str, int], object] = {}

    def register(self, name: str, factory: ConnectorFactory) -> None:
        self._factories[name] = factory

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
                raise ConfigurationError(
                    f"接続モジュール「{connector}」は登録されていません", code="unknown_connector"
                ) from None
            built = factory(account_id, settings)
            self._built[key] = built
        return built

    def forget(self, account_id: int) -> None:
        """Drop a built connector after its account's settings change."""
        for key in [k for k in self._built if k[1] == account_id]:
            del self._built[key]


def default_registry(*, sandbox: bool) -> ConnectorRegistry:
    """Every real connector; the simulated one only in sandbox mode, never in production."""
    registry = ConnectorRegistry()
    if sandbox:
        from kessai.providers.fake.connector import FakeConnector

        registry.register("fake", lambda account_id, settings: FakeConnector(account_id, settings))
    return registry
