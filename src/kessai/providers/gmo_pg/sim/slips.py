"""Pay-later methods in the simulator: コンビニ (Cvs), Pay-easy (PayEasy), 銀行振込 (GANB)
(kessai.providers.gmo_pg.methods), and the sandbox call that makes the customer pay.

EntryTran<X> (OrderID, Amount) registers; ExecTran<X> issues the slip (REQSUCCESS for
コンビニ/Pay-easy, TRADING for 銀行振込) with its deadline PAYMENT_DAYS of simulator time
ahead; CvsCancel cancels an unpaid コンビニ slip (CANCEL). POST /_sandbox/pay {"OrderID",
"Amount"?} is the customer paying at the counter or the bank (PAYSUCCESS; after the
deadline EXPIRED and refused), and GMO's 結果通知 follows (sim/notify.py). POST
/_sandbox/expire runs GMO's 期限切れ batch at the simulator's time: every slip unpaid after its
deadline becomes EXPIRED and GMO sends its 結果通知 (Status EXPIRED), as for a payment; the
batch also runs by itself once a day (from 3:00, simulator time) on the first idPass call.

The recordings of ExecTranCvs/CvsCancel name another OrderID than their EntryTranCvs and
GMO answered them all the same: these calls go by AccessID/AccessPass alone.
"""

import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta

from kessai.providers.gmo_pg.methods import MISSING, SLIP_BY_SUFFIX, SlipMethod
from kessai.providers.gmo_pg.sim.context import Ctx, Handler, Reply
from kessai.providers.gmo_pg.sim.shop import expire_if_late
from kessai.providers.gmo_pg.sim.state import Transaction, gmo_datetime
from kessai.providers.gmo_pg.sim.validation import Checks, Refused, value

PAYMENT_DAYS = 7
UNPAID = ("REQSUCCESS", "TRADING")
# Answer keys as recorded (Entry: with OrderID for GANB).
_ENTRY_ECHOES_ORDER = {"GANB"}


def _by_access(ctx: Ctx, c: Checks, shop_id: str, p: Mapping[str, str]) -> Transaction | None:
    access_id, access_pass = c.access(p)
    tran = ctx.state.find(access_id, access_pass)
    if tran is None or tran.shop_id != shop_id:
        c.not_found("E01110002")
        return None
    return ctx.about(tran)


def _entry(m: SlipMethod) -> Handler:
    def handler(ctx: Ctx, p: Mapping[str, str]) -> Reply:
        c = Checks()
        shop_id = c.shop(p, ctx.config)
        order_id = value(p, "OrderID")
        ctx.order_id = order_id
        if c.order_id(order_id) and (shop_id, order_id) in ctx.state.transactions:
            c.add("E01040010")
        job = value(p, "JobCd")  # not needed, but checked when sent (GMO's recording)
        if job:
            c.job_cd(job, ("CAPTURE",))
        amount = c.amount(value(p, "Amount"), required=True)
        c.raise_if_any()
        tran = ctx.state.new_transaction(shop_id, order_id, "CAPTURE", amount or 0, 0)
        tran.pay_method = m.key
        head = [("OrderID", order_id)] if m.suffix in _ENTRY_ECHOES_ORDER else []
        return [*head, ("AccessID", tran.access_id), ("AccessPass", tran.access_pass)]

    return handler


def _deadline(now: datetime) -> str:
    return gmo_datetime(now + timedelta(days=PAYMENT_DAYS))


def _exec(m: SlipMethod) -> Handler:
    def handler(ctx: Ctx, p: Mapping[str, str]) -> Reply:
        c = Checks()
        shop_id = c.shop(p, ctx.config)
        tran = _by_access(ctx, c, shop_id, p)
        for gmo, _key, required in m.exec_fields:
            if required and not value(p, gmo):
                c.add(MISSING[gmo])
        c.raise_if_any()
        assert tran is not None
        if tran.pay_method != m.key:
            raise Refused("E01110002")
        if tran.status != "UNPROCESSED":
            raise Refused("E11010001")
        now = ctx.state.clock.now()
        ctx.state.stamp(tran, "CAPTURE", "TRADING" if m.suffix == "GANB" else "REQSUCCESS")
        tran.start_limit = _deadline(now)
        tran.start_token = f"{secrets.randbelow(10**10):010d}"  # 受付番号 / 口座番号 seed
        return _slip_reply(m, tran, p)

    return handler


