"""The OpenAPI schema tells the truth: schemathesis sends generated requests to every
operation of a real `kessai serve` (demo data, an admin key) on SQLite and on PostgreSQL,
with a fixed seed and a bounded number of examples, and fails on any 5xx and on any
response the schema does not describe (status, content type, body)."""

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from kessai.core.settings import Env, Settings
from kessai.services import build_services
from kessai.web.app import create_app
from tests.conftest import PG_ADMIN_DSN, TEST_SECRET_KEY, _pg_reachable
from tests.test_run import KEY, free_port, kessai, serving

EXAMPLES = 12  # per operation and backend: bounded, so the suite's time stays bounded
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def contract_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    """(base URL, admin key) of a served kessai with the demo's data."""
    tmp_path = tmp_path_factory.mktemp("contract")
    name = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'kessai.db'}"
    else:
        reason = _pg_reachable()
        if reason:
            pytest.skip(reason)
        name = f"kessai_contract_{uuid.uuid4().hex[:10]}"
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
        url = f"{PG_ADMIN_DSN.rsplit('/', 1)[0]}/{name}"
    env = {
        **os.environ,
        "KESSAI_DATABASE_URL": url,
        "KESSAI_ENV": "sandbox",
        "KESSAI_SECRET_KEY": TEST_SECRET_KEY,
    }
    try:
        kessai("db", "upgrade", env=env)
        port = free_port()
        found = KEY.search(kessai("demo", "--port", str(port), env=env))
        assert found
        with serving(env, port, Path(tmp_path / "serve.log")) as base:
            yield base, found.group(1)
    finally:
        if name is not None:
            asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_every_operation_keeps_to_the_schema(contract_server: tuple[str, str]) -> None:
    base, key = contract_server
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    failures: dict[str, str] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 40

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            derandomize=True,  # a fixed seed: the same requests on every run
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: schemathesis.Case) -> None:
            if case.operation.path == "/api/v1/sandbox/clock" and case.method == "POST":
                case.body = {"reset": True}  # a moved clock would change later answers
            case.call_and_validate(
                base_url=base, headers={"Authorization": f"Bearer {key}"}, checks=CHECKS
            )

        try:
            check()
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:
            failures[operation.label] = str(exc)[:1500]
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())


def test_every_error_status_is_documented_as_the_one_error_schema() -> None:
    app = create_app(build_services(Settings(database_url="sqlite+aiosqlite://", env=Env.SANDBOX)))
    document = app.openapi()
    assert "HTTPValidationError" not in document["components"]["schemas"]
    protected = 0
    for path, operations in document["paths"].items():
        if not path.startswith("/api/"):
            continue
        for method, operation in operations.items():
            responses = operation["responses"]
            errors = {s for s in responses if int(s) >= 400}
            assert "422" in errors, (method, path)
            if operation.get("security"):
                protected += 1
                assert {"401", "403"} <= errors, (method, path)
            if "{" in path:
                assert "404" in errors, (method, path)
            if method in ("post", "patch", "delete"):
                assert "409" in errors, (method, path)
            for status in errors:
                (body,) = responses[status]["content"].values()
                assert body["schema"] == {"$ref": "#/components/schemas/Error"}, (path, status)
    assert protected >= 40
    settings_schema = document["components"]["schemas"]["ShopSettings"]
    assert "format" not in settings_schema["properties"]["reauthorization_time"]
