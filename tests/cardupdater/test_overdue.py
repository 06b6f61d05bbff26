"""A result file that never arrives is loud: past its day plus the account's 待機日数 the
month's job fails with 「待機超過」 and the reason, the shop is mailed once (not every day),
and the dashboard counts it until the file is in (自動洗替 and 継続課金, seeds 000 and 002)."""

from datetime import date, datetime

import httpx

from kessai.cardupdater.status import RunStatus
from kessai.core.clock import TOKYO
from kessai.core.db import transaction
from kessai.jobs import repository as jobs_repo
from kessai.jobs.models import Job
from kessai.jobs.status import JobStatus
from kessai.services import Services
from kessai.users.service import Role
from tests.admin.conftest import add_user, client, login
from tests.cardupdater.conftest import (
    RESULT_MOMENT,
    card,
    jobs_of,
    make_shop,
    run_calendar,
    run_row,
    set_account,
    sftp_settings,
    write_result,
)
from tests.cardupdater.test_failures import mails, sent
from tests.cardupdater.test_recurring import RESULT_FILE, at, recurring_method, shipped_order
from tests.sftp_server import SftpServer

__all__ = ["client"]  # the admin client fixture

CHECK_FILE = "download/tshop00012345_202701_recurring_check.csv"
OVERDUE_LINE = "結果ファイルの待機超過(自動洗替・継続課金、直近3か月)"


async def overdue_on_dashboard(services: Services, client: httpx.AsyncClient) -> int:
    client.cookies.clear()  # a fresh session at the moved clock
    await login(client, "viewer@example.jp")
    page = await client.get("/admin/dashboard")
    assert page.status_code == 200
    for n in range(10):
        if f'aria-label="{OVERDUE_LINE} {n}件"' in page.text:
            return n
    raise AssertionError(page.text)


async def said(services: Services, job: Job) -> str:
    """The job's error and its items' messages, as ジョブ管理 shows them."""
    async with transaction(services.sessions) as s:
        items = await jobs_repo.items(s, job.id)
    return " / ".join([job.error or "", *(i.message or "" for i in items)])


async def overdue_mails(services: Services) -> list[str]:
    return [m.body for m in await mails(services, "card_updater_failed") if "待機超過" in m.body]


async def test_a_recurring_result_and_check_never_arriving_become_overdue_once(
    services: Services, gmo_sftp: SftpServer, client: httpx.AsyncClient
) -> None:
    shop = await make_shop(services, gmo_sftp)
    method = await recurring_method(services, shop)
    order, card_id = await shipped_order(services, shop, method, "山田 花子", date(2026, 12, 20))
    await run_calendar(services, at(2027, 1, 8, 5, 30))
    await add_user(services, "viewer@example.jp", role=Role.VIEWER)

    # The 18th and the 19th: not there yet, an ordinary failure tried every hour.
    await run_calendar(services, at(2027, 1, 18, 6, 30))
    await run_calendar(services, at(2027, 1, 19, 6, 30))
    jobs = await jobs_of(services, "recurring_result")
    assert [j.status for j in jobs] == [JobStatus.FAILED.value] * 2
    assert "まだSFTPサーバにありません" in await said(services, jobs[-1])
    assert "待機超過" not in await said(services, jobs[-1])
    assert await overdue_mails(services) == []
    assert await overdue_on_dashboard(services, client) == 0

    # The 20th 06:00 (18th 06:00 + the default 2 days): 待機超過, the shop told once.
    for moment in (at(2027, 1, 20, 6, 30), at(2027, 1, 20, 7, 30), at(2027, 1, 21, 6, 30)):
        await run_calendar(services, moment)
        job = (await jobs_of(services, "recurring_result"))[-1]
        assert job.status == JobStatus.FAILED.value
        reason = await said(services, job)
        assert f"待機超過: 売上結果ファイル「{RESULT_FILE}」が届いていません" in reason
        assert "取得予定 1月18日6時、猶予2日の期限 1月20日6時 を過ぎました" in reason
    [mail] = await overdue_mails(services)
    assert "GMO 継続課金 売上結果取得" in mail
    assert await overdue_on_dashboard(services, client) == 1

    # The file comes in: applied the next hour, the dashboard no longer counts it.
    member = (await card(services, card_id)).member_id
    shop.file(RESULT_FILE).write_bytes(f"1,{member},0,{order.amount},0,\r\n".encode())
    await run_calendar(services, at(2027, 1, 21, 7, 30))
    assert (await jobs_of(services, "recurring_result"))[-1].status == JobStatus.SUCCEEDED.value
    assert await overdue_on_dashboard(services, client) == 0

    # The 有効性チェック結果 of the 27th, with its own grace set to 0 days: overdue at once,
    # and after the month ends it is still counted (a person must look).
    await set_account(
        services, shop.account_id, **sftp_settings(gmo_sftp, recurring_result_wait_days=0)
    )
    await run_calendar(services, at(2027, 1, 27, 6, 30))
    check = (await jobs_of(services, "recurring_check"))[-1]
    assert check.status == JobStatus.FAILED.value
    assert f"待機超過: 有効性チェック結果ファイル「{CHECK_FILE}」" in await said(services, check)
    assert len(await overdue_mails(services)) == 2
    await run_calendar(services, at(2027, 2, 1, 6, 30))
    assert await overdue_on_dashboard(services, client) == 1


async def test_a_card_updater_result_not_there_after_the_27th_and_a_day_is_overdue_once(
    services: Services, gmo_sftp: SftpServer, client: httpx.AsyncClient
) -> None:
    shop, ids = await sent(services, gmo_sftp)
    await add_user(services, "viewer@example.jp", role=Role.VIEWER)

    # The 27th: not there, failed as before (tried again every hour), not yet 待機超過.
    await run_calendar(services, RESULT_MOMENT)
    first = (await jobs_of(services, "card_updater_result"))[-1]
    assert first.status == JobStatus.FAILED.value
    assert "まだSFTPサーバにありません" in (first.error or "")
    assert await overdue_on_dashboard(services, client) == 0

    # The 28th 0時 (the default 1 day): 待機超過, mailed once however many hours follow.
    for hour in (0, 1, 2):
        await run_calendar(services, datetime(2026, 12, 28, hour, 5, tzinfo=TOKYO))
        job = (await jobs_of(services, "card_updater_result"))[-1]
        assert job.status == JobStatus.FAILED.value
        assert (
            "待機超過: 洗替結果ファイル「download/tsite00012345_202612_cardupdate_result.csv」"
            in (job.error or "")
        )
    [mail] = await overdue_mails(services)
    assert "GMO 洗替結果取得" in mail
    assert await overdue_on_dashboard(services, client) == 1

    # It comes in after all: applied, no longer counted.
    m = [(await card(services, c)).member_id for c in ids.values()]
    write_result(shop, [f"{x},0,0,," for x in m])
    await run_calendar(services, datetime(2026, 12, 28, 3, 5, tzinfo=TOKYO))
    assert (await jobs_of(services, "card_updater_result"))[-1].status == "succeeded"
    assert (await run_row(services, shop.account_id)).status == RunStatus.APPLIED.value
    assert await overdue_on_dashboard(services, client) == 0
