"""自動洗替 end to end against a real sshd: seed 000's selection, the request file on the SFTP
server, the result of the 27th applied to the cards and every 定期受注 using them, and the
「GMO 洗替結果取得」 job's CSV."""

from datetime import datetime

from sqlalchemy import select

from kessai.cardupdater.status import RunStatus
from kessai.core.clock import TOKYO
from kessai.core.db import transaction
from kessai.jobs.status import JobStatus
from kessai.notifications.models import OutboxMail
from kessai.services import Services
from tests.cardupdater.conftest import (
    REQUEST_FILE,
    REQUEST_MOMENT,
    RESULT_FILE,
    RESULT_MOMENT,
    SHOP_EMAIL,
    add_card,
    card,
    job_csv,
    jobs_of,
    make_shop,
    request_lines,
    run_calendar,
    run_row,
    write_result,
)
from tests.sftp_server import SftpServer
from tests.web.conftest import client_for, new_key


async def test_first_run_takes_every_registered_card_then_only_expiring_ones(
    services: Services, gmo_sftp: SftpServer
) -> None:
    shop = await make_shop(services, gmo_sftp)
    this_month = await add_card(services, shop, name="当月", expire="2612")
    next_month = await add_card(services, shop, name="次月", expire="2701")
    later = await add_card(services, shop, name="先の期限", expire="2812")
    await add_card(services, shop, name="カード削除", expire="2612", card_deleted=True)
    await add_card(services, shop, name="顧客削除", expire="2612", customer_deleted=True)
    await add_card(
        services,
        shop,
        name="当月登録",
        expire="2612",
        registered=datetime(2026, 12, 1, 0, 30, tzinfo=TOKYO),
    )
    await add_card(services, shop, name="前回NG", expire="2612", updater_result="1")
    await add_card(services, shop, name="前回照合エラー", expire="2701", updater_result="2")
    await add_card(services, shop, name="前回入力データエラー", expire="2612", updater_result="3")
    ok_before = await add_card(services, shop, name="前回OK", expire="2612", updater_result="0")

    # 初回洗替: every registered card (not deleted, registered before December began,
    # none excluded by an earlier result), whatever its expiry.
    await run_calendar(services, REQUEST_MOMENT)
    [job] = await jobs_of(services, "card_updater_request")
    assert job.status == JobStatus.SUCCEEDED.value
    sent = [line.split(",") for line in request_lines(shop)]
    chosen = [this_month, next_month, later, ok_before]
    assert [(m, seq, exp) for m, seq, exp in sent] == [
        ((await card(services, c)).member_id, "0", (await card(services, c)).expire) for c in chosen
    ]
    run = await run_row(services, shop.account_id)
    assert (run.status, run.targets, run.first) == (RunStatus.UPLOADED.value, 4, True)
    # Sent again within the hour or the next day: nothing more goes out.
    await run_calendar(services, REQUEST_MOMENT.replace(hour=3))
    assert len(await jobs_of(services, "card_updater_request")) == 1

    # January: only the cards expiring this month or next (2701, 2702).
    jan_soon = await add_card(
        services, shop, name="1月期限", expire="2701", registered=REQUEST_MOMENT
    )
    feb = await add_card(services, shop, name="2月期限", expire="2702", registered=REQUEST_MOMENT)
    shop.file(REQUEST_FILE).unlink()
    await run_calendar(services, datetime(2027, 1, 1, 1, 5, tzinfo=TOKYO))
    january = shop.file("upload/tsite00012345_202701_cardupdate.csv").read_text("cp932")
    members = [line.split(",")[0] for line in january.splitlines()]
    expected = [(await card(services, c)).member_id for c in (next_month, jan_soon, feb)]
    assert members == expected
    assert (await run_row(services, shop.account_id, "2027-01")).first is False


