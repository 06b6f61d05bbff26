"""One job run in a process of its own with no broker (the embedded default), for a test
to kill: `python -m tests.faults.run_job KIND '{"date": "…"}'`, settings from KESSAI_*.
Prints the job's id, then runs it."""

import asyncio
import json
import sys

from kessai.jobs.service import submit
from kessai.services import build_services


async def main(kind: str, params: str) -> None:
    services = build_services()
    try:
        job, _ = await submit(services, kind, created_by="test", params=json.loads(params))
        print(job.id, flush=True)
        await services.dispatcher.drain()
    finally:
        await services.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
