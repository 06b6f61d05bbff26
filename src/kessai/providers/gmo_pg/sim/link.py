"""リンクタイプ Plus in the simulator: GMO's hosted payment page a payment link opens
(GET /v1/plus/<ShopID>/checkout/<α.γ>, kessai.providers.gmo_pg.link).

The page refuses a link whose hash does not match the shop's ShopPass (parameters changed on
the way), a link past its 決済可能期限 (expired), and a link whose OrderID already paid. The
tester approves (the card transaction is made as GMO makes it: AUTH, or CAPTURE when the link
says so; GMO's 結果通知 follows) or cancels (nothing is made); the browser then goes to RetUrl
with OrderID and Status when the link names one.
"""

import html
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from kessai.providers.gmo_pg import link
from kessai.providers.gmo_pg.sim.context import Ctx
from kessai.providers.gmo_pg.sim.state import StoredCard, Transaction

PAID_WITH = StoredCard("4111111111111111", "3012")  # the tester's card on the hosted page


@dataclass
class Opened:
    shop_id: str
    order_id: str
    amount: int
    job_cd: str
    deadline: str  # yyyyMMddHHmm
    return_url: str
    cancel_url: str


def open_link(ctx: Ctx, shop_id: str, part: str) -> Opened | str:
    """The link's parameters, or why the page refuses it (in words)."""
    shop_pass = ctx.config.shops.get(shop_id)
    params = link.opened(part, shop_pass) if shop_pass else None
    if params is None:
        return "このURLは無効です (パラメータが改ざんされているか、ショップが違います)"
    k = link.KEYS
    tran: dict[str, Any] = params.get(k["transaction"]) or {}
    credit: dict[str, Any] = params.get(k["credit"]) or {}
    amount = tran.get(k["amount"])
    job = str(credit.get(k["job"]) or "AUTH")
    valid = isinstance(amount, int) and not isinstance(amount, bool) and amount > 0
    if not valid or job not in ("AUTH", "CAPTURE") or not tran.get(k["order"]):
        return "このURLの決済内容が正しくありません"
    return Opened(
        shop_id,
        str(tran[k["order"]]),
        int(amount or 0),
        job,
        str(tran.get(k["deadline"]) or ""),
        str(tran.get(k["return"]) or ""),
        str(tran.get(k["cancel"]) or ""),
    )


def refusal(ctx: Ctx, o: Opened) -> str | None:
    done = ctx.state.transactions.get((o.shop_id, o.order_id))
    if done is not None and done.status not in ("UNPROCESSED",):
        return "このご注文はお支払い済みです"
    deadline = link.parse_deadline(o.deadline)
    if deadline is not None and ctx.state.clock.now() > deadline.replace(second=59):
        return "このURLは有効期限切れです (決済可能期限を過ぎています)"
    return None


def approve(ctx: Ctx, o: Opened) -> Transaction:
    tran = ctx.state.new_transaction(o.shop_id, o.order_id, o.job_cd, o.amount, 0)
    tran.card, tran.method = PAID_WITH, "1"
    ctx.state.stamp(tran, o.job_cd, o.job_cd)
    tran.authorized_at = tran.process_date
    return tran


def back_to_shop(o: Opened, status: str) -> str | None:
    """RetURL after a payment, CancelURL after the customer cancelled."""
    url = o.cancel_url if status == "CANCEL" else o.return_url
    if not url:
        return None
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}{urlencode({'OrderID': o.order_id, 'Status': status})}"


def page(o: Opened) -> str:
    approve_q = html.escape(urlencode({"result": "approve"}))
    cancel_q = html.escape(urlencode({"result": "cancel"}))
    deadline = link.parse_deadline(o.deadline)
    until = f"{deadline:%Y/%m/%d %H:%M}" if deadline else "-"
    return (
        '<!doctype html><html lang="ja"><meta charset="utf-8">'
        "<title>お支払い (GMO PG リンクタイプ シミュレーター)</title>"
        "<h1>クレジットカードでのお支払い</h1>"
        f"<p>ご注文 {html.escape(o.order_id)}: {o.amount:,}円</p>"
        f"<p>決済可能期限 {until}</p>"
        f'<p><a href="?{approve_q}">承認する</a></p>'
        f'<p><a href="?{cancel_q}">キャンセルする</a></p>'
        "</html>"
    )


def words(text: str) -> str:
    return f'<!doctype html><html lang="ja"><meta charset="utf-8"><p>{html.escape(text)}</p>'
