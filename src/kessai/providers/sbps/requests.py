"""The requests kessai sends to SBPS, field by field in SBPS's document order (the order the
hash code is computed in).

XML API request ids name the API and the method: ST01-00131-101 クレジット決済 (トークン),
ST02-00101-101 確定, ST02-00201 売上, ST02-00303 取消返金, ST02-00307 部分返金, MG01-00101
決済結果参照; the last three digits are the method (101 クレジット, 401 d払い, 402
auかんたん決済, 405 ソフトバンクまとめて支払い). 確定 is the card's alone: a carrier payment
is bought through the link type (purchase: the 購入要求 A01-1 the customer's browser takes to
SBPS's purchase page) and then knows only 売上 (ST02-00201-40x) and 取消返金 (ST02-00303-40x).
"""

from collections.abc import Mapping
from datetime import datetime

from kessai.core.clock import TOKYO
from kessai.providers.sbps import codec, link
from kessai.providers.sbps.config import SbpsConfig

CARD = "101"
AUTHORIZE = "ST01-00131-101"
COMMIT = "ST02-00101-101"  # 確定: クレジット only
SALES = "ST02-00201-{method}"
CANCEL = "ST02-00303-{method}"
PARTIAL_REFUND = "ST02-00307-{method}"
LOOKUP = "MG01-00101-{method}"
DEALINGS_LUMP_SUM = "10"  # 一括払い


def request_date(now: datetime) -> str:
    return now.astimezone(TOKYO).strftime("%Y%m%d%H%M%S")


def _ids(config: SbpsConfig) -> list[codec.Node]:
    return [("merchant_id", config.merchant_id), ("service_id", config.service_id)]


def _encrypted_flg(config: SbpsConfig) -> str:
    """1 when the account has a 3DES key: pay_method_info is then sealed on the wire (http.py)
    after the hash code is taken over its plain values."""
    return "1" if config.encrypts else "0"


def authorize(
    config: SbpsConfig, reference: str, amount: int, token: Mapping[str, str], now: datetime
) -> list[codec.Node]:
    return [
        *_ids(config),
        ("cust_code", reference),
        ("order_id", reference),
        ("item_id", "kessai"),
        ("item_name", "ご注文"),
        ("amount", str(amount)),
        ("pay_method_info", [("dealings_type", DEALINGS_LUMP_SUM)]),
        (
            "pay_option_manage",
            [
                ("token", token["token"]),
                ("token_key", token["token_key"]),
                ("cardbrand_return_flg", "1"),
            ],
        ),
        ("encrypted_flg", _encrypted_flg(config)),
        ("request_date", request_date(now)),
    ]


def on_transaction(
    config: SbpsConfig,
    stored: Mapping[str, str],
    now: datetime,
    amount: int | None = None,
) -> list[codec.Node]:
    """確定, 売上, 取消返金, 部分返金: the transaction SBPS gave, and an amount where one goes."""
    nodes: list[codec.Node] = [
        *_ids(config),
        ("sps_transaction_id", stored["sps_transaction_id"]),
        ("tracking_id", stored["tracking_id"]),
        ("processing_datetime", stored["processing_datetime"]),
    ]
    if amount is not None:
        nodes.append(("pay_option_manage", [("amount", str(amount))]))
    nodes.append(("request_date", request_date(now)))
    return nodes


def lookup(
    config: SbpsConfig, reference: str, tracking_id: str | None, now: datetime
) -> list[codec.Node]:
    """決済結果参照 by tracking_id, or by our order_id when SBPS's answer never came."""
    key: codec.Node = ("tracking_id", tracking_id) if tracking_id else ("order_id", reference)
    return [
        *_ids(config),
        key,
        ("response_info_type", "2"),
        ("encrypted_flg", "0"),
        ("request_date", request_date(now)),
    ]


# キャリア決済 (link type): the carrier as seed 003 names it → SBPS's method and pay_method.
CARRIERS = {
    "d_barai": ("401", "docomo"),
    "au_easy": ("402", "auone"),
    "softbank_keitai": ("405", "softbank2"),
}


def purchase(
    config: SbpsConfig,
    reference: str,
    amount: int,
    pay_method: str,
    notice_url: str,
    return_url: str,
    now: datetime,
) -> list[tuple[str, str]]:
    """The signed 購入要求 (A01-1) the customer's browser takes to SBPS's purchase page
    (link.py: its fields in SBPS's order and the hash code over them)."""
    fields = {
        "pay_method": pay_method,
        "merchant_id": config.merchant_id,
        "service_id": config.service_id,
        "cust_code": reference,
        "order_id": reference,
        "item_id": "kessai",
        "item_name": "ご注文",  # SBPS requires one
        "amount": str(amount),
        "pay_type": "0",  # 都度購入
        "service_type": "0",  # 購入
        "terminal_type": "0",
        "success_url": return_url,
        "cancel_url": return_url,
        "error_url": return_url,
        "pagecon_url": notice_url,
        "request_date": request_date(now),
    }
    return link.signed(fields, link.PURCHASE, config.hash_key)
