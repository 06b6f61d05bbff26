"""What became of an inbound notification, in the operators' words."""

from enum import StrEnum


class EventStatus(StrEnum):
    RECEIVED = "received"  # stored; its job has not run yet
    WAITING = "waiting"  # its payment is not (yet) known here: the inbox looks again later
    APPLIED = "applied"  # the order now agrees with the provider (changed or already so)
    IGNORED = "ignored"  # nothing of kessai's is concerned (no such order, after waiting)
    MISMATCH = "mismatch"  # the provider and the order disagree: a person must look
    FAILED = "failed"  # every retry failed (provider unreachable …)

    @property
    def label(self) -> str:
        return LABELS[self]


LABELS = {
    EventStatus.RECEIVED: "受信済み",
    EventStatus.WAITING: "対象待ち",
    EventStatus.APPLIED: "反映済み",
    EventStatus.IGNORED: "対象なし",
    EventStatus.MISMATCH: "要確認",
    EventStatus.FAILED: "処理失敗",
}