async def test_result_of_the_27th_updates_cards_subscriptions_and_the_job_csv(
    services: Services, gmo_sftp: SftpServer
) -> None:
    from tests.subscriptions.conftest import Holder, make_subscription

    shop = await make_shop(services, gmo_sftp)
    renewed = await add_card(services, shop, name="山田 花子", expire="2612")
    invalid = await add_card(services, shop, name="佐藤 健", expire="2701")
    mismatch = await add_card(services, shop, name="鈴木 一郎", expire="2612")
    untouched = await add_card(services, shop, name="高橋 美咲", expire="2612")
    subs = {}
    for card_id in (renewed, invalid):
        c = await card(services, card_id)
        subs[card_id] = await make_subscription(
            services, shop.method, Holder(c.customer_id, card_id)
        )
    await run_calendar(services, REQUEST_MOMENT)
    m = {c: (await card(services, c)).member_id for c in (renewed, invalid, mismatch, untouched)}

    # The 26th: no result yet, nothing is fetched.
    await run_calendar(services, datetime(2026, 12, 26, 23, 0, tzinfo=TOKYO))
    assert await jobs_of(services, "card_updater_result") == []

    write_result(
        shop,
        [
            f"{m[renewed]},0,0,411111******2222,3112",
            f"{m[invalid]},0,1,,",
            f"{m[mismatch]},0,2,,",
            f"{m[untouched]},0,0,,",
        ],
    )
    await run_calendar(services, RESULT_MOMENT)
    [job] = await jobs_of(services, "card_updater_result")
    assert (job.name, job.status, job.total) == ("GMO 洗替結果取得", JobStatus.SUCCEEDED.value, 4)

    new = await card(services, renewed)
    assert (new.masked_number, new.expire, new.updater_result) == ("411111******2222", "3112", "0")
    kept = await card(services, untouched)
    assert (kept.masked_number, kept.expire, kept.updater_result) == (
        "411111******1111",
        "2612",
        "0",
    )
    assert (await card(services, invalid)).updater_result == "1"
    assert (await card(services, mismatch)).updater_result == "2"

    rows = await job_csv(services, job)
    assert rows[0] == [
        "顧客ID",
        "顧客名",
        "会員ID",
        "カード登録連番",
        "洗替前カード番号",
        "洗替前有効期限",
        "カード番号",
        "有効期限",
        "洗替判定結果",
        "結果",
        "メッセージ",
    ]
    by_name = {r[1]: r for r in rows[1:]}
    assert set(by_name) == {"山田 花子", "佐藤 健", "鈴木 一郎", "高橋 美咲"}
    assert by_name["山田 花子"][4:9] == [
        "411111******1111",
        "2612",
        "411111******2222",
        "3112",
        "0:有効性OK",
    ]
    assert by_name["佐藤 健"][8] == "1:有効性NG"
    assert by_name["佐藤 健"][10] == "支払い方法またはクレジットカード情報の変更が必要です"
    assert by_name["鈴木 一郎"][8] == "2:照合エラー"

    # 定期受注管理: searchable by 洗替ステータス; each shows its card as it is now.
    async with client_for(services, await new_key(services)) as api:
        ng = (await api.get("/api/v1/subscriptions", params={"updater_result": "有効性NG"})).json()
        ok = (await api.get("/api/v1/subscriptions", params={"updater_result": "0"})).json()
    assert [row["id"] for row in ng["items"]] == [subs[invalid]]
    [renewed_sub] = ok["items"]
    assert renewed_sub["id"] == subs[renewed]
    assert (renewed_sub["card"]["masked_number"], renewed_sub["card"]["expire"]) == (
        "411111******2222",
        "3112",
    )
    assert renewed_sub["updater_result_label"] == "有効性OK"

    # The shop is told, with the customers whose card can no longer be charged.
    async with transaction(services.sessions) as s:
        mails = (
            await s.scalars(select(OutboxMail).where(OutboxMail.kind == "card_updater_result"))
        ).all()
    [mail] = mails
    assert mail.to_address == SHOP_EMAIL
    assert "佐藤 健: 有効性NG" in mail.body
    assert "鈴木 一郎: 照合エラー" in mail.body
    assert "山田 花子" not in mail.body

    # Fetched again (the next hour, a second scheduler): applied once, no second job.
    await run_calendar(services, RESULT_MOMENT.replace(hour=1))
    assert len(await jobs_of(services, "card_updater_result")) == 1
    assert (await run_row(services, shop.account_id)).status == RunStatus.APPLIED.value
    assert shop.file(RESULT_FILE).exists()
