"""Amazon Pay's reason codes for a refused charge, and which of them are final.

Amazon's own rule for a refused Create Charge (API v2, "Manage payments using payment method
on file", 請求とオーソリ失敗のハンドリング): retry only on SoftDeclined or ProcessingFailure;
on HardDeclined the buyer must change the payment method; on any other reasonCode, ask the
buyer to pay another way. So those two are soft (再オーソリ continues) and every other code is
final. The codes themselves: HardDeclined, Declined and BuyerCanceled are in "Use Sandbox
simulations"; the rest are unconfirmed (docs/providers.md, "What the QR / wallet tables were
checked against").
"""

# reasonCode → (final?, what an operator reads)
REASONS: dict[str, tuple[bool, str]] = {
    "HardDeclined": (True, "お支払い方法が拒否されました(再試行できません)"),
    "AmazonRejected": (True, "Amazonが取引を拒否しました"),
    "PaymentMethodNotAllowed": (True, "このお支払い方法はご利用いただけません"),
    "TransactionAmountExceeded": (True, "購入者が承認した金額を超えています"),
    "SoftDeclined": (False, "お支払い方法が一時的に拒否されました(再試行できます)"),
    "ProcessingFailure": (False, "Amazon側の処理に失敗しました(再試行できます)"),
    "TransactionTimedOut": (True, "オーソリがタイムアウトしました"),
    "MFANotCompleted": (True, "購入者の多要素認証が完了していません"),
    "Declined": (True, "購入者のお支払いが拒否されました"),
    "BuyerCanceled": (True, "購入者が決済を取り消しました"),
}


def is_final_decline(code: str | None) -> bool:
    entry = REASONS.get(code or "")
    return bool(entry and entry[0])


def message_for(code: str, given: str = "") -> str:
    """Amazon's own message when it gave one, else the table's words."""
    entry = REASONS.get(code)
    return given or (entry[1] if entry else f"Amazon Payがエラーを返しました ({code})")


def is_decline(code: str) -> bool:
    return code in REASONS
