"""Redirect methods in the simulator (PayPay, d払い, au, ソフトバンク, 楽天ペイ, LINE Pay, au PAY,
PayPal: kessai.providers.gmo_pg.methods), and the customer's page where they approve.

EntryTran<X> registers (UNPROCESSED); ExecTran<X> answers Token + StartURL (REQSUCCESS) and
the customer has until StartLimitDate (START_MINUTES of simulator time) to start; the page at
<X>Start.idPass (GET or POST, AccessID + Token, or ShopID + AccessID for PaypalStart) lets the
tester approve (→ AUTH, or CAPTURE when entered so), refuse (→ PAYFAIL) or, once the limit
has passed, see it expired (→ EXPIRED), then sends the browser to RetURL with OrderID and
Status. <X>Sales (Amount equal to the authorization's) → SALES; <X>Cancel… (CancelAmount)
→ CANCEL before capture, RETURN after; a part of the amount (d払い, au: 減額) leaves the rest
charged; DocomoIncrease (IncreaseAmount) adds to it. SearchTradeMulti with the method's
PayType shows it.
"""

import html
import secrets
from collections.abc import Mapping
from datetime import timedelta
from urllib.parse import urlencode

from kessai.providers.gmo_pg.methods import BY_SUFFIX, RedirectMethod
from kessai.providers.gmo_pg.sim.context import Ctx, Handler, Reply
from kessai.providers.gmo_pg.sim.shop import _lookup, expire_if_late
from kessai.providers.gmo_pg.sim.state import Transaction, gmo_datetime
from kessai.providers.gmo_pg.sim.validation import Checks, Refused, value

START_MINUTES = 30
# Entry answers with OrderID for these (the recordings of LINE Pay, 楽天ペイ, PayPal); the
# others answer AccessID/AccessPass only (d払い's recording, PayPay in GMO's SDK types).
_ENTRY_ECHOES_ORDER = {"Linepay", "RakutenId", "Paypal"}
# LINE Pay's recorded ExecTran answer starts with Start=1 and has no StartLimitDate.
_LINEPAY_STYLE = {"Linepay"}
APPROVED = ("AUTH", "CAPTURE", "SALES")


def _entry(m: RedirectMethod) -> Handler:
    def handler(ctx: Ctx, p: Mapping[str, str]) -> Reply:
        c = Checks()
        shop_id = c.shop(p, ctx.config)
        order_id = value(p, "OrderID")
        ctx.order_id = order_id
        if c.order_id(order_id) and (shop_id, order_id) in ctx.state.transactions:
            c.add("E01040010")
        job = value(p, "JobCd") or "AUTH"
        c.job_cd(job, ("AUTH", "CAPTURE"))
        amount = c.amount(value(p, "Amount"), required=True)
        tax = c.tax(value(p, "Tax"))
        c.raise_if_any()
        tran = ctx.state.new_transaction(shop_id, order_id, job, amount or 0, tax)
        tran.pay_method = m.key
        head = [("OrderID", order_id)] if m.suffix in _ENTRY_ECHOES_ORDER else []
        return [*head, ("AccessID", tran.access_id), ("AccessPass", tran.access_pass)]

    return handler


def _exec(m: RedirectMethod) -> Handler:
    def handler(ctx: Ctx, p: Mapping[str, str]) -> Reply:
        c = Checks()
        shop_id = c.shop(p, ctx.config)
        ctx.order_id = value(p, "OrderID")
        tran = _lookup(ctx, c, shop_id, p)
        ret = value(p, "RetURL") if m.start_in_exec else value(p, "RedirectURL")
        if not ret:
            c.add("M01059001")  # 戻り先URLが設定されていません
        c.raise_if_any()
        assert tran is not None
        if tran.pay_method != m.key:
            raise Refused("E01110002")
        if tran.status != "UNPROCESSED":
            raise Refused("E11010001")
        now = ctx.state.clock.now()
        tran.status, tran.ret_url = "REQSUCCESS", ret
        tran.start_token = secrets.token_urlsafe(36)
        tran.start_limit = gmo_datetime(now + timedelta(minutes=START_MINUTES))
        tran.process_date = now
        if not m.start_in_exec:
            return [("OrderID", tran.order_id)]
        head = [("Start", "1")] if m.suffix in _LINEPAY_STYLE else []
        reply = [
            *head,
            ("AccessID", tran.access_id),
            ("Token", tran.start_token),
            ("StartURL", f"{ctx.base_url}/payment/{m.start_api}.idPass"),
        ]
        if m.suffix not in _LINEPAY_STYLE:
            reply.append(("StartLimitDate", tran.start_limit))
        return reply

    return handler


def _approved(
    ctx: Ctx,
    p: Mapping[str, str],
    field: str,
    *,
    required: bool,
    statuses: tuple[str, ...] = APPROVED,
) -> tuple[Transaction, int | None]:
    """The checks every call on a registered payment starts with: the shop, the trade, the
    amount in `field`; then the payment must be in one of `statuses` (E11010003 otherwise)."""
    c = Checks()
    shop_id = c.shop(p, ctx.config)
    tran = _lookup(ctx, c, shop_id, p)
    amount = c.amount(value(p, field), required=required)
    c.raise_if_any()
    assert tran is not None
    if tran.status not in statuses:
        raise Refused("E11010003")
    return tran, amount


