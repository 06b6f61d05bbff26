"""Shop APIs for cards: EntryTran, ExecTran, 3-D Secure 2.0, AlterTran, ChangeTran, searches."""

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta

from kessai.core.carddata import luhn_valid
from kessai.providers.gmo_pg.methods import pay_type_of
from kessai.providers.gmo_pg.sim.config import CHALLENGE_CARD, DECLINE_CARDS
from kessai.providers.gmo_pg.sim.context import Ctx, Reply
from kessai.providers.gmo_pg.sim.state import Member, StoredCard, Transaction, gmo_datetime
from kessai.providers.gmo_pg.sim.validation import (
    AUTHORIZING,
    Checks,
    Refused,
    value,
)

PENDING = ("UNPROCESSED", "AUTHENTICATED")
AUTHORIZED = ("AUTH", "SAUTH")
CANCELLED = ("VOID", "RETURN", "RETURNX")
RETURN_LIMIT = timedelta(days=180)


def _lookup(ctx: Ctx, c: Checks, shop_id: str | None, p: Mapping[str, str]) -> Transaction | None:
    """AccessID/AccessPass (and OrderID when given) name a transaction of this shop."""
    access_id, access_pass = c.access(p)
    tran = ctx.state.find(access_id, access_pass)
    order_id = value(p, "OrderID")
    if (
        tran is None
        or (shop_id is not None and tran.shop_id != shop_id)
        or (order_id and order_id != tran.order_id)
    ):
        c.not_found("E01110002")
        return None
    return ctx.about(tran)


def _result(ctx: Ctx, tran: Transaction) -> Reply:
    """OrderID … CheckString, as ExecTran and SecureTran2 answer them."""
    shop_pass = ctx.config.shops.get(tran.shop_id, "")
    return [
        ("OrderID", tran.order_id),
        ("Forward", tran.forward),
        ("Method", tran.method),
        ("PayTimes", tran.pay_times),
        ("Approve", tran.approve),
        ("TranID", tran.tran_id),
        ("TranDate", gmo_datetime(tran.process_date)),
        ("CheckString", ctx.state.check_string(tran, shop_pass)),
    ]


def _changed(tran: Transaction) -> Reply:
    """What AlterTran and ChangeTran answer."""
    return [
        ("AccessID", tran.access_id),
        ("AccessPass", tran.access_pass),
        ("Forward", tran.forward),
        ("Approve", tran.approve),
        ("TranID", tran.tran_id),
        ("TranDate", gmo_datetime(tran.process_date)),
    ]


def _authorize(ctx: Ctx, tran: Transaction) -> None:
    job = tran.entry_job_cd
    ctx.state.stamp(tran, job, job)
    tran.authorized_at = tran.process_date


def entry_tran(ctx: Ctx, p: Mapping[str, str]) -> Reply:
    c = Checks()
    shop_id = c.shop(p, ctx.config)
    order_id = value(p, "OrderID")
    ctx.order_id = order_id
    if c.order_id(order_id) and (shop_id, order_id) in ctx.state.transactions:
        c.add("E01040010")
    job = value(p, "JobCd")
    c.job_cd(job, ("CHECK", *AUTHORIZING))
    amount = c.amount(value(p, "Amount"), required=job != "CHECK")
    tax = c.tax(value(p, "Tax"))
    if value(p, "TdFlag") not in ("", "0", "1", "2"):
        c.add("E01080007")
    item_code = value(p, "ItemCode")
    if item_code and (len(item_code) != 7 or not item_code.isdigit()):
        c.add("E01450008")
    c.raise_if_any()
    tran = ctx.state.new_transaction(shop_id, order_id, job, amount or 0, tax)
    if item_code:
        tran.item_code = item_code
    tran.td_flag = value(p, "TdFlag")
    return [("AccessID", tran.access_id), ("AccessPass", tran.access_pass)]


