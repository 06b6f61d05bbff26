"""What the payment core relies on from every connector, one check per promise.

Each check takes a Harness (tests/providers/conformance/harness.py) and fails with an
AssertionError naming the broken promise. test_conformance.py runs them for every declared
provider; test_the_suite.py shows they fail for connectors that break them.
"""

import json
import logging

import pytest
from sqlalchemy import text

from kessai.all_models import Base
from kessai.core.db import transaction
from kessai.core.errors import Conflict, IllegalTransition, ProviderUnavailable
from kessai.payments import capabilities as caps
from kessai.payments.engine import UNSUPPORTED
from kessai.payments.models import PaymentAttempt
from kessai.payments.status import PaymentStatus
from kessai.providers import contract as c
from tests.providers.conformance.harness import Harness

CAPTURED, CANCELED = PaymentStatus.CAPTURED, PaymentStatus.CANCELED


async def _lookup(h: Harness, order_id: int) -> c.Lookup:
    conn = h.services.registry.connector_for(h.account)
    assert isinstance(conn, c.Reconciler)
    return await conn.lookup(await h.reference(order_id))


def _declares(h: Harness, protocol: type) -> bool:
    return isinstance(h.real_connector(), protocol)


def _captures_on_authorize(h: Harness) -> bool:
    """Seed 003's デフォルトでオーソリ確定 (KOMOJU WeChat Pay / Alipay): the authorization
    is the sale, and there is no capture of its own to ask the provider for."""
    return caps.row(*h.sandbox.method).capture_on_authorize is caps.CaptureOnAuthorize.ALWAYS


def _authorized(h: Harness) -> PaymentStatus:
    """What a successful authorization leaves the order in: 仮売上完了, 売上完了 where the
    authorization is the sale, 与信審査完了 for a 後払い method (a credit check)."""
    if _captures_on_authorize(h):
        return CAPTURED
    if caps.row(*h.sandbox.method).kind is caps.MethodKind.DEFERRED:
        return PaymentStatus.CREDIT_CHECK_PASSED
    return PaymentStatus.AUTHORIZED


# --- the operations it declares --------------------------------------------------------------


async def check_authorize_capture_lookup(h: Harness) -> None:
    order = await h.order(h.sandbox.succeed)
    result = await h.run(order, "authorize")
    assert result.outcome == "succeeded", result
    assert await h.status(order) == _authorized(h)
    if _declares(h, c.Reconciler):
        found = await _lookup(h, order)
        held = c.ProviderState.CAPTURED if _captures_on_authorize(h) else c.ProviderState.AUTHORIZED
        assert (found.state, found.amount) == (held, h.sandbox.succeed.amount)
    if _captures_on_authorize(h):
        assert h.charges() == 1
        return
    if not _declares(h, c.Capturer):
        pytest.skip(f"{h.provider.name} declares no capture")
    result = await h.run(order, "capture")
    assert result.outcome == "succeeded", result
    assert await h.status(order) == CAPTURED
    if _declares(h, c.Reconciler):
        assert (await _lookup(h, order)).state is c.ProviderState.CAPTURED
    assert h.charges() == 1


async def check_cancel(h: Harness) -> None:
    if not _declares(h, c.Canceller):
        pytest.skip(f"{h.provider.name} declares no cancel")
    order = await h.order(h.sandbox.succeed)
    assert (await h.run(order, "authorize")).outcome == "succeeded"
    result = await h.run(order, "cancel")
    assert result.outcome == "succeeded", result
    assert await h.status(order) == CANCELED
    if _declares(h, c.Reconciler):
        assert (await _lookup(h, order)).state is c.ProviderState.CANCELED


async def check_change_amount(h: Harness) -> None:
    if not _declares(h, c.AmountChanger):
        pytest.skip(f"{h.provider.name} declares no amount change")
    order = await h.order(h.sandbox.succeed)
    assert (await h.run(order, "authorize")).outcome == "succeeded"
    smaller = h.sandbox.succeed.amount - 100
    result = await h.run(order, "change-amount", amount=smaller, tax=0)
    assert result.outcome == "succeeded", result
    if h.sandbox.amount_at_capture:
        assert (await h.run(order, "capture")).outcome == "succeeded"
    if _declares(h, c.Reconciler):
        assert (await _lookup(h, order)).amount == smaller
    assert h.charges() == 1


class _AuthorizeOnly:
    """The declared connector narrowed to authorize and lookup."""

    def __init__(self, inner: object) -> None:
        self.inner = inner

    async def authorize(self, request: c.AuthorizeRequest) -> c.Outcome:
        assert isinstance(self.inner, c.Authorizer)
        return await self.inner.authorize(request)

    async def lookup(self, reference: str) -> c.Lookup:
        assert isinstance(self.inner, c.Reconciler)
        return await self.inner.lookup(reference)


