"""出荷CSVインポート: 配送伝票番号 and 発送完了日 per order, optionally with 売上処理; a wrong
header refuses the file, a wrong row is that row's result, a double import charges once."""

import asyncio
from datetime import date

import httpx
import pytest
from sqlalchemy import select

from kessai.core.db import transaction
from kessai.history.models import ChangeRecord
from kessai.jobs import runner
from kessai.jobs.models import JobChunk
from kessai.services import Services
from tests.bulk.helpers import authorized, csv_bytes, csv_rows, finished
from tests.factories import make_method, view
from tests.web.conftest import snapshot

URL = "/api/v1/imports/shipments"
HEADER = ["受注番号", "配送伝票番号", "発送完了日", "配送業者名"]


async def upload(
    api: httpx.AsyncClient,
    content: bytes,
    *,
    capture: bool = False,
    encoding: str | None = None,
    key: str | None = None,
) -> httpx.Response:
    data = {"capture": "true" if capture else "false"}
    if encoding:
        data["encoding"] = encoding
    headers = {"Idempotency-Key": key} if key else {}
    return await api.post(
        URL, files={"file": ("出荷.csv", content, "text/csv")}, data=data, headers=headers
    )


async def numbers(services: Services, ids: list[int]) -> list[str]:
    return [(await view(services, i)).number for i in ids]


async def test_shipments_are_recorded_without_capture(
    services: Services, api: httpx.AsyncClient
) -> None:
    method = await make_method(services)
    ids = await authorized(services, method, 2)
    first, second = await numbers(services, ids)
    content = csv_bytes(
        [
            HEADER,
            [first, "1111-2222-3333", "2026/03/02", "ヤマト運輸"],
            [second, "4444", "2026-3-3", ""],
        ]
    )

    r = await upload(api, content)

    assert r.status_code == 202, r.text
    assert (r.json()["kind"], r.json()["name"]) == ("shipment_import", "出荷CSVインポート")
    job = await finished(services, r.json()["id"])
    assert (job.status, job.succeeded) == ("succeeded", 2)
    one, two = await view(services, ids[0]), await view(services, ids[1])
    assert (one.shipped_on, one.tracking_number, one.carrier, one.shipment_count) == (
        date(2026, 3, 2),
        "1111-2222-3333",
        "ヤマト運輸",
        1,
    )
    assert (two.shipped_on, two.tracking_number, two.carrier) == (date(2026, 3, 3), "4444", None)
    assert one.payment_status_label == "仮売上完了"  # nothing sent to the provider
    assert services.registry.fake(method.account_id).captures() == 0
    async with transaction(services.sessions) as s:
        history = (
            await s.scalars(select(ChangeRecord).where(ChangeRecord.entity_id == ids[0]))
        ).all()
    recorded = {(h.field, h.after, h.reason, h.actor) for h in history}
    assert ("tracking_number", "1111-2222-3333", "出荷CSVインポート", "api:storefront") in recorded
    assert ("shipped_on", "2026-03-02", "出荷CSVインポート", "api:storefront") in recorded
    rows = await csv_rows(api, job.id)
    assert [row["行番号"] for row in rows] == ["2", "3"]
    assert rows[0]["メッセージ"] == "発送情報を登録しました"

    again = await finished(services, (await upload(api, content)).json()["id"])
    assert (again.status, again.skipped) == ("succeeded", 2)
    assert (await view(services, ids[0])).shipment_count == 1
    assert (await csv_rows(api, again.id))[0]["結果"] == "対象外"


async def test_capture_with_the_import_is_the_deferred_shipment_report(
    services: Services, api: httpx.AsyncClient
) -> None:
    method = await make_method(services, provider="gmo_ps", method_type="atobarai")
    (order_id,) = await authorized(services, method, 1)
    number = (await view(services, order_id)).number
    before = (await view(services, order_id)).payment_status_label
    content = csv_bytes([HEADER, [number, "5555-6666", "20260302", "佐川急便"]])

    job = await finished(services, (await upload(api, content, capture=True)).json()["id"])

    assert job.status == "succeeded", await csv_rows(api, job.id)
    o = await view(services, order_id)
    assert o.payment_status_label == "売上完了"
    fake = services.registry.fake(method.account_id)
    report = fake.ledger[o.provider_reference or o.number].shipment
    assert report is not None
    assert (report.shipped_on, report.tracking_number, report.carrier) == (
        date(2026, 3, 2),
        "5555-6666",
        "佐川急便",
    )
    (row,) = await csv_rows(api, job.id)
    assert (row["処理"], row["処理前の決済状況"], row["処理後の決済状況"]) == (
        "売上処理",
        before,
        "売上完了",
    )