def exec_tran(ctx: Ctx, p: Mapping[str, str]) -> Reply:
    c = Checks()
    shop_id = c.shop(p, ctx.config)
    ctx.order_id = value(p, "OrderID")
    tran = _lookup(ctx, c, shop_id, p)
    if not value(p, "OrderID"):
        c.add("E01040001")
    method, pay_times = ("", "")
    if tran is not None and tran.entry_job_cd != "CHECK":
        method, pay_times = c.method(p)
    token, member_id = value(p, "Token"), value(p, "MemberID")
    member = None
    card_seq: int | None = None
    if token:
        pass  # looked at below, once the request itself is sound
    elif member_id:
        site_id = c.site(p, ctx.config)
        if c.member_id(member_id) and site_id and not c.lookup_failed:
            member = ctx.state.members.get((site_id, member_id))
            if member is None:
                c.not_found("E01390002")
        c.seq_mode(value(p, "SeqMode"))
        card_seq = c.card_seq(value(p, "CardSeq"))
    else:
        c.card_number(value(p, "CardNo"))
        c.expire(value(p, "Expire"))
    c.security_code(value(p, "SecurityCode"))
    fields = c.client_fields(p)
    tds_type = value(p, "TdsType")
    if tds_type not in ("", "0", "1", "2"):
        c.add("E01080007")
    c.raise_if_any()
    assert tran is not None  # a failed look-up was reported above

    if tran.status != "UNPROCESSED":
        raise Refused("E11010001")
    card = _card_for(ctx, p, shop_id, member, card_seq)
    if not luhn_valid(card.number):
        raise Refused("E41170099")
    decline = DECLINE_CARDS.get(card.number)
    if decline:
        raise Refused(decline)  # the transaction stays UNPROCESSED, as at GMO

    tran.card, tran.method, tran.pay_times, tran.client_fields = card, method, pay_times, fields
    if member is not None:
        tran.site_id, tran.member_id = value(p, "SiteID"), member.member_id
    # 3-D Secure 2.0 is asked for at EntryTran (TdFlag=2) or, as the 2025 recordings do,
    # at ExecTran (TdsType=2).
    if "2" in (tds_type, tran.td_flag) and card.number == CHALLENGE_CARD:
        return _start_challenge(ctx, tran, p)
    _authorize(ctx, tran)
    reply = [("ACS", "0"), *_result(ctx, tran)]
    if value(p, "ClientFieldFlag") == "1":
        reply += [(f"ClientField{i}", fields[i - 1]) for i in (1, 2, 3)]
    return reply


def _card_for(
    ctx: Ctx, p: Mapping[str, str], shop_id: str, member: Member | None, card_seq: int | None
) -> StoredCard:
    token = value(p, "Token")
    if token:
        used = ctx.state.use_token(token, shop_id)
        if isinstance(used, str):
            raise Refused(used)
        return used
    if member is not None:
        saved = member.card(card_seq)
        if saved is None:
            raise Refused("E01240002")
        return saved.card
    return StoredCard(
        number=value(p, "CardNo"),
        expire=value(p, "Expire"),
        holder_name=value(p, "HolderName"),
        security_code_set=bool(value(p, "SecurityCode")),
    )


def _start_challenge(ctx: Ctx, tran: Transaction, p: Mapping[str, str]) -> Reply:
    """The issuer wants a challenge: the customer goes to Tds2ChallengeUrl / RedirectUrl."""
    tran.tds2_trans_id = str(uuid.uuid4())
    tran.tds2_ret_url = value(p, "Tds2RetUrl") or value(p, "RetUrl")
    tran.tds2_result = "C"
    ctx.state.by_tds2_id[tran.tds2_trans_id] = tran
    ctx.state.stamp(tran, tran.entry_job_cd, "AUTHENTICATED")
    tran.approve = ""  # nothing is authorized until SecureTran2
    url = ctx.challenge_url(tran)
    if ctx.config.tds2_style == "acs":
        return [("ACS", "2"), ("RedirectUrl", url)]
    return [
        *_result(ctx, tran),
        ("Tds2TransResult", "C"),
        ("Tds2TransResultReason", "01"),
        ("Tds2ChallengeUrl", url),
        ("Tds2TransID", tran.tds2_trans_id),
    ]


def challenge_done(ctx: Ctx, tds2_trans_id: str, passed: bool) -> Transaction | None:
    """The customer finished the challenge page (GET /payment/Tds2Challenge)."""
    tran = ctx.state.by_tds2_id.get(tds2_trans_id)
    if tran is None or tran.status != "AUTHENTICATED":
        return None
    tran.tds2_result = "Y" if passed else "N"
    return tran


def _optional_shop(ctx: Ctx, c: Checks, p: Mapping[str, str]) -> str | None:
    return c.shop(p, ctx.config) if value(p, "ShopID") or value(p, "ShopPass") else None


