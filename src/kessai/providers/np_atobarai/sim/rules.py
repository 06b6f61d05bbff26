"""What NP's test environment decides: the credit check by test amount, and the input it
refuses."""

import re
from collections.abc import Mapping
from typing import Any

from kessai.providers.np_atobarai.buyer import PREFECTURES
from kessai.providers.np_atobarai.carriers import CODES

# billed_amount → (first authori_result, hold reasons or NG reason, result after NP looks again)
CHECKS: dict[int, tuple[str, list[str] | str | None, tuple[str, str | None] | None]] = {
    29001: ("20", "NG001", None),
    29002: ("20", "NG999", None),
    29003: ("10", ["RE009", "RE021"], ("00", None)),
    29004: ("10", ["RE026"], ("20", "NG999")),
    29005: ("RE", None, None),
}
_ZIP = re.compile(r"[0-9]{7}")
_TEL = re.compile(r"0[0-9]{9,10}")


def credit_check(amount: int) -> dict[str, Any]:
    first, why, later = CHECKS.get(amount, ("00", None, None))
    out: dict[str, Any] = {"authori_result": first}
    if first == "10":
        out["authori_hold"] = why
    if first == "20":
        out["authori_ng"] = why
    if later is not None:
        out["later"] = list(later)
    return out


def _party_errors(party: Any) -> list[str]:
    if not isinstance(party, Mapping):
        return ["E0100002"]
    found = []
    if not str(party.get("customer_name") or "").strip():
        found.append("E0100002")
    if not _ZIP.fullmatch(str(party.get("zip_code") or "").replace("-", "")):
        found.append("E0100003")
    address = str(party.get("address") or "")
    if not any(address.startswith(p) for p in PREFECTURES):
        found.append("E0100003")
    if not _TEL.fullmatch(str(party.get("tel") or "").replace("-", "")):
        found.append("E0100003")
    return found


def registration_errors(t: Mapping[str, Any], *, update: bool = False) -> list[str]:
    found: list[str] = []
    if not update and not str(t.get("shop_transaction_id") or ""):
        found.append("E0100002")
    amount = t.get("billed_amount")
    if type(amount) is not int or amount <= 0:
        return [*found, "E0100003"]
    found += _party_errors(t.get("customer"))
    if t.get("dest_customer") is not None:
        found += _party_errors(t.get("dest_customer"))
    goods = t.get("goods")
    if not isinstance(goods, list) or not goods:
        found.append("E0100002")
    else:
        try:
            total = sum(int(g["goods_price"]) * int(g["quantity"]) for g in goods)
        except (KeyError, TypeError, ValueError):
            total = -1
        if total != amount:
            found.append("E0100003")
    return sorted(set(found))


def shipment_errors(s: Mapping[str, Any]) -> list[str]:
    found = []
    if str(s.get("pd_company_code") or "") not in CODES:
        found.append("E0100003")
    slip = str(s.get("slip_no") or "")
    if not slip or len(slip) > 20:
        found.append("E0100002")
    return found
