"""/metrics: what a billing run, REST traffic and held payments look like to Prometheus, and
who may read it.

Counters are process-wide and the tests share a process, so each test compares a scrape
before with a scrape after; gauges read the database and are compared as they are.
"""

import re

import httpx
import pytest

from kessai.core.settings import Settings
from kessai.jobs.status import JobStatus
from kessai.services import Services, build_services
from kessai.web.app import create_app
from tests.ops.scrape import value
from tests.ops.shop import new_order
from tests.subscriptions.conftest import (
    BILLING_DAY,
    bill,
    card_method,
    customer_with_card,
    make_subscription,
)
from tests.web.conftest import client_for, new_key


def grown(before: str, after: str, name: str, **labels: str) -> float:
    """How much a counter grew between two scrapes."""
    return value(after, name, **labels) - value(before, name, **labels)


async def scrape(services: Services) -> str:
    transport = httpx.ASGITransport(app=create_app(services))
    async with httpx.AsyncClient(transport=transport, base_url="http://kessai.test") as client:
        response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


async def test_a_billing_run_shows_on_metrics_as_the_job_counts_it(services: Services) -> None:
    method = await card_method(services)
    for _ in range(3):
        await make_subscription(services, method)
    await make_subscription(services, method, amount=9001)  # the fake declines it
    ng = await customer_with_card(services, method, name="NG", updater_result="1")
    await make_subscription(services, method, ng)  # 有効性NG: skipped
    before = await scrape(services)

    job = await bill(services)

    after = await scrape(services)
    assert job.status == JobStatus.PARTIALLY_FAILED.value
    assert (job.total, job.succeeded, job.failed, job.skipped) == (5, 3, 1, 1)

    def delta(name: str, **labels: str) -> float:
        return grown(before, after, name, **labels)

    # What this process counted, as the job shows it.
    for result, n in (("succeeded", 3), ("failed", 1), ("skipped", 1)):
        assert delta("kessai_job_items_total", kind="billing", result=result) == n
    assert delta("kessai_job_duration_seconds_count", kind="billing", status=job.status) == 1
    assert delta("kessai_job_chunks_total", kind="billing", outcome="done") >= 1
    assert delta("kessai_job_chunks_total", kind="billing", outcome="retry") == 0
    calls = {"provider": "gmo_pg", "operation": "authorize"}
    assert delta("kessai_provider_calls_total", **calls, outcome="succeeded") == 3
    assert delta("kessai_provider_calls_total", **calls, outcome="declined") == 1
    assert delta("kessai_provider_call_duration_seconds_count", **calls) == 4
    # What the database holds, whoever ran it.
    assert value(after, "kessai_jobs", kind="billing", status="partially_failed") == 1
    for result, n in (("succeeded", 3), ("failed", 1), ("skipped", 1)):
        assert value(after, "kessai_job_items", kind="billing", result=result) == n
    assert value(after, "kessai_job_chunks_waiting", kind="billing") == 0
    assert value(after, "kessai_card_updater_results_month", result="1") == 1
    assert value(after, "kessai_orders_held") == 0
    assert BILLING_DAY.month == 11  # the clock is on the billing day: "this month" is it


async def test_http_requests_by_route_template_and_status(services: Services) -> None:
    method = await card_method(services)
    before = await scrape(services)
    async with client_for(services, await new_key(services)) as api:
        order_id = await new_order(api, method.code, 1000)
        ok = await api.post(f"/api/v1/orders/{order_id}/payment/authorize", json={})
        again = await api.post(f"/api/v1/orders/{order_id}/payment/authorize")  # FastAPI's way
        missing = await api.get("/api/v1/orders/999999")
        nowhere = await api.get("/no/such/page?token=x")
    assert (ok.status_code, again.status_code) == (200, 409)
    assert (missing.status_code, nowhere.status_code) == (404, 404)
    after = await scrape(services)

    def delta(name: str, **labels: str) -> float:
        return grown(before, after, name, **labels)

    action = "/api/v1/orders/{order_id}/payment/{action}"
    assert delta("kessai_http_requests_total", method="POST", route=action, status="200") == 1
    assert delta("kessai_http_requests_total", method="POST", route=action, status="409") == 1
    assert delta("kessai_http_request_duration_seconds_count", method="POST", route=action) == 2
    one = "/api/v1/orders/{order_id}"
    assert delta("kessai_http_requests_total", method="GET", route=one, status="404") == 1
    assert delta("kessai_http_requests_total", method="GET", route="(unmatched)", status="404") == 1
    assert "/no/such/page" not in after
    assert not re.search(r'route="[^"]*/[0-9]+', after)  # templates, never ids


