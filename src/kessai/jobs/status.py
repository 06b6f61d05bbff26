"""Job and item statuses, stored as strings, labelled in the operators' words."""

from enum import StrEnum


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    PARTIALLY_FAILED = "partially_failed"
    FAILED = "failed"

    @property
    def label(self) -> str:
        return JOB_STATUS_LABELS[self]

    @property
    def finished(self) -> bool:
        return self not in (JobStatus.QUEUED, JobStatus.RUNNING)


JOB_STATUS_LABELS = {
    JobStatus.QUEUED: "待機中",
    JobStatus.RUNNING: "実行中",
    JobStatus.SUCCEEDED: "完了",
    JobStatus.PARTIALLY_FAILED: "一部失敗",
    JobStatus.FAILED: "失敗",
}


class ItemStatus(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"

    @property
    def label(self) -> str:
        return ITEM_STATUS_LABELS[self]


ITEM_STATUS_LABELS = {
    ItemStatus.SUCCEEDED: "成功",
    ItemStatus.FAILED: "失敗",
    ItemStatus.SKIPPED: "対象外",
}


class ChunkStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"


def final_status(succeeded: int, failed: int, skipped: int) -> JobStatus:
    """完了 when nothing failed; 失敗 when every processed item failed; else 一部失敗."""
    if failed == 0:
        return JobStatus.SUCCEEDED
    if succeeded == 0 and skipped == 0:
        return JobStatus.FAILED
    return JobStatus.PARTIALLY_FAILED
