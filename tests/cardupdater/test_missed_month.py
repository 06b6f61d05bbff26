"""A month whose result file never came does not stay 結果待ち: on the next month's first tick
it becomes 未実施, 「GMO 洗替結果取得」 fails with the reason, the shop is mailed and the
dashboard counts it; no card changed, and the next month selects by seed 000's rule (the
request reached GMO, so January is no longer the 初回洗替: only cards expiring 当月/次月)."""

from datetime import datetime

import httpx

from kessai.cardupdater.status import RunStatus
from kessai.core.clock import TOKYO
from kessai.jobs.schedules import tick
from kessai.jobs.service import submit
from kessai.jobs.status import JobStatus
from kessai.services import Services
from kessai.users.service import Role
from tests.admin.conftest import add_user, client, login
from tests.cardupdater.conftest import (
    REQUEST_MOMENT,
    RESULT_MOMENT,
    SHOP_EMAIL,
    add_card,
    card,
    job_csv,
    job_logs,
    jobs_of,
    make_shop,
    request_lines,
    run_calendar,
    run_row,
)
from tests.cardupdater.test_failures import mails
from tests.sftp_server import SftpServer

__all__ = ["client"]  # the admin client fixture

JANUARY_REQUEST = datetime(2027, 1, 1, 1, 5, tzinfo=TOKYO)
JANUARY_FILE = "upload/tsite00012345_202701_cardupdate.csv"


async def test_a_month_never_fetched_becomes_not_done_loudly(
    services: Services, gmo_sftp: SftpServer, client: httpx.AsyncClient
) -> None:
    shop = await make_shop(services, gmo_sftp)
    soon = await add_card(services, shop, name="山田 花子", expire="2701")
    later = await add_card(services, shop, name="佐藤 健", expire="2905")
    await run_calendar(services, REQUEST_MOMENT)
    assert len(request_lines(shop)) == 2  # 初回洗替: every card
    assert (await run_row(services, shop.account_id)).status == RunStatus.UPLOADED.value

    # The 27th and every hour after it: no result file on the server (each try fails).
    await run_calendar(services, RESULT_MOMENT)
    await run_calendar(services, datetime(2026, 12, 31, 23, 5, tzinfo=TOKYO))
    fetches = await jobs_of(services, "card_updater_result")
    assert [j.status for j in fetches] == [JobStatus.FAILED.value] * 2
    assert (await run_row(services, shop.account_id)).status == RunStatus.UPLOADED.value

    # The month is over: 未実施, the job says so, the shop is told.
    await run_calendar(services, datetime(2027, 1, 1, 0, 5, tzinfo=TOKYO))
    run = await run_row(services, shop.account_id)
    assert run.status == RunStatus.MISSED.value
    assert RunStatus(run.status).label == "未実施(洗替結果を取得できませんでした)"
    closing = (await jobs_of(services, "card_updater_result"))[-1]
    assert closing.status == JobStatus.FAILED.value
    logs = " ".join(await job_logs(services, closing))
    assert "2026年12月: 洗替結果ファイルを取得できないまま月が替わりました" in logs
    assert "この月の自動洗替は行われていません" in logs
    closing_mails = [
        m for m in await mails(services, "card_updater_failed") if "月が替わりました" in m.body
    ]
    assert [m.to_address for m in closing_mails] == [SHOP_EMAIL]
    assert (await card(services, soon)).updater_result is None  # nothing applied
    # Closed once: the next hour has nothing more to close or fetch.
    await run_calendar(services, datetime(2027, 1, 1, 0, 40, tzinfo=TOKYO))
    await run_calendar(services, datetime(2027, 1, 1, 0, 55, tzinfo=TOKYO))
    assert (await jobs_of(services, "card_updater_result"))[-1].id == closing.id

    # The dashboard counts the month.
    await add_user(services, "viewer@example.jp", role=Role.VIEWER)
    await login(client, "viewer@example.jp")
    page = await client.get("/admin/dashboard")
    assert page.status_code == 200
    assert 'aria-label="洗替結果 自動洗替が未実施の月(直近3か月) 1件"' in page.text

    # January: seed 000's rule as every month (有効期限が「当月/次月」): 2701 goes, 2905 not.
    await run_calendar(services, JANUARY_REQUEST)
    january = shop.file(JANUARY_FILE).read_bytes().decode("cp932").splitlines()
    assert [line.split(",")[0] for line in january] == [(await card(services, soon)).member_id]
    assert (await run_row(services, shop.account_id, "2027-01")).first is False
    assert (await card(services, later)).updater_result is None


JANUARY_RESULT = "download/tsite00012345_202701_cardupdate_result.csv"
JANUARY_27 = datetime(2027, 1, 27, 0, 5, tzinfo=TOKYO)


async def test_the_first_closing_earlier_months_leaves_the_27th_its_fetch(
    services: Services, gmo_sftp: SftpServer
) -> None:
    """The 1st's 「GMO 洗替結果取得」 is due only to close December; January's answer is
    already on the server (as the simulator writes it at once), yet it is the 27th's job that
    fetches it, even when the 1st's job runs late, after the clock has jumped to the 27th."""
    shop = await make_shop(services, gmo_sftp)
    soon = await add_card(services, shop, name="山田 花子", expire="2701")
    await run_calendar(services, REQUEST_MOMENT)  # December goes up and never comes back
    member = (await card(services, soon)).member_id
    shop.file(JANUARY_RESULT).write_bytes(f"{member},0,0,411111******2222,3201\r\n".encode())

    # January 1st: the request goes up first (a worker may well finish it before the other
    # job plans), then the tick's job closing December runs only after the clock has moved
    # on to the 27th.
    services.clock.set_now(JANUARY_REQUEST)
    await submit(services, "card_updater_request", created_by="test", params={"month": "2027-01"})
    await services.dispatcher.drain()
    await tick(services)
    services.clock.set_now(JANUARY_27)
    await services.dispatcher.drain()
    assert (await run_row(services, shop.account_id, "2027-01")).status == (
        RunStatus.UPLOADED.value
    )
    [closing] = await jobs_of(services, "card_updater_result")
    assert closing.status == JobStatus.FAILED.value
    assert (await card(services, soon)).expire == "2701"  # nothing fetched on the 1st

    # The 27th's own job fetches January's answer and lists the card.
    await run_calendar(services, JANUARY_27)
    fetch = (await jobs_of(services, "card_updater_result"))[-1]
    assert fetch.id != closing.id
    assert fetch.status == JobStatus.SUCCEEDED.value
    assert fetch.dedupe_key == "card_updater_result:2027-01:2700"
    assert (await run_row(services, shop.account_id, "2027-01")).status == (RunStatus.APPLIED.value)
    assert (await card(services, soon)).expire == "3201"
    assert [row[8] for row in (await job_csv(services, fetch))[1:]] == ["0:有効性OK"]
