"""authorize / capture / cancel / change_amount / lookup / 3-D Secure against a loopback
idPass endpoint that answers what GMO answers."""

from datetime import UTC, date, datetime

import pytest

from kessai.core.clock import TOKYO
from kessai.providers.challenge import ChallengeCompleter
from kessai.providers.contract import (
    AmountChanger,
    Authorizer,
    Canceller,
    Capturer,
    DeclineStage,
    OutcomeKind,
    ProviderState,
    Reconciler,
    Transaction,
)
from kessai.providers.gmo_pg import errors
from kessai.providers.gmo_pg.connector import GmoPgConnector, cancel_job
from kessai.providers.store import ReferenceStore
from kessai.providers.vault import CardVault, ProviderError, ProviderUnreachable
from tests.providers.gmo_pg.test_connector_http import (
    ACCESS,
    DROP,
    SHOP_ID,
    SHOP_PASS,
    SITE_ID,
    SITE_PASS,
    FakeGmo,
    Seen,
    authorize_request,
    connector_for,
    ok_exec,
)

REF = "20260316000001"
ACCESS_ID = "a41d83f1f4c908baeda04e6dc03e300c"
ACCESS_PASS = "d72eca02e28c88f98b9341a33ba46d5d"
TRAN_ID = "1303011202111111111111198895"
ALTER_OK = (
    f"{ACCESS}&Forward=2a99662&Approve=6416260&TranID=1303011158111111111111198880"
    "&TranDate=20260316100500"
)


def trade(status: str, *, process_date: str = "20260316093000", amount: str = "5000") -> str:
    """A SearchTrade answer shaped like the recorded one."""
    return (
        f"OrderID={REF}&Status={status}&ProcessDate={process_date}&JobCd={status}"
        f"&{ACCESS}&ItemCode=0000990&Amount={amount}&Tax=0&SiteID=&MemberID=&CardNo=&Expire="
        f"&Method=1&PayTimes=&Forward=2a99662&TranID={TRAN_ID}&Approve=6416276"
        "&ClientField1=&ClientField2=&ClientField3="
    )


def txn(amount: int = 5000) -> Transaction:
    return Transaction(reference=REF, transaction_id=TRAN_ID, amount=amount)


async def authorized(gmo: FakeGmo, conn: GmoPgConnector) -> None:
    gmo.answer("EntryTran", ACCESS)
    gmo.answer("ExecTran", ok_exec)
    assert (await conn.authorize(authorize_request(REF))).kind is OutcomeKind.SUCCEEDED
    gmo.seen.clear()


def test_it_implements_every_capability(conn: GmoPgConnector) -> None:
    for protocol in (
        Authorizer,
        Capturer,
        Canceller,
        AmountChanger,
        Reconciler,
        CardVault,
        ChallengeCompleter,
    ):
        assert isinstance(conn, protocol), protocol.__name__


# ------------------------------------------------------------------ authorize
async def test_authorize_registers_stores_the_access_pair_then_executes_with_the_token(
    gmo: FakeGmo, db_store: ReferenceStore
) -> None:
    store = db_store
    stored_at_exec: list[dict[str, object] | None] = []

    async def exec_tran(seen: Seen) -> str:
        stored_at_exec.append(await store.get(REF))
        return await ok_exec(seen)

    gmo.answer("EntryTran", ACCESS)
    gmo.answer("ExecTran", exec_tran)
    async with connector_for(gmo, store) as conn:
        outcome = await conn.authorize(authorize_request(REF))

    assert outcome.kind is OutcomeKind.SUCCEEDED
    assert outcome.transaction_id == TRAN_ID
    assert outcome.captured is False
    entry, exec_ = gmo.calls()
    # The whole amount (tax included) is Amount; no Tax is split off.
    assert entry.params == {
        "OrderID": REF,
        "JobCd": "AUTH",
        "Amount": "5000",
        "ShopID": SHOP_ID,
        "ShopPass": SHOP_PASS,
    }
    assert exec_.params == {
        "AccessID": ACCESS_ID,
        "AccessPass": ACCESS_PASS,
        "OrderID": REF,
        "Method": "1",
        "PayTimes": "",
        "Token": "tok-0123456789abcdef",
        "ShopID": SHOP_ID,
        "ShopPass": SHOP_PASS,
    }
    stored = stored_at_exec[0]
    assert stored is not None
    assert stored["access_id"] == ACCESS_ID
    assert stored["access_pass"] == ACCESS_PASS


