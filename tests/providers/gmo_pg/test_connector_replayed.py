"""The connector replayed against recorded GMO PG traffic: a loopback server answers each
recorded body; what the connector sends has the recording's parameter names (values may
differ), and what it returns matches the recording. The recordings are read by
test_replay_connector.load()."""

from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from kessai.providers.contract import (
    AuthorizeRequest,
    DeclineStage,
    OutcomeKind,
    ProviderState,
    Transaction,
)
from kessai.providers.gmo_pg import codec
from kessai.providers.gmo_pg.connector import GmoPgConnector
from kessai.providers.store import ReferenceStore
from kessai.providers.vault import ProviderError, StoredCard
from tests.providers.gmo_pg.test_connector_http import FakeGmo, connector_for, reference_store
from tests.providers.gmo_pg.test_replay_connector import (
    CASSETTES,
    HAND_WRITTEN,
    KEYS,
    Interaction,
    load,
)

pytestmark = pytest.mark.skipif(not CASSETTES.is_dir(), reason=f"no recordings at {CASSETTES}")

# Recorded request names the connector leaves out on purpose.
CARD_DATA = {"CardNo", "Expire", "SecurityCode", "HttpAccept", "HttpUserAgent"}  # → Token
OPTIONAL = {  # optional parameters whose GMO default kessai wants
    "ClientField1",
    "ClientField2",
    "ClientField3",
    "ClientFieldFlag",
    "DeviceCategory",  # obsolete
    "SeqMode",  # 0: logical card numbering, GMO's default
    "DefaultFlag",  # 0, GMO's default
    "ItemId",  # d払い・楽天ペイ: the shop's own product code, optional
}


def name_differences(recorded: dict[str, str], sent: dict[str, str]) -> tuple[set[str], set[str]]:
    """(recorded names not sent, sent names not recorded), after the deliberate changes:
    card data becomes a Token, and optional parameters may be left to GMO's default."""
    want = set(recorded)
    if want & CARD_DATA:  # the recording's client sent card data; kessai sends a Token
        want = (want - CARD_DATA) | {"Token"}
    return want - set(sent) - OPTIONAL, set(sent) - want


Conn, Store, Rec = GmoPgConnector, ReferenceStore, list[Interaction]
Scenario = Callable[[Conn, Store, Rec], Awaitable[None]]
DRIVEN: dict[str, Scenario] = {}
# Answers a scenario needs that its recording lacks (built from other recordings).
EXTRA: dict[str, dict[str, list[str | bytes]]] = defaultdict(dict)


def driven(stem: str, **extra: list[str | bytes]) -> Callable[[Scenario], Scenario]:
    def register(fn: Scenario) -> Scenario:
        DRIVEN[stem] = fn
        EXTRA[stem].update(extra)
        return fn

    return register


def order_id(recorded: list[Interaction]) -> str:
    return next(i.request["OrderID"] for i in recorded if i.request.get("OrderID"))


def pay(recorded: list[Interaction], **kw: Any) -> AuthorizeRequest:
    values: dict[str, Any] = {
        "reference": order_id(recorded),
        "amount": 100,
        "tax": 0,
        "capture": False,
        "source": {"token": "tok-recorded-0001"},
    }
    return AuthorizeRequest(**{**values, **kw})


def answer_of(recorded: list[Interaction], api: str) -> dict[str, str]:
    return codec.parse_response(next(i.response for i in recorded if i.api == api))


async def seed(store: ReferenceStore, ref: str, **extra: Any) -> None:
    """What an earlier EntryTran left in the store (for recordings that start later)."""
    await store.put(
        ref,
        access_id="a41d83f1f4c908baeda04e6dc03e300c",
        access_pass="d72eca02e28c88f98b9341a33ba46d5d",
        job_cd="AUTH",
        amount=100,
        **extra,
    )


def _search_trade(status: str, process_date: str) -> bytes:
    (recorded,) = load("_search_trade_gets_data_about_order")
    text = recorded.response.decode(codec.ENCODING)
    return (
        text.replace("Status=UNPROCESSED", f"Status={status}")
        .replace("ProcessDate=20130301115932", f"ProcessDate={process_date}")
        .encode(codec.ENCODING)
    )


@driven("_entry_tran_gets_data_about_a_transaction")
async def _entry(conn: Conn, store: Store, rec: Rec) -> None:
    outcome = await conn.authorize(pay(rec))  # ExecTran was not recorded: HTTP 404
    assert outcome.kind is OutcomeKind.DECLINED
    stored = await store.get(order_id(rec))
    assert stored is not None
    entry = answer_of(rec, "EntryTran")
    assert (stored["access_id"], stored["access_pass"]) == (entry["AccessID"], entry["AccessPass"])


@driven("_exec_tran_gets_data_about_a_transaction")
@driven("_exec_tran_parameter_contains_Japanese_characters_should_correctly_handle_Japanese")
async def _exec(conn: Conn, store: Store, rec: Rec) -> None:
    outcome = await conn.authorize(pay(rec))
    assert outcome.kind is OutcomeKind.SUCCEEDED
    assert outcome.transaction_id == answer_of(rec, "ExecTran")["TranID"]


