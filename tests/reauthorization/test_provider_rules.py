"""The per-provider data the batch follows: final declines and 再オーソリ limits."""

import pytest

from kessai.payments import capabilities as caps
from kessai.payments.capabilities.reauthorization import (
    REAUTHORIZATION_LIMITS,
    reauthorization_allowed,
)
from kessai.providers.fake.connector import DECLINE_CODE, HARD_CODE
from kessai.subscriptions.reauthorization import is_final_decline


@pytest.mark.parametrize(
    ("connector", "code", "final"),
    [
        ("fake", HARD_CODE, True),
        ("fake", DECLINE_CODE, False),
        ("fake", "E90", False),
        ("gmo_pg", "42G540000", True),
        ("gmo_pg", "42G020000", False),
        ("a_connector_without_rules", "42G540000", False),
    ],
)
def test_final_decline_by_connector(connector, code, final):
    assert is_final_decline(connector, code) is final


def test_limits_name_known_providers():
    assert set(REAUTHORIZATION_LIMITS) <= set(caps.PROVIDERS)


@pytest.mark.parametrize(
    ("provider", "authorizations", "allowed"),
    [
        ("sbps", 1, True),  # only the first オーソリ so far
        ("sbps", 4, True),  # three 再オーソリ: the fourth is allowed
        ("sbps", 5, False),  # four 再オーソリ: SBPS refuses a fifth
        ("gmo_pg", 50, True),
    ],
)
def test_reauthorization_limit(provider, authorizations, allowed):
    assert reauthorization_allowed(provider, authorizations) is allowed
