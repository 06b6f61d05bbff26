"""GMO's 結果通知 from the simulator: a CP932 form POST to the shop's 結果通知プログラム URL
after a payment changes at GMO (a コンビニ slip paid, a wallet approved …).

The shop must answer "0" (HTTP 200); anything else, an error status or no answer, and GMO
sends the same notification again on RESEND. The simulator base's notices do it (every
attempt in the background, GMO does not wait for the shop): each attempt in
GET /_records?kind=notice under "<OrderID>/<Status>/<n>" and GET /_calls?api=結果通知;
POST /_control {"resend_pauses": [seconds, …]} shortens the schedule.

The URL is set per simulator (SimulatorConfig.notify_url, or POST /_control
{"notify_url": …}); none set, nothing is sent.
"""

from kessai.providers.gmo_pg import codec
from kessai.providers.gmo_pg.methods import pay_type_of
from kessai.providers.gmo_pg.sim.state import Transaction, gmo_datetime
from kessai.providers.simulator.notify import Notice, Resend

API = "結果通知"  # the notices' name in the call log
# GMO's schedule as its merchants quote the 結果通知プログラム spec: again about every 60
# minutes, five times, while the shop does not answer "0" (not read from GMO's manual here).
RESEND = Resend((3600.0,) * 5)


def fields(tran: Transaction, overrides: dict[str, str] | None = None) -> dict[str, str]:
    """What GMO posts: ShopPass masked, the rest as the transaction stands."""
    form = {
        "ShopID": tran.shop_id,
        "ShopPass": "**********",
        "AccessID": tran.access_id,
        "AccessPass": "********************************",
        "OrderID": tran.order_id,
        "Status": tran.status,
        "JobCd": tran.job_cd,
        "Amount": str(tran.amount),
        "Tax": str(tran.tax),
        "Currency": "JPN",
        "TranID": tran.tran_id,
        "TranDate": gmo_datetime(tran.process_date),
        "PayType": pay_type_of(tran.pay_method),
        "ErrCode": "",
        "ErrInfo": "",
    }
    return form | (overrides or {})


def notice(url: str, key: str, form: dict[str, str]) -> Notice:
    """The 結果通知 of `form`, as GMO posts it."""
    return Notice(
        api=API,
        key=key,
        ref=form["OrderID"],
        url=url,
        body=codec.encode_request(form),
        headers={"Content-Type": codec.CONTENT_TYPE},
        taken=_taken,
        encoding="cp932",
    )


def _taken(status: int, answer: str) -> bool:
    return status == 200 and answer.strip() == "0"
