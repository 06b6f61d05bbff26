"""GMO PG クレジットカード(リンクタイプ): a payment link to GMO's hosted page (リンクタイプ Plus).

What GMO publishes (its リンクタイプ Plus pages, docs.mul-pay.jp/linkplus):
- the link is https://<domain>/v1/plus/<ShopID>/checkout/<ハッシュ付き実行パラメータセット>,
  link.mul-pay.jp in production, stg.link.mul-pay.jp in the test environment;
- the 実行パラメータセット is a JSON object, base64 encoded (URLSafe, UTF-8): α; the tamper
  check is SHA-256 of α followed by the ShopPass, in hex: γ; the set in the URL is "α.γ";
- configid (設定ID, registered in GMO's shop admin) and transaction.OrderID / Amount /
  Overview (取引概要);
- 決済可能期限 is a moment (yyyyMMddHHmm) after which the link no longer pays; 取引有効日数
  counts from the customer's first visit; the earlier one wins;
- the result reaches the shop as GMO's 結果通知 (決済完了通知), as for idPass.
The other keys of the set are those of a published GMO SDK (go-gmo's GetLinkPlusURL):
transaction.PayMethods ("credit" …), RetURL, CancelURL, ExpireDays (取引有効日数),
PaymentExpireDate (決済可能期限), Tax; credit.JobCD, Method, PayTimes. They are declared once in
KEYS; GMO's merchant spec (リンクタイプ Plus インタフェース仕様書, not public) is the last word.

No call reaches GMO when a link is made: the link itself is the request. The transaction
appears at GMO only once the customer pays, with an AccessID kessai learns from the 結果通知
and SearchTrade; from then on it is a card transaction like any other (AlterTran, ChangeTran).
"""

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from kessai.core.clock import TOKYO

METHOD = "credit_card_link"
LINK_DAYS = 7  # a link made without an explicit deadline pays for this many days
MAX_LINK_DAYS = 180
# Keys of the 実行パラメータセット (see the module's docstring for which are published).
KEYS = {
    "config": "configid",
    "transaction": "transaction",
    "order": "OrderID",
    "amount": "Amount",
    "overview": "Overview",
    "methods": "PayMethods",
    "return": "RetURL",
    "cancel": "CancelURL",
    "deadline": "PaymentExpireDate",
    "credit": "credit",
    "job": "JobCD",
}
CREDIT = "credit"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii")


def signature(alpha: str, shop_pass: str) -> str:
    """γ: SHA-256 of α and the ShopPass, hex."""
    return hashlib.sha256((alpha + shop_pass).encode("utf-8")).hexdigest()


def deadline_text(moment: datetime) -> str:
    """決済可能期限 as GMO writes it: yyyyMMddHHmm, Japan time."""
    return moment.astimezone(TOKYO).strftime("%Y%m%d%H%M")


def parse_deadline(text: str) -> datetime | None:
    try:
        return datetime.strptime(text, "%Y%m%d%H%M").replace(tzinfo=TOKYO)
    except ValueError:
        return None


def parameters(
    *,
    order_id: str,
    amount: int,
    job_cd: str,
    deadline: datetime,
    return_url: str | None,
    overview: str,
    config_id: str | None,
) -> dict[str, Any]:
    """The 実行パラメータセット of a card payment link."""
    k = KEYS
    transaction: dict[str, Any] = {
        k["order"]: order_id,
        k["amount"]: amount,
        k["overview"]: overview,
        k["methods"]: [CREDIT],
        k["deadline"]: deadline_text(deadline),
    }
    if return_url:  # the customer comes back here, paid or not
        transaction[k["return"]] = return_url
        transaction[k["cancel"]] = return_url
    params: dict[str, Any] = {k["transaction"]: transaction, k["credit"]: {k["job"]: job_cd}}
    if config_id:
        params = {k["config"]: config_id, **params}
    return params


def signed(params: Mapping[str, Any], shop_pass: str) -> str:
    """ "α.γ": the set as it goes into the link."""
    text = json.dumps(params, ensure_ascii=False, separators=(",", ":"))
    alpha = _b64(text.encode("utf-8"))
    return f"{alpha}.{signature(alpha, shop_pass)}"


def link_url(base: str, shop_id: str, params: Mapping[str, Any], shop_pass: str) -> str:
    return f"{base.rstrip('/')}/v1/plus/{shop_id}/checkout/{signed(params, shop_pass)}"


def opened(part: str, shop_pass: str) -> dict[str, Any] | None:
    """The 実行パラメータセット of "α.γ" when γ is right for this ShopPass, else None (GMO
    refuses a link whose parameters were changed)."""
    alpha, _, gamma = part.partition(".")
    if not alpha or not hmac.compare_digest(gamma, signature(alpha, shop_pass)):
        return None
    try:
        decoded = json.loads(base64.urlsafe_b64decode(alpha.encode("ascii")).decode("utf-8"))
    except (binascii.Error, UnicodeError, ValueError):
        return None
    return decoded if isinstance(decoded, dict) else None


def default_deadline(now: datetime, days: int = LINK_DAYS) -> datetime:
    """The end (23:59) of the n-th day after today, Japan time."""
    day = now.astimezone(TOKYO).date() + timedelta(days=days)
    return datetime(day.year, day.month, day.day, 23, 59, tzinfo=TOKYO)
