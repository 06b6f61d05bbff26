"""Recognising card numbers, so they can be refused at the door and masked in logs."""

import re

_PAN_RUN = re.compile(r"(?<!\d)(\d{13,19})(?!\d)")


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def looks_like_pan(value: str) -> bool:
    """A 13–19 digit Luhn-valid number, spaces and hyphens allowed between digits."""
    compact = re.sub(r"[\s-]", "", value)
    return compact.isdigit() and 13 <= len(compact) <= 19 and luhn_valid(compact)


def mask_pan(text: str) -> str:
    """Replace every Luhn-valid 13–19 digit run with stars and its last four digits."""
    return _PAN_RUN.sub(
        lambda m: "*" * (len(m[1]) - 4) + m[1][-4:] if luhn_valid(m[1]) else m[1], text
    )
