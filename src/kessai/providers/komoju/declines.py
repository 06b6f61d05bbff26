"""KOMOJU's words for a payment that did not go through, and which are final.

Card refusals come as the error object's code (KOMOJU's errors: card_declined …); a wallet
payment (WeChat Pay, Alipay) made in a session ends in a status: "failed" (the customer may
try again), "cancelled" or "expired" (that session is over). insufficient_funds and the
statuses are KOMOJU's documented words; the other card codes are unconfirmed
(docs/providers.md, "What the QR / wallet tables were checked against").
"""

REASONS: dict[str, tuple[bool, str]] = {
    "card_declined": (False, "カード会社により決済が拒否されました"),
    "insufficient_funds": (False, "残高または利用可能枠が不足しています"),
    "card_expired": (True, "カードの有効期限が切れています"),
    "invalid_number": (True, "カード番号が正しくありません"),
    "invalid_token": (True, "カードのトークンが無効です"),
    "failed": (False, "お支払いに失敗しました(もう一度お試しいただけます)"),
    "cancelled": (True, "お客様がお支払いを取り消しました"),
    "expired": (True, "お支払いの期限が切れました"),
}


def is_final_decline(code: str | None) -> bool:
    entry = REASONS.get(code or "")
    return bool(entry and entry[0])


def is_decline(code: str) -> bool:
    return code in REASONS


def message_for(code: str, given: str = "") -> str:
    entry = REASONS.get(code)
    return given or (entry[1] if entry else f"KOMOJUがエラーを返しました ({code})")
