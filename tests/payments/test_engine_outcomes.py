"""What each provider answer does to an order: declined, pending, challenge, not_sent, unknown.

The fake's scenario stands for the provider's answer; 決済履歴 must keep its words verbatim.
"""

import pytest

from kessai.core.errors import Conflict, IllegalTransition, ProviderUnavailable
from kessai.providers.contract import ProviderState
from kessai.providers.fake.connector import DECLINE_CODE, DECLINE_MESSAGE, HARD_CODE, HARD_MESSAGE
from tests.factories import SHIP, act, attempts, changes, make_method, make_order, view


async def card_order(services, **kw):
    method = await make_method(services)
    order_id = await make_order(services, method, **kw)
    return method, order_id


async def deferred_order(services):
    method = await make_method(services, provider="net_protections", method_type="np_atobarai")
    return method, await make_order(services, method)


# ---------------------------------------------------------------- declined and its kinds


@pytest.mark.parametrize(
    ("scenario", "code", "message"),
    [("decline", DECLINE_CODE, DECLINE_MESSAGE), ("hard_decline", HARD_CODE, HARD_MESSAGE)],
)
async def test_decline_keeps_provider_words_verbatim(services, scenario, code, message):
    _, order_id = await card_order(services)
    r = await services.payments.run(order_id, act("authorize", scenario=scenario))

    assert (r.outcome, r.provider_code, r.provider_message) == ("declined", code, message)
    assert code in r.message
    assert message in r.message
    o = await view(services, order_id)
    assert (o.payment_status_label, o.needs_reconcile) == ("仮売上失敗", False)
    row = (await attempts(services, order_id))[-1]
    assert (row.operation, row.outcome, row.provider_code, row.provider_message) == (
        "authorize",
        "declined",
        code,
        message,
    )


async def test_decline_by_test_amount(services):
    _, order_id = await card_order(services, amount=9001, tax=818)
    r = await services.payments.run(order_id, act("authorize"))
    assert (r.outcome, r.provider_code) == ("declined", DECLINE_CODE)


@pytest.mark.parametrize(
    ("scenario", "label", "code"),
    [("register_fail", "取引登録失敗", "E01"), ("error", "決済エラー", "E90")],
)
async def test_register_fail_and_error(services, scenario, label, code):
    _, order_id = await card_order(services)
    r = await services.payments.run(order_id, act("authorize", scenario=scenario))
    assert (r.outcome, r.provider_code) == ("declined", code)
    o = await view(services, order_id)
    assert o.payment_status_label == label
    assert "reauthorize" in o.allowed_actions


async def test_deferred_decline_is_credit_check_error(services):
    _, order_id = await deferred_order(services)
    await services.payments.run(order_id, act("authorize", scenario="decline"))
    assert (await view(services, order_id)).payment_status_label == "与信審査エラー"


async def test_declined_capture_is_capture_failed(services):
    method, order_id = await card_order(services)
    await services.payments.run(order_id, act("authorize"))
    r = await services.payments.run(order_id, act("capture", scenario="decline"))
    assert (r.outcome, r.provider_code) == ("declined", DECLINE_CODE)
    assert (await view(services, order_id)).payment_status_label == "売上失敗"
    # 売上失敗 with a live authorization: capture again works, once.
    await services.payments.run(order_id, act("capture"))
    o = await view(services, order_id)
    assert o.payment_status_label == "売上完了"
    assert services.registry.fake(method.account_id).ledger[o.number].history == ["capture"]


# ---------------------------------------------------------------- pending: 与信審査中


@pytest.mark.parametrize(
    ("scenario", "final"), [("pending", "与信審査完了"), ("pending_reject", "与信審査エラー")]
)
async def test_pending_credit_check_then_reconcile(services, scenario, final):
    _, order_id = await deferred_order(services)
    r = await services.payments.run(order_id, act("authorize", scenario=scenario))

    assert r.outcome == "pending"
    o = await view(services, order_id)
    assert (o.payment_status_label, o.handling_status_label) == ("与信審査中", "新規受付")

    r = await services.payments.run(order_id, act("reconcile"))

    o = await view(services, order_id)
    assert o.payment_status_label == final
    assert o.handling_status_label == ("注文確定" if final == "与信審査完了" else "新規受付")
    assert (await attempts(services, order_id))[-1].operation == "lookup"


