"""The 請求先, 配送先 and 商品 of a 後払い order, read from its payment source and checked
the way NP checks them, so that an order NP would refuse is refused before it is sent.

For 後払い the payment source is the buyer NP bills (the invoice goes to that address):
- 請求先: customer_name (required), company_name, zip_code, address, tel (required),
  email;
- 配送先 (when it differs): dest_customer_name, dest_company_name, dest_zip_code,
  dest_address, dest_tel — all four of name, zip, address and tel once any is given;
- 商品: goods, a JSON list of {"goods_name", "goods_price", "quantity"} whose total is the
  order amount; without it one line 「ご注文商品」 carries the whole amount.
"""

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kessai.providers.contract import InputProblem

PREFECTURES = [
    "北海道",
    "青森県",
    "岩手県",
    "宮城県",
    "秋田県",
    "山形県",
    "福島県",
    "茨城県",
    "栃木県",
    "群馬県",
    "埼玉県",
    "千葉県",
    "東京都",
    "神奈川県",
    "新潟県",
    "富山県",
    "石川県",
    "福井県",
    "山梨県",
    "長野県",
    "岐阜県",
    "静岡県",
    "愛知県",
    "三重県",
    "滋賀県",
    "京都府",
    "大阪府",
    "兵庫県",
    "奈良県",
    "和歌山県",
    "鳥取県",
    "島根県",
    "岡山県",
    "広島県",
    "山口県",
    "徳島県",
    "香川県",
    "愛媛県",
    "高知県",
    "福岡県",
    "佐賀県",
    "長崎県",
    "熊本県",
    "大分県",
    "宮崎県",
    "鹿児島県",
    "沖縄県",
]
_ZIP = re.compile(r"[0-9]{3}-?[0-9]{4}")
_TEL = re.compile(r"[0-9-]{10,13}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
DEFAULT_GOODS = "ご注文商品"
ADJUSTMENT = "金額調整"
MAX_GOODS = 100


@dataclass(frozen=True)
class Party:
    name: str
    company: str
    zip_code: str
    address: str
    tel: str
    email: str = ""

    def wire(self, *, customer: bool) -> dict[str, Any]:
        out = {
            "customer_name": self.name,
            "company_name": self.company,
            "zip_code": self.zip_code,
            "address": self.address,
            "tel": self.tel,
        }
        if customer:
            out["email"] = self.email
        return out


@dataclass(frozen=True)
class Goods:
    name: str
    price: int
    quantity: int

    def wire(self) -> dict[str, Any]:
        return {"goods_name": self.name, "goods_price": self.price, "quantity": self.quantity}


@dataclass(frozen=True)
class Buyer:
    customer: Party
    destination: Party | None
    goods: tuple[Goods, ...]


def _problem(field: str, message: str) -> InputProblem:
    return InputProblem("np_input_invalid", message, field=f"payment_source.{field}")


def _party(source: Mapping[str, str], prefix: str, label: str) -> Party | InputProblem:
    def get(key: str) -> str:
        return (source.get(prefix + key) or "").strip()

    name, zip_code, address, tel = get("customer_name"), get("zip_code"), get("address"), get("tel")
    if not name:
        return _problem(prefix + "customer_name", f"NP後払いには{label}の氏名が必要です")
    if not _ZIP.fullmatch(zip_code):
        return _problem(
            prefix + "zip_code", f"{label}の郵便番号は7桁の数字で指定してください(例: 150-0001)"
        )
    if not address:
        return _problem(prefix + "address", f"NP後払いには{label}の住所が必要です")
    if not any(address.startswith(p) for p in PREFECTURES):
        return _problem(
            prefix + "address",
            f"{label}の住所は都道府県から指定してください(NP後払いの請求書の宛先です)",
        )
    digits = tel.replace("-", "")
    if not _TEL.fullmatch(tel) or not 10 <= len(digits) <= 11 or not digits.startswith("0"):
        return _problem(
            prefix + "tel", f"{label}の電話番号は0から始まる10桁か11桁で指定してください"
        )
    email = get("email") if not prefix else ""
    if email and not _EMAIL.fullmatch(email):
        return _problem("email", "請求先のメールアドレスの形式が正しくありません")
    return Party(name, get("company_name"), zip_code.replace("-", ""), address, tel, email)


def _goods(raw: str | None, amount: int) -> tuple[Goods, ...] | InputProblem:
    if not raw:
        return (Goods(DEFAULT_GOODS, amount, 1),)
    try:
        items = json.loads(raw)
    except ValueError:
        items = None
    if not isinstance(items, list) or not 0 < len(items) <= MAX_GOODS:
        return _problem("goods", f"商品(goods)は1〜{MAX_GOODS}件のJSONの配列で指定してください")
    goods = []
    for n, item in enumerate(items, start=1):
        name = item.get("goods_name") if isinstance(item, dict) else None
        price = item.get("goods_price") if isinstance(item, dict) else None
        qty = item.get("quantity") if isinstance(item, dict) else None
        valid = (
            isinstance(name, str)
            and name.strip()
            and type(price) is int
            and type(qty) is int
            and qty > 0
        )
        if not valid:
            return _problem(
                "goods", f"商品の{n}件目には商品名・単価(整数)・数量(1以上)を指定してください"
            )
        goods.append(Goods(str(name).strip(), int(str(price)), int(str(qty))))
    total = sum(g.price * g.quantity for g in goods)
    if total != amount:
        return _problem("goods", f"商品の合計({total:,}円)が請求金額({amount:,}円)と一致しません")
    return tuple(goods)


def read(source: Mapping[str, str], amount: int) -> Buyer | InputProblem:
    customer = _party(source, "", "請求先")
    if isinstance(customer, InputProblem):
        return customer
    destination: Party | None = None
    if any(k.startswith("dest_") and (v or "").strip() for k, v in source.items()):
        found = _party(source, "dest_", "配送先")
        if isinstance(found, InputProblem):
            return found
        destination = found
    goods = _goods(source.get("goods"), amount)
    if isinstance(goods, InputProblem):
        return goods
    return Buyer(customer, destination, goods)


def adjusted(goods: tuple[Goods, ...], amount: int) -> tuple[Goods, ...]:
    """The goods for a new amount: the one default line re-priced, or a 金額調整 line."""
    kept = tuple(g for g in goods if g.name != ADJUSTMENT)
    total = sum(g.price * g.quantity for g in kept)
    if len(kept) == 1 and kept[0].name == DEFAULT_GOODS and kept[0].quantity == 1:
        return (Goods(DEFAULT_GOODS, amount, 1),)
    if total == amount:
        return kept
    return (*kept, Goods(ADJUSTMENT, amount - total, 1))


def registration(reference: str, ordered_on: str, amount: int, buyer: Buyer) -> dict[str, Any]:
    """One transaction of POST /transactions (取引登録)."""
    body: dict[str, Any] = {
        "shop_transaction_id": reference,
        "shop_order_date": ordered_on,
        "settlement_type": "02",  # NP後払い
        "billed_amount": amount,
        "customer": buyer.customer.wire(customer=True),
        "goods": [g.wire() for g in buyer.goods],
    }
    if buyer.destination is not None:
        body["dest_customer"] = buyer.destination.wire(customer=False)
    return body


def goods_of(wire: Any) -> tuple[Goods, ...]:
    """Goods as remembered (the wire's list) → Goods."""
    return tuple(
        Goods(str(g["goods_name"]), int(g["goods_price"]), int(g["quantity"])) for g in (wire or [])
    )
