"""The connector's HTTP layer against a loopback idPass endpoint, and that endpoint itself
(FakeGmo), which the other connector tests import.

FakeGmo answers each API from a script of recorded-style bodies and records every request
as GMO would read it (CP932 form). It is not the simulator: it knows no rules, so each test
says exactly what GMO answers.
"""

import asyncio
import shutil
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from kessai.accounts.models import ProviderAccount
from kessai.core.clock import TOKYO, Clock
from kessai.core.db import create_engine, session_factory, transaction
from kessai.providers.contract import AuthorizeRequest, DeclineStage, OutcomeKind
from kessai.providers.gmo_pg import codec
from kessai.providers.gmo_pg.config import GmoPgConfig
from kessai.providers.gmo_pg.connector import GmoPgConnector
from kessai.providers.gmo_pg.http import IdPassClient
from kessai.providers.store import ReferenceStore

SHOP_ID, SHOP_PASS = "tshop00012345", "Sh0pPassXy"
SITE_ID, SITE_PASS = "tsite00012345", "S1tePassQz"
# A Monday in the middle of March, 10:00 in Tokyo: far from any day or month boundary.
NOW = datetime(2026, 3, 16, 10, 0, tzinfo=TOKYO).astimezone(UTC)
ACCESS = "AccessID=a41d83f1f4c908baeda04e6dc03e300c&AccessPass=d72eca02e28c88f98b9341a33ba46d5d"
EXEC_OK = (
    "ACS=0&OrderID={ref}&Forward=2a99662&Method=1&PayTimes=&Approve=6416276"
    "&TranID=1303011202111111111111198895&TranDate=20260316100000"
    "&CheckString=2d8fa5d3a220a34161d18a87e9cbfd75&ClientField1=&ClientField2=&ClientField3="
)
DROP = "drop"  # close the connection after reading the request: the answer is lost


@dataclass
class Hang:
    seconds: float


@dataclass
class Status:
    code: int


@dataclass(frozen=True)
class Seen:
    api: str
    params: dict[str, str]
    content_type: str
    body: bytes


Answer = str | bytes | Hang | Status | Callable[[Seen], Awaitable[str | bytes]]


class FakeGmo:
    """A loopback `/payment/<API>.idPass` endpoint answering scripted bodies in CP932."""

    def __init__(self) -> None:
        self.script: dict[str, list[Answer]] = defaultdict(list)
        self.always: dict[str, Answer] = {}
        self.seen: list[Seen] = []
        self.url = ""

    def answer(self, api: str, *answers: Answer) -> None:
        self.script[api].extend(answers)

    def calls(self, api: str | None = None) -> list[Seen]:
        return [s for s in self.seen if api is None or s.api == api]

    def apis(self) -> list[str]:
        return [s.api for s in self.seen]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        api = request.match_info["api"]
        body = await request.read()
        seen = Seen(api, codec.decode_request(body), request.headers.get("Content-Type", ""), body)
        self.seen.append(seen)
        queue = self.script.get(api)
        answer = queue.pop(0) if queue else self.always.get(api)
        if answer is None:
            return web.Response(status=404, text="no such API in this test")
        if answer == DROP:
            assert request.transport is not None
            request.transport.close()
            return web.Response(body=b"")
        if isinstance(answer, Hang):
            await asyncio.sleep(answer.seconds)
            return web.Response(body=b"")
        if isinstance(answer, Status):
            return web.Response(status=answer.code, text="error page")
        if callable(answer):
            answer = await answer(seen)
        raw = answer if isinstance(answer, bytes) else answer.encode(codec.ENCODING)
        return web.Response(body=raw, headers={"Content-Type": codec.RESPONSE_CONTENT_TYPE})

    @asynccontextmanager
    async def running(self) -> AsyncIterator["FakeGmo"]:
        app = web.Application()
        app.router.add_post("/payment/{api:[A-Za-z0-9]+}.idPass", self._handle)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        self.url = str(server.make_url("")).rstrip("/")
        try:
            yield self
        finally:
            await server.close()


@asynccontextmanager
async def reference_store(template: Path, tmp_path: Path) -> AsyncIterator[ReferenceStore]:
    """A migrated SQLite database with one GMO PG account, and its ReferenceStore."""
    path = tmp_path / "kessai.db"
    shutil.copy(template, path)
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    sessions = session_factory(engine)
    clock = Clock(movable=True)
    clock.set_now(NOW)
    async with transaction(sessions) as s:
        account = ProviderAccount(
            provider="gmo_pg",
            name="GMO PG",
            connector="gmo_pg",
            settings={},
            created_at=NOW,
            updated_at=NOW,
        )
        s.add(account)
        await s.flush()
        account_id = account.id
    try:
        yield ReferenceStore(sessions, clock, account_id)
    finally:
        await engine.dispose()