async def test_pending_by_test_amount(services):
    method = await make_method(services, provider="net_protections", method_type="np_atobarai")
    order_id = await make_order(services, method, amount=9002, tax=818)
    await services.payments.run(order_id, act("authorize"))
    assert (await view(services, order_id)).payment_status_label == "与信審査中"


@pytest.mark.parametrize(
    ("scenario", "final"), [("pending", "仮売上完了"), ("pending_reject", "仮売上失敗")]
)
async def test_card_authorization_under_review_then_reconcile(services, scenario, final):
    """A card or wallet authorization the provider holds for review settles to the card words."""
    _, order_id = await card_order(services)
    await services.payments.run(order_id, act("authorize", scenario=scenario))
    assert (await view(services, order_id)).payment_status_label == "与信審査中"

    await services.payments.run(order_id, act("reconcile"))

    assert (await view(services, order_id)).payment_status_label == final


async def test_reconcile_with_nothing_to_settle_is_refused(services):
    _, order_id = await card_order(services)
    await services.payments.run(order_id, act("authorize"))
    with pytest.raises(Conflict) as e:
        await services.payments.run(order_id, act("reconcile"))
    assert e.value.code == "nothing_to_reconcile"


# ---------------------------------------------------------------- challenge: 3-D Secure


async def test_challenge_waits_for_customer_then_reconcile_completes(services):
    method, order_id = await card_order(services)
    r = await services.payments.run(order_id, act("authorize", scenario="challenge"))

    assert r.outcome == "pending"
    assert r.redirect_url
    o = await view(services, order_id)
    assert (o.payment_status_label, o.redirect_url) == ("決済準備中", r.redirect_url)
    assert not o.needs_reconcile

    # A second オーソリ would charge twice: refused while the customer is at the bank.
    with pytest.raises(Conflict) as e:
        await services.payments.run(order_id, act("authorize"))
    assert e.value.code == "awaiting_customer"

    await services.payments.run(order_id, act("reconcile"))

    o = await view(services, order_id)
    assert (o.payment_status_label, o.redirect_url) == ("仮売上完了", None)
    fake = services.registry.fake(method.account_id)
    assert [c.operation for c in fake.calls] == ["authorize", "lookup"]


async def test_cancel_while_customer_is_at_3ds_cancels_at_the_provider(services):
    """Cancelling locally would let the customer finish 3-D Secure on a cancelled order."""
    method, order_id = await card_order(services)
    await services.payments.run(order_id, act("authorize", scenario="challenge"))

    await services.payments.run(order_id, act("cancel"))

    o = await view(services, order_id)
    assert (o.payment_status_label, o.handling_status_label) == ("取消完了", "キャンセル")
    fake = services.registry.fake(method.account_id)
    assert [c.operation for c in fake.calls] == ["authorize", "cancel"]
    assert fake.ledger[o.number].state == "canceled"


async def test_refused_cancel_while_customer_is_at_3ds(services):
    _, order_id = await card_order(services)
    await services.payments.run(order_id, act("authorize", scenario="challenge"))
    await services.payments.run(order_id, act("cancel", scenario="decline"))
    assert (await view(services, order_id)).payment_status_label == "取引キャンセル失敗"


async def test_amount_change_while_customer_is_at_3ds_is_refused(services):
    _, order_id = await card_order(services, amount=5_000)
    await services.payments.run(order_id, act("authorize", scenario="challenge"))
    with pytest.raises(Conflict) as e:
        await services.payments.run(order_id, act("change-amount", amount=4_000))
    assert e.value.code == "awaiting_customer"
    assert (await view(services, order_id)).amount == 5_000


@pytest.mark.parametrize("scenario", ["challenge", "pending"])
async def test_transaction_cancelled_at_provider_while_waiting_is_a_failed_authorization(
    services, scenario
):
    """The customer abandoned 3-D Secure (or the review was withdrawn) and the provider
    dropped the transaction: the order must not read 仮売上完了."""
    method, order_id = await card_order(services)
    await services.payments.run(order_id, act("authorize", scenario=scenario))
    number = (await view(services, order_id)).number
    entry = services.registry.fake(method.account_id).ledger[number]
    entry.state, entry.pending_result = ProviderState.CANCELED, None

    await services.payments.run(order_id, act("reconcile"))

    o = await view(services, order_id)
    assert (o.payment_status_label, o.redirect_url) == ("仮売上失敗", None)
    assert "reauthorize" in o.allowed_actions


