"""A 継続課金 result line's エラーコード in words (declared as GMO PG's `file_error_words`)."""

from kessai.providers.gmo_pg.errors import lookup

# GMO's file-content errors (ファイル内容エラー) of a 継続課金 file, by the family its ErrInfo
# starts with, in the words of GMO's error table (error_codes.tsv, v1.72). E0172 is not in the
# published table; a code kessai does not know is shown as a file-content error as it came.
RECURRING_FILE_ERRORS: dict[str, str] = {
    "E0170": "項目数が誤っています",
    "E0171": "取引区分(継続課金)が設定されていないか、存在しません",
    "E0173": "商品コードが”0000990”ではないか、ボーナス金額が正しくありません",
    "E0174": "端末処理通番が指定されていないか、正しくありません",
    "E0175": "利用日が指定されていないか、書式が正しくありません",
}


def recurring_error_message(code: str) -> str:
    """A result line's エラーコード in words: GMO's own for a full ErrInfo (E01730006), the
    family's for its first five characters (E0173), the card company's otherwise."""
    code = code.strip()
    if not code:
        return "売上にできませんでした"
    known = lookup(code)
    family = RECURRING_FILE_ERRORS.get(code[:5])
    if family is not None:
        detail = known.user_message if known is not None else family
        return f"{code} ファイル内容エラー: {detail}"
    if code.startswith("E017"):
        return f"{code} ファイル内容エラー(GMO PG の仕様書でご確認ください)"
    if known is not None:
        return f"{code} {known.message}"
    return f"{code} カード会社で売上にできませんでした"
