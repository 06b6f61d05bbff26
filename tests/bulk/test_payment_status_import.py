"""決済状況CSV一括更新: a 処理 per order in the operators' words, with the bulk rules."""

import httpx

from kessai.services import Services
from tests.bulk.helpers import authorized, csv_bytes, csv_rows, finished
from tests.factories import act, make_method, make_order, view
from tests.web.conftest import snapshot

URL = "/api/v1/imports/payment-statuses"


async def upload(api: httpx.AsyncClient, content: bytes) -> httpx.Response:
    return await api.post(URL, files={"file": ("決済状況.csv", content, "text/csv")})


async def test_each_row_runs_its_operation(services: Services, api: httpx.AsyncClient) -> None:
    method = await make_method(services)
    capture, cancel, force = await authorized(services, method, 3)
    unpaid = await make_order(services, method)
    done = (await authorized(services, method, 1))[0]
    await services.payments.run(done, act("cancel"))
    number = (await view(services, cancel)).number
    content = csv_bytes(
        [
            ["受注ID", "受注番号", "処理"],
            [str(capture), "", "売上処理"],
            ["", number, " 取消処理 "],
            [str(force), "", "強制売上処理(決済サービス未連携)"],
            [str(unpaid), "", "返金"],
            [str(done), "", "取消処理"],
            [str(unpaid), "", ""],
        ],
        "cp932",
    )

    r = await upload(api, content)

    assert r.status_code == 202, r.text
    assert (r.json()["kind"], r.json()["name"]) == ("payment_status_import", "決済状況CSV一括更新")
    job = await finished(services, r.json()["id"])
    assert (job.total, job.succeeded, job.failed) == (6, 3, 3)
    rows = {row["行番号"]: row for row in await csv_rows(api, job.id)}
    assert (rows["2"]["処理後の決済状況"], rows["2"]["結果"]) == ("売上完了", "成功")
    assert (rows["3"]["受注ID"], rows["3"]["処理後の決済状況"]) == (str(cancel), "取消完了")
    assert (rows["4"]["処理"], rows["4"]["処理後の決済状況"]) == ("強制売上処理", "売上完了")
    assert rows["5"]["メッセージ"].startswith("処理「返金」はありません(売上処理・取消処理")
    assert rows["6"]["メッセージ"] == "決済状況が「取消完了」の受注には取消処理を実行できません"
    assert rows["7"]["メッセージ"] == "処理が入力されていません"
    fake = services.registry.fake(method.account_id)
    assert fake.captures() == 1  # 強制売上処理 is kessai's alone
    assert (await view(services, unpaid)).payment_status_label == "決済準備中"


async def test_a_wrong_header_changes_nothing(services: Services, api: httpx.AsyncClient) -> None:
    method = await make_method(services)
    (order_id,) = await authorized(services, method, 1)
    before = await snapshot(services, order_id)
    for header in (["受注ID", "決済状況"], ["処理"], ["受注ID", "処理", "金額"]):
        r = await upload(api, csv_bytes([header, [str(order_id), "売上処理", "1"][: len(header)]]))
        assert (r.status_code, r.json()["code"]) == (422, "invalid_csv_header"), r.text
    assert (await api.get("/api/v1/jobs")).json() == []
    assert await snapshot(services, order_id) == before