async def test_force_captured_3ds_order_can_change_amount(services):
    """Once an operator settled it by 強制売上処理, the order no longer waits for the customer."""
    method, order_id = await card_order(services, amount=5_000)
    await services.payments.run(order_id, act("authorize", scenario="challenge"))
    # The operator sees the sale done on the provider's screen and forces it here.
    entry = services.registry.fake(method.account_id).ledger[
        (await view(services, order_id)).number
    ]
    entry.state, entry.pending_result = ProviderState.CAPTURED, None
    await services.payments.run(order_id, act("force-capture"))

    await services.payments.run(order_id, act("change-amount", amount=4_000))

    o = await view(services, order_id)
    assert (o.payment_status_label, o.amount) == ("売上完了", 4_000)


# ---------------------------------------------------------------- not_sent


async def test_not_sent_leaves_order_unchanged_and_safe_to_retry(services):
    method, order_id = await card_order(services)
    before = await view(services, order_id)

    with pytest.raises(ProviderUnavailable) as e:
        await services.payments.run(order_id, act("authorize", scenario="not_sent"))

    assert e.value.status_code == 502
    o = await view(services, order_id)
    assert (o.payment_status_label, o.handling_status_label, o.amount) == (
        before.payment_status_label,
        before.handling_status_label,
        before.amount,
    )
    assert not o.needs_reconcile
    assert await changes(services, order_id) == []
    fake = services.registry.fake(method.account_id)
    assert fake.calls == []
    assert (await attempts(services, order_id))[-1].outcome == "not_sent"

    r = await services.payments.run(order_id, act("authorize"))
    assert r.outcome == "succeeded"
    assert [c.operation for c in fake.calls] == ["authorize"]


async def test_not_sent_capture_keeps_authorization(services):
    method, order_id = await card_order(services)
    await services.payments.run(order_id, act("authorize"))
    with pytest.raises(ProviderUnavailable):
        await services.payments.run(order_id, act("capture", scenario="not_sent"))
    assert (await view(services, order_id)).payment_status_label == "仮売上完了"
    await services.payments.run(order_id, act("capture"))
    assert services.registry.fake(method.account_id).captures() == 1


# ---------------------------------------------------------------- unknown


async def test_unknown_authorization_holds_the_order(services):
    _, order_id = await card_order(services)
    r = await services.payments.run(order_id, act("authorize", scenario="unknown"))

    assert r.outcome == "unknown"
    assert "決済照会" in r.message
    o = await view(services, order_id)
    assert (o.payment_status_label, o.needs_reconcile) == ("決済準備中", True)
    row = (await attempts(services, order_id))[-1]
    assert (row.operation, row.outcome, row.completed_at) == ("authorize", "unknown", None)


@pytest.mark.parametrize("next_action", ["authorize", "capture", "reconcile", "cancel"])
async def test_next_action_after_unknown_authorization_reconciles_first(services, next_action):
    method, order_id = await card_order(services)
    await services.payments.run(order_id, act("authorize", scenario="unknown"))
    fake = services.registry.fake(method.account_id)

    await services.payments.run(order_id, act(next_action))

    o = await view(services, order_id)
    expected = {
        "authorize": "仮売上完了",
        "reconcile": "仮売上完了",
        "capture": "売上完了",
        "cancel": "取消完了",
    }[next_action]
    assert (o.payment_status_label, o.needs_reconcile) == (expected, False)
    ops = [c.operation for c in fake.calls]
    assert ops[:2] == ["authorize", "lookup"]
    assert ops.count("authorize") == 1  # never a second authorization
    settled = [a for a in await attempts(services, order_id) if a.operation == "authorize"]
    assert [a.outcome for a in settled] == ["succeeded"]
    assert settled[0].provider_transaction_id == fake.ledger[o.number].transaction_id


async def test_retried_authorize_after_unknown_returns_the_settled_result(services):
    _, order_id = await card_order(services)
    await services.payments.run(order_id, act("authorize", scenario="unknown"))
    r = await services.payments.run(order_id, act("authorize"))
    assert r.outcome == "succeeded"


