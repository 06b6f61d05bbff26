"""An authorization the provider has carried out whose answer kessai has not received yet:
the provider's notification can overtake it."""

import asyncio
from typing import Any


class HeldAnswer:
    """Wraps a connector (Harness.use): its authorize reaches the provider, which acts on it,
    and the answer is held until `release()`."""

    def __init__(self) -> None:
        self.acted = asyncio.Event()  # the provider holds the charge now
        self._released = asyncio.Event()

    def hold(self, connector: Any) -> Any:
        real = connector.authorize

        async def authorize(*args: Any, **kwargs: Any) -> Any:
            outcome = await real(*args, **kwargs)
            self.acted.set()
            await self._released.wait()
            return outcome

        connector.authorize = authorize  # on the instance: the protocols still see the class
        return connector

    def release(self) -> None:
        self._released.set()
