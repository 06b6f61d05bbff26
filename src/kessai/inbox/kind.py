"""The job kind "inbound_webhook": act on one stored provider notification.

One item per job, so a failed lookup retries just that notification (the runner's
growing pause, up to four runs) and ジョブ管理 shows each try and its outcome.
"""

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from kessai.inbox.service import JOB_NAME, KIND, process
from kessai.jobs.kinds import ItemResult, register
from kessai.jobs.models import Job

if TYPE_CHECKING:
    from kessai.services import Services


class InboundWebhook:
    kind = KIND
    name = JOB_NAME
    columns: Sequence[tuple[str, str]] = (("event", "通知"), ("reference", "オーダーID"))
    chunk_size = 1

    async def plan(self, services: "Services", job: Job) -> list[Any]:
        return [int(job.params["event_id"])]

    async def run(self, services: "Services", job: Job, keys: list[Any]) -> list[ItemResult]:
        return [await process(services, int(key)) for key in keys]


register(InboundWebhook())
