"""Where a month's 自動洗替 stands (stored as strings, labelled for operators)."""

from enum import StrEnum


class RunStatus(StrEnum):
    SELECTED = "selected"  # targets chosen; the request file not yet on GMO's server
    UPLOADED = "uploaded"  # the request is on GMO's server; waiting for the 27th
    APPLIED = "applied"  # the result file was checked and applied to the cards
    # The month ended without it (seed 000: 該当月は自動洗替が行われません); no card changed.
    NOT_SENT = "not_sent"  # the request never reached GMO's server
    MISSED = "missed"  # the request went up but its result file was never fetched

    @property
    def label(self) -> str:
        return RUN_STATUS_LABELS[self]


RUN_STATUS_LABELS = {
    RunStatus.SELECTED: "送信待ち",
    RunStatus.UPLOADED: "結果待ち",
    RunStatus.APPLIED: "反映済み",
    RunStatus.NOT_SENT: "未実施(送信できませんでした)",
    RunStatus.MISSED: "未実施(洗替結果を取得できませんでした)",
}
# A month in one of these is over and its 自動洗替 did not happen: the operator must know.
NOT_DONE = (RunStatus.NOT_SENT, RunStatus.MISSED)