@driven("_exec_tran_doesn_t_require_card_info_if_token_is_present")
async def _exec_token(conn: Conn, store: Store, rec: Rec) -> None:
    outcome = await conn.authorize(pay(rec))
    assert outcome.kind is OutcomeKind.DECLINED
    assert outcome.stage is DeclineStage.PAYMENT
    assert outcome.code == "EX1000301"
    assert outcome.message == "決済処理に失敗しました。もう一度カード番号を入力してください。"


@driven("_entry_tran_got_error_if_missing_options")
async def _entry_error(conn: Conn, store: Store, rec: Rec) -> None:
    outcome = await conn.authorize(pay(rec, reference="1362106772"))
    assert outcome.kind is OutcomeKind.DECLINED
    assert outcome.stage is DeclineStage.REGISTER
    assert outcome.code == "E01050002|E01060006"
    assert await store.get("1362106772") is None


@driven("_exec_tran_got_error_if_missing_options")
async def _exec_error(conn: Conn, store: Store, rec: Rec) -> None:
    await seed(store, "1362106772")
    outcome = await conn.authorize(pay(rec, reference="1362106772"))
    assert outcome.kind is OutcomeKind.DECLINED
    assert outcome.code == "E01090008|E01100008|E01110002|E01170011|E01170006|E01180006"


@driven("_alter_tran_change_order_auth_to_sale")
async def _sale(conn: Conn, store: Store, rec: Rec) -> None:
    assert (await conn.authorize(pay(rec))).kind is OutcomeKind.SUCCEEDED
    outcome = await conn.capture(Transaction(order_id(rec), None, 100), None)
    assert outcome.kind is OutcomeKind.SUCCEEDED
    assert outcome.transaction_id == answer_of(rec, "AlterTran")["TranID"]


# cancel asks SearchTrade first: the recorded SearchTrade, now AUTH and processed yesterday.
@driven("_alter_tran_gets_data_about_order", SearchTrade=[_search_trade("AUTH", "20260315")])
async def _return(conn: Conn, store: Store, rec: Rec) -> None:
    assert (await conn.authorize(pay(rec))).kind is OutcomeKind.SUCCEEDED
    outcome = await conn.cancel(Transaction(order_id(rec), None, 100), captured=False)
    assert outcome.kind is OutcomeKind.SUCCEEDED
    assert outcome.transaction_id == answer_of(rec, "AlterTran")["TranID"]


@driven("_alter_tran_got_error_if_missing_options")
async def _alter_error(conn: Conn, store: Store, rec: Rec) -> None:
    await seed(store, "1362106773")
    outcome = await conn.capture(Transaction("1362106773", None, 100), None)
    assert outcome.kind is OutcomeKind.DECLINED
    assert outcome.code == "E01090008|E01100008|E01110002"


@driven("_change_tran_gets_data_about_order")
async def _change(conn: Conn, store: Store, rec: Rec) -> None:
    assert (await conn.authorize(pay(rec))).kind is OutcomeKind.SUCCEEDED
    outcome = await conn.change_amount(Transaction(order_id(rec), None, 100), 1000, captured=False)
    assert outcome.kind is OutcomeKind.SUCCEEDED
    assert outcome.transaction_id == answer_of(rec, "ChangeTran")["TranID"]


@driven("_search_trade_gets_data_about_order")
async def _lookup(conn: Conn, store: Store, rec: Rec) -> None:
    found = await conn.lookup(order_id(rec))
    # UNPROCESSED: registered, never charged; Amount 100 + Tax 0.
    assert (found.state, found.amount, found.transaction_id) == (ProviderState.NONE, 100, None)


@driven("_exec_tran_with_3DS2_0_returns_3DS2_0_challenge_flow_response")
async def _tds2(conn: Conn, store: Store, rec: Rec) -> None:
    await seed(store, "ORDER-3DS2", tds2=True)
    source = {"member_id": "member-1", "card_seq": "0", "tds2": "1"}
    outcome = await conn.authorize(
        pay(
            rec,
            reference="ORDER-3DS2",
            source={**source, "tds2_return_url": "https://example.com/3ds/return"},
        )
    )
    assert outcome.kind is OutcomeKind.PENDING
    assert outcome.redirect_url == answer_of(rec, "ExecTran")["Tds2ChallengeUrl"]


@driven("_secure_tran_2_completes_payment_after_3DS2_0_challenge_verification")
async def _secure2(conn: Conn, store: Store, rec: Rec) -> None:
    await seed(store, "ORDER-3DS2", tds2=True)
    outcome = await conn.complete_challenge("ORDER-3DS2")
    assert outcome.kind is OutcomeKind.SUCCEEDED
    assert outcome.transaction_id == "<TRAN_ID>"


@driven("_save_member_gets_data_about_a_transaction")
async def _save_member(conn: Conn, store: Store, rec: Rec) -> None:
    await conn.save_member("1362106780", "John Smith")


