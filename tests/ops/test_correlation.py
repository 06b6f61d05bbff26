"""Every log line of a request, a job or a provider call says whose it is (request_id,
order_id, job_id, provider); X-Request-ID in and out; access lines without query strings
or key-carrying headers. The tests read the JSON lines as kessai writes them."""

import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from kessai.core import logging as kessai_logging
from kessai.jobs.kinds import KINDS, register
from kessai.jobs.service import submit
from kessai.services import Services
from tests.jobs.toy_kinds import Squares
from tests.ops.shop import new_order
from tests.subscriptions.conftest import card_method
from tests.web.conftest import client_for, new_key

Lines = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def lines() -> Iterator[Lines]:
    """kessai's JSON log lines at DEBUG, as a list of objects (every line must parse)."""
    stream = io.StringIO()
    level = logging.getLogger().level
    kessai_logging.configure("DEBUG", stream=stream)
    # Other libraries' DEBUG chatter (aiosqlite, asyncio) is not what these tests read.
    quiet = [logging.getLogger(n) for n in ("aiosqlite", "asyncio", "httpx", "httpcore")]
    for logger in quiet:
        logger.setLevel(logging.WARNING)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    kessai_logging.reset()
    logging.getLogger().setLevel(level)
    for logger in quiet:
        logger.setLevel(logging.NOTSET)


@pytest.mark.parametrize("body", [{}, None], ids=["fast-path", "fastapi"])
async def test_a_requests_lines_carry_its_id_and_the_order(
    services: Services, lines: Lines, body: dict[str, Any] | None
) -> None:
    method = await card_method(services)
    key = await new_key(services)
    async with client_for(services, key) as api:
        order_id = await new_order(api, method.code, 1000)
        response = await api.post(
            f"/api/v1/orders/{order_id}/payment/authorize?api_key=sk-in-query",
            headers={"X-Request-ID": "shop-req-42", "Idempotency-Key": "idem-7c1f"},
            json=body,
        )
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "shop-req-42"
    found = [line for line in lines() if line.get("request_id") == "shop-req-42"]
    (call,) = [line for line in found if line["event"] == "provider call"]
    assert (call["order_id"], call["provider"]) == (order_id, "gmo_pg")
    assert (call["operation"], call["outcome"]) == ("authorize", "succeeded")
    (access,) = [line for line in found if line["logger"] == "kessai.access"]
    assert access["path"] == f"/api/v1/orders/{order_id}/payment/authorize"
    assert access["route"] == "/api/v1/orders/{order_id}/payment/{action}"
    assert (access["status"], access["method"], access["order_id"]) == (200, "POST", str(order_id))
    assert access["duration_ms"] >= 0
    text = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines())
    for secret in ("sk-in-query", key, "idem-7c1f", "api_key="):
        assert secret not in text
    # The order's creation had no id given: a fresh one, on its own lines.
    others = {line["request_id"] for line in lines() if line["logger"] == "kessai.access"}
    assert len(others) == 2


@pytest.mark.parametrize(
    "given", ["x" * 65, "two words", "<script>", "ü-umlaut".encode(), ""], ids=lambda g: repr(g[:8])
)
async def test_an_unsafe_request_id_is_replaced(
    services: Services, lines: Lines, given: str | bytes
) -> None:
    async with client_for(services, None) as api:
        response = await api.get("/healthz", headers={"X-Request-ID": given})
    returned = response.headers["x-request-id"]
    assert returned != given
    assert len(returned) == 32
    assert all(c in "0123456789abcdef" for c in returned)
    (access,) = [line for line in lines() if line["logger"] == "kessai.access"]
    assert access["request_id"] == returned
    shown = given.decode() if isinstance(given, bytes) else given
    assert not shown or shown not in json.dumps(access, ensure_ascii=False)


async def test_a_jobs_lines_carry_its_id(services: Services, lines: Lines) -> None:
    squares = Squares(broken_chunk_with=4, breaks=1)  # the second chunk fails its first run
    register(squares)
    services.dispatcher.retry_pause = 0.01  # type: ignore[attr-defined]
    try:
        job, _ = await submit(services, "test_squares", created_by="t", params={"count": 6})
        await services.dispatcher.drain()
    finally:
        KINDS.pop(squares.kind, None)
    (failed,) = [line for line in lines() if "chunk 1 failed" in line["event"]]
    assert failed["job_id"] == job.id
    assert failed["level"] == "error"
    assert "no_such_table" in failed["exception"]  # the driver's detail: in the log only


async def test_a_billing_runs_provider_calls_carry_job_order_and_provider(
    services: Services, lines: Lines
) -> None:
    from tests.subscriptions.conftest import bill, child_orders, make_subscription

    method = await card_method(services)
    sids = [await make_subscription(services, method) for _ in range(2)]
    job = await bill(services)
    orders = {o.id for sid in sids for o in await child_orders(services, sid)}
    calls = [line for line in lines() if line["event"] == "provider call"]
    assert {c["order_id"] for c in calls} == orders
    assert {(c["job_id"], c["provider"]) for c in calls} == {(job.id, "gmo_pg")}
