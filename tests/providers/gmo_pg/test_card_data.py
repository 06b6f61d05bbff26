"""Card numbers and security codes never reach kessai's database or logs, and the shop's
passwords never reach logs or reprs.

A whole connector flow runs with every log captured at DEBUG (stdlib, and structlog routed
through it as kessai configures it) on a real database (SQLite and PostgreSQL). The storefront
is careless: next to the token it also passes the card number and security code. Then the
transcript is scanned: logs, every database row, every outcome, the reprs, and what was
sent to GMO (which must carry only the Token or MemberID/CardSeq).
"""

import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from sqlalchemy import select

from kessai.all_models import Base
from kessai.core import logging as kessai_logging
from kessai.core.db import transaction
from kessai.core.errors import ConfigurationError
from kessai.providers.contract import OutcomeKind, Transaction
from kessai.providers.gmo_pg.config import GmoPgConfig
from kessai.providers.gmo_pg.connector import GmoPgConnector
from kessai.providers.store import ReferenceStore
from kessai.providers.vault import ProviderError
from kessai.services import Services
from tests.factories import make_method
from tests.providers.gmo_pg.test_connector_http import (
    ACCESS,
    DROP,
    SHOP_PASS,
    SITE_PASS,
    FakeGmo,
    authorize_request,
    ok_exec,
    settings_for,
)

PAN = "4242424242424242"
CVV = "739"
CARD_INPUT = {"card_no": PAN, "security_code": CVV, "expire": "2812", "holder_name": "TARO"}


def leaks(text: str, secret: str) -> bool:
    """The secret as a token of its own, also when written with spaces or hyphens."""
    standalone = re.compile(rf"(?<![0-9A-Za-z]){re.escape(secret)}(?![0-9A-Za-z])")
    return bool(standalone.search(text) or standalone.search(re.sub(r"[\s-]", "", text)))


def test_the_scanner_finds_what_it_looks_for() -> None:
    assert leaks(f"card={PAN}&x", PAN)
    assert leaks("4242 4242 4242 4242", PAN)
    assert leaks("cvv: 739,", CVV)
    assert not leaks("TranID=20260316100739&AccessID=a739f", CVV)


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    level = logging.getLogger().level
    kessai_logging.configure("DEBUG")
    caplog.set_level(logging.DEBUG)
    yield caplog
    kessai_logging.reset()
    logging.getLogger().setLevel(level)


async def database_text(services: Services) -> str:
    rows: list[str] = []
    async with transaction(services.sessions) as s:
        for table in Base.metadata.sorted_tables:
            for row in (await s.execute(select(table))).all():
                rows.append(f"{table.name}: " + " | ".join(str(v) for v in row))
    return "\n".join(rows)