def secure_tran2(ctx: Ctx, p: Mapping[str, str]) -> Reply:
    """Completes the authorization after the challenge (AccessID and AccessPass only)."""
    c = Checks()
    shop_id = _optional_shop(ctx, c, p)
    tran = _lookup(ctx, c, shop_id, p)
    c.raise_if_any()
    assert tran is not None
    if tran.status == "UNPROCESSED":
        raise Refused("E01110010")
    if tran.status != "AUTHENTICATED":
        raise Refused("E11010001")
    if tran.tds2_result == "C":
        raise Refused("E21020002")  # the customer has not finished the challenge
    if tran.tds2_result == "N":
        raise Refused("E21020001")
    _authorize(ctx, tran)
    return _result(ctx, tran)


def tds2_auth(ctx: Ctx, p: Mapping[str, str]) -> Reply:
    tran, reply = _tds2_status(ctx, p)
    return [*reply, ("Tds2ChallengeUrl", ctx.challenge_url(tran))]


def tds2_result(ctx: Ctx, p: Mapping[str, str]) -> Reply:
    return _tds2_status(ctx, p)[1]


def _tds2_status(ctx: Ctx, p: Mapping[str, str]) -> tuple[Transaction, Reply]:
    c = Checks()
    shop_id = _optional_shop(ctx, c, p)
    tran = _lookup(ctx, c, shop_id, p)
    c.raise_if_any()
    assert tran is not None
    if not tran.tds2_result:
        raise Refused("E01110010")
    result = tran.tds2_result
    return tran, [
        *_result(ctx, tran),
        ("Tds2TransResult", result),
        ("Tds2TransResultReason", "01" if result == "C" else ""),
    ]


def alter_tran(ctx: Ctx, p: Mapping[str, str]) -> Reply:
    c = Checks()
    shop_id = c.shop(p, ctx.config)
    tran = _lookup(ctx, c, shop_id, p)
    job = value(p, "JobCd")
    job_ok = c.job_cd(job, ("VOID", "RETURN", "RETURNX", "SALES", *AUTHORIZING))
    amount: int | None = None
    tax, method, pay_times = 0, "", ""
    if tran is not None and job_ok and job not in CANCELLED:
        amount = c.amount(value(p, "Amount"), required=True)
        if job in AUTHORIZING:
            tax = c.tax(value(p, "Tax"))
            method, pay_times = c.method(p)
    c.raise_if_any()
    assert tran is not None
    if tran.status in PENDING:
        raise Refused("E11010002")
    now = ctx.state.clock.now()
    if job == "SALES":
        if tran.status not in AUTHORIZED:
            raise Refused("E11010003")
        _require_live_authorization(ctx, tran)
        if amount != tran.amount:
            raise Refused("E01060010")
        ctx.state.stamp(tran, job, job)
    elif job in CANCELLED:
        if tran.status not in (*AUTHORIZED, "CAPTURE", "SALES"):
            raise Refused("E11010003")
        if job == "RETURNX" and tran.status in AUTHORIZED:
            raise Refused("E11010003")  # 月跨り返品 is for a sale; an authorization is RETURNed
        if tran.authorized_at and now - tran.authorized_at > RETURN_LIMIT:
            raise Refused("E11010010")
        ctx.state.stamp(tran, job, job)
    else:  # 再オーソリ: a cancelled transaction is authorized again
        if tran.status not in CANCELLED:
            raise Refused("E11010003")
        tran.amount, tran.tax, tran.method, tran.pay_times = amount or 0, tax, method, pay_times
        ctx.state.stamp(tran, job, job)
        tran.authorized_at = tran.process_date
    return _changed(tran)


def _require_live_authorization(ctx: Ctx, tran: Transaction) -> None:
    limit = timedelta(days=ctx.config.auth_valid_days)
    if tran.authorized_at and ctx.state.clock.now() - tran.authorized_at > limit:
        raise Refused("E01420010")


def change_tran(ctx: Ctx, p: Mapping[str, str]) -> Reply:
    """金額変更: the old authorization is cancelled and the new amount charged with JobCd."""
    c = Checks()
    shop_id = c.shop(p, ctx.config)
    tran = _lookup(ctx, c, shop_id, p)
    job = value(p, "JobCd")
    c.job_cd(job, AUTHORIZING)
    amount, tax = None, 0
    if tran is not None:
        amount = c.amount(value(p, "Amount"), required=True)
        tax = c.tax(value(p, "Tax"))
    c.raise_if_any()
    assert tran is not None
    if tran.status in PENDING:
        raise Refused("E11010002")
    if tran.status not in (*AUTHORIZED, "CAPTURE", "SALES"):
        raise Refused("E11010003")
    if tran.status in AUTHORIZED:
        _require_live_authorization(ctx, tran)
    tran.amount, tran.tax = amount or 0, tax
    ctx.state.stamp(tran, job, job)
    tran.authorized_at = tran.process_date
    return _changed(tran)