async def test_authorize_with_capture_registers_jobcd_capture(
    gmo: FakeGmo, conn: GmoPgConnector
) -> None:
    gmo.answer("EntryTran", ACCESS)
    gmo.answer("ExecTran", ok_exec)
    outcome = await conn.authorize(authorize_request(REF, capture=True))
    assert gmo.calls("EntryTran")[0].params["JobCd"] == "CAPTURE"
    assert outcome.captured is True


async def test_authorize_with_a_stored_card_sends_member_and_site_never_a_token(
    gmo: FakeGmo, conn: GmoPgConnector
) -> None:
    gmo.answer("EntryTran", ACCESS)
    gmo.answer("ExecTran", ok_exec)
    source = {"member_id": "cust-42", "card_seq": "1"}
    assert (await conn.authorize(authorize_request(REF, source=source))).kind is (
        OutcomeKind.SUCCEEDED
    )
    params = gmo.calls("ExecTran")[0].params
    assert params["MemberID"] == "cust-42"
    assert params["CardSeq"] == "1"
    assert (params["SiteID"], params["SitePass"]) == (SITE_ID, SITE_PASS)
    assert "Token" not in params


@pytest.mark.parametrize(
    ("reference", "accepted"),
    [
        ("A" * 27, True),
        ("2026-0316-000001", True),
        ("A" * 28, False),
        ("20260316_000001", False),
        ("受注1", False),
        ("", False),
    ],
)
async def test_the_order_id_rule_is_checked_before_anything_is_sent(
    gmo: FakeGmo, conn: GmoPgConnector, reference: str, accepted: bool
) -> None:
    gmo.answer("EntryTran", ACCESS)
    gmo.answer("ExecTran", ok_exec)
    outcome = await conn.authorize(authorize_request(reference))
    if accepted:
        assert outcome.kind is OutcomeKind.SUCCEEDED
    else:
        assert outcome.kind is OutcomeKind.NOT_SENT
        assert "27文字以内の半角英数字とハイフン" in (outcome.message or "")
        assert gmo.seen == []


@pytest.mark.parametrize(
    ("source", "code"),
    [
        ({}, "payment_source_missing"),
        ({"token": "4111111111111111"}, "invalid_token"),
        ({"member_id": "cust 42", "card_seq": "0"}, "invalid_member_id"),
        ({"member_id": "cust-42", "card_seq": "x"}, "invalid_card_seq"),
    ],
)
async def test_a_payment_source_that_cannot_be_sent_is_refused_locally(
    gmo: FakeGmo, conn: GmoPgConnector, source: dict[str, str], code: str
) -> None:
    outcome = await conn.authorize(authorize_request(REF, source=source))
    assert outcome.kind is OutcomeKind.NOT_SENT
    assert outcome.code == code
    assert gmo.seen == []


async def test_a_retry_with_another_amount_for_the_same_order_id_is_refused(
    gmo: FakeGmo, conn: GmoPgConnector
) -> None:
    gmo.answer("EntryTran", ACCESS)
    gmo.always["ExecTran"] = "ErrCode=E92&ErrInfo=E92000001"  # rate limited: not sent
    assert (await conn.authorize(authorize_request(REF))).kind is OutcomeKind.NOT_SENT
    outcome = await conn.authorize(authorize_request(REF, amount=6000))
    assert outcome.kind is OutcomeKind.NOT_SENT
    assert outcome.code == "reference_reused"
    assert len(gmo.calls("EntryTran")) == 1


async def test_a_lost_entry_answer_is_adopted_through_search_trade(
    gmo: FakeGmo, conn: GmoPgConnector
) -> None:
    """EntryTran went through but its answer was lost; the retry finds the OrderID taken
    (E01040010), takes the registration's AccessID from SearchTrade and charges once."""
    gmo.answer("EntryTran", "ErrCode=E01&ErrInfo=E01040010")
    gmo.answer("SearchTrade", trade("UNPROCESSED").replace("JobCd=UNPROCESSED", "JobCd=AUTH"))
    gmo.answer("ExecTran", ok_exec)
    outcome = await conn.authorize(authorize_request(REF))
    assert outcome.kind is OutcomeKind.SUCCEEDED
    assert gmo.apis() == ["EntryTran", "SearchTrade", "ExecTran"]
    assert gmo.calls("ExecTran")[0].params["AccessID"] == ACCESS_ID