async def run_flow(conn: GmoPgConnector, gmo: FakeGmo) -> list[Any]:
    """Every operation once, the successful and the troubled ways."""
    token = "tok-7f3a9c2e41b8d605"
    results: list[Any] = []
    gmo.answer("SaveMember", "MemberID=cust-42")
    gmo.answer("SaveCard", "CardSeq=0&CardNo=************4242&Forward=2a99662")
    gmo.answer(
        "SearchCard",
        "CardSeq=0&DefaultFlag=0&CardName=&CardNo=************4242&Expire=2812&HolderName=TARO&DeleteFlag=0",
    )
    results.append(await conn.save_member("cust-42", "山田 太郎"))
    results.append(await conn.save_card("cust-42", token))

    gmo.answer("EntryTran", ACCESS, ACCESS, ACCESS, ACCESS)
    gmo.answer("ExecTran", ok_exec, ok_exec, "ErrCode=G44&ErrInfo=42G440000", DROP)
    source = {"token": token, **CARD_INPUT}
    results.append(await conn.authorize(authorize_request("ORDER-1", source=source)))
    member = {"member_id": "cust-42", "card_seq": "0", **CARD_INPUT}
    results.append(await conn.authorize(authorize_request("ORDER-2", source=member)))
    results.append(await conn.authorize(authorize_request("ORDER-3", source=source)))
    results.append(await conn.authorize(authorize_request("ORDER-4", source=source)))

    gmo.answer("AlterTran", f"{ACCESS}&TranID=1&TranDate=20260316", f"{ACCESS}&TranID=2")
    gmo.answer("ChangeTran", f"{ACCESS}&TranID=3&TranDate=20260316")
    search = (
        f"OrderID=ORDER-1&Status=SALES&ProcessDate=20260316093000&JobCd=SALES&{ACCESS}"
        "&Amount=4000&Tax=0&CardNo=************4242&Expire=2812&TranID=4"
    )
    gmo.answer("SearchTrade", search, search, "ErrCode=E92&ErrInfo=E92000001", search)
    txn = Transaction("ORDER-1", None, 5000)
    results.append(await conn.capture(txn, None))
    results.append(await conn.change_amount(txn, 4000, captured=True))
    results.append(await conn.cancel(txn, captured=True))
    results.append(await conn.lookup("ORDER-1"))

    gmo.answer("TradedCard", "CardSeq=1&CardNo=************4242&Forward=2a99662")
    gmo.answer("DeleteCard", "CardSeq=1")
    gmo.answer("DeleteMember", "MemberID=cust-42")
    results.append(await conn.traded_card("ORDER-1", "cust-42"))
    results.append(await conn.delete_card("cust-42", "1"))
    results.append(await conn.delete_member("cust-42"))
    with pytest.raises(ProviderError) as raised:
        await conn.save_card("cust-42", PAN)  # a card number posing as a token
    results.append(raised.value)
    return results


async def test_no_card_data_and_no_password_in_the_transcript(
    services: Services, gmo: FakeGmo, logs: pytest.LogCaptureFixture
) -> None:
    method = await make_method(services)
    assert method.account_id is not None
    store = ReferenceStore(services.sessions, services.clock, method.account_id)
    conn = GmoPgConnector(method.account_id, settings_for(gmo.url), store)
    try:
        results = await run_flow(conn, gmo)
    finally:
        await conn.aclose()
    structlog.get_logger("kessai.test").info("flow done", card_no=PAN, note=f"pan {PAN}")

    # The flow really ran: payments went through, one declined, one answer was lost.
    kinds = [r.kind for r in results if hasattr(r, "kind")]
    assert kinds.count(OutcomeKind.SUCCEEDED) >= 5
    assert OutcomeKind.DECLINED in kinds
    assert OutcomeKind.UNKNOWN in kinds
    assert len(gmo.seen) >= 20

    log_text = "\n".join(
        f"{r.name} {r.levelname} {r.getMessage()} {r.__dict__.get('msg')!r}" for r in logs.records
    )
    assert "GMO PG ExecTran ORDER-1" in log_text  # the connector's own lines are in it
    db_text = await database_text(services)
    assert "a41d83f1f4c908baeda04e6dc03e300c" in db_text  # the AccessID was stored
    transcript = {
        "logs": log_text,
        "database": db_text,
        "outcomes": "\n".join(repr(r) for r in results),
        "reprs": f"{conn!r} {conn.config!r}",
    }
    for where, text in transcript.items():
        for secret in (PAN, CVV):
            assert not leaks(text, secret), f"{secret} found in {where}"
        for password in (SHOP_PASS, SITE_PASS):
            assert password not in text, f"a password found in {where}"

    # What went to GMO: the token or the stored card, never the card itself.
    for seen in gmo.seen:
        sent = seen.body.decode("ascii")
        assert not leaks(sent, PAN), seen.api
        assert not leaks(sent, CVV), seen.api
        assert not {"CardNo", "SecurityCode", "Expire", "HolderName"} & set(seen.params)


def test_a_rejected_password_is_not_echoed_in_the_error() -> None:
    with pytest.raises(ConfigurationError) as raised:
        GmoPgConfig.from_settings({**settings_for("http://x"), "shop_pass": f"{SHOP_PASS} x"})
    assert "ショップパスワード" in raised.value.message
    assert SHOP_PASS not in f"{raised.value} {raised.value.detail}"
