"""A billing run in one process with no broker, as `kessai serve` runs it (the embedded
default): `python -m tests.subscriptions.embedded_run YYYY-MM-DD`, settings from KESSAI_*.
The test kills it mid-run and lets the next process finish what it left."""

import asyncio
import sys

from kessai.jobs.service import submit
from kessai.services import build_services


async def main(day: str) -> None:
    services = build_services()
    try:
        job, _ = await submit(services, "billing", created_by="test", params={"date": day})
        print(job.id, flush=True)
        await services.dispatcher.drain()
    finally:
        await services.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