async def test_a_taken_order_id_that_was_already_charged_is_unknown(
    gmo: FakeGmo, conn: GmoPgConnector
) -> None:
    gmo.answer("EntryTran", "ErrCode=E01&ErrInfo=E01040010")
    gmo.answer("SearchTrade", trade("AUTH"))
    outcome = await conn.authorize(authorize_request(REF))
    assert outcome.kind is OutcomeKind.UNKNOWN  # our own lost attempt: the reconcile settles it
    assert gmo.calls("ExecTran") == []


async def test_an_order_id_taken_by_another_registration_is_a_register_failure(
    gmo: FakeGmo, conn: GmoPgConnector
) -> None:
    gmo.answer("EntryTran", "ErrCode=E01&ErrInfo=E01040010")
    gmo.answer("SearchTrade", trade("SALES", amount="12800"))
    outcome = await conn.authorize(authorize_request(REF))
    assert outcome.kind is OutcomeKind.DECLINED
    assert outcome.stage is DeclineStage.REGISTER
    assert outcome.message == "既にオーダーIDが存在しています。"
    assert gmo.calls("ExecTran") == []


# ------------------------------------------------------------------ declines and errors
@pytest.mark.parametrize(
    ("info", "hard"),
    [
        ("42G020000", False),  # カード残高が不足している
        ("42G030000", False),  # カード限度額を超えている
        ("42G550000", False),  # カード限度額を超えている
        ("42G650000", True),  # カード番号に誤り
        ("42G830000", True),  # 有効期限に誤り
        ("42G440000", True),  # セキュリティーコードが誤っていた
        ("42G120000", True),  # このカードでは取引をする事が出来ません
    ],
)
async def test_card_company_refusals_are_payment_declines_with_gmos_message(
    gmo: FakeGmo, conn: GmoPgConnector, info: str, hard: bool
) -> None:
    gmo.answer("EntryTran", ACCESS)
    gmo.answer("ExecTran", f"ErrCode={info[2:5]}&ErrInfo={info}")
    outcome = await conn.authorize(authorize_request(REF))
    assert outcome.kind is OutcomeKind.DECLINED
    assert outcome.stage is DeclineStage.PAYMENT
    assert outcome.code == info
    assert outcome.hard is hard
    assert "決済を完了する" in (outcome.message or "") or "取引をする" in (outcome.message or "")


def test_every_gmo_message_is_cp932_text_as_gmo_sends_it() -> None:
    """決済履歴 shows GMO's words: none may hold a character GMO cannot even send."""
    for entry in errors.table().values():
        for text in (entry.content, entry.user_message):
            assert text.encode("cp932", errors="replace").decode("cp932") == text, entry.info
    assert errors.message_for(["E91099999"]) == (
        "決済処理に失敗しました。申し訳ございませんが、しばらく時間をあけて購入画面から"
        "やり直してください。"
    )
    assert errors.message_for(["42G650000"]) == (
        "カード番号に誤りがあるために、決済を完了する事が出来ませんでした。"
    )


async def test_entry_errors_are_register_failures_with_every_code_and_message(
    gmo: FakeGmo, conn: GmoPgConnector
) -> None:
    gmo.answer("EntryTran", "ErrCode=E01|E01&ErrInfo=E01050002|E01060006")
    outcome = await conn.authorize(authorize_request(REF))
    assert outcome.kind is OutcomeKind.DECLINED
    assert outcome.stage is DeclineStage.REGISTER
    assert outcome.code == "E01050002|E01060006"
    assert outcome.message == (
        "指定された処理区分は定義されていません。 / 利用金額に数字以外の文字が含まれています。"
    )


@pytest.mark.parametrize("info", ["E01030002", "E01020008", "E01210002", "E61030001"])
async def test_shop_and_contract_errors_are_system_declines(
    gmo: FakeGmo, conn: GmoPgConnector, info: str
) -> None:
    gmo.answer("EntryTran", f"ErrCode={info[:3]}&ErrInfo={info}")
    outcome = await conn.authorize(authorize_request(REF))
    assert outcome.kind is OutcomeKind.DECLINED
    assert outcome.stage is DeclineStage.SYSTEM


