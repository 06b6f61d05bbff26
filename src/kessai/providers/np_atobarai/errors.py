"""NP後払い's codes in words for the operator: 与信結果 (authori_result), 保留理由
(authori_hold), NG理由 (authori_ng) and the API's error codes (FACTS.md and NP's API
documentation as published in integrations' code). NP answers codes only; the words are
kessai's, and the code is always shown beside them.
"""

OK, HOLD, NG, REREGISTER, BEFORE_REVIEW = "00", "10", "20", "RE", "40"

RESULTS = {
    OK: "与信OK",
    HOLD: "与信保留",
    NG: "与信NG",
    REREGISTER: "再登録が必要",
    BEFORE_REVIEW: "与信審査前",
}

HOLD_REASONS = {
    "RE009": "住所不備(番地・建物名・部屋番号などが不足している可能性があります)",
    "RE014": "住所確認(勤務先・会社宛の住所か確認が必要です)",
    "RE015": "配送先の住所不備(番地・建物名・部屋番号などが不足している可能性があります)",
    "RE020": "配送先の住所確認(勤務先・会社宛の住所か確認が必要です)",
    "RE021": "電話番号不備(請求先の電話番号に誤りがある可能性があります)",
    "RE023": "配送先の電話番号不備(誤りがある可能性があります)",
    "RE026": "その他(NP後払いの管理画面で保留理由を確認してください)",
}

NG_REASONS = {
    "NG001": "限度額超過(NP後払いのご利用限度額を超えています)",
    "NG002": "情報不足(購入者の情報が足りないため審査できません)",
    "NG999": "その他(NP後払いの審査基準により利用できません)",
}
# An NG that no later try can turn: NP's own judgement of the buyer. 限度額 frees up once
# earlier invoices are paid, and 情報不足 passes once the information is given.
FINAL_NG = frozenset({"NG999"})

ERRORS = {
    "E0100002": "入力内容に誤りがあります(必須項目の不足)",
    "E0100003": "入力内容に誤りがあります(形式・桁数の誤り)",
    "E0100115": "出荷報告済み、または現在の取引状態ではこの操作はできません",
    "E0131006": "この取引は既に再登録されています",
    "E0131011": "再登録の回数の上限を超えています",
    "E0100001": "認証に失敗しました(加盟店コード・SP_CODE・端末IDを確認してください)",
    "E0100118": "同じ加盟店取引IDの取引が既に登録されています",
    "E0100119": "指定した取引が見つかりません",
}
NOT_ALLOWED_AFTER_SHIPMENT = "E0100115"
DUPLICATE_SHOP_TRANSACTION = "E0100118"
NOT_FOUND = "E0100119"
AUTH_FAILED = "E0100001"


def hold_message(reasons: list[str]) -> str:
    words = [
        f"{code} {HOLD_REASONS.get(code, '保留理由は管理画面で確認してください')}"
        for code in reasons
    ]
    return "与信保留: " + (" / ".join(words) if words else "理由の通知なし")


def ng_message(reason: str | None) -> str:
    if not reason:
        return "与信NG"
    return f"与信NG: {reason} {NG_REASONS.get(reason, '理由は管理画面で確認してください')}"


def error_message(codes: list[str]) -> str:
    return " / ".join(f"{c} {ERRORS.get(c, 'NP後払いのエラーです')}" for c in codes)


def is_final_decline(code: str | None) -> bool:
    """Is this NG final (再オーソリ stops)? NG999 is NP's own judgement; 限度額超過 and
    情報不足 may pass later; an input error is fixed by correcting the input."""
    return code in FINAL_NG
