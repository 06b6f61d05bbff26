"""GMO's parameter checks and the ErrInfo each one gives.

GMO checks fields one after another and reports every failure, pipe-joined, in that order
(recorded: ExecTran with "null" everywhere → E01090008|E01100008|E01110002|E01170011|
E01170006|E01180006). A look-up (transaction, member) is one of those steps; checks that
need what a failed look-up would have found are skipped. State checks (already executed,
wrong status) run only when every parameter passed, and report one error.
"""

import re
from collections.abc import Mapping

from kessai.providers.gmo_pg import errors as gmo_errors
from kessai.providers.gmo_pg.sim.config import SimulatorConfig

ALNUM = re.compile(r"[0-9A-Za-z]+")
ORDER_ID = re.compile(r"[0-9A-Za-z-]+")
MEMBER_ID = re.compile(r"[0-9A-Za-z._@-]+")
ACCESS = re.compile(r"[0-9A-Za-z]{32}")
DIGITS = re.compile(r"[0-9]+")

JOB_CODES = ("CHECK", "CAPTURE", "AUTH", "SAUTH", "SALES", "VOID", "RETURN", "RETURNX")
AUTHORIZING = ("CAPTURE", "AUTH", "SAUTH")
METHODS = ("1", "2", "3", "4", "5")  # 一括, 分割, ボーナス一括, ボーナス分割, リボ


class Refused(Exception):
    """The request is refused with these ErrInfo, in GMO's order."""

    def __init__(self, *infos: str) -> None:
        super().__init__(*infos)
        self.infos = list(infos)


def error_pairs(infos: list[str]) -> list[tuple[str, str]]:
    codes = []
    for info in infos:
        entry = gmo_errors.lookup(info)
        codes.append(entry.code if entry else info[:3])
    return [("ErrCode", "|".join(codes)), ("ErrInfo", "|".join(infos))]


def value(p: Mapping[str, str], key: str) -> str:
    return p.get(key, "")


def cp932_len(text: str) -> int:
    return len(text.encode("cp932", errors="replace"))


