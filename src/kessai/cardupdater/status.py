"""Where a month's 自動洗替 stands (stored as strings, labelled for operators)."""

from enum import StrEnum


class RunStatus(StrEnum):
    SELECTED = "selected"  # targets chosen; the request file not yet on GMO's server
    UPLOADED = "uploaded"  # the request is on GMO's server; waiting for the 27th
    APPLIED = "applied"  # the result file was checked and applied to the cards

    @property
    def label(self) -> str:
        return RUN_STATUS_LABELS[self]


RUN_STATUS_LABELS = {
    RunStatus.SELECTED: "送信待ち",
    RunStatus.UPLOADED: "結果待ち",
    RunStatus.APPLIED: "反映済み",
}
