"""The connector against the simulator over loopback: the QR pre-authorization and what
follows it, PayPay's own limits refused before any call, retries and unknown outcomes."""

from datetime import timedelta

from kessai.providers.contract import (
    AuthorizeRequest,
    Outcome,
    OutcomeKind,
    ProviderState,
    Transaction,
)
from kessai.providers.paypay import codec, errors
from kessai.providers.paypay.sim.state import USER_NO_FUNDS, USER_OK, USER_SUSPICIOUS
from tests.providers.paypay.conftest import NOW, PayPay


def _request(
    ref: str, amount: int = 1000, *, capture: bool = False, **source: str
) -> AuthorizeRequest:
    return AuthorizeRequest(reference=ref, amount=amount, tax=0, capture=capture, source=source)


def _txn(ref: str, amount: int = 1000) -> Transaction:
    return Transaction(reference=ref, transaction_id=None, amount=amount)


async def _qr_paid(paypay: PayPay, ref: str, *, capture: bool = False) -> Outcome:
    created = await paypay.conn.authorize(_request(ref, capture=capture))
    assert created.kind is OutcomeKind.PENDING, created
    assert created.redirect_url
    assert created.redirect_url.startswith(paypay.url + "/qr/")
    paid = await paypay.customer(created.redirect_url)
    assert "お支払いが完了しました" in paid.text
    return created


async def test_qr_pre_authorization_capture_partial_and_full_refund(paypay: PayPay) -> None:
    created = await paypay.conn.authorize(_request("ORDER-1"))
    assert created.kind is OutcomeKind.PENDING
    assert (await paypay.conn.lookup("ORDER-1")).state is ProviderState.PENDING
    held = paypay.sim.state.payments["ORDER-1"]
    # A pre-authorization for PayPay's longest 30 days, requested now.
    assert held.is_authorization
    assert held.expires_at == codec.epoch(NOW + timedelta(days=30))
    assert held.requested_at == codec.epoch(NOW)

    assert created.redirect_url
    await paypay.customer(created.redirect_url)
    found = await paypay.conn.lookup("ORDER-1")
    assert (found.state, found.amount) == (ProviderState.AUTHORIZED, 1000)

    captured = await paypay.conn.capture(_txn("ORDER-1"), None)
    assert (captured.kind, captured.captured) == (OutcomeKind.SUCCEEDED, True)
    assert (await paypay.conn.lookup("ORDER-1")).state is ProviderState.CAPTURED

    partial = await paypay.conn.change_amount(_txn("ORDER-1"), 600, captured=True)
    assert partial.kind is OutcomeKind.SUCCEEDED, partial
    found = await paypay.conn.lookup("ORDER-1")
    assert (found.state, found.amount) == (ProviderState.CAPTURED, 600)

    rest = await paypay.conn.cancel(_txn("ORDER-1", 600), captured=True)
    assert rest.kind is OutcomeKind.SUCCEEDED, rest
    assert (await paypay.conn.lookup("ORDER-1")).state is ProviderState.CANCELED
    refunds = [r["amount"]["amount"] for r in paypay.sim.state.payments["ORDER-1"].refunds]
    assert refunds == [400, 600]
    assert paypay.calls("refundPayment") == [("refundPayment", "ok")] * 2


async def test_an_authorization_is_reverted_and_decreased(paypay: PayPay) -> None:
    ok = await paypay.conn.authorize(_request("ORDER-2", user_authorization_id=USER_OK))
    assert ok.kind is OutcomeKind.SUCCEEDED
    less = await paypay.conn.change_amount(_txn("ORDER-2"), 700, captured=False)
    assert less.kind is OutcomeKind.SUCCEEDED
    assert (await paypay.conn.lookup("ORDER-2")).amount == 700
    more = await paypay.conn.change_amount(_txn("ORDER-2", 700), 900, captured=False)
    assert (more.kind, more.code) == (OutcomeKind.NOT_SENT, "paypay_increase_not_supported")
    reverted = await paypay.conn.cancel(_txn("ORDER-2", 700), captured=False)
    assert reverted.kind is OutcomeKind.SUCCEEDED
    assert (await paypay.conn.lookup("ORDER-2")).state is ProviderState.CANCELED
    assert paypay.calls("revertAuth") == [("revertAuth", "ok")]