@driven(
    "_update_member_gets_data_about_a_transaction", SaveMember=["ErrCode=E01&ErrInfo=E01390010"]
)
async def _update(conn: Conn, store: Store, rec: Rec) -> None:
    await conn.save_member("1362106780", "John Smith2")  # exists already: UpdateMember


@driven("_delete_member_gets_data_about_a_member")
async def _delete_member(conn: Conn, store: Store, rec: Rec) -> None:
    await conn.save_member("1362106781", "John Smith")
    await conn.delete_member("1362106781")


@driven("_search_member_gets_data_about_a_member")
async def _search_member(conn: Conn, store: Store, rec: Rec) -> None:
    await conn.save_member("1362106992", "John Smith")
    assert await conn.find_member("1362106992") is True


@driven("_save_card_gets_data_about_a_card")
@driven("_save_card_doesn_t_require_card_info_if_token_is_present")
async def _save_card(conn: Conn, store: Store, rec: Rec) -> None:
    card = await conn.save_card("1362106780", "tok-recorded-0001")  # SearchCard not recorded
    assert (card.card_seq, card.masked_number) == ("0", "*************111")


@driven("_search_card_gets_data_about_a_card")
async def _search_card(conn: Conn, store: Store, rec: Rec) -> None:
    card = await conn.save_card("1362106780", "tok-recorded-0001")
    assert card == StoredCard("1362106780", "0", "*************111", "1405")


@driven("_delete_card_gets_data_about_a_card")
async def _delete_card(conn: Conn, store: Store, rec: Rec) -> None:
    await conn.delete_card("1362106780", "0")


@driven("_trade_card_got_data")
async def _traded(conn: Conn, store: Store, rec: Rec) -> None:
    assert (await conn.authorize(pay(rec))).kind is OutcomeKind.SUCCEEDED
    await conn.save_member("1371958259", "John Smith")
    card = await conn.traded_card(order_id(rec), "1371958259")
    assert (card.card_seq, card.masked_number) == ("0", "************1111")


@driven("_trade_card_got_error_if_missing_options")
async def _traded_error(conn: Conn, store: Store, rec: Rec) -> None:
    with pytest.raises(ProviderError) as raised:
        await conn.traded_card("1371958258", "1371958259")
    assert raised.value.code == "E01110002"
    assert raised.value.message == "指定されたIDとパスワードの取引が存在しません。"


REDIRECTS = {
    "_exec_tran_docomo_gets_data_about_a_transaction": ("carrier", {"carrier": "d_barai"}),
    "_exec_tran_rakuten_id_gets_data_about_a_transaction": ("rakuten_pay", {}),
    "_exec_tran_linepay_gets_data_about_a_transaction": ("line_pay", {}),
    "_exec_tran_paypal_gets_data_about_a_transaction": ("paypal", {}),
}


async def _redirect(conn: Conn, store: Store, rec: Rec, stem: str) -> None:
    method, source = REDIRECTS[stem]
    entry = rec[0].request
    request = pay(
        rec,
        amount=int(entry["Amount"]),
        capture=entry["JobCd"] == "CAPTURE",
        source={**source, "return_url": "https://example.com/path/to/return/success"},
        method=method,
    )
    outcome = await conn.authorize(request)
    assert outcome.kind is OutcomeKind.PENDING, outcome
    answer = answer_of(rec, rec[1].api)
    start = answer.get("StartURL") or "/payment/PaypalStart.idPass"
    assert outcome.redirect_url is not None
    assert start in outcome.redirect_url
    stored = await store.get(order_id(rec))
    assert stored is not None
    assert stored["access_id"] == answer_of(rec, rec[0].api)["AccessID"]


for _stem in REDIRECTS:
    driven(_stem)(lambda conn, store, rec, _stem=_stem: _redirect(conn, store, rec, _stem))


@pytest.fixture
async def store(sqlite_template: Path, tmp_path: Path) -> AsyncIterator[ReferenceStore]:
    async with reference_store(sqlite_template, tmp_path) as s:
        yield s


@pytest.mark.parametrize("stem", sorted(DRIVEN))
async def test_the_connector_replays_the_recording(stem: str, store: ReferenceStore) -> None:
    recorded = load(stem)
    async with FakeGmo().running() as gmo:
        for interaction in recorded:
            gmo.answer(interaction.api, interaction.response)
        for api, answers in EXTRA[stem].items():
            gmo.answer(api, *answers)
        async with connector_for(gmo, store) as conn:
            await DRIVEN[stem](conn, store, recorded)

    by_api: dict[str, list[dict[str, str]]] = defaultdict(list)
    for seen in gmo.seen:
        by_api[seen.api].append(seen.params)
    for interaction in recorded:
        sent = by_api[interaction.api]
        assert sent, f"{interaction.api} was recorded but not sent"
        params = sent.pop(0)
        if stem not in HAND_WRITTEN or interaction.api == "SecureTran2":
            missing, extra = name_differences(interaction.request, params)
            assert (missing, extra) == (set(), set()), interaction.api


def test_only_recorded_traffic_is_replayed() -> None:
    assert set(DRIVEN) <= set(KEYS)
