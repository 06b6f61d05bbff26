"""The 自動洗替 files as declared in providers/gmo_files.py: kessai's default layout, and a
shop's spec sheet matched by the account's settings."""

from datetime import date

from kessai.providers.gmo_files import FileFormatError, updater_layout

IDS = {"site_id": "tsite00012345", "shop_id": "tshop00012345"}
ROWS = [
    {"member_id": "kessai-0000000001", "card_seq": "0", "expire": "2612"},
    {"member_id": "kessai-0000000002", "card_seq": "3", "expire": "2701"},
]


def test_the_default_layout_is_cp932_crlf_without_header_in_upload_and_download() -> None:
    files = updater_layout({})
    assert (
        files.request_path(IDS, date(2026, 12, 1)) == "upload/tsite00012345_202612_cardupdate.csv"
    )
    assert (
        files.result_path(IDS, date(2026, 12, 1))
        == "download/tsite00012345_202612_cardupdate_result.csv"
    )
    assert files.request.header_line() == b""
    assert files.request.encode_rows(ROWS) == (
        b"kessai-0000000001,0,2612\r\nkessai-0000000002,3,2701\r\n"
    )
    lines = [b"kessai-0000000001,0,0,411111******2222,3112\r\n", b"\r\n"]
    assert list(files.result.decode_lines(lines)) == [
        (
            1,
            {
                "member_id": "kessai-0000000001",
                "card_seq": "0",
                "result": "0",
                "masked_number": "411111******2222",
                "expire": "3112",
            },
        )
    ]


def test_a_shops_spec_sheet_is_matched_by_settings() -> None:
    files = updater_layout(
        {
            "updater_request_dir": "/in/",
            "updater_result_dir": "out",
            "updater_request_name": "{shop_id}-{yyyymm}.txt",
            "updater_result_name": "{shop_id}-{yyyymm}-r.txt",
            "updater_request_columns": "site_id,member_id,card_seq,blank",
            "updater_result_columns": "member_id,card_seq,skip,result",
            "updater_encoding": "utf-8",
            "updater_quoting": "all",
            "updater_header": True,
        }
    )
    assert files.request_path(IDS, date(2027, 1, 1)) == "/in/tshop00012345-202701.txt"
    assert files.result_path(IDS, date(2027, 1, 1)) == "out/tshop00012345-202701-r.txt"
    assert (
        files.request.header_line() == '"サイトID","会員ID","カード登録連番","(空欄)"\r\n'.encode()
    )
    row = {**ROWS[0], "site_id": "tsite00012345"}
    assert files.request.encode_rows([row]) == b'"tsite00012345","kessai-0000000001","0",""\r\n'
    decoded = list(
        files.result.decode_lines(
            [
                '"会員ID","カード登録連番","x","洗替判定結果"\r\n'.encode(),
                b'"m1","2","whatever","3"\r\n',
            ]
        )
    )
    assert decoded == [(2, {"member_id": "m1", "card_seq": "2", "skip": "whatever", "result": "3"})]


def test_lines_that_do_not_fit_are_named_by_number() -> None:
    files = updater_layout({})
    decoded = list(files.result.decode_lines([b"a,0,0,,\r\n", b"\x81\x20,0\r\n", b"b,0\r\n"]))
    assert decoded[0][1] == {
        "member_id": "a",
        "card_seq": "0",
        "result": "0",
        "masked_number": "",
        "expire": "",
    }
    errors = [(n, str(e)) for n, e in decoded[1:] if isinstance(e, FileFormatError)]
    assert errors == [
        (2, "2行目: 文字コード(Shift_JIS (CP932))として読めません"),
        (3, "3行目: 項目数が2です(5項目のはずです)"),
    ]