async def test_row_errors_name_the_row_and_the_problem(
    services: Services, api: httpx.AsyncClient
) -> None:
    method = await make_method(services)
    (order_id,) = await authorized(services, method, 1)
    o = await view(services, order_id)
    content = csv_bytes(
        [
            ["受注ID", "受注番号", "取引ID", "配送伝票番号", "発送完了日"],
            [str(order_id), "", "", "1234", "2026/03/02"],
            ["", "", "", "1234", "2026/03/02"],
            ["999999", "", "", "1234", "2026/03/02"],
            ["", o.number, "", "", "2026/03/02"],
            ["", "", o.provider_transaction_id or "", "1234", "3月2日"],
            ["", "", "", "", ""],  # a blank line: skipped, still counted as a row
            ["abc", "", "", "1234", ""],
            [str(order_id), "nope", "", "1234", "2026/02/30"],
        ]
    )

    job = await finished(services, (await upload(api, content)).json()["id"])

    assert (job.total, job.succeeded, job.failed) == (7, 1, 6)
    assert job.status == "partially_failed"
    rows = {row["行番号"]: row for row in await csv_rows(api, job.id)}
    assert rows["2"]["結果"] == "成功"
    assert rows["3"]["メッセージ"] == "受注ID・受注番号・取引IDが入力されていません"
    assert rows["4"]["メッセージ"] == "受注が見つかりませんでした"
    assert rows["5"]["メッセージ"] == "配送伝票番号が入力されていません"
    assert rows["6"]["メッセージ"] == "発送完了日の形式が正しくありません(例: 2026/03/02)"
    assert rows["6"]["受注ID"] == str(order_id)  # found by 取引ID
    assert "7" not in rows
    assert (
        rows["8"]["メッセージ"] == "受注IDの形式が正しくありません、発送完了日が入力されていません"
    )
    assert rows["9"]["メッセージ"].startswith("受注が見つかりませんでした")
    assert (await view(services, order_id)).tracking_number == "1234"


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        (["受注番号", "発送完了日"], "「配送伝票番号」の列がありません"),
        (["配送伝票番号", "発送完了日"], "受注ID・受注番号・取引IDのいずれかの列が必要です"),
        (["受注番号", "配送伝票番号", "発送日", "備考"], "「発送日」「備考」は取り込めない列です"),
        (
            ["受注番号", "受注番号", "配送伝票番号", "発送完了日"],
            "「受注番号」の列が重複しています",
        ),
    ],
)
async def test_a_wrong_header_refuses_the_whole_file(
    services: Services, api: httpx.AsyncClient, header: list[str], problem: str
) -> None:
    method = await make_method(services)
    (order_id,) = await authorized(services, method, 1)
    number = (await view(services, order_id)).number
    before = await snapshot(services, order_id)
    content = csv_bytes([header, [number, "1234", "2026/03/02", "x"][: len(header)]])

    r = await upload(api, content, capture=True)

    assert r.status_code == 422
    assert r.json()["code"] == "invalid_csv_header"
    assert problem in r.json()["message"]
    assert (await api.get("/api/v1/jobs")).json() == []
    assert await snapshot(services, order_id) == before


async def test_empty_and_unreadable_files_are_refused(
    services: Services, api: httpx.AsyncClient
) -> None:
    cases = [
        (b"", "empty_csv"),
        (csv_bytes([HEADER]), "empty_csv"),
        ("受注番号,配送伝票番号,発送完了日\r\n1,2,3".encode("utf-16"), "invalid_encoding"),
    ]
    for content, code in cases:
        r = await upload(api, content)
        assert (r.status_code, r.json()["code"]) == (422, code), r.text
    r = await upload(api, csv_bytes([HEADER, ["1", "2", "2026/03/02"]]), encoding="ebcdic")
    assert r.json()["code"] == "invalid_encoding"
    r = await upload(
        api, csv_bytes([HEADER, ["1", "2", "2026/03/02"]], "cp932") + b"\x82", encoding="utf-8"
    )
    assert r.json()["code"] == "invalid_encoding"


