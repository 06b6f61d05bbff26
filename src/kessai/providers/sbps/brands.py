"""与信期限 by card brand: how long an SBPS authorization can still be sold (売上).

Seed 003's table carries one number per provider (SBPS: 90 days, the longest); the brand
SBPS answers (cardbrand_code) shortens it. kessai's table, from the 45〜90 days the product
brief gives: confirm it against the account's SBPS contract, which may differ.
"""

DAYS = {
    "V": ("VISA", 60),
    "M": ("Mastercard", 60),
    "J": ("JCB", 90),
    "A": ("American Express", 90),
    "D": ("Diners Club", 45),
}
DEFAULT = ("カード", 45)  # an unknown brand: the shortest


def limit(brand: str | None) -> tuple[str, int]:
    """(the brand's name, its 与信期限 in days)."""
    return DAYS.get(brand or "", DEFAULT)
