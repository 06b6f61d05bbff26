"""Codes and the labels operators use for them: one lookup for every labelled enum.

Operators type what they see on screen (仮売上完了, 停止, 運用担当) where a program sends
the code (authorized, paused, operator); both name the same member."""

from collections.abc import Iterable
from typing import Protocol, TypeVar


class Labelled(Protocol):
    @property
    def value(self) -> str: ...

    @property
    def label(self) -> str: ...


L = TypeVar("L", bound=Labelled)


def by_code_or_label(choices: Iterable[L], raw: str) -> L | None:
    """The choice whose code or label `raw` is; None when it is neither."""
    return next((c for c in choices if raw in (c.value, c.label)), None)
