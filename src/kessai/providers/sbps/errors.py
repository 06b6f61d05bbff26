"""SBPS's res_err_code in words. The code is 8 digits: 決済手段 (3: 101 クレジット, 401 d払い,
402 auかんたん決済, 405 ソフトバンクまとめて支払い …), エラー種別 (2) and 項目 (3)
(sbpayment.rb's recordings: 10105202 = クレジット + 05 + dealings_type). kessai names the
method and the kind; the code itself is always shown beside the words.
"""

METHODS = {
    "101": "クレジットカード",
    "401": "d払い",
    "402": "auかんたん決済",
    "405": "ソフトバンクまとめて支払い",
    "701": "Webコンビニ決済",
    "703": "Pay-easy",
}

KINDS = {
    "01": "必須項目が設定されていません",
    "02": "桁数が正しくありません",
    "03": "形式が正しくありません",
    "04": "重複しています",
    "05": "値が正しくありません",
    "06": "処理できない状態です",
    "22": "システムで処理できませんでした",
    "41": "カード会社がカードの利用を認めませんでした",
    "42": "カードの残高・利用可能枠が不足しています",
    "43": "カード番号・有効期限に誤りがあります",
    "44": "このカードは利用できません",
    "99": "決済サービスでエラーが発生しました",
}
CARD_DECLINE_KINDS = frozenset({"41", "42", "43", "44"})
# Declines no retry with the same card can turn: a wrong number, an unusable card.
FINAL_KINDS = frozenset({"43", "44"})
# kessai's own codes for what it refuses before sending.
AUTHORIZATION_EXPIRED = "sbps_authorization_expired"


def message(code: str) -> str:
    method = METHODS.get(code[:3], "SBPS")
    kind = KINDS.get(code[3:5], "エラーが発生しました")
    return f"{method}: {kind} (項目 {code[5:8]})" if len(code) == 8 else f"SBPS: {code}"


def is_card_decline(code: str | None) -> bool:
    return bool(code) and len(code or "") == 8 and (code or "")[3:5] in CARD_DECLINE_KINDS


def is_final_decline(code: str | None) -> bool:
    """Is this decline final (再オーソリ stops)? Wrong card data or a card not usable."""
    return bool(code) and len(code or "") == 8 and (code or "")[3:5] in FINAL_KINDS
