"""The suite itself: connectors that break a promise fail it, for every declared provider."""

from collections import Counter
from dataclasses import replace

import pytest

from kessai.providers import contract as c
from tests.providers.conformance import checks
from tests.providers.conformance.harness import Harness

# What each provider answers when a second payment reuses what the first one consumed.
REUSE_REFUSED = ("EX1000302", "InvalidChargePermissionStatus", "10105301")


class ChargesAgainOnRetry:
    """Sends every authorize as a new payment (its own reference each time) but looks up
    only the reference it was given: a lost answer is never found, so the retry charges
    the customer a second time."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.tries: Counter[str] = Counter()

    async def authorize(self, request: c.AuthorizeRequest) -> c.Outcome:
        assert isinstance(self.inner, c.Authorizer)
        self.tries[request.reference] += 1
        fresh = f"{request.reference}R{self.tries[request.reference]}"
        return await self.inner.authorize(replace(request, reference=fresh))

    async def lookup(self, reference: str) -> c.Lookup:
        assert isinstance(self.inner, c.Reconciler)
        return await self.inner.lookup(reference)


class RewritesDeclines:
    """Answers every decline with a code of its own instead of the provider's."""

    def __init__(self, inner: object) -> None:
        self.inner = inner

    async def authorize(self, request: c.AuthorizeRequest) -> c.Outcome:
        assert isinstance(self.inner, c.Authorizer)
        outcome = await self.inner.authorize(request)
        if outcome.kind is c.OutcomeKind.DECLINED:
            return replace(outcome, code="DECLINED", message="カードが利用できません")
        return outcome


async def test_a_connector_that_charges_again_on_retry_fails_the_suite(h: Harness) -> None:
    """The simulated provider takes the second payment: the suite sees two charges. Or the
    provider itself refuses what the retry reuses (GMO and SBPS: the one-time token,
    EX1000302 and 10105301; Amazon Pay: the charge permission a charge already holds,
    InvalidChargePermissionStatus), so the retry does not succeed: the suite fails there
    instead, before anyone could be charged twice."""
    await h.use(ChargesAgainOnRetry)
    with pytest.raises(AssertionError) as failed:
        await checks.check_lost_answer_is_settled_by_lookup_and_never_charged_twice(h)
    if h.charges() == 2:
        assert "charged twice" in str(failed.value)
    elif "under a new reference" not in str(failed.value):
        # (KOMOJU: the customer paid once in the session; the new reference is caught.)
        assert "outcome='declined'" in str(failed.value)
        assert any(code in str(failed.value) for code in REUSE_REFUSED)


async def test_a_connector_that_rewrites_the_providers_codes_fails_the_suite(h: Harness) -> None:
    await h.use(RewritesDeclines)
    with pytest.raises(AssertionError):
        await checks.check_declines_reach_history_verbatim_and_are_hard_or_soft(h)


@pytest.fixture
def h(harness: Harness) -> Harness:
    return harness
