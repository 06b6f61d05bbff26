"""電算システム コンビニ郵貯後払い: the 17-digit 取引ID of each order.

Seed 001: 「コンビニ郵貯後払い:有効」の場合に、対象の受注の取引ID に「固有値 7 桁 + 乱数 10 桁」
の計 17 桁の取引 ID が自動で生成されます。The 固有値 is the account's `unique_value`.

The ID is stored as the order's provider_reference. No unique index guards that column, so a
new ID is checked against every order's reference inside the creating transaction and drawn
again on a collision (10 random digits: a collision is rare, two in a row rarer still). The
check is the caller's (kessai.orders.service.densan_transaction_id): this module knows no
order.
"""

import re
import secrets
from collections.abc import Awaitable, Callable
from typing import TypeGuard

from kessai.accounts.models import ProviderAccount
from kessai.core.errors import Conflict

INTEGRATION = "densan"
UNIQUE_VALUE_KEY = "unique_value"
UNIQUE_VALUE = re.compile(r"[0-9]{7}")
RANDOM_DIGITS = 10
MAX_TRIES = 10

# randbelow(n) -> 0 <= int < n; tests replace it to force a collision.
RandomSource = Callable[[int], int]
randbelow: RandomSource = secrets.randbelow


def is_densan(account: ProviderAccount | None) -> TypeGuard[ProviderAccount]:
    return account is not None and account.integration == INTEGRATION


def unique_value_of(account: ProviderAccount) -> str:
    """The account's 固有値7桁; Conflict when it is not set (the account is incomplete)."""
    value = (account.settings or {}).get(UNIQUE_VALUE_KEY)
    if not isinstance(value, str) or not UNIQUE_VALUE.fullmatch(value):
        raise Conflict(
            f"外部連携アカウント「{account.name}」の「固有値7桁(数字)」が未設定のため、"
            "取引IDを発行できません",
            code="account_incomplete",
            detail={"account_id": account.id, "missing": ["固有値7桁(数字)"]},
        )
    return value


def transaction_id(unique_value: str, source: RandomSource | None = None) -> str:
    """固有値 7 桁 + 乱数 10 桁 (leading zeros kept)."""
    if not UNIQUE_VALUE.fullmatch(unique_value):
        raise ValueError("固有値は7桁の半角数字です")
    draw = source or randbelow
    return f"{unique_value}{draw(10**RANDOM_DIGITS):0{RANDOM_DIGITS}d}"


async def new_transaction_id(
    account: ProviderAccount,
    taken: Callable[[str], Awaitable[bool]],
    source: RandomSource | None = None,
) -> str:
    """A 取引ID for which `taken` answers False (the caller asks its own transaction)."""
    unique_value = unique_value_of(account)
    for _ in range(MAX_TRIES):
        candidate = transaction_id(unique_value, source)
        if not await taken(candidate):
            return candidate
    raise Conflict(
        "電算システムの取引IDを発行できませんでした。もう一度お試しください",
        code="densan_transaction_id_unavailable",
    )