class MemoryStore(ReferenceStore):
    """The ReferenceStore's get/put without a database, for tests about the wire (the
    tests that are about what is stored use the real one)."""

    def __init__(self) -> None:
        clock = Clock(movable=True)
        clock.set_now(NOW)
        super().__init__(None, clock, 1)  # type: ignore[arg-type]
        self.data: dict[str, dict[str, Any]] = {}

    async def get(self, reference: str) -> dict[str, Any] | None:
        found = self.data.get(reference)
        return None if found is None else dict(found)

    async def put(self, reference: str, **fields: Any) -> None:
        self.data[reference] = {**self.data.get(reference, {}), **fields}


def settings_for(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "shop_id": SHOP_ID,
        "shop_pass": SHOP_PASS,
        "site_id": SITE_ID,
        "site_pass": SITE_PASS,
        "endpoint": url,
        "e92_backoff_seconds": 0,
        **extra,
    }


@asynccontextmanager
async def connector_for(
    gmo: FakeGmo, store: ReferenceStore, **extra: Any
) -> AsyncIterator[GmoPgConnector]:
    conn = GmoPgConnector(store.account_id, settings_for(gmo.url, **extra), store)
    try:
        yield conn
    finally:
        await conn.aclose()


def authorize_request(ref: str = "20260316000001", **kw: Any) -> AuthorizeRequest:
    values: dict[str, Any] = {
        "reference": ref,
        "amount": 5000,
        "tax": 454,
        "capture": False,
        "source": {"token": "tok-0123456789abcdef"},
    }
    values.update(kw)
    return AuthorizeRequest(**values)


def ok_exec(seen: Seen) -> Awaitable[str]:
    async def body() -> str:
        return EXEC_OK.format(ref=seen.params["OrderID"])

    return body()


# ------------------------------------------------------------------ the wire
async def test_requests_are_cp932_forms_with_explicit_content_type(
    gmo: FakeGmo, conn: GmoPgConnector
) -> None:
    gmo.answer("SaveMember", "MemberID=m-1")
    await conn.save_member("m-1", "山田 太郎～①")
    seen = gmo.calls("SaveMember")[0]
    assert seen.content_type == "application/x-www-form-urlencoded; charset=Windows-31J"
    assert b"MemberName=%8ER%93c+" in seen.body  # 山田 in CP932 (UTF-8 would be %E5%B1%B1)
    assert seen.params["MemberName"] == "山田 太郎～①"


async def test_a_redirect_url_with_ampersands_is_kept_whole(
    gmo: FakeGmo, conn: GmoPgConnector
) -> None:
    url = "https://acs.example.jp/challenge?tds2TransID=abc&lang=ja&t=1"
    gmo.answer("EntryTran", ACCESS)
    gmo.answer("ExecTran", f"ACS=2&RedirectUrl={url}")
    outcome = await conn.authorize(
        authorize_request(
            source={"token": "tok-1", "tds2": "1", "tds2_return_url": "https://shop.example.jp/3ds"}
        )
    )
    assert outcome.kind is OutcomeKind.PENDING
    assert outcome.redirect_url == url


async def test_the_session_is_created_on_first_use_and_closed_by_aclose(
    gmo: FakeGmo, store: ReferenceStore
) -> None:
    gmo.always["SearchMember"] = "MemberID=m-1&MemberName=&DeleteFlag=0"
    async with connector_for(gmo, store) as conn:
        assert conn._client._session is None
        assert await conn.find_member("m-1") is True
        session = conn._client._session
        assert session is not None
        assert not session.closed
        await conn.aclose()
        assert session.closed
        assert await conn.find_member("m-1") is True  # a closed connector opens a new one


# ------------------------------------------------------------------ E92: rate limit
async def test_e92_is_retried_with_exponential_backoff_and_then_succeeds(
    gmo: FakeGmo, store: ReferenceStore
) -> None:
    gmo.answer(
        "EntryTran", "ErrCode=E92&ErrInfo=E92000001", "ErrCode=E92&ErrInfo=E92000002", ACCESS
    )
    gmo.answer("ExecTran", ok_exec)
    waits: list[float] = []

    async def record(delay: float) -> None:
        waits.append(delay)

    async with connector_for(gmo, store, e92_backoff_seconds=0.5, e92_retries=3) as conn:
        conn._client.sleep = record
        outcome = await conn.authorize(authorize_request())
    assert outcome.kind is OutcomeKind.SUCCEEDED
    assert gmo.apis() == ["EntryTran", "EntryTran", "EntryTran", "ExecTran"]
    assert waits == [0.5, 1.0]