async def test_an_unknown_outcome_is_a_payment_awaiting_reconciliation(
    services: Services,
) -> None:
    method = await card_method(services)
    async with client_for(services, await new_key(services)) as api:
        order_id = await new_order(api, method.code, 9003)
        held = await api.post(f"/api/v1/orders/{order_id}/payment/authorize", json={})
        assert held.json()["outcome"] == "unknown"
        text = await scrape(services)
        assert value(text, "kessai_payments_awaiting_reconciliation") == 1
        assert value(text, "kessai_orders_held") == 1
        await api.post(f"/api/v1/orders/{order_id}/payment/reconcile", json={})
    text = await scrape(services)
    assert value(text, "kessai_payments_awaiting_reconciliation") == 0
    assert value(text, "kessai_orders_held") == 0


@pytest.mark.parametrize(
    ("env", "client", "headers", "status"),
    [
        ({}, ("127.0.0.1", 5000), {}, 200),
        ({}, ("10.1.2.3", 5000), {}, 403),  # loopback only by default
        ({"KESSAI_METRICS_ALLOW": "10.0.0.0/8"}, ("10.1.2.3", 5000), {}, 200),
        ({"KESSAI_METRICS_ALLOW": "10.0.0.0/8"}, ("127.0.0.1", 5000), {}, 403),
        ({"KESSAI_METRICS_TOKEN": "s3cret"}, ("127.0.0.1", 5000), {}, 403),
        (
            {"KESSAI_METRICS_TOKEN": "s3cret"},
            ("127.0.0.1", 5000),
            {"Authorization": "Bearer wrong"},
            403,
        ),
        (
            {"KESSAI_METRICS_TOKEN": "s3cret"},
            ("127.0.0.1", 5000),
            {"Authorization": "Bearer s3cret"},
            200,
        ),
    ],
)
async def test_metrics_access_is_restricted_by_configuration(
    database_url: str,
    env: dict[str, str],
    client: tuple[str, int],
    headers: dict[str, str],
    status: int,
) -> None:
    settings = Settings.from_env({"KESSAI_DATABASE_URL": database_url, **env})
    services = build_services(settings)
    transport = httpx.ASGITransport(app=create_app(services), client=client)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://kessai.test") as c:
            response = await c.get("/metrics", headers=headers)
    finally:
        await services.close()
    assert response.status_code == status
    if status == 403:
        assert response.json()["code"] == "metrics_forbidden"
        assert "kessai_" not in response.text


def test_a_bad_allow_list_is_a_clear_error() -> None:
    with pytest.raises(Exception, match="KESSAI_METRICS_ALLOW"):
        Settings.from_env({"KESSAI_METRICS_ALLOW": "10.0.0.0/33"})


async def test_webhook_deliveries_by_result(services: Services) -> None:
    from tests.webhooks.receiver import receiver
    from tests.webhooks.test_webhooks import add_endpoint, drain

    method = await card_method(services)
    before = await scrape(services)
    async with receiver() as hooks, client_for(services, await new_key(services)) as api:
        hooks.script["/gone"] = [410]
        await add_endpoint(api, hooks.url())
        await add_endpoint(api, hooks.url("/gone"))
        await new_order(api, method.code, 1000)  # order.created, to both endpoints
        await drain(services)
    after = await scrape(services)
    assert grown(before, after, "kessai_webhook_deliveries_total", result="delivered") == 1
    assert grown(before, after, "kessai_webhook_deliveries_total", result="gone") == 1
    assert value(after, "kessai_webhook_deliveries", status="succeeded") == 1
    assert value(after, "kessai_webhook_deliveries", status="failed") == 1