async def check_undeclared_operation_is_refused_before_any_call(h: Harness) -> None:
    """capture, cancel and change_amount on a connector that declares none of them (a
    capture and an amount change only where seed 003 makes them provider calls)."""
    await h.use(_AuthorizeOnly)
    order = await h.order(h.sandbox.succeed)
    assert (await h.run(order, "authorize")).outcome == "succeeded"
    before = len(await h.history(order))
    actions: list[tuple[str, dict[str, int]]] = [("cancel", {})]
    if not _captures_on_authorize(h):
        actions.insert(0, ("capture", {}))
    row = caps.row(*h.sandbox.method)
    rule = row.amount_after if _captures_on_authorize(h) else row.amount_before
    if rule is not None and not rule.local_only:
        actions.append(("change-amount", {"amount": 900}))
    for action, kw in actions:
        with pytest.raises(Conflict) as refused:
            await h.run(order, action, **kw)
        assert refused.value.code == UNSUPPORTED
        assert "対応していません" in refused.value.message
        assert await h.status(order) == _authorized(h)
    history = (await h.history(order))[before:]
    assert [(a.outcome, a.provider_code) for a in history] == [("not_sent", UNSUPPORTED)] * len(
        actions
    )
    assert h.charges() == 1


# --- faults ----------------------------------------------------------------------------------


async def check_lost_answer_is_settled_by_lookup_and_never_charged_twice(h: Harness) -> None:
    """A timeout after sending: unknown; the same request again is answered by a lookup with
    our own reference, and the provider holds one charge."""
    order = await h.order(h.sandbox.succeed)
    await h.lose_next_answer("authorize")
    first = await h.run(order, "authorize")
    assert first.outcome == "unknown", first
    again = await h.run(order, "authorize")
    assert h.charges() == 1, "charged twice"
    assert again.outcome == "succeeded", again
    assert await h.status(order) == _authorized(h)
    history = await h.history(order)
    ours = {a.reference for a in history if a.operation.startswith("authorize")}
    assert len(ours) == 1, f"authorized again under a new reference: {sorted(ours)}"
    assert [a.reference for a in history if a.operation == "lookup"] == list(ours)
    # And once more, later: refused by the status table, still one charge.
    with pytest.raises(IllegalTransition):
        await h.run(order, "authorize")
    assert h.charges() == 1, "charged twice"


async def check_connection_refused_is_not_sent(h: Harness) -> None:
    order = await h.order(h.sandbox.succeed)
    # A wallet the customer pays on the provider's own page (KOMOJU's session) holds that
    # payment before kessai asks for it; nothing kessai does may add another.
    paid_by_customer = h.charges()
    async with h.connection_refused():
        with pytest.raises(ProviderUnavailable):
            await h.run(order, "authorize")
    assert [a.outcome for a in await h.history(order)] == ["not_sent"]
    assert await h.status(order) == PaymentStatus.PENDING
    assert h.charges() == paid_by_customer
    assert (await h.run(order, "authorize")).outcome == "succeeded"
    assert h.charges() == 1


async def check_server_error_is_settled_by_lookup(h: Harness) -> None:
    """A 5xx from the provider's front says nothing about the payment: processed behind the
    error page or not, the next try is settled by a lookup and each order is charged once."""
    for charged, commit in enumerate((True, False), start=1):
        order = await h.order(h.sandbox.succeed)
        if not await h.server_error_on_next("authorize", commit=commit):
            pytest.skip(f"{h.provider.name} talks to no server: its faults are its scenarios")
        first = await h.run(order, "authorize")
        assert first.outcome == "unknown", first
        settled = await h.run(order, "authorize")
        assert settled.outcome == "succeeded", settled
        assert await h.status(order) == _authorized(h)
        assert h.charges() == charged, "charged twice"


async def check_simulator_honours_the_shared_fault_switches(h: Harness) -> None:
    """The provider's simulator stands on the simulator base: /_control shows the shared
    switches, a slow answer is only slow, and a rate-limited call gets the provider's own
    rate-limit answer, charges nothing, and the order goes through on a later try."""
    calls = h.sandbox.fault_calls
    if calls is None:
        pytest.skip(f"{h.provider.name} talks to no server: its faults are its scenarios")
    shown = await h.control()
    assert set(shown["faults"]) >= {
        "latency_seconds",
        "lose_response",
        "rate_limit",
        "inject_error",
        "server_error",
    }
    assert {"now", "scenarios", "records"} <= set(shown)

    slow = await h.order(h.sandbox.succeed)
    await h.control(latency_seconds=0.2)
    assert (await h.run(slow, "authorize")).outcome == "succeeded"
    await h.control(latency_seconds=0)
    assert h.charges() == 1

    limited = await h.order(h.sandbox.succeed)
    before = h.charges()  # a wallet paid on the provider's page holds its payment already
    await h.control(rate_limit={"count": 1, "api": calls["authorize"]})
    result = await h.run(limited, "authorize")
    if result.outcome != "succeeded":  # the connector did not try again itself
        assert h.charges() == before, "a rate-limited call charged"
        result = await h.run(limited, "authorize")
    assert result.outcome == "succeeded", result
    assert await h.status(limited) == _authorized(h)
    assert h.charges() == 2, "charged twice"
    answered = [c["result"] for c in await h.calls(calls["authorize"])]
    assert "rate_limited" in answered, answered


