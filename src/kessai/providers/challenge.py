"""Payments that wait for the customer (3-D Secure 2.0): once they are back, complete it."""

from typing import Protocol, runtime_checkable

from kessai.providers.contract import Outcome


@runtime_checkable
class ChallengeCompleter(Protocol):
    async def complete_challenge(self, reference: str) -> Outcome:
        """Finish the authorization after the customer's challenge (GMO: SecureTran2)."""
        ...
