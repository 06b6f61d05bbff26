"""GMO PG 自動洗替: the account fields beyond seed 001's list that the SFTP exchange needs —
the host key that pins the server, and the files' layout and calendar as the merchant's spec
sheet states them (kessai.providers.gmo_files holds the defaults and the rules)."""

from kessai.accounts.integrations.fields import FieldKind, FieldSpec, Rule, pattern
from kessai.providers import gmo_files as files

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
        *_choice_fields(
            "updater",
            "洗替ファイル",
            files.ENCODINGS[files.DEFAULT_ENCODING],
            files.QUOTING[files.DEFAULT_QUOTING],
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
        FieldSpec(
            "updater_result_wait_days",
            "洗替結果の待機日数",
            NUMBER,
            "取得日時からこの日数を過ぎても洗替結果ファイルが届かないときは「待機超過」として"
            "ジョブを失敗にし、ショップへ1度だけお知らせします"
            f"(標準: {files.DEFAULT_RESULT_WAIT_DAYS}日)。",
            min_value=0,
            max_value=files.MAX_RESULT_WAIT_DAYS,
        ),
    )


def _choice_fields(
    prefix: str, what: str, encoding: str, quoting: str, label: str = ""
) -> tuple[FieldSpec, ...]:
    """文字コード, 項目の囲み and 見出し行 of a set of files (each help names its default)."""
    return (
        FieldSpec(
            f"{prefix}_encoding",
            f"{label}文字コード",
            CHOICE,
            f"{what}の文字コードです(標準: {encoding})。",
            choices=tuple(files.ENCODINGS.items()),
        ),
        FieldSpec(
            f"{prefix}_quoting",
            f'{label}項目の囲み(")',
            CHOICE,
            f"{what}の各項目をダブルクォートで囲むかどうかです(標準: {quoting})。",
            choices=tuple(files.QUOTING.items()),
        ),
        FieldSpec(
            f"{prefix}_header",
            f"{label}見出し行",
            FLAG,
            f"{what}の1行目が見出し行かどうかです(標準: なし)。",
            flag_labels=("あり", "なし"),
        ),
    )


def _recurring_file(spec: files.RecurringFile) -> tuple[FieldSpec, ...]:
    keys = "・".join(spec.fields)
    required = "・".join(spec.required)
    direction = "アップロードする" if spec.kind == "send" else "取得する"
    return (
        _layout_text(
            spec.dir_key,
            f"{spec.label}のディレクトリ",
            f"{spec.label}を{direction}SFTPサーバ上のディレクトリです。",
            spec.default_dir,
            DIRECTORY_RULE,
        ),
        _layout_text(
            spec.name_key,
            f"{spec.label}名",
            "{site_id}・{shop_id}・{yyyymm}(売上データの送信月)が置き換わります。",
            spec.default_name,
            FILE_NAME_RULE,
        ),
        _layout_text(
            spec.columns_key,
            f"{spec.label}の項目",
            f"項目名をカンマ区切りで並べます({keys}。{required} は必須)。",
            ",".join(spec.default_columns),
            Rule(
                "invalid_columns",
                f"{spec.label}の項目は {required} を含め、{keys} から選んでください",
                spec.valid_columns,
            ),
        ),
    )


def _recurring_step(step: files.RecurringStep) -> tuple[FieldSpec, ...]:
    return (
        FieldSpec(
            step.day_key,
            f"{step.label}日",
            NUMBER,
            f"毎月この日(東京時間)から{step.label}を行います(標準: {step.default_day}日)。",
            min_value=1,
            max_value=28,
        ),
        FieldSpec(
            step.hour_key,
            f"{step.label}時刻(時)",
            NUMBER,
            f"{step.label}を始める時刻(東京時間、0〜23時)です(標準: {step.default_hour}時)。",
            min_value=0,
            max_value=23,
        ),
    )


def recurring_file_fields() -> tuple[FieldSpec, ...]:
    """The 継続課金 files and calendar as the shop's spec sheet describes them (seed 002's
    8日・18日・27日 are the defaults; providers.gmo_pg.files holds them and the rules)."""
    fields: list[FieldSpec] = []
    for spec in files.RECURRING_FILES:
        fields.extend(_recurring_file(spec))
    same = "自動洗替 ファイル設定と同じ"
    fields.extend(_choice_fields("recurring", "継続課金ファイル", same, same, "継続課金ファイルの"))
    for step in files.RECURRING_STEPS:
        fields.extend(_recurring_step(step))
    fields.append(
        FieldSpec(
            "recurring_send_until_day",
            "売上データの送信期限日",
            NUMBER,
            "送信に失敗したときは、この日まで1時間ごとに再送信します。過ぎた分は翌月の売上データで"
            f"送信します(標準: {files.DEFAULT_RECURRING_SEND_UNTIL_DAY}日)。",
            min_value=1,
            max_value=28,
        )
    )
    fields.append(
        FieldSpec(
            "recurring_result_wait_days",
            "売上結果・有効性チェック結果の待機日数",
            NUMBER,
            "取得日時からこの日数を過ぎても売上結果ファイル・有効性チェック結果ファイルが届かない"
            "ときは「待機超過」としてジョブを失敗にし、ショップへ1度だけお知らせします"
            f"(標準: {files.DEFAULT_RECURRING_WAIT_DAYS}日)。",
            min_value=0,
            max_value=files.MAX_RESULT_WAIT_DAYS,
        )
    )
    return tuple(fields)
