"""The kessai app for benchmarks, with the fake connector keeping its ledger in memory only.

The sandbox's fake connector keeps its ledger in kessai's database (so a restarted server
still knows what the demo authorized): two more short transactions per provider call that a
real provider would spend on its own side. Without them the bench measures kessai alone.
Run as `uvicorn --app-dir bench inmemory_app:create_app --factory`.
"""

from fastapi import FastAPI

from kessai.providers.fake.connector import FakeConnector
from kessai.services import build_services
from kessai.web.app import create_app as kessai_app


def create_app() -> FastAPI:
    services = build_services()
    services.registry.register(
        "fake", lambda account_id, settings: FakeConnector(account_id, settings)
    )
    return kessai_app(services)
