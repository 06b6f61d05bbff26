"""Stored cards at the provider (GMO PG 会員・カード): kessai keeps only the references.

A card is registered from a one-time token; kessai never sees nor stores its number.
"""

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class StoredCard:
    member_id: str
    card_seq: str
    masked_number: str  # as the provider masks it, e.g. ************1111
    expire: str  # YYMM
    holder: str | None = None
    brand: str | None = None
    default: bool = False
    deleted: bool = False


class ProviderError(Exception):
    """The provider refused; code and message verbatim."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class ProviderUnreachable(Exception):
    """No answer, or no connection: nothing is known to have happened."""


@runtime_checkable
class CardVault(Protocol):
    async def save_member(self, member_id: str, name: str | None = None) -> None: ...

    async def find_member(self, member_id: str) -> bool: ...

    async def delete_member(self, member_id: str) -> None: ...

    async def save_card(self, member_id: str, token: str) -> StoredCard: ...

    async def search_cards(self, member_id: str) -> list[StoredCard]: ...

    async def delete_card(self, member_id: str, card_seq: str) -> None: ...

    async def traded_card(self, reference: str, member_id: str) -> StoredCard: ...