def _sales(m: RedirectMethod) -> Handler:
    def handler(ctx: Ctx, p: Mapping[str, str]) -> Reply:
        tran, amount = _approved(ctx, p, "Amount", required=m.sales_amount, statuses=("AUTH",))
        if m.sales_amount and amount != tran.amount:
            raise Refused("E01060010")
        ctx.state.stamp(tran, "SALES", "SALES")
        return [
            ("OrderID", tran.order_id),
            ("Status", tran.status),
            ("Amount", str(tran.amount)),
            ("Tax", str(tran.tax)),
        ]

    return handler


def _cancel(m: RedirectMethod) -> Handler:
    def handler(ctx: Ctx, p: Mapping[str, str]) -> Reply:
        tran, amount = _approved(
            ctx, p, "CancelAmount", required=m.cancel_amount, statuses=APPROVED
        )
        if not m.cancel_amount:  # the whole payment (RecruitCancel takes no amount)
            amount = tran.amount
        partial = m.partial_cancel and amount is not None and 0 < amount < tran.amount
        if amount != tran.amount and not partial:
            raise Refused("E01060010")
        if partial:  # 減額: the rest stays charged, in the same state
            tran.amount -= amount or 0
            ctx.state.stamp(tran, tran.job_cd, tran.status)
        else:
            status = "CANCEL" if tran.status == "AUTH" else "RETURN"
            ctx.state.stamp(tran, status, status)
        return [
            ("OrderID", tran.order_id),
            ("Status", tran.status),
            ("CancelAmount", str(amount)),
            ("CancelTax", "0"),
        ]

    return handler


def _increase(m: RedirectMethod) -> Handler:
    """<X>Increase (IncreaseAmount): 増額 of an approved payment (d払い)."""

    def handler(ctx: Ctx, p: Mapping[str, str]) -> Reply:
        tran, amount = _approved(ctx, p, "IncreaseAmount", required=True)
        tran.amount += amount or 0
        ctx.state.stamp(tran, tran.job_cd, tran.status)
        return [
            ("OrderID", tran.order_id),
            ("Status", tran.status),
            ("Amount", str(tran.amount)),
            ("Tax", str(tran.tax)),
            ("IncreaseAmount", str(amount)),
            ("IncreaseTax", "0"),
        ]

    return handler


def _change(m: RedirectMethod) -> Handler:
    """<X>Change (Amount): the approved payment's amount becomes the new one."""

    def handler(ctx: Ctx, p: Mapping[str, str]) -> Reply:
        tran, amount = _approved(ctx, p, "Amount", required=True)
        tran.amount = amount or 0
        ctx.state.stamp(tran, tran.job_cd, tran.status)
        return [
            ("OrderID", tran.order_id),
            ("Status", tran.status),
            ("Amount", str(tran.amount)),
            ("Tax", str(tran.tax)),
        ]

    return handler


HANDLERS: dict[str, Handler] = {}
for _m in BY_SUFFIX.values():
    HANDLERS[_m.entry] = _entry(_m)
    HANDLERS[_m.exec] = _exec(_m)
    HANDLERS[_m.sales] = _sales(_m)
    HANDLERS[_m.cancel] = _cancel(_m)
    if _m.increase:
        HANDLERS[_m.increase] = _increase(_m)
    if _m.change:
        HANDLERS[_m.change] = _change(_m)


def start_target(ctx: Ctx, query: Mapping[str, str]) -> Transaction | None:
    """The transaction a start page is about (AccessID + Token, or ShopID + AccessID)."""
    tran = ctx.state.by_access_id.get(query.get("AccessID", ""))
    if tran is None or not tran.pay_method:
        return None
    token = query.get("Token")
    if token is not None:
        return tran if secrets.compare_digest(token, tran.start_token) else None
    return tran if query.get("ShopID") == tran.shop_id else None


def decide(ctx: Ctx, tran: Transaction, result: str) -> None:
    """The customer approved or refused at the wallet (or let the time run out)."""
    expire_if_late(tran, ctx.state.clock.now())
    if tran.status != "REQSUCCESS":
        return
    if result == "approve":
        ctx.state.stamp(tran, tran.entry_job_cd, tran.entry_job_cd)
        tran.authorized_at = tran.process_date
    else:
        tran.status = "PAYFAIL"


def return_url(tran: Transaction) -> str:
    joiner = "&" if "?" in tran.ret_url else "?"
    query = urlencode({"OrderID": tran.order_id, "Status": tran.status})
    return f"{tran.ret_url}{joiner}{query}"


def start_page(tran: Transaction, query: Mapping[str, str]) -> str:
    name = BY_SUFFIX_KEY.get(tran.pay_method, tran.pay_method)
    keep = {k: v for k, v in query.items() if k in ("AccessID", "Token", "ShopID")}
    approve = html.escape(urlencode({**keep, "result": "approve"}))
    refuse = html.escape(urlencode({**keep, "result": "refuse"}))
    return (
        '<!doctype html><html lang="ja"><meta charset="utf-8">'
        f"<title>{html.escape(name)} (GMO PG シミュレーター)</title>"
        f"<h1>{html.escape(name)}でのお支払い</h1>"
        f"<p>ご注文 {html.escape(tran.order_id)}: {tran.amount + tran.tax:,}円</p>"
        f'<p><a href="?{approve}">承認する</a></p>'
        f'<p><a href="?{refuse}">キャンセルする</a></p>'
        f"<p>この画面は {tran.start_limit[8:10]}:{tran.start_limit[10:12]} まで有効です。</p>"
        "</html>"
    )


BY_SUFFIX_KEY = {m.key: m.name for m in BY_SUFFIX.values()}