async def test_e92_after_the_last_retry_is_not_sent_with_gmos_words(
    gmo: FakeGmo, store: ReferenceStore
) -> None:
    gmo.always["EntryTran"] = "ErrCode=E92&ErrInfo=E92000001"
    async with connector_for(gmo, store, e92_retries=2) as conn:
        outcome = await conn.authorize(authorize_request())
    assert outcome.kind is OutcomeKind.NOT_SENT
    assert outcome.code == "E92000001"
    assert outcome.message is not None
    assert outcome.message.startswith("只今、大変込み")
    assert len(gmo.calls("EntryTran")) == 3
    assert await store.get("20260316000001") is None


def test_backoff_doubles_and_is_bounded() -> None:
    config = GmoPgConfig(
        shop_id=SHOP_ID, shop_pass=SHOP_PASS, e92_backoff_seconds=1, e92_backoff_max_seconds=5
    )
    assert [config.e92_delay(i) for i in range(5)] == [1, 2, 4, 5, 5]


# ------------------------------------------------------------------ transport failures
async def test_connection_refused_is_not_sent_and_nothing_is_stored(
    store: ReferenceStore, unused_tcp_port: int
) -> None:
    conn = GmoPgConnector(
        store.account_id, settings_for(f"http://127.0.0.1:{unused_tcp_port}"), store
    )
    outcome = await conn.authorize(authorize_request())
    await conn.aclose()
    assert outcome.kind is OutcomeKind.NOT_SENT
    assert outcome.message is not None
    assert "接続できませんでした" in outcome.message
    assert await store.get("20260316000001") is None


async def test_a_lost_exec_answer_is_unknown_and_the_retry_reuses_the_transaction(
    gmo: FakeGmo, db_store: ReferenceStore
) -> None:
    gmo.answer("EntryTran", ACCESS)
    gmo.answer("ExecTran", DROP, "ErrCode=E11&ErrInfo=E11010001")
    async with connector_for(gmo, db_store) as conn:
        first = await conn.authorize(authorize_request())
        assert first.kind is OutcomeKind.UNKNOWN
        again = await conn.authorize(authorize_request())
    stored = await db_store.get("20260316000001")
    assert stored is not None
    assert stored["access_id"] == "a41d83f1f4c908baeda04e6dc03e300c"

    # No second EntryTran: the same AccessID/AccessPass, and "already paid" means unknown.
    assert gmo.apis() == ["EntryTran", "ExecTran", "ExecTran"]
    assert gmo.calls("ExecTran")[1].params["AccessID"] == "a41d83f1f4c908baeda04e6dc03e300c"
    assert again.kind is OutcomeKind.UNKNOWN
    assert again.code == "E11010001"


async def test_a_timeout_after_sending_is_unknown(gmo: FakeGmo, conn: GmoPgConnector) -> None:
    conn._client = IdPassClient(replace(conn.config, timeout_seconds=0.2))
    gmo.answer("EntryTran", ACCESS)
    gmo.answer("ExecTran", Hang(1.0))
    outcome = await conn.authorize(authorize_request())
    await conn.aclose()
    assert outcome.kind is OutcomeKind.UNKNOWN
    assert outcome.message is not None
    assert "応答がありませんでした" in outcome.message


async def test_a_server_error_page_is_unknown(gmo: FakeGmo, conn: GmoPgConnector) -> None:
    gmo.answer("EntryTran", ACCESS)
    gmo.answer("ExecTran", Status(502))
    outcome = await conn.authorize(authorize_request())
    assert outcome.kind is OutcomeKind.UNKNOWN


async def test_a_wrong_endpoint_is_a_system_refusal_naming_the_url(
    gmo: FakeGmo, conn: GmoPgConnector
) -> None:
    outcome = await conn.authorize(authorize_request())  # nothing scripted: HTTP 404
    assert outcome.kind is OutcomeKind.DECLINED
    assert outcome.stage is DeclineStage.SYSTEM
    assert outcome.code == "HTTP404"
    assert outcome.message is not None
    assert "接続先URL" in outcome.message
