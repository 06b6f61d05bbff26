"""One settings checker for every provider room (providers/kit.py): every problem of an
account's settings is named at once, in Japanese, field by field, under the room's code."""

import pytest

from kessai.core.errors import ConfigurationError
from kessai.providers.kit import SettingsCheck, setting_text


def test_every_problem_is_named_once_field_by_field() -> None:
    check = SettingsCheck("KOMOJU", "komoju_settings_invalid")
    check.done()  # nothing bad: nothing raised
    check.bad("secret_key", "シークレットキーが設定されていません")
    check.bad("endpoint", "接続先URLが正しくありません")
    check.bad("secret_key", "形式が正しくありません")
    with pytest.raises(ConfigurationError) as raised:
        check.done()
    error = raised.value
    assert error.code == "komoju_settings_invalid"
    assert str(error) == (
        "KOMOJUの設定に誤りがあります: シークレットキーが設定されていません、"
        "形式が正しくありません、接続先URLが正しくありません"
    )
    assert error.detail["fields"] == ["endpoint", "secret_key"]
    assert error.detail["problems"]["secret_key"] == (
        "シークレットキーが設定されていません、形式が正しくありません"
    )


def test_a_setting_reads_as_stripped_text() -> None:
    assert [setting_text(v) for v in (" sk_test ", None, 30)] == ["sk_test", "", "30"]
