"""Amazon's rule for a refused Create Charge: retry only on SoftDeclined or
ProcessingFailure; HardDeclined and any other reasonCode need the buyer (another payment
method), so no 再オーソリ retries them."""

from kessai.providers.amazon_pay import declines


def test_only_soft_declined_and_processing_failure_are_retried() -> None:
    retried = {code for code in declines.REASONS if not declines.is_final_decline(code)}
    assert retried == {"SoftDeclined", "ProcessingFailure"}


def test_a_timeout_or_unfinished_mfa_is_not_retried() -> None:
    assert declines.is_final_decline("TransactionTimedOut")
    assert declines.is_final_decline("MFANotCompleted")
    assert "再試行できます" not in declines.message_for("TransactionTimedOut")
