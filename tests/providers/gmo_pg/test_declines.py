"""Which GMO PG declines are final for 再オーソリ, decided from GMO's own error table."""

import pytest

from kessai.providers.gmo_pg import errors
from kessai.providers.gmo_pg.declines import is_final_decline


@pytest.mark.parametrize(
    ("code", "final", "why"),
    [
        ("42G020000", False, "カード残高不足: the money may be there tomorrow"),
        ("42G030000", False, "カード限度額超過"),
        ("42G550000", False, "カード限度額超過"),
        ("42G120000", True, "このカードでは取引をする事が出来ません"),
        ("42G540000", True, "このカードでは取引をする事が出来ません"),
        ("42G650000", True, "カード番号に誤り"),
        ("42G830000", True, "有効期限に誤り"),
        ("E01170001", True, "入力パラメータエラー: 再入力をカード所有者に依頼"),
        ("E41170099", True, "カード番号チェックディジットエラー"),
        ("42C010000", False, "通信エラー: retryable in the table"),
        ("E92000001", False, "流量制限: retryable in the table"),
        ("E91099999", False, "システムエラー: state 不明"),
        ("E90010001", False, "二重送信: state 不明"),
        ("E01010001", False, "the shop's own settings: the shop can fix them"),
        ("E61010001", False, "加盟店設定エラー"),
        ("X99999999", False, "not in the table"),
        (None, False, "no code at all"),
        ("42G020000|42G540000", True, "one final reason is enough"),
    ],
)
def test_final_declines(code, final, why):
    assert is_final_decline(code) is final, why


def test_every_card_company_refusal_is_classified_by_its_own_message():
    """Soft are exactly the 42G refusals that name balance or limit."""
    refusals = {info: e for info, e in errors.table().items() if info.startswith("42G")}
    assert len(refusals) == 39
    soft = {info for info in refusals if not is_final_decline(info)}
    assert soft == {"42G020000", "42G030000", "42G040000", "42G050000", "42G060000", "42G550000"}
    assert all(("残高" in refusals[i].message) or ("限度額" in refusals[i].message) for i in soft)