@pytest.mark.parametrize("info", ["E90010001", "E91099999", "42C010000", "42C780000"])
async def test_errors_that_leave_the_result_open_are_unknown(
    gmo: FakeGmo, conn: GmoPgConnector, info: str
) -> None:
    gmo.answer("EntryTran", ACCESS)
    gmo.answer("ExecTran", f"ErrCode=X&ErrInfo={info}")
    outcome = await conn.authorize(authorize_request(REF))
    assert outcome.kind is OutcomeKind.UNKNOWN
    assert outcome.code == info


async def test_already_paid_on_a_first_exec_is_a_decline_not_unknown(
    gmo: FakeGmo, conn: GmoPgConnector
) -> None:
    gmo.answer("EntryTran", ACCESS)
    gmo.answer("ExecTran", "ErrCode=E11&ErrInfo=E11010001")
    outcome = await conn.authorize(authorize_request(REF))
    assert outcome.kind is OutcomeKind.DECLINED
    assert outcome.message == "この取引は既に決済が終了しています。"


# ------------------------------------------------------------------ 3-D Secure 2.0
async def test_3ds2_waits_for_the_customer_then_securetran2_completes_it(
    gmo: FakeGmo, store: ReferenceStore
) -> None:
    redirect = "https://pt01.mul-pay.jp/payment/Tds2Start.idPass?a=1&b=2"
    gmo.answer("EntryTran", ACCESS)
    gmo.answer("ExecTran", f"ACS=2&RedirectUrl={redirect}")
    gmo.answer(
        "SecureTran2",
        f"OrderID={REF}&Forward=2a99662&Method=1&PayTimes=&Approve=0045361"
        f"&TranID={TRAN_ID}&TranDate=20260316101000&CheckString=54686df6",
    )
    async with connector_for(
        gmo, store, tds2=True, tds2_return_url="https://shop.example.jp/3ds/back"
    ) as conn:
        pending = await conn.authorize(authorize_request(REF, capture=True))
        assert pending.kind is OutcomeKind.PENDING
        assert pending.redirect_url == redirect
        done = await conn.complete_challenge(REF)

    assert gmo.calls("EntryTran")[0].params["TdFlag"] == "2"
    assert gmo.calls("ExecTran")[0].params["RetUrl"] == "https://shop.example.jp/3ds/back"
    assert gmo.calls("SecureTran2")[0].params == {"AccessID": ACCESS_ID, "AccessPass": ACCESS_PASS}
    assert done.kind is OutcomeKind.SUCCEEDED
    assert done.transaction_id == TRAN_ID
    assert done.captured is True


async def test_3ds2_challenge_url_answer_is_pending_too(gmo: FakeGmo, conn: GmoPgConnector) -> None:
    url = "https://acs.example.jp/payment/Tds2Challenge?tds2TransID=xyz"
    gmo.answer("EntryTran", ACCESS)
    gmo.answer(
        "ExecTran",
        f"OrderID={REF}&Forward=&Method=1&PayTimes=&Approve=&TranID=&TranDate="
        f"&CheckString=&Tds2TransResult=C&Tds2TransResultReason=01"
        f"&Tds2ChallengeUrl={url}&Tds2TransID=xyz",
    )
    source = {"token": "tok-1", "tds2": "true", "tds2_return_url": "https://shop.example.jp/r"}
    outcome = await conn.authorize(authorize_request(REF, source=source))
    assert outcome.kind is OutcomeKind.PENDING
    assert outcome.redirect_url == url


async def test_a_failed_challenge_is_a_payment_decline(gmo: FakeGmo, conn: GmoPgConnector) -> None:
    gmo.answer("SearchTrade", trade("AUTHENTICATED"))
    gmo.answer("SecureTran2", "ErrCode=E21&ErrInfo=E21020002")
    outcome = await conn.complete_challenge(REF)  # nothing stored: SearchTrade finds the pair
    assert outcome.kind is OutcomeKind.DECLINED
    assert outcome.stage is DeclineStage.PAYMENT
    assert (
        outcome.message
        == "3Dセキュア認証がキャンセルされました。もう一度、購入画面からやり直して下さい。"
    )