async def test_unknown_capture_then_capture_again_makes_one_capture(services):
    method, order_id = await card_order(services)
    await services.payments.run(order_id, act("authorize"))
    r = await services.payments.run(order_id, act("capture", scenario="unknown", **SHIP))
    assert r.outcome == "unknown"
    o = await view(services, order_id)
    assert (o.payment_status_label, o.needs_reconcile) == ("仮売上完了", True)

    r = await services.payments.run(order_id, act("capture", **SHIP))

    o = await view(services, order_id)
    assert (r.outcome, o.payment_status_label, o.needs_reconcile) == (
        "succeeded",
        "売上完了",
        False,
    )
    assert services.registry.fake(method.account_id).captures(o.number) == 1
    assert o.shipment_count == 1  # the retry is the same shipment, not a second one


async def test_lost_capture_is_retried_after_reconcile(services):
    """Nothing reached the provider (lookup: still authorized): a new capture is safe."""
    method, order_id = await card_order(services)
    await services.payments.run(order_id, act("authorize"))
    await services.payments.run(order_id, act("capture", scenario="lost"))
    assert (await view(services, order_id)).needs_reconcile

    r = await services.payments.run(order_id, act("capture"))

    o = await view(services, order_id)
    assert (r.outcome, o.payment_status_label) == ("succeeded", "売上完了")
    fake = services.registry.fake(method.account_id)
    assert fake.captures(o.number) == 1
    assert fake.ledger[o.number].history == ["capture"]


async def test_unknown_cancel_then_reconcile(services):
    method, order_id = await card_order(services)
    await services.payments.run(order_id, act("authorize"))
    await services.payments.run(order_id, act("cancel", scenario="unknown"))
    o = await view(services, order_id)
    assert (o.payment_status_label, o.needs_reconcile) == ("仮売上完了", True)

    # The order is held: capturing now must not capture a cancelled authorization.
    with pytest.raises(IllegalTransition):
        await services.payments.run(order_id, act("capture"))

    o = await view(services, order_id)
    assert (o.payment_status_label, o.handling_status_label) == ("取消完了", "キャンセル")
    assert services.registry.fake(method.account_id).captures() == 0


async def test_unknown_amount_change_then_reconcile(services):
    _, order_id = await card_order(services, amount=5_000, tax=454)
    await services.payments.run(order_id, act("authorize"))
    r = await services.payments.run(
        order_id, act("change-amount", amount=4_000, tax=363, scenario="unknown")
    )
    assert r.outcome == "unknown"
    assert (await view(services, order_id)).amount == 5_000

    await services.payments.run(order_id, act("reconcile"))

    o = await view(services, order_id)
    assert (o.amount, o.tax, o.payment_status_label, o.needs_reconcile) == (
        4_000,
        363,
        "仮売上完了",
        False,
    )


@pytest.mark.parametrize("action", ["cancel", "change-amount"])
async def test_lost_request_changes_nothing_at_the_provider(services, action):
    """'lost': the request never reached the provider; the lookup says so, a retry is safe."""
    method, order_id = await card_order(services, amount=5_000)
    await services.payments.run(order_id, act("authorize"))
    r = await services.payments.run(order_id, act(action, amount=4_000, scenario="lost"))
    assert r.outcome == "unknown"
    fake = services.registry.fake(method.account_id)
    o = await view(services, order_id)
    assert (fake.ledger[o.number].state, fake.ledger[o.number].amount) == ("authorized", 5_000)

    await services.payments.run(order_id, act(action, amount=4_000))

    o = await view(services, order_id)
    assert o.payment_status_label == ("取消完了" if action == "cancel" else "仮売上完了")
    assert o.amount == (5_000 if action == "cancel" else 4_000)
    ops = [c.operation for c in fake.calls]
    assert ops.count(action.replace("-", "_")) == 1


async def test_unknown_outcome_lookup_unreachable_keeps_order_held(services):
    method, order_id = await card_order(services)
    await services.payments.run(order_id, act("authorize", scenario="unknown"))
    fake = services.registry.fake(method.account_id)

    async def down(reference):
        raise ConnectionError("connection reset")

    fake.lookup = down
    with pytest.raises(ProviderUnavailable):
        await services.payments.run(order_id, act("capture"))

    o = await view(services, order_id)
    assert (o.payment_status_label, o.needs_reconcile) == ("決済準備中", True)
    lookup = (await attempts(services, order_id))[-1]
    assert (lookup.operation, lookup.outcome) == ("lookup", "not_sent")
    assert "ConnectionError" in lookup.provider_message