@pytest.mark.parametrize(
    ("encoding", "given"), [("cp932", None), ("cp932", "cp932"), ("utf-8-sig", None)]
)
async def test_cp932_and_bom_files(
    services: Services, api: httpx.AsyncClient, encoding: str, given: str | None
) -> None:
    method = await make_method(services)
    (order_id,) = await authorized(services, method, 1)
    number = (await view(services, order_id)).number
    content = csv_bytes([HEADER, [number, "７７７－８８８", "2026/03/02", "日本郵便"]], encoding)

    r = await upload(api, content, encoding=given)

    assert r.status_code == 202, r.text
    assert r.json()["params"]["encoding"] == ("cp932" if encoding == "cp932" else "utf-8")
    job = await finished(services, r.json()["id"])
    assert job.status == "succeeded"
    o = await view(services, order_id)
    # Full-width digits and hyphens as some tools write them become plain ones.
    assert (o.tracking_number, o.carrier) == ("777-888", "日本郵便")
    sjis = await csv_rows(api, job.id, "cp932")
    assert sjis[0]["配送業者名"] == "日本郵便"


async def test_the_same_file_imported_twice_at_once_charges_once(
    services: Services, api: httpx.AsyncClient
) -> None:
    """Seed 004: the double click on 出荷CSV登録. Two imports of one file run at the same
    time; every order is captured once at the provider, and the second import records the
    shipment again (発送回数) without a second capture."""
    method = await make_method(services)
    ids = await authorized(services, method, 6)
    fake = services.registry.fake(method.account_id)
    fake.latency = 0.05  # the two imports really overlap at the provider
    content = csv_bytes(
        [HEADER]
        + [
            [n, f"9000-{i}", "2026/03/02", "ヤマト運輸"]
            for i, n in enumerate(await numbers(services, ids))
        ]
    )

    first, second = await asyncio.gather(
        upload(api, content, capture=True), upload(api, content, capture=True)
    )

    assert first.status_code == second.status_code == 202
    assert first.json()["id"] != second.json()["id"]
    jobs = [await finished(services, r.json()["id"]) for r in (first, second)]
    assert fake.captures() == 6
    for order_id in ids:
        o = await view(services, order_id)
        assert fake.captures(o.provider_reference or o.number) == 1
        assert (o.payment_status_label, o.shipment_count) == ("売上完了", 2)
    assert [(j.status, j.succeeded) for j in jobs] == [("succeeded", 6), ("succeeded", 6)]
    messages = [row["メッセージ"] for j in jobs for row in await csv_rows(api, j.id)]
    assert messages.count("売上処理が完了しました") == 6
    assert sum("売上完了済みのため" in m for m in messages) == 6


async def test_idempotency_key_replays_the_job_and_refuses_another_file(
    services: Services, api: httpx.AsyncClient
) -> None:
    method = await make_method(services)
    ids = await authorized(services, method, 1)
    (number,) = await numbers(services, ids)
    content = csv_bytes([HEADER, [number, "1", "2026/03/02"]])
    first = await upload(api, content, capture=True, key="ship-1")
    again = await upload(api, content, capture=True, key="ship-1")
    assert again.status_code == 202
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    other = await upload(api, content, capture=False, key="ship-1")
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")
    await services.dispatcher.drain()
    assert services.registry.fake(method.account_id).captures() == 1


async def test_an_import_chunk_run_again_counts_no_second_shipment(
    services: Services, api: httpx.AsyncClient
) -> None:
    method = await make_method(services)
    ids = await authorized(services, method, 2)
    content = csv_bytes([HEADER] + [[n, "1", "2026/03/02"] for n in await numbers(services, ids)])
    job = await finished(services, (await upload(api, content, capture=True)).json()["id"])
    async with transaction(services.sessions) as s:
        await s.execute(
            JobChunk.__table__.update().where(JobChunk.job_id == job.id).values(status="pending")
        )
    await runner.run_chunk(services, job.id, 0)
    assert services.registry.fake(method.account_id).captures() == 2
    assert [(await view(services, i)).shipment_count for i in ids] == [1, 1]