def _slip_reply(m: SlipMethod, tran: Transaction, p: Mapping[str, str]) -> Reply:
    no, term, date = tran.start_token, tran.start_limit, gmo_datetime(tran.process_date)
    if m.suffix == "Cvs":
        return [
            ("OrderID", tran.order_id),
            ("Convenience", value(p, "Convenience")),
            ("ConfNo", no[:6]),
            ("ReceiptNo", f"SIM{no}"),
            ("PaymentTerm", term),
            ("TranDate", date),
            ("ClientField1", value(p, "ClientField1")),
            ("CheckString", secrets.token_hex(16)),
            ("ClientField2", value(p, "ClientField2")),
            ("ClientField3", value(p, "ClientField3")),
        ]
    if m.suffix == "PayEasy":
        return [
            ("OrderID", tran.order_id),
            ("CustID", f"SIM{no[:8]}"),
            ("BkCode", "58021"),
            ("ConfNo", no[:4]),
            ("EncryptReceiptNo", secrets.token_urlsafe(15)),
            ("PaymentTerm", term),
            ("TranDate", date),
            ("CheckString", secrets.token_hex(16)),
        ]
    return [
        ("AccessID", tran.access_id),
        ("BankCode", "0310"),
        ("BankName", "ｼﾞ-ｴﾑｵ-ｱｵｿﾞﾗﾈﾂﾄ"),
        ("BranchCode", "503"),
        ("BranchName", "ｼﾐﾕﾚ-ﾀ-"),
        ("AccountType", "1"),
        ("AccountNumber", no[:7]),
        ("AccountHolderName", "ﾃｽﾄｼﾖﾂﾌﾟ"),
        ("AvailableDate", term[:8]),
    ]


def cvs_cancel(ctx: Ctx, p: Mapping[str, str]) -> Reply:
    c = Checks()
    shop_id = c.shop(p, ctx.config)
    tran = _by_access(ctx, c, shop_id, p)
    c.raise_if_any()
    assert tran is not None
    if tran.status not in ("UNPROCESSED", *UNPAID):  # GMO cancels one never issued too
        raise Refused("E11010003")
    ctx.state.stamp(tran, "CANCEL", "CANCEL")
    return [("OrderID", value(p, "OrderID") or tran.order_id), ("Status", "CANCEL")]


HANDLERS: dict[str, Handler] = {"CvsCancel": cvs_cancel}
for _m in SLIP_BY_SUFFIX.values():
    HANDLERS[_m.entry] = _entry(_m)
    HANDLERS[_m.exec] = _exec(_m)


def expire_due(ctx: Ctx) -> list[Transaction]:
    """GMO's 期限切れ batch: every slip still unpaid after its deadline becomes EXPIRED (each
    one then gets its 結果通知, sim/app.py)."""
    keys = {m.key for m in SLIP_BY_SUFFIX.values()}
    now, expired = ctx.state.clock.now(), []
    for tran in ctx.state.transactions.values():
        if tran.pay_method in keys and tran.status in UNPAID:
            expire_if_late(tran, now)
            if tran.status == "EXPIRED":
                expired.append(tran)
    return expired


def pay(ctx: Ctx, order_id: str, amount: int | None) -> tuple[Transaction | None, str]:
    """The customer pays the slip: the transaction, or a refusal in words."""
    tran = next(
        (t for t in ctx.state.transactions.values() if t.order_id == order_id and t.pay_method),
        None,
    )
    if tran is None or tran.pay_method not in {m.key for m in SLIP_BY_SUFFIX.values()}:
        return None, "この支払番号の取引はありません"
    expire_if_late(tran, ctx.state.clock.now())
    if tran.status == "EXPIRED":
        return tran, "支払期限を過ぎています"
    if tran.status not in UNPAID:
        return tran, f"この取引はお支払いできません (状態 {tran.status})"
    if amount is not None and amount != tran.amount:
        return tran, "金額が一致しません"
    ctx.state.stamp(tran, "CAPTURE", "PAYSUCCESS")
    tran.authorized_at = tran.process_date
    return tran, ""
