"""What each kind of job does: how it lists its items and how it processes a chunk of them.

A domain registers its kinds at import; kessai.catalog imports them all and the composition
root (kessai.services) imports it, so every process that has Services knows the same kinds.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from kessai.jobs.status import ItemStatus

if TYPE_CHECKING:
    from kessai.jobs.models import Job
    from kessai.services import Services


@dataclass(frozen=True)
class ItemResult:
    """One processed item; `data` holds the CSV columns of the job's kind."""

    key: str
    status: ItemStatus
    message: str = ""
    data: dict[str, Any] = field(default_factory=dict)


class JobKind(Protocol):
    kind: str  # stable code, e.g. "billing"
    name: str  # ジョブ名 shown to operators
    # (data key, CSV header) in CSV order; the runner adds 結果 and メッセージ after them.
    columns: Sequence[tuple[str, str]]
    chunk_size: int

    async def plan(self, services: "Services", job: "Job") -> list[Any]:
        """The keys of every item this job will process, fixed when the job starts."""
        ...

    async def run(self, services: "Services", job: "Job", keys: list[Any]) -> list[ItemResult]:
        """Process one chunk. Must be safe to run twice on the same keys."""
        ...


KINDS: dict[str, JobKind] = {}


def register(kind: JobKind) -> JobKind:
    KINDS[kind.kind] = kind
    return kind


def kind_of(code: str) -> JobKind:
    try:
        return KINDS[code]
    except KeyError:
        raise LookupError(f"unknown job kind {code!r}") from None
