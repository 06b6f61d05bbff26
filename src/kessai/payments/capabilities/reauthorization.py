"""How many 再オーソリ each provider takes on one order, beside the capability matrix.

Counted on the order's `authorization_count` (the first オーソリ and every 再オーソリ): a
provider listed here refuses the 再オーソリ after its limit, so kessai stops before calling.
"""

# SBペイメントサービス accepts four 再オーソリ of a transaction and refuses the fifth.
REAUTHORIZATION_LIMITS: dict[str, int] = {
    "sbps": 4,
}


def max_reauthorizations(provider: str) -> int | None:
    """The provider's limit of 再オーソリ per order; None when it sets none."""
    return REAUTHORIZATION_LIMITS.get(provider)


def reauthorizations_done(authorization_count: int) -> int:
    """再オーソリ so far: every authorization after the first."""
    return max(authorization_count - 1, 0)


def reauthorization_allowed(provider: str, authorization_count: int) -> bool:
    limit = max_reauthorizations(provider)
    return limit is None or reauthorizations_done(authorization_count) < limit