async def test_an_instant_payment_is_cancelled_until_00_14_59_and_refunded_after(
    paypay: PayPay,
) -> None:
    await _qr_paid(paypay, "ORDER-3", capture=True)
    assert (await paypay.conn.lookup("ORDER-3")).state is ProviderState.CAPTURED
    cancelled = await paypay.conn.cancel(_txn("ORDER-3"), captured=True)
    assert cancelled.kind is OutcomeKind.SUCCEEDED
    assert paypay.calls("cancelPayment") == [("cancelPayment", "ok")]
    assert (await paypay.conn.lookup("ORDER-3")).state is ProviderState.CANCELED

    await _qr_paid(paypay, "ORDER-4", capture=True)
    # paid 2026-12-01 10:00 JST; Cancel a payment closes at 2026-12-02 00:14:59 JST
    paypay.clock.set_now(NOW + timedelta(hours=14, minutes=15))
    refunded = await paypay.conn.cancel(_txn("ORDER-4"), captured=True)
    assert refunded.kind is OutcomeKind.SUCCEEDED
    assert paypay.calls("cancelPayment") == [("cancelPayment", "ok")]  # no second cancel
    assert paypay.calls("refundPayment") == [("refundPayment", "ok")]


async def test_paypays_own_limits_are_refused_before_any_call(paypay: PayPay) -> None:
    too_much = await paypay.conn.authorize(_request("ORDER-5", 500_001))
    assert (too_much.kind, too_much.code) == (OutcomeKind.NOT_SENT, "paypay_amount_limit")
    assert "500,000円" in (too_much.message or "")
    assert paypay.calls() == []

    assert (
        await paypay.conn.authorize(_request("ORDER-6", user_authorization_id=USER_OK))
    ).kind is OutcomeKind.SUCCEEDED
    paypay.clock.set_now(NOW + timedelta(days=30, seconds=1))
    before = len(paypay.calls())
    late = await paypay.conn.capture(_txn("ORDER-6"), None)
    assert (late.kind, late.code) == (OutcomeKind.NOT_SENT, "paypay_authorization_expired")
    assert len(paypay.calls()) == before

    paypay.clock.set_now(NOW)
    await paypay.conn.authorize(_request("ORDER-7", capture=True, user_authorization_id=USER_OK))
    paypay.clock.set_now(NOW + timedelta(days=366))
    refund = await paypay.conn.change_amount(_txn("ORDER-7"), 500, captured=True)
    assert (refund.kind, refund.code) == (OutcomeKind.NOT_SENT, "paypay_refund_window")
    assert paypay.calls("refundPayment") == []


async def test_declines_keep_paypays_codes_hard_or_soft(paypay: PayPay) -> None:
    soft = await paypay.conn.authorize(_request("ORDER-8", user_authorization_id=USER_NO_FUNDS))
    hard = await paypay.conn.authorize(_request("ORDER-9", user_authorization_id=USER_SUSPICIOUS))
    assert (soft.kind, soft.code, soft.hard) == (OutcomeKind.DECLINED, "NO_SUFFICIENT_FUND", False)
    assert (hard.kind, hard.code, hard.hard) == (OutcomeKind.DECLINED, "UNACCEPTABLE_OP", True)
    assert soft.message == errors.CODES["NO_SUFFICIENT_FUND"].description
    assert (errors.is_final_decline(soft.code), errors.is_final_decline(hard.code)) == (False, True)
    assert (await paypay.conn.lookup("ORDER-8")).state is ProviderState.DECLINED


async def test_rate_limit_is_retried_and_nothing_is_charged_twice(paypay: PayPay) -> None:
    await paypay.control(rate_limit={"count": 2, "api": "preauthorizePayment"})
    ok = await paypay.conn.authorize(_request("ORDER-10", user_authorization_id=USER_OK))
    assert ok.kind is OutcomeKind.SUCCEEDED
    assert [r for _, r in paypay.calls("preauthorizePayment")] == ["rate_limited"] * 2 + ["ok"]


async def test_a_server_error_is_retried_on_a_lookup_and_unknown_on_a_change(
    paypay: PayPay,
) -> None:
    await paypay.conn.authorize(_request("ORDER-11", user_authorization_id=USER_OK))
    await paypay.control(server_error={"status": 503, "count": 1, "api": "getPaymentDetails"})
    assert (await paypay.conn.lookup("ORDER-11")).state is ProviderState.AUTHORIZED
    await paypay.control(
        server_error={"status": 502, "count": 1, "api": "capturePaymentAuth", "commit": True}
    )
    lost = await paypay.conn.capture(_txn("ORDER-11"), None)
    assert lost.kind is OutcomeKind.UNKNOWN
    assert [r for _, r in paypay.calls("capturePaymentAuth")] == ["server_error"]
    assert (await paypay.conn.lookup("ORDER-11")).state is ProviderState.CAPTURED


async def test_a_lost_answer_is_answered_by_the_same_payment_again(paypay: PayPay) -> None:
    await paypay.control(lose_response={"count": 1, "api": "preauthorizePayment"})
    lost = await paypay.conn.authorize(_request("ORDER-12", user_authorization_id=USER_OK))
    assert lost.kind is OutcomeKind.UNKNOWN
    again = await paypay.conn.authorize(_request("ORDER-12", user_authorization_id=USER_OK))
    assert again.kind is OutcomeKind.SUCCEEDED
    assert sum(1 for p in paypay.sim.state.payments.values() if p.charged) == 1
