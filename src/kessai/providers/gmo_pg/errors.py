"""GMO PG's error table (1,694 ErrInfo codes) and what each means for an outcome.

- E90010001 (二重送信), E11010001 on an ExecTran retry, E91*, 42C* and transport
  timeouts: the result is unknown → SearchTrade by OrderID settles it;
- E92*: rate limit → retry with backoff;
- 42G* (card company) and E01* (input) and the rest: declined, GMO's message verbatim.
"""

import csv
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib.resources import files


class Handling(StrEnum):
    UNKNOWN = "unknown"  # ask SearchTrade before anything else
    RETRY = "retry"  # rate limited: try again later, nothing happened
    DECLINED = "declined"


@dataclass(frozen=True)
class GmoError:
    code: str  # ErrCode, e.g. "G02" or "E01"
    info: str  # ErrInfo, e.g. "42G020000"
    state: str  # 状態 after the error (未決, 不明, 変更なし …)
    billing: str  # 課金
    retryable: bool
    content: str  # for the shop: what happened and what to do
    user_message: str  # for the customer

    @property
    def message(self) -> str:
        """What 決済履歴 shows: GMO's own words."""
        return self.user_message or self.content


# The published table lost characters on its way into Unicode: 395 rows hold code points that
# CP932, the only charset GMO speaks, cannot even encode (問い吅わせ, 申し訲ございません, お宠様,
# 亇約番号, 会員\u0fa1, 決済を完了する\u0ba6, \u0ba7重受信, \u0fa0時処理数). Each stands for one
# character, plain from its context; the no-break spaces were spaces.
_REPAIR = str.maketrans(
    {
        "\u0ba6": "事",
        "\u0ba7": "二",
        "\u0fa0": "同",
        "\u0fa1": "名",
        "吅": "合",
        "宠": "客",
        "訲": "訳",
        "亇": "予",
        "\xa0": " ",
    }
)


@cache
def table() -> dict[str, GmoError]:
    text = files("kessai.providers.gmo_pg").joinpath("error_codes.tsv").read_text("utf-8")
    rows = csv.DictReader(text.splitlines(), delimiter="\t")
    return {
        r["ErrInfo"]: GmoError(
            code=r["ErrCode"],
            info=r["ErrInfo"],
            state=r["state"] or "",
            billing=r["billing"] or "",
            retryable=(r["retryable"] or "").strip() == "yes",
            content=(r["content"] or "").translate(_REPAIR),
            user_message=(r["user_message"] or "").translate(_REPAIR),
        )
        for r in rows
    }


def lookup(info: str) -> GmoError | None:
    return table().get(info)


def handling(info: str, *, exec_retry: bool = False) -> Handling:
    """How kessai treats one ErrInfo."""
    if info == "E90010001" or info.startswith(("E91", "42C")):
        return Handling.UNKNOWN
    if info == "E11010001" and exec_retry:
        # ExecTran sent again after a lost answer: the first one may have gone through.
        return Handling.UNKNOWN
    if info.startswith("E92"):
        return Handling.RETRY
    return Handling.DECLINED


def is_card_decline(info: str) -> bool:
    """42G*: the card company said no (仮売上失敗), as opposed to a request or shop error."""
    return info.startswith("42G")


def message_for(infos: list[str]) -> str:
    """GMO's messages for a list of ErrInfo, verbatim, joined for 決済履歴."""
    parts = []
    for info in infos:
        entry = lookup(info)
        parts.append(entry.message if entry else f"{info} (エラー表にないコードです)")
    return " / ".join(dict.fromkeys(parts))
