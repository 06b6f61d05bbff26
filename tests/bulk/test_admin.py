"""The admin side: 決済状況一括変更 from 受注一覧, the two CSV imports, ジョブ管理, and the
permission each operation needs (a role without 強制売上処理 cannot run it)."""

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select

from kessai.core.db import transaction
from kessai.jobs.models import Job
from kessai.services import Services
from kessai.users.service import Role
from tests.admin.conftest import BASE_URL, add_user, admin_app, hidden, login
from tests.bulk.helpers import authorized, csv_bytes, finished
from tests.factories import act, make_method, view


@pytest.fixture
async def client(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=admin_app(services))
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as c:
        yield c


async def signed_in(client: httpx.AsyncClient, services: Services, role: Role) -> None:
    email = f"{role.value}@example.jp"
    await add_user(services, email, role=role)
    await login(client, email)


async def job_count(services: Services) -> int:
    async with transaction(services.sessions) as s:
        return int(await s.scalar(select(func.count()).select_from(Job)) or 0)


async def bulk_form(client: httpx.AsyncClient, path: str = "/admin/orders") -> dict[str, str]:
    page = await client.get(path)
    assert page.status_code == 200
    return {
        "csrf_token": hidden(page.text, "csrf_token"),
        "submission": hidden(page.text, "submission"),
    }


async def test_bulk_capture_from_the_orders_list_runs_a_job(
    client: httpx.AsyncClient, services: Services
) -> None:
    method = await make_method(services)
    ids = await authorized(services, method, 3)
    await signed_in(client, services, Role.OPERATOR)
    page = await client.get("/admin/orders")
    assert "決済状況一括変更" in page.text
    assert "検索結果すべて(3件)を処理対象にする" in page.text
    menu = page.text.split('id="bulk-action"', 1)[1].split("</select>", 1)[0]
    offered = re.findall(r'<option value="([a-z-]+)">', menu)
    assert offered == ["capture", "cancel", "reauthorize"]  # no 強制 ones for 運用担当
    form = await bulk_form(client)
    data = {**form, "action": "capture", "order_ids": [str(i) for i in ids[:2]]}

    r = await client.post("/admin/orders/bulk-payment-actions", data=data)
    twice = await client.post("/admin/orders/bulk-payment-actions", data=data)  # double click

    assert r.status_code == 303
    assert twice.headers["location"] == r.headers["location"]
    job_id = int(r.headers["location"].rsplit("/", 1)[1])
    job = await finished(services, job_id)
    assert (job.name, job.succeeded, job.created_by) == (
        "決済状況一括変更: 売上処理",
        2,
        "admin:operator@example.jp",
    )
    assert services.registry.fake(method.account_id).captures() == 2
    assert (await view(services, ids[2])).payment_status_label == "仮売上完了"

    detail = await client.get(f"/admin/jobs/{job_id}")
    assert "完了" in detail.text
    assert "対象 2件 / 処理済み 2件(成功 2件" in detail.text
    assert detail.text.count("売上完了") >= 2
    csv_utf8 = await client.get(f"/admin/jobs/{job_id}/items.csv", params={"encoding": "utf-8"})
    assert csv_utf8.content.startswith(b"\xef\xbb\xbf")
    assert "受注ID,受注番号,処理,処理前の決済状況,処理後の決済状況,結果,メッセージ" in (
        csv_utf8.content.decode("utf-8-sig")
    )
    sjis = await client.get(f"/admin/jobs/{job_id}/items.csv", params={"encoding": "cp932"})
    assert "売上完了" in sjis.content.decode("cp932")
    listing = await client.get("/admin/jobs")
    assert f'href="/admin/jobs/{job_id}"' in listing.text


async def test_search_all_from_the_list_uses_its_filters(
    client: httpx.AsyncClient, services: Services
) -> None:
    method = await make_method(services)
    ids = await authorized(services, method, 2)
    await services.payments.run(ids[0], act("capture"))
    await signed_in(client, services, Role.ADMIN)
    page = await client.get("/admin/orders", params={"payment_status": "authorized"})
    assert "検索結果すべて(1件)を処理対象にする" in page.text
    form = await bulk_form(client)
    data = {**form, "action": "force-cancel", "all_results": "1", "payment_status": "authorized"}
    r = await client.post("/admin/orders/bulk-payment-actions", data=data)
    job = await finished(services, int(r.headers["location"].rsplit("/", 1)[1]))
    assert (job.total, job.succeeded) == (1, 1)
    assert (await view(services, ids[1])).payment_status_label == "取消完了"
    assert (await view(services, ids[0])).payment_status_label == "売上完了"