async def test_3ds2_without_a_return_url_is_refused(gmo: FakeGmo, conn: GmoPgConnector) -> None:
    outcome = await conn.authorize(authorize_request(REF, source={"token": "t", "tds2": "1"}))
    assert outcome.kind is OutcomeKind.NOT_SENT
    assert gmo.seen == []


# ------------------------------------------------------------------ after authorize
async def test_capture_is_altertran_sales_with_the_amount(
    gmo: FakeGmo, conn: GmoPgConnector
) -> None:
    await authorized(gmo, conn)
    gmo.answer("AlterTran", ALTER_OK)
    outcome = await conn.capture(txn(), None)
    assert outcome.kind is OutcomeKind.SUCCEEDED
    assert outcome.transaction_id == "1303011158111111111111198880"
    assert gmo.calls("AlterTran")[0].params == {
        "AccessID": ACCESS_ID,
        "AccessPass": ACCESS_PASS,
        "JobCd": "SALES",
        "Amount": "5000",
        "ShopID": SHOP_ID,
        "ShopPass": SHOP_PASS,
    }


async def test_capture_without_a_stored_pair_finds_it_with_search_trade(
    gmo: FakeGmo, conn: GmoPgConnector
) -> None:
    gmo.answer("SearchTrade", trade("AUTH"))
    gmo.answer("AlterTran", ALTER_OK)
    assert (await conn.capture(txn(), None)).kind is OutcomeKind.SUCCEEDED
    assert gmo.apis() == ["SearchTrade", "AlterTran"]


async def test_a_refused_capture_is_declined_with_gmos_words(
    gmo: FakeGmo, conn: GmoPgConnector
) -> None:
    await authorized(gmo, conn)
    gmo.answer("AlterTran", "ErrCode=E01&ErrInfo=E01060010")
    outcome = await conn.capture(txn(4000), None)
    assert outcome.kind is OutcomeKind.DECLINED
    assert outcome.message == "取引の利用金額と指定した利用金額が一致していません。"


@pytest.mark.parametrize(("captured", "job"), [(False, "AUTH"), (True, "CAPTURE")])
async def test_change_amount_is_changetran_auth_before_and_capture_after_capture(
    gmo: FakeGmo, conn: GmoPgConnector, captured: bool, job: str
) -> None:
    await authorized(gmo, conn)
    gmo.answer("ChangeTran", ALTER_OK)
    outcome = await conn.change_amount(txn(), 3800, captured=captured)
    assert outcome.kind is OutcomeKind.SUCCEEDED
    params = gmo.calls("ChangeTran")[0].params
    assert (params["JobCd"], params["Amount"], params["AccessID"]) == (job, "3800", ACCESS_ID)


async def test_a_new_access_pair_from_changetran_is_remembered(
    gmo: FakeGmo, conn: GmoPgConnector, store: ReferenceStore
) -> None:
    await authorized(gmo, conn)
    gmo.answer(
        "ChangeTran",
        "AccessID=21170701482c86c3b88ff72b83bfd363&AccessPass=51f36feba120de1e6e29532e5a3a5e3e"
        "&Forward=2a99663&Approve=5538477&TranID=1707311633111111111111771224&TranDate=20260316",
    )
    await conn.change_amount(txn(), 1500, captured=True)
    stored = await store.get(REF)
    assert stored is not None
    assert stored["access_id"] == "21170701482c86c3b88ff72b83bfd363"


@pytest.mark.parametrize(
    ("process_date", "job"),
    [
        ("20260316093000", "VOID"),  # the same day in Tokyo
        ("20260302120000", "RETURN"),  # earlier in the same month
        ("20260227235959", "RETURNX"),  # the month has turned
    ],
)
async def test_cancel_picks_void_return_or_returnx_from_gmos_process_date(
    gmo: FakeGmo, conn: GmoPgConnector, process_date: str, job: str
) -> None:
    gmo.answer("SearchTrade", trade("SALES", process_date=process_date))
    gmo.answer("AlterTran", ALTER_OK)
    outcome = await conn.cancel(txn(), captured=True)
    assert outcome.kind is OutcomeKind.SUCCEEDED
    params = gmo.calls("AlterTran")[0].params
    assert (params["JobCd"], params["AccessID"], params["Amount"]) == (job, ACCESS_ID, "5000")


