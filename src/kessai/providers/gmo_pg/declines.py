"""Is a GMO PG decline final, i.e. can no later try with the same stored card pass?

Decided from GMO's error table (kessai.providers.gmo_pg.errors), one ErrInfo at a time:
- not final: what the table marks retryable (42C 通信エラー, E92 流量制限), results of
  state 不明 (E90, E91: the outcome itself is unknown), card refusals naming money that may
  be there tomorrow (残高不足, 限度額超過), the shop's own settings (the shop can fix them),
  and codes the table does not know;
- final: every other card-company refusal (42G: このカードでは取引をする事が出来ません,
  wrong number or expiry …) and every error whose advice is that the card holder enter
  the card again (E01 入力パラメータエラー, E41 カード番号エラー …).
"""

from kessai.providers.gmo_pg import errors
from kessai.providers.gmo_pg.connector import is_hard

# The table's advice when only the card holder can fix it: enter the card again.
_CARDHOLDER_MUST_ACT = ("再入力をカード所有者に依頼", "再入力をお客様に依頼", "再入力依頼")
_UNKNOWN_STATE = "不明"


def is_final_info(info: str) -> bool:
    entry = errors.lookup(info)
    if entry is None or entry.retryable or entry.state == _UNKNOWN_STATE:
        return False
    if errors.is_card_decline(info):
        return is_hard(info)
    return any(advice in entry.content for advice in _CARDHOLDER_MUST_ACT)


def is_final_decline(code: str | None) -> bool:
    """`code` as the connector reports it: GMO's ErrInfo list joined by "|"."""
    if not code:
        return False
    return any(is_final_info(info) for info in code.split("|"))
