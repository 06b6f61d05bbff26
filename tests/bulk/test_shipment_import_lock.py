"""While 伝票番号一括登録 (出荷CSVインポート) waits or runs, 決済ステータス and 配送ステータス
changes are refused (seed 002: 伝票番号一括登録処理中は、決済ステータス、配送ステータスを変更しない
でください) — API, admin, 決済状況一括変更 and 決済状況CSV一括更新 — with a Japanese message and
a stable code, changing nothing; a new order's オーソリ still goes; after the import, all go."""

import httpx
from sqlalchemy import update

from kessai.core.db import transaction
from kessai.jobs.models import Job
from kessai.jobs.status import JobStatus
from kessai.services import Services
from kessai.users.service import Role
from tests.admin.conftest import csrf_of
from tests.bulk.helpers import authorized, csv_bytes, finished
from tests.bulk.test_admin import client, signed_in
from tests.bulk.test_shipment_import import HEADER, numbers, upload
from tests.factories import make_method, make_order, view

__all__ = ["client"]  # the admin client fixture
MESSAGE = (
    "伝票番号一括登録(出荷CSVインポート)の処理中は、決済ステータス・配送ステータスを変更できません"
)


async def import_running(services: Services) -> int:
    """A 出荷CSVインポート a worker is in the middle of (実行中), as another process sees it."""
    now = services.clock.now()
    async with transaction(services.sessions) as s:
        job = Job(
            kind="shipment_import",
            name="出荷CSVインポート",
            status=JobStatus.RUNNING.value,
            params={},
            created_by="admin:operator@example.jp",
            created_at=now,
            started_at=now,
        )
        s.add(job)
        await s.flush()
        return job.id


async def import_finished(services: Services, job_id: int) -> None:
    async with transaction(services.sessions) as s:
        await s.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(status=JobStatus.SUCCEEDED.value, finished_at=services.clock.now())
        )


async def test_changes_wait_for_the_tracking_number_import(
    services: Services, api: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    method = await make_method(services)
    shipped, other = await authorized(services, method, 2)
    import_id = await import_running(services)

    # API: 売上処理 and 取消処理 of an order are refused with the code; nothing changes.
    for action in ("capture", "cancel"):
        refused = await api.post(f"/api/v1/orders/{other}/payment/{action}", json={})
        assert refused.status_code == 409, refused.text
        body = refused.json()
        assert body["code"] == "shipment_import_running"
        assert body["message"].startswith(MESSAGE)
        assert f"ジョブ {import_id} " in body["message"]
    assert (await view(services, other)).payment_status_label == "仮売上完了"
    # 決済状況一括変更 and 決済状況CSV一括更新 likewise (no job is made).
    bulk = await api.post(
        "/api/v1/orders/bulk-payment-actions", json={"action": "capture", "order_ids": [other]}
    )
    assert (bulk.status_code, bulk.json().get("code")) == (409, "shipment_import_running"), (
        bulk.text
    )
    statuses = await api.post(
        "/api/v1/imports/payment-statuses",
        files={"file": ("x.csv", csv_bytes([["受注ID", "処理"], [str(other), "売上処理"]]))},
    )
    assert (statuses.status_code, statuses.json()["code"]) == (409, "shipment_import_running")
    # A new order's オーソリ (the storefront's checkout) is not a change the import races.
    fresh = await make_order(services, method)
    authorized_now = await api.post(f"/api/v1/orders/{fresh}/payment/authorize", json={})
    assert authorized_now.status_code == 200, authorized_now.text

    # The admin's 売上処理 button: the same words.
    await signed_in(client, services, Role.OPERATOR)
    token = await csrf_of(client, f"/admin/orders/{other}")
    page = await client.post(
        f"/admin/orders/{other}/actions/capture",
        data={"csrf_token": token, "shipped_on": "2026/03/02", "tracking_number": "9"},
    )
    assert page.status_code == 409
    assert MESSAGE in page.text
    assert (await view(services, other)).payment_status_label == "仮売上完了"

    # The import done: the same changes go through.
    await import_finished(services, import_id)
    done = await api.post(f"/api/v1/orders/{other}/payment/capture", json={})
    assert done.status_code == 200, done.text
    assert (await view(services, other)).payment_status_label == "売上完了"

    # An import's own 売上処理 is not held by itself.
    (first,) = await numbers(services, [shipped])
    r = await upload(api, csv_bytes([HEADER, [first, "1111-2222", "2026/03/02", ""]]), capture=True)
    assert r.status_code == 202, r.text
    job = await finished(services, r.json()["id"])
    assert (job.status, job.succeeded) == ("succeeded", 1)
    shipped_view = await view(services, shipped)
    assert (shipped_view.tracking_number, shipped_view.payment_status_label) == (
        "1111-2222",
        "売上完了",
    )
