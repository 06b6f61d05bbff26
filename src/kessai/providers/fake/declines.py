"""Is a decline of the simulated provider final? Only its hard decline code is."""

from kessai.providers.fake.connector import HARD_CODE


def is_final_decline(code: str | None) -> bool:
    """G54 (無効なカード: 紛失・盗難) never passes again; G12 and the errors may."""
    return code == HARD_CODE
