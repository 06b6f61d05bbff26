"""The one input policy: what any text, id, page position or amount may be.

Both databases then behave alike: PostgreSQL refuses a NUL inside text and both refuse an
integer beyond 64 bits, each with a driver error that would otherwise surface as a 500.
- Text: no control characters (C0, DEL, C1) but tab, line feed and carriage return.
- Ids and paging: 1 ≤ id ≤ MAX_ID, 0 ≤ offset ≤ MAX_ID.
- Amounts: strict integers of yen (JSON `true`, `5000.0` or `"5000"` are not amounts).
"""

import re
from typing import Annotated, Any

from pydantic import Field, Strict

from kessai.core.errors import InvalidInput

# Ids are 64-bit in every table: a larger number is refused as input, never sent to the DB.
MAX_ID = 2**63 - 1
# Exact in every JSON client (JavaScript's safe integers) and far below what a 64-bit
# column holds, sums included; a payment method's own limit refuses far less.
MAX_YEN = 2**53 - 1

RowId = Annotated[int, Strict(), Field(ge=1, le=MAX_ID)]
Yen = Annotated[int, Strict(), Field(ge=0, le=MAX_YEN)]
# An order's amount: its payment method's limit (itself a Yen) bounds it, refused by the
# service with a message that names the limit.
PositiveYen = Annotated[int, Strict(), Field(gt=0)]

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")

CONTROL_MESSAGE = "制御文字 (NUL など) は入力できません"


def find_control(text: str) -> int:
    """Where the first control character is, or -1."""
    found = _CONTROL.search(text)
    return -1 if found is None else found.start()


def has_control(text: str) -> bool:
    return _CONTROL.search(text) is not None


def check_text(text: str, field: str) -> str:
    """`text` unchanged, or InvalidInput naming the field."""
    if has_control(text):
        raise InvalidInput(
            f"{CONTROL_MESSAGE}: {field}", code="control_character", detail={"field": field}
        )
    return text


def control_in(value: Any, path: str = "") -> str | None:
    """The first field of decoded JSON whose text (a value or a key) holds a control
    character, as a dotted path; None when there is none."""
    if isinstance(value, str):
        return path if has_control(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            found = where if has_control(str(key)) else control_in(item, where)
            if found is not None:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = control_in(item, f"{path}.{i}" if path else str(i))
            if found is not None:
                return found
    return None