@pytest.mark.parametrize("status", ["VOID", "RETURN", "RETURNX", "UNPROCESSED", "AUTHENTICATED"])
async def test_cancel_of_a_transaction_with_nothing_to_cancel_sends_no_altertran(
    gmo: FakeGmo, conn: GmoPgConnector, status: str
) -> None:
    gmo.answer("SearchTrade", trade(status))
    outcome = await conn.cancel(txn(), captured=False)
    assert outcome.kind is OutcomeKind.SUCCEEDED
    assert gmo.apis() == ["SearchTrade"]


async def test_cancel_when_search_trade_gets_no_answer_is_not_sent(
    gmo: FakeGmo, conn: GmoPgConnector
) -> None:
    gmo.answer("SearchTrade", DROP)
    outcome = await conn.cancel(txn(), captured=False)
    assert outcome.kind is OutcomeKind.NOT_SENT  # only a read was tried: nothing changed
    assert gmo.calls("AlterTran") == []


def test_cancel_job_reads_dates_in_tokyo() -> None:
    # 2026-03-31 23:30 UTC is already April 1st in Tokyo: a March sale is 月跨り.
    today = datetime(2026, 3, 31, 15, 30, tzinfo=UTC).astimezone(TOKYO).date()
    assert today == date(2026, 4, 1)
    assert cancel_job(date(2026, 3, 31), today, captured=True) == "RETURNX"
    assert cancel_job(date(2026, 4, 1), today, captured=True) == "VOID"
    assert cancel_job(None, today, captured=False) == "VOID"
    assert cancel_job(None, today, captured=True) == "RETURN"


def test_an_authorization_from_an_earlier_month_is_returned_never_returnx() -> None:
    today = date(2026, 4, 2)
    assert cancel_job(date(2026, 3, 20), today, captured=False) == "RETURN"
    assert cancel_job(date(2026, 3, 20), today, captured=True) == "RETURNX"
    assert cancel_job(date(2026, 4, 2), today, captured=False) == "VOID"


# ------------------------------------------------------------------ lookup
@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("UNPROCESSED", ProviderState.NONE),
        ("AUTHENTICATED", ProviderState.PENDING),
        ("CHECK", ProviderState.AUTHORIZED),
        ("AUTH", ProviderState.AUTHORIZED),
        ("SAUTH", ProviderState.AUTHORIZED),
        ("CAPTURE", ProviderState.CAPTURED),
        ("SALES", ProviderState.CAPTURED),
        ("VOID", ProviderState.CANCELED),
        ("RETURN", ProviderState.CANCELED),
        ("RETURNX", ProviderState.CANCELED),
    ],
)
async def test_lookup_maps_gmos_status(
    gmo: FakeGmo, conn: GmoPgConnector, status: str, state: ProviderState
) -> None:
    gmo.answer("SearchTrade", trade(status).replace("&Tax=0&", "&Tax=300&"))
    found = await conn.lookup(REF)
    assert found.state is state
    assert found.amount == 5300  # Amount + Tax (税送料): what GMO charges
    assert found.transaction_id == TRAN_ID
    assert gmo.calls("SearchTrade")[0].params == {
        "OrderID": REF,
        "ShopID": SHOP_ID,
        "ShopPass": SHOP_PASS,
    }


async def test_lookup_of_an_order_id_gmo_does_not_know_is_none(
    gmo: FakeGmo, conn: GmoPgConnector
) -> None:
    gmo.answer("SearchTrade", "ErrCode=E01&ErrInfo=E01110002")
    found = await conn.lookup(REF)
    assert found.state is ProviderState.NONE
    assert found.code == "E01110002"


async def test_lookup_that_gets_no_answer_raises_instead_of_guessing(
    gmo: FakeGmo, conn: GmoPgConnector
) -> None:
    gmo.always["SearchTrade"] = "ErrCode=E92&ErrInfo=E92000001"
    with pytest.raises(ProviderUnreachable):
        await conn.lookup(REF)
    gmo.always["SearchTrade"] = "Status=SOMETHINGNEW&Amount=1"
    with pytest.raises(ProviderError):
        await conn.lookup(REF)
