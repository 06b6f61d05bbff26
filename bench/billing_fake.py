"""Loaded by the benchmark's Dramatiq workers beside kessai.jobs.tasks: the fake connector
keeps its ledger in memory, as bench/inmemory_app.py does for the API (the sandbox's fake
writes its ledger to kessai's database, which is the simulated provider's cost, not kessai's).
"""

from typing import Any

import kessai.jobs.tasks as tasks
from kessai.core.settings import Settings
from kessai.providers.fake.connector import FakeConnector
from kessai.services import Services, build_services


def in_memory_fake(services: Services) -> Services:
    services.registry.register(
        "fake", lambda account_id, settings: FakeConnector(account_id, settings)
    )
    return services


def _build(settings: Settings | None = None, *args: Any, **kwargs: Any) -> Services:
    return in_memory_fake(build_services(settings, *args, **kwargs))


tasks.build_services = _build  # type: ignore[assignment]
