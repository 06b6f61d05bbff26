"""GMO PG 自動洗替: the account fields beyond seed 001's list that the SFTP exchange needs —
the host key that pins the server, and the files' layout and calendar as the merchant's spec
sheet states them (kessai.providers.gmo_pg.files holds the defaults and the rules)."""

from kessai.accounts.integrations.fields import FieldKind, FieldSpec, Rule, pattern
from kessai.providers.gmo_pg import files

TEXT, FLAG, NUMBER, CHOICE = FieldKind.TEXT, FieldKind.FLAG, FieldKind.NUMBER, FieldKind.CHOICE

HOST_KEY_FINGERPRINT = pattern(
    r"SHA256:[A-Za-z0-9+/]{43}",
    "invalid_host_key_fingerprint",
    "SFTP ホスト鍵フィンガープリントは「SHA256:」で始まる値(ssh-keygen -lf の表示)を"
    "入力してください",
)
FILE_NAME_RULE = Rule(
    "invalid_file_name",
    "ファイル名は半角英数字・._- と {yyyymm} などで入力してください({yyyymm} は必須です)",
    files.valid_file_name,
)
DIRECTORY_RULE = Rule(
    "invalid_directory", "ディレクトリ名が正しくありません", files.valid_directory
)
_LAYOUT_NOTE = "空欄のときは kessai の標準({default})です。"


def _layout_text(key: str, label: str, help_: str, default: str, rule: Rule) -> FieldSpec:
    return FieldSpec(
        key,
        label,
        TEXT,
        help_ + _LAYOUT_NOTE.format(default=default),
        rules=(rule,),
    )


def updater_file_fields() -> tuple[FieldSpec, ...]:
    """The 自動洗替 files as the shop's spec sheet describes them (providers.gmo_pg.files)."""
    request_keys = "・".join(files.REQUEST_FIELDS)
    result_keys = "・".join(files.RESULT_FIELDS)
    return (
        _layout_text(
            "updater_request_dir",
            "洗替依頼ファイルの送信先ディレクトリ",
            "洗替依頼ファイルをアップロードするSFTPサーバ上のディレクトリです。",
            files.DEFAULT_REQUEST_DIR,
            DIRECTORY_RULE,
        ),
        _layout_text(
            "updater_result_dir",
            "洗替結果ファイルの取得元ディレクトリ",
            "洗替結果ファイルが置かれるSFTPサーバ上のディレクトリです。",
            files.DEFAULT_RESULT_DIR,
            DIRECTORY_RULE,
        ),
        _layout_text(
            "updater_request_name",
            "洗替依頼ファイル名",
            "{site_id}・{shop_id}・{yyyymm}(洗替結果の返却月)が置き換わります。",
            files.DEFAULT_REQUEST_NAME,
            FILE_NAME_RULE,
        ),
        _layout_text(
            "updater_result_name",
            "洗替結果ファイル名",
            "{site_id}・{shop_id}・{yyyymm}(洗替結果の返却月)が置き換わります。",
            files.DEFAULT_RESULT_NAME,
            FILE_NAME_RULE,
        ),
        _layout_text(
            "updater_request_columns",
            "洗替依頼ファイルの項目",
            f"項目名をカンマ区切りで並べます({request_keys})。",
            ",".join(files.DEFAULT_REQUEST_COLUMNS),
            Rule(
                "invalid_columns",
                f"洗替依頼ファイルの項目は {request_keys} から選んでください",
                files.valid_request_columns,
            ),
        ),
        _layout_text(
            "updater_result_columns",
            "洗替結果ファイルの項目",
            f"項目名をカンマ区切りで並べます({result_keys}。member_id・card_seq・result は必須)。",
            ",".join(files.DEFAULT_RESULT_COLUMNS),
            Rule(
                "invalid_columns",
                "洗替結果ファイルの項目は member_id・card_seq・result を含め、"
                f"{result_keys} から選んでください",
                files.valid_result_columns,
            ),
        ),
        FieldSpec(
            "updater_encoding",
            "文字コード",
            CHOICE,
            f"洗替ファイルの文字コードです(標準: {files.ENCODINGS[files.DEFAULT_ENCODING]})。",
            choices=tuple(files.ENCODINGS.items()),
        ),
        FieldSpec(
            "updater_quoting",
            '項目の囲み(")',
            CHOICE,
            "洗替ファイルの各項目をダブルクォートで囲むかどうかです"
            f"(標準: {files.QUOTING[files.DEFAULT_QUOTING]})。",
            choices=tuple(files.QUOTING.items()),
        ),
        FieldSpec(
            "updater_header",
            "見出し行",
            FLAG,
            "洗替ファイルの1行目が見出し行かどうかです(標準: なし)。",
            flag_labels=("あり", "なし"),
        ),
        FieldSpec(
            "updater_request_day",
            "洗替依頼の送信日",
            NUMBER,
            "毎月この日(東京時間)から洗替依頼ファイルを送信します"
            f"(標準: {files.DEFAULT_REQUEST_DAY}日)。",
            min_value=1,
            max_value=28,
        ),
        FieldSpec(
            "updater_request_deadline_day",
            "洗替依頼の送信期限日",
            NUMBER,
            "送信に失敗したときは、この日まで1時間ごとに再送信します"
            f"(標準: {files.DEFAULT_REQUEST_DEADLINE_DAY}日)。",
            min_value=1,
            max_value=28,
        ),
        FieldSpec(
            "updater_result_day",
            "洗替結果の取得日",
            NUMBER,
            f"洗替結果は原則毎月27日0時に返却されます(標準: {files.DEFAULT_RESULT_DAY}日)。",
            min_value=1,
            max_value=28,
        ),
        FieldSpec(
            "updater_result_hour",
            "洗替結果の取得時刻(時)",
            NUMBER,
            f"洗替結果を取得する時刻(東京時間、0〜23時)です(標準: {files.DEFAULT_RESULT_HOUR}時)。",
            min_value=0,
            max_value=23,
        ),
    )