class Checks:
    """Collects ErrInfo in the order GMO reports them."""

    def __init__(self) -> None:
        self.infos: list[str] = []
        self.lookup_failed = False

    def add(self, info: str) -> None:
        self.infos.append(info)

    def raise_if_any(self) -> None:
        if self.infos:
            raise Refused(*self.infos)

    # --- credentials --------------------------------------------------------------------
    def shop(self, p: Mapping[str, str], config: SimulatorConfig, family: str = "E") -> str:
        """ShopID/ShopPass; a wrong shop ends the request, nothing else is looked at."""
        shop_id, shop_pass = value(p, "ShopID"), value(p, "ShopPass")
        codes = _SHOP_CODES[family]
        own: list[str] = []
        if not shop_id:
            own.append(codes[0])
        elif not ALNUM.fullmatch(shop_id) or len(shop_id) > 13:
            own.append(codes[1])
        if not shop_pass:
            own.append(codes[2])
        elif not ALNUM.fullmatch(shop_pass) or len(shop_pass) > 10:
            own.append(codes[3])
        if not own and config.shops.get(shop_id) != shop_pass:
            own.append(codes[4])
        if own:
            raise Refused(*own)
        return shop_id

    def site(self, p: Mapping[str, str], config: SimulatorConfig) -> str:
        """SiteID/SitePass, collected with the other errors; "" when they do not pass."""
        site_id, site_pass = value(p, "SiteID"), value(p, "SitePass")
        before = len(self.infos)
        if not site_id:
            self.add("E01190001")
        elif not ALNUM.fullmatch(site_id) or len(site_id) > 13:
            self.add("E01190008")
        if not site_pass:
            self.add("E01200001")
        elif not ALNUM.fullmatch(site_pass) or len(site_pass) > 20:
            self.add("E01200008")
        if len(self.infos) == before and config.sites.get(site_id) != site_pass:
            self.not_found("E01210002")
        return site_id if len(self.infos) == before else ""

    def access(self, p: Mapping[str, str]) -> tuple[str, str]:
        access_id, access_pass = value(p, "AccessID"), value(p, "AccessPass")
        if not access_id:
            self.add("E01090001")
        elif not ACCESS.fullmatch(access_id):
            self.add("E01090008")
        if not access_pass:
            self.add("E01100001")
        elif not ACCESS.fullmatch(access_pass):
            self.add("E01100008")
        return access_id, access_pass

    def not_found(self, info: str) -> None:
        self.add(info)
        self.lookup_failed = True

    # --- fields -------------------------------------------------------------------------
    def order_id(self, text: str) -> bool:
        if not text:
            self.add("E01040001")
        elif len(text) > 27:
            self.add("E01040003")
        elif not ORDER_ID.fullmatch(text):
            self.add("E01040013")
        else:
            return True
        return False

    def job_cd(self, text: str, allowed: tuple[str, ...]) -> bool:
        if not text:
            self.add("E01050001")
        elif text not in JOB_CODES:
            self.add("E01050002")
        elif text not in allowed:
            self.add("E01050004")
        else:
            return True
        return False

    def amount(self, text: str, *, required: bool) -> int | None:
        """The amount, 0 when optional and left out, None when it does not pass."""
        if not text:
            if required:
                self.add("E01060001")
                return None
            return 0
        if not DIGITS.fullmatch(text):
            self.add("E01060006")
        elif len(text) > 7:
            self.add("E01060005")
        else:
            return int(text)
        return None

    def tax(self, text: str) -> int:
        if not text:
            return 0
        if not DIGITS.fullmatch(text):
            self.add("E01070006")
        elif len(text) > 7:
            self.add("E01070005")
        else:
            return int(text)
        return 0

    def method(self, p: Mapping[str, str]) -> tuple[str, str]:
        method, pay_times = value(p, "Method"), value(p, "PayTimes")
        if not method:
            self.add("E01260001")
        elif method not in METHODS:
            self.add("E01260002")
        elif method in ("2", "4"):
            if not pay_times:
                self.add("E01270001")
            elif not DIGITS.fullmatch(pay_times):
                self.add("E01270006")
            elif len(pay_times) > 2:
                self.add("E01270005")
            return method, pay_times
        return method, ""

    def card_number(self, text: str) -> None:
        if not text:
            self.add("E01170001")
            return
        if len(text) > 16 and DIGITS.fullmatch(text):
            self.add("E01170003")
        elif not 10 <= len(text) <= 16:
            self.add("E01170011")
        if not DIGITS.fullmatch(text):
            self.add("E01170006")

    def expire(self, text: str) -> None:
        if not text:
            self.add("E01180001")
        elif len(text) != 4:
            self.add("E01180003")
        elif not DIGITS.fullmatch(text):
            self.add("E01180006")
        elif not 1 <= int(text[2:]) <= 12:
            self.add("E01180008")

    def security_code(self, text: str) -> None:
        if text and (not DIGITS.fullmatch(text) or not 3 <= len(text) <= 4):
            self.add("E01460008")

    def member_id(self, text: str) -> bool:
        if not text:
            self.add("E01220001")
        elif len(text) > 60:
            self.add("E01220005")
        elif not MEMBER_ID.fullmatch(text):
            self.add("E01220008")
        else:
            return True
        return False

    def card_seq(self, text: str) -> int | None:
        if not text:
            return None
        if not DIGITS.fullmatch(text):
            self.add("E01230006")
            return None
        return int(text)

    def seq_mode(self, text: str) -> str:
        if text and text not in ("0", "1"):
            self.add("E01470008")
        return text or "0"

    def client_fields(self, p: Mapping[str, str]) -> tuple[str, str, str]:
        flag = value(p, "ClientFieldFlag")
        if flag and flag not in ("0", "1"):
            self.add("E01400007")
        fields = (value(p, "ClientField1"), value(p, "ClientField2"), value(p, "ClientField3"))
        for text, info in zip(fields, ("E01320012", "E01330012", "E01340012"), strict=True):
            if cp932_len(text) > 100:
                self.add(info)
        return fields


# missing id, bad id, missing pass, bad pass, no such shop
_SHOP_CODES = {
    "E": ("E01010001", "E01010008", "E01020001", "E01020008", "E01030002"),
    "M": ("M01002001", "M01002008", "M01003001", "M01003008", "M01002002"),
}
