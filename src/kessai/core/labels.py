"""Codes and the labels operators use for them: one lookup for every labelled enum.

Operators type what they see on screen (仮売上完了, 停止, 運用担当) where a program sends
the code (authorized, paused, operator); both name the same member."""

from collections.abc import Iterable
from typing import Protocol, TypeVar

from kessai.core.errors import InvalidInput


class Labelled(Protocol):
    @property
    def value(self) -> str: ...

    @property
    def label(self) -> str: ...


L = TypeVar("L", bound=Labelled)


def by_code_or_label(choices: Iterable[L], raw: str) -> L | None:
    """The choice whose code or label `raw` is; None when it is neither."""
    return next((c for c in choices if raw in (c.value, c.label)), None)


def require_code_or_label(choices: Iterable[L], raw: str, noun: str, code: str) -> L:
    """As by_code_or_label, but an unknown one is refused: 「noun「raw」は存在しません」."""
    options = list(choices)
    found = by_code_or_label(options, raw)
    if found is None:
        raise InvalidInput(
            f"{noun}「{raw[:40]}」は存在しません",
            code=code,
            detail={"allowed": [c.value for c in options]},
        )
    return found