def _trade_fields(tran: Transaction) -> Reply:
    card = tran.card
    return [
        ("Status", tran.status),
        ("ProcessDate", gmo_datetime(tran.process_date)),
        ("JobCd", tran.job_cd),
        ("AccessID", tran.access_id),
        ("AccessPass", tran.access_pass),
        ("ItemCode", tran.item_code),
        ("Amount", str(tran.amount)),
        ("Tax", str(tran.tax)),
        ("SiteID", tran.site_id),
        ("MemberID", tran.member_id),
        ("CardNo", card.masked() if card else ""),
        ("Expire", card.expire if card else ""),
        ("Method", tran.method),
        ("PayTimes", tran.pay_times),
        ("Forward", tran.forward),
        ("TranID", tran.tran_id),
        ("Approve", tran.approve),
        ("ClientField1", tran.client_fields[0]),
        ("ClientField2", tran.client_fields[1]),
        ("ClientField3", tran.client_fields[2]),
    ]


def search_trade(ctx: Ctx, p: Mapping[str, str]) -> Reply:
    c = Checks()
    shop_id = c.shop(p, ctx.config)
    order_id = value(p, "OrderID")
    ctx.order_id = order_id
    tran = None
    if c.order_id(order_id):
        tran = ctx.state.transactions.get((shop_id, order_id))
        if tran is None:
            c.not_found("E01110002")
    c.raise_if_any()
    assert tran is not None
    return [("OrderID", tran.order_id), *_trade_fields(tran)]


# Keys SearchTradeMulti adds for other payment types; empty for a card payment.
_MULTI_EMPTY = [
    "CvsCode",
    "CvsConfNo",
    "CvsReceiptNo",
    "EdyReceiptNo",
    "EdyOrderNo",
    "SuicaOrderNo",
    "SuicaReceiptNo",
    "CustID",
    "BkCode",
    "ConfNo",
    "EncryptReceiptNo",
    "PaymentTerm",
    "WebMoneyManagementNo",
    "WebMoneySettleCode",
    "AuPayInfoNo",
    "AuPayMethod",
    "AuCancelAmount",
    "AuCancelTax",
    "DocomoSettlementCode",
    "DocomoCancelAmount",
    "DocomoCancelTax",
    "SbTrackingId",
    "SbCancelAmount",
    "SbCancelTax",
]


def expire_if_late(tran: Transaction, now: datetime) -> None:
    """A customer who never approved (redirect methods) or paid (コンビニ・銀行振込) before
    the limit: EXPIRED."""
    late = tran.start_limit and gmo_datetime(now) > tran.start_limit
    if tran.status in ("REQSUCCESS", "TRADING") and late:
        tran.status = "EXPIRED"


def _pay_type(tran: Transaction) -> str:
    return pay_type_of(tran.pay_method)


def search_trade_multi(ctx: Ctx, p: Mapping[str, str]) -> Reply:
    """PayType 0 (card) and the redirect methods' (methods.py); others are never found."""
    c = Checks()
    shop_id = c.shop(p, ctx.config, family="M")
    order_id = value(p, "OrderID")
    ctx.order_id = order_id
    if not order_id:
        c.add("M01004001")
    elif len(order_id) > 27:
        c.add("M01004012")
    elif not order_id.replace("-", "").isalnum() or not order_id.isascii():
        c.add("M01004013")
    order_ok = not c.infos
    pay_type = value(p, "PayType")
    if not pay_type:
        c.add("M01051001")
    else:
        if len(pay_type) > 2:
            c.add("M01051005")
        if not pay_type.isdigit() or not pay_type.isascii():
            c.add("M01051011")
    tran = None
    if order_ok:
        tran = ctx.state.transactions.get((shop_id, order_id))
        if tran is None or pay_type != _pay_type(tran):
            c.not_found("M01004002")
    c.raise_if_any()
    assert tran is not None
    expire_if_late(tran, ctx.state.clock.now())
    return [
        *_trade_fields(tran),
        ("PayType", pay_type),
        *[(key, "") for key in _MULTI_EMPTY],
        ("Currency", "JPN"),
    ]
