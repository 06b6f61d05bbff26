"""自動洗替 fails loudly and safely: a refused login or a wrong host key fails the month's job
with the reason, mails the shop and marks nothing; it is tried again hourly until the
deadline. A malformed result file is rejected with its line numbers and nothing is applied;
a result is applied once however often it is fetched; a dropped connection is retried."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime

from sqlalchemy import select

from kessai.accounts.models import ProviderAccount
from kessai.cardupdater.result import fetch_and_apply
from kessai.cardupdater.status import RunStatus
from kessai.core.clock import TOKYO
from kessai.core.db import transaction
from kessai.jobs.status import JobStatus
from kessai.notifications.models import OutboxMail
from kessai.services import Services
from tests.cardupdater.conftest import (
    REQUEST_FILE,
    REQUEST_MOMENT,
    RESULT_MOMENT,
    SHOP_EMAIL,
    Shop,
    add_card,
    card,
    jobs_of,
    make_shop,
    request_lines,
    run_calendar,
    run_row,
    set_account,
    sftp_settings,
    write_result,
)
from tests.sftp_server import SftpServer


async def mails(services: Services, kind: str) -> list[OutboxMail]:
    async with transaction(services.sessions) as s:
        return list((await s.scalars(select(OutboxMail).where(OutboxMail.kind == kind))).all())


async def test_a_refused_login_fails_the_job_mails_the_shop_and_is_retried_until_it_works(
    services: Services, gmo_sftp: SftpServer
) -> None:
    shop = await make_shop(services, gmo_sftp)
    card_id = await add_card(services, shop, name="山田 花子", expire="2612")
    await set_account(services, shop.account_id, password="typo", **sftp_settings(gmo_sftp))

    await run_calendar(services, REQUEST_MOMENT)
    [failed] = await jobs_of(services, "card_updater_request")
    assert failed.status == JobStatus.FAILED.value
    run = await run_row(services, shop.account_id)
    assert run.status == RunStatus.SELECTED.value
    assert "SFTPにログインできませんでした" in (run.last_error or "")
    assert not shop.file(REQUEST_FILE).exists()
    assert (await card(services, card_id)).updater_result is None  # nothing marked
    [mail] = await mails(services, "card_updater_failed")
    assert mail.to_address == SHOP_EMAIL
    assert "SFTPにログインできませんでした" in mail.body
    assert "12月10日まで" in mail.body
    assert "typo" not in mail.body

    # The same hour: no second try. The next hour: again, and again refused (one mail a day).
    await run_calendar(services, REQUEST_MOMENT.replace(minute=40))
    assert len(await jobs_of(services, "card_updater_request")) == 1
    await run_calendar(services, REQUEST_MOMENT.replace(hour=2))
    assert [j.status for j in await jobs_of(services, "card_updater_request")] == ["failed"] * 2
    assert len(await mails(services, "card_updater_failed")) == 1

    # Corrected: the next hour's try sends the file.
    await set_account(services, shop.account_id, **sftp_settings(gmo_sftp))
    await run_calendar(services, REQUEST_MOMENT.replace(hour=3))
    assert (await jobs_of(services, "card_updater_request"))[-1].status == "succeeded"
    assert len(request_lines(shop)) == 1
    # After the deadline day nothing is tried any more for a month never sent.


async def test_nothing_is_tried_after_the_deadline_day(
    services: Services, gmo_sftp: SftpServer
) -> None:
    shop = await make_shop(services, gmo_sftp, updater_request_deadline_day=5)
    await add_card(services, shop, name="山田 花子", expire="2612")
    await run_calendar(services, datetime(2026, 12, 6, 9, 0, tzinfo=TOKYO))
    assert await jobs_of(services, "card_updater_request") == []


async def test_a_server_with_another_host_key_is_refused(
    services: Services, gmo_sftp: SftpServer
) -> None:
    other = "SHA256:" + "A" * 43
    shop = await make_shop(services, gmo_sftp, sftp_host_key_fingerprint=other)
    await add_card(services, shop, name="山田 花子", expire="2612")
    await run_calendar(services, REQUEST_MOMENT)
    [job] = await jobs_of(services, "card_updater_request")
    assert job.status == JobStatus.FAILED.value
    assert "ホスト鍵" in ((await run_row(services, shop.account_id)).last_error or "")
    assert not shop.file(REQUEST_FILE).exists()


async def sent(services: Services, gmo_sftp: SftpServer) -> tuple[Shop, dict[str, int]]:
    shop = await make_shop(services, gmo_sftp)
    ids = {}
    for name, expire in (("山田 花子", "2612"), ("佐藤 健", "2701"), ("鈴木 一郎", "2612")):
        ids[name] = await add_card(services, shop, name=name, expire=expire)
    await run_calendar(services, REQUEST_MOMENT)
    return shop, ids


async def test_a_malformed_result_file_is_rejected_with_line_numbers_and_nothing_applied(
    services: Services, gmo_sftp: SftpServer
) -> None:
    shop, ids = await sent(services, gmo_sftp)
    m = {n: (await card(services, c)).member_id for n, c in ids.items()}
    write_result(
        shop,
        [
            f"{m['山田 花子']},0,0,411111******2222,3112",
            f"{m['佐藤 健']},0,7,,",  # no such 洗替判定結果
            f"{m['鈴木 一郎']},0,1",  # a column short
            f"{m['山田 花子']},0,0,4111111111112222,3112",  # an unmasked number
        ],
    )
    await run_calendar(services, RESULT_MOMENT)
    [job] = await jobs_of(services, "card_updater_result")
    assert job.status == JobStatus.FAILED.value
    assert job.error is not None
    assert "2行目: 洗替判定結果「7」は0〜3ではありません" in job.error
    assert "3行目: 項目数が3です(5項目のはずです)" in job.error
    assert "4行目: カード番号がマスクされていません" in job.error
    assert "4111111111112222" not in job.error
    for card_id in ids.values():  # nothing applied, not even the good first line
        got = await card(services, card_id)
        assert (got.updater_result, got.masked_number) == (None, "411111******1111")
    assert (await run_row(services, shop.account_id)).status == RunStatus.UPLOADED.value
    [mail] = await mails(services, "card_updater_failed")
    assert "2行目" in mail.body

    # Lines for cards this run never sent, or twice the same card: rejected too.
    write_result(
        shop,
        [
            f"{m['山田 花子']},0,0,,",
            "kessai-9999999999,0,0,,",
            f"{m['山田 花子']},0,1,,",
        ],
    )
    await run_calendar(services, RESULT_MOMENT.replace(hour=1))
    second = (await jobs_of(services, "card_updater_result"))[-1]
    assert second.status == JobStatus.FAILED.value
    assert "3行目: 同じ会員ID・カード登録連番の行が前にあります" in (second.error or "")

    write_result(
        shop,
        [f"{m['山田 花子']},0,0,,", "kessai-9999999999,0,0,,"],
    )
    await run_calendar(services, RESULT_MOMENT.replace(hour=2))
    third = (await jobs_of(services, "card_updater_result"))[-1]
    assert "2行目: 今月の洗替依頼で送っていないカードです" in (third.error or "")

    # A good file the next hour is applied.
    write_result(shop, [f"{m[n]},0,0,," for n in m])
    await run_calendar(services, RESULT_MOMENT.replace(hour=3))
    assert (await jobs_of(services, "card_updater_result"))[-1].status == "succeeded"
    assert {(await card(services, c)).updater_result for c in ids.values()} == {"0"}


async def test_a_missing_result_file_fails_the_job_and_is_fetched_the_next_hour(
    services: Services, gmo_sftp: SftpServer
) -> None:
    shop, ids = await sent(services, gmo_sftp)
    await run_calendar(services, RESULT_MOMENT)
    [job] = await jobs_of(services, "card_updater_result")
    assert job.status == JobStatus.FAILED.value
    assert "まだSFTPサーバにありません" in (job.error or "")
    m = [(await card(services, c)).member_id for c in ids.values()]
    write_result(shop, [f"{x},0,1,," for x in m])
    await run_calendar(services, RESULT_MOMENT.replace(hour=1))
    assert (await jobs_of(services, "card_updater_result"))[-1].status == "succeeded"
    assert {(await card(services, c)).updater_result for c in ids.values()} == {"1"}


async def test_a_result_fetched_twice_at_once_is_applied_once(
    services: Services, gmo_sftp: SftpServer
) -> None:
    shop, ids = await sent(services, gmo_sftp)
    m = [(await card(services, c)).member_id for c in ids.values()]
    write_result(shop, [f"{x},0,0,411111******3333,3212" for x in m])
    services.clock.set_now(RESULT_MOMENT)
    run = await run_row(services, shop.account_id)
    async with transaction(services.sessions) as s:
        account = await s.get(ProviderAccount, shop.account_id)
    assert account is not None
    both = await asyncio.gather(
        fetch_and_apply(services, account, run, 1001),
        fetch_and_apply(services, account, run, 1002),
    )
    assert sorted(a.already for a in both) == [False, True]
    assert [a.cards for a in both if not a.already] == [3]
    assert (await run_row(services, shop.account_id)).status == "applied"


@contextlib.asynccontextmanager
async def dropping_proxy(server: SftpServer, drop_after: int) -> AsyncIterator[list[int]]:
    """A loopback TCP proxy to the sshd that cuts its first connection once `drop_after`
    bytes went from the client to the server (in the middle of an upload). Yields
    [port, connections so far, bytes cut at]."""
    connections = 0
    state = [0, 0, 0]

    async def pipe(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, limit: int | None
    ) -> None:
        seen = 0
        try:
            while data := await reader.read(4096):
                seen += len(data)
                if limit is not None and seen > limit:
                    state[2] = seen
                    break
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        state[1] = connections
        limit = drop_after if connections == 1 else None
        server_r, server_w = await asyncio.open_connection(server.host, server.port)
        up = asyncio.create_task(pipe(client_r, server_w, limit))
        down = asyncio.create_task(pipe(server_r, client_w, None))
        await asyncio.wait([up, down], return_when=asyncio.FIRST_COMPLETED)
        for w in (client_w, server_w):
            w.close()
        for task in (up, down):
            task.cancel()

    proxy = await asyncio.start_server(handle, "127.0.0.1", 0)
    state[0] = proxy.sockets[0].getsockname()[1]
    try:
        yield state
    finally:
        proxy.close()


async def test_a_connection_dropped_mid_upload_is_retried_and_the_file_arrives_once_whole(
    services: Services, gmo_sftp: SftpServer
) -> None:
    from kessai.cardupdater import transfer

    transfer_pause = transfer.PAUSE_SECONDS
    transfer.PAUSE_SECONDS = 0.05
    try:
        async with dropping_proxy(gmo_sftp, drop_after=40_000) as proxy:
            shop = await make_shop(services, gmo_sftp, sftp_port=proxy[0])
            from tests.cardupdater.bulk import add_cards

            await add_cards(services, shop, 3000, expire="2612")
            await run_calendar(services, REQUEST_MOMENT)
    finally:
        transfer.PAUSE_SECONDS = transfer_pause
    [job] = await jobs_of(services, "card_updater_request")
    assert job.status == JobStatus.SUCCEEDED.value
    lines = request_lines(shop)
    assert len(lines) == 3000
    assert len(set(lines)) == 3000
    assert not shop.file(REQUEST_FILE + ".part").exists()
    assert proxy[1] == 2
    assert proxy[2] > 40_000
    assert (await run_row(services, shop.account_id)).status == RunStatus.UPLOADED.value