async def check_a_restarted_simulator_keeps_what_it_held(h: Harness) -> None:
    """The simulator keeps its records in kessai's database, as the provider keeps them: a
    new process on the same database holds the authorization and answers for it."""
    if h.sandbox.fault_calls is None or h.provider.simulator is None:
        pytest.skip(f"{h.provider.name} talks to no server: nothing to restart")
    order = await h.order(h.sandbox.succeed)
    assert (await h.run(order, "authorize")).outcome == "succeeded"
    async with h.restarted():
        if _declares(h, c.Reconciler):
            found = await _lookup(h, order)
            captured = _captures_on_authorize(h)
            held = c.ProviderState.CAPTURED if captured else c.ProviderState.AUTHORIZED
            assert (found.state, found.amount) == (held, h.sandbox.succeed.amount)
        if _declares(h, c.Canceller):
            assert (await h.run(order, "cancel")).outcome == "succeeded"
            assert await h.status(order) == CANCELED
        elif _declares(h, c.Capturer) and not _captures_on_authorize(h):
            assert (await h.run(order, "capture")).outcome == "succeeded"
            assert await h.status(order) == CAPTURED
        assert h.charges() == 1, "the restarted simulator lost or doubled the charge"


# --- declines --------------------------------------------------------------------------------


async def _declined(h: Harness, order: int) -> PaymentAttempt:
    result = await h.run(order, "authorize")
    assert result.outcome == "declined", result
    (attempt,) = [a for a in await h.history(order) if a.outcome == "declined"]
    return attempt


async def check_declines_reach_history_verbatim_and_are_hard_or_soft(h: Harness) -> None:
    rule = h.provider.final_decline
    assert rule is not None, "a provider declares which of its declines are final"
    soft = await _declined(h, await h.order(h.sandbox.decline))
    hard = await _declined(h, await h.order(h.sandbox.hard_decline))
    assert (soft.provider_code, hard.provider_code) == (
        h.sandbox.decline.code,
        h.sandbox.hard_decline.code,
    )
    assert soft.provider_message
    assert hard.provider_message
    assert (rule(soft.provider_code), rule(hard.provider_code)) == (False, True)
    assert h.charges() == 0


# --- write-ahead and secrets -----------------------------------------------------------------


class _Watching:
    """Checks, as the call starts, that the attempt is already committed (read on a
    connection of its own)."""

    def __init__(self, inner: object, h: Harness) -> None:
        self.inner, self.h = inner, h
        self.seen: list[str] = []

    async def authorize(self, request: c.AuthorizeRequest) -> c.Outcome:
        async with transaction(self.h.services.sessions) as s:
            rows = await s.execute(
                text("SELECT outcome FROM payment_attempts WHERE reference = :r"),
                {"r": request.reference},
            )
            self.seen += [r[0] for r in rows]
        assert isinstance(self.inner, c.Authorizer)
        return await self.inner.authorize(request)

    async def lookup(self, reference: str) -> c.Lookup:
        assert isinstance(self.inner, c.Reconciler)
        return await self.inner.lookup(reference)


async def check_attempt_is_committed_before_the_call(h: Harness) -> None:
    watching: list[_Watching] = []

    def wrap(inner: object) -> _Watching:
        watching.append(_Watching(inner, h))
        return watching[-1]

    await h.use(wrap)
    order = await h.order(h.sandbox.succeed)
    assert (await h.run(order, "authorize")).outcome == "succeeded"
    assert watching
    assert watching[-1].seen == ["sent"]


async def _database_text(h: Harness) -> str:
    dump = []
    async with transaction(h.services.sessions) as s:
        for table in Base.metadata.sorted_tables:
            rows = (await s.execute(table.select())).all()
            dump += [json.dumps([str(v) for v in row], ensure_ascii=False) for row in rows]
    return "\n".join(dump)


async def check_no_card_data_or_secret_in_logs_or_database(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for given in (h.sandbox.succeed, h.sandbox.decline):
        order = await h.order(given)
        await h.run(order, "authorize")
    secret_fields = set(h.account.secrets)
    settings = dict(h.sandbox.account_settings(h.sim_url))
    secrets = [str(settings[k]) for k in secret_fields]
    cards = [v for g in (h.sandbox.succeed, h.sandbox.decline) for v in g.source.values()]
    cards = [v for v in cards if v.isdigit() and len(v) >= 12]  # card numbers
    stored = await _database_text(h)
    for value in [*secrets, *cards]:
        assert value not in caplog.text, "in the logs"
        assert value not in stored, "in the database"


CHECKS = [
    check_authorize_capture_lookup,
    check_cancel,
    check_change_amount,
    check_undeclared_operation_is_refused_before_any_call,
    check_lost_answer_is_settled_by_lookup_and_never_charged_twice,
    check_connection_refused_is_not_sent,
    check_server_error_is_settled_by_lookup,
    check_simulator_honours_the_shared_fault_switches,
    check_a_restarted_simulator_keeps_what_it_held,
    check_declines_reach_history_verbatim_and_are_hard_or_soft,
    check_attempt_is_committed_before_the_call,
]