@pytest.mark.parametrize(
    ("role", "action", "label"),
    [
        (Role.OPERATOR, "force-capture", "強制売上処理"),
        (Role.OPERATOR, "force-cancel", "強制取消処理"),
        (Role.VIEWER, "capture", "売上処理"),
    ],
)
async def test_an_operation_without_its_permission_is_refused(
    client: httpx.AsyncClient, services: Services, role: Role, action: str, label: str
) -> None:
    method = await make_method(services)
    (order_id,) = await authorized(services, method, 1)
    await signed_in(client, services, role)
    page = await client.get("/admin/orders")
    data = {
        "csrf_token": hidden(page.text, "csrf_token"),
        "action": action,
        "order_ids": str(order_id),
    }
    r = await client.post("/admin/orders/bulk-payment-actions", data=data)
    assert r.status_code == 403
    assert f"{label}を実行する権限がありません({role.label}には許可されていません)" in r.text
    assert await job_count(services) == 0
    assert (await view(services, order_id)).payment_status_label == "仮売上完了"
    if role is Role.VIEWER:
        assert "決済状況一括変更" not in page.text


async def test_payment_status_import_with_an_operation_not_permitted_is_refused(
    client: httpx.AsyncClient, services: Services
) -> None:
    method = await make_method(services)
    (order_id,) = await authorized(services, method, 1)
    await signed_in(client, services, Role.OPERATOR)
    form = await bulk_form(client, "/admin/imports/payment-statuses")
    content = csv_bytes(
        [["受注ID", "処理"], [str(order_id), "売上処理"], [str(order_id), "強制売上処理"]]
    )
    r = await client.post(
        "/admin/imports/payment-statuses",
        data=form,
        files={"file": ("status.csv", content, "text/csv")},
    )
    assert r.status_code == 403
    assert "強制売上処理を実行する権限がありません(運用担当には許可されていません)" in r.text
    assert await job_count(services) == 0
    assert services.registry.fake(method.account_id).captures() == 0


async def test_shipment_import_from_the_admin(
    client: httpx.AsyncClient, services: Services
) -> None:
    method = await make_method(services)
    (order_id,) = await authorized(services, method, 1)
    number = (await view(services, order_id)).number
    await signed_in(client, services, Role.OPERATOR)
    form = await bulk_form(client, "/admin/imports/shipments")

    wrong = csv_bytes([["受注番号", "伝票", "発送完了日"], [number, "1", "2026/03/02"]])
    r = await client.post(
        "/admin/imports/shipments", data=form, files={"file": ("a.csv", wrong, "text/csv")}
    )
    assert r.status_code == 422
    assert "「配送伝票番号」の列がありません" in r.text
    assert "「伝票」は取り込めない列です" in r.text
    assert "受注は変更されていません" in r.text

    good = csv_bytes(
        [["受注番号", "配送伝票番号", "発送完了日"], [number, "1-2-3", "2026/03/02"]], "cp932"
    )
    r = await client.post(
        "/admin/imports/shipments",
        data={**form, "capture": "1", "encoding": "cp932"},
        files={"file": ("出荷.csv", good, "text/csv")},
    )
    assert r.status_code == 303
    job = await finished(services, int(r.headers["location"].rsplit("/", 1)[1]))
    assert (job.name, job.status) == ("出荷CSVインポート(売上処理あり)", "succeeded")
    assert (await view(services, order_id)).payment_status_label == "売上完了"
    assert "出荷.csv" in (await client.get("/admin/jobs")).text


async def test_viewer_sees_jobs_but_cannot_import(
    client: httpx.AsyncClient, services: Services
) -> None:
    await signed_in(client, services, Role.VIEWER)
    assert (await client.get("/admin/jobs")).status_code == 200
    assert (await client.get("/admin/imports/shipments")).status_code == 403
    r = await client.get("/admin/imports/payment-statuses")
    assert r.status_code == 403
    assert "決済状況CSV一括更新の権限がありません" in r.text
    nav = (await client.get("/admin/orders")).text
    assert "ジョブ管理" in nav
    assert "出荷CSVインポート" not in nav
