"""Recognising card numbers, so they can be refused at the door and masked in logs."""

import re

# 13–19 digits written together, or grouped the way cards print them with one kind of
# separator: 4-4-4-4(-1..3) and Amex/Diners 4-6-5 / 4-6-4 (an order number such as
# 20261207-000123-1 is not a card's grouping and stays readable in the logs).
_PAN_RUN = re.compile(
    r"(?<![\d-])("
    r"\d{13,19}"
    r"|\d{4}(?P<s>[ -])\d{4}(?P=s)\d{4}(?P=s)\d{4}(?:(?P=s)\d{1,3})?"
    r"|\d{4}(?P<a>[ -])\d{6}(?P=a)\d{4,5}"
    r")(?!\d)"
)


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
    """Star every digit but the last four of each Luhn-valid 13–19 digit run, written
    together or grouped by spaces or hyphens ("4111 1111 1111 1111" → "**** **** **** 1111")."""
    return _PAN_RUN.sub(_masked, text)


_HEX_LETTERS = frozenset("abcdefABCDEF")


def _masked(m: re.Match[str]) -> str:
    run = m[1]
    digits = re.sub(r"\D", "", run)
    if not luhn_valid(digits) or _inside_hex(m):
        return run
    keep = len(digits) - 4
    out, seen = [], 0
    for ch in run:
        if ch.isdigit():
            out.append("*" if seen < keep else ch)
            seen += 1
        else:
            out.append(ch)
    return "".join(out)


def _inside_hex(m: re.Match[str]) -> bool:
    """A digit run glued to a hex letter is part of a request id or hash, not a card number
    (one in ten such runs passes the Luhn check by chance)."""
    before = m.string[m.start(1) - 1] if m.start(1) > 0 else ""
    after = m.string[m.end(1)] if m.end(1) < len(m.string) else ""
    return before in _HEX_LETTERS or after in _HEX_LETTERS
