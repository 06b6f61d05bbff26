"""継続課金 as a shop's spec sheet says it: the days and hours, the files' columns, names,
directories and encoding from the account's settings; GMO's file-content errors in the words
of GMO's own error table (anchors/gmo-pg/error-codes.tsv)."""

import csv
from datetime import date
from pathlib import Path

import pytest

from kessai.providers import gmo_files as files
from kessai.providers.gmo_pg.recurring_errors import RECURRING_FILE_ERRORS, recurring_error_message
from kessai.services import Services
from tests.cardupdater.conftest import jobs_of, make_shop, run_calendar
from tests.cardupdater.test_recurring import at, recurring_method, shipped_order
from tests.sftp_server import SftpServer

ANCHOR = Path(__file__).resolve().parents[3] / "shared" / "anchors" / "gmo-pg" / "error-codes.tsv"


def _anchor_rows() -> list[dict[str, str]]:
    if not ANCHOR.exists():
        pytest.skip(f"{ANCHOR} is not on this machine")
    with ANCHOR.open(encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def test_every_recurring_file_error_of_gmos_table_is_named_in_gmos_words() -> None:
    rows = [r for r in _anchor_rows() if r["ErrInfo"].startswith("E017")]
    assert rows  # E0170–E0175 are in the published table
    assert {r["ErrInfo"][:5] for r in rows} <= set(RECURRING_FILE_ERRORS)
    for row in rows:
        message = recurring_error_message(row["ErrInfo"])
        assert message == f"{row['ErrInfo']} ファイル内容エラー: {row['user_message']}"


def test_a_family_code_and_an_unknown_one_in_words() -> None:
    assert recurring_error_message("E0174") == (
        "E0174 ファイル内容エラー: 端末処理通番が指定されていないか、正しくありません"
    )
    # E0172 is not in GMO's published table: said to be a file error, not given a meaning.
    assert recurring_error_message("E0172") == (
        "E0172 ファイル内容エラー(GMO PG の仕様書でご確認ください)"
    )
    assert recurring_error_message("42G650000").startswith("42G650000 ")
    assert recurring_error_message("") == "売上にできませんでした"


def test_the_default_layout_is_the_documented_one() -> None:
    layout = files.recurring_layout({})
    ids = {"shop_id": "tshop1", "site_id": "tsite1"}
    month = date(2027, 1, 1)
    assert layout.path("send", ids, month) == "upload/tshop1_202701_recurring.csv"
    assert layout.path("result", ids, month) == "download/tshop1_202701_recurring_result.csv"
    assert layout.path("check", ids, month) == "download/tshop1_202701_recurring_check.csv"
    assert layout.send.columns[3:5] == ("item_code", "terminal_seq")
    assert (layout.send.encoding, layout.send.quoting, layout.send.header) == (
        "cp932",
        "minimal",
        False,
    )


async def test_the_send_day_hour_and_file_follow_the_accounts_settings(
    services: Services, gmo_sftp: SftpServer
) -> None:
    (gmo_sftp.home / "in").mkdir()
    shop = await make_shop(
        services,
        gmo_sftp,
        recurring_send_day=10,
        recurring_send_hour=9,
        recurring_send_dir="in",
        recurring_send_name="teiki_{yyyymm}.csv",
        recurring_send_columns="terminal_seq,member_id,card_seq,item_code,amount,use_date",
        recurring_encoding="utf-8",
        recurring_quoting="all",
        recurring_header=True,
    )
    method = await recurring_method(services, shop)
    order, _ = await shipped_order(services, shop, method, "山田 花子", date(2026, 12, 20))
    # Seed 002's 8th is kessai's default; this shop's sheet says the 10th at 9時.
    await run_calendar(services, at(2027, 1, 8, 5, 30))
    await run_calendar(services, at(2027, 1, 10, 8, 30))
    assert await jobs_of(services, "recurring_send") == []
    await run_calendar(services, at(2027, 1, 10, 9, 30))
    [job] = await jobs_of(services, "recurring_send")
    assert job.status == "succeeded"
    header, line = shop.file("in/teiki_202701.csv").read_text("utf-8").splitlines()
    assert header == '"端末処理通番","会員ID","カード登録連番","商品コード","利用金額","利用日"'
    cells = line.split(",")
    assert (cells[0], cells[3], cells[4], cells[5]) == (
        '"1"',
        '"0000990"',
        f'"{order.amount}"',
        '"20261220"',
    )
