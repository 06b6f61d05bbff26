"""The simulator's memory: transactions per shop, members and cards per site, tokens
(each written to the simulator store by records.py, so a restart keeps them).

Card numbers live here only, as the provider would hold them; they never reach a log, a
repr or the call log (StoredCard hides the number).
"""

import hashlib
import itertools
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from kessai.core.clock import to_tokyo
from kessai.providers.simulator.base import SimClock as SimClock

FORWARD = "2a99662"  # 仕向先コード of GMO's test environment


@dataclass(repr=False)
class StoredCard:
    number: str
    expire: str  # YYMM
    holder_name: str = ""
    security_code_set: bool = False

    def __repr__(self) -> str:
        return f"StoredCard({self.masked()}, expire={self.expire})"

    def masked(self) -> str:
        return "*" * (len(self.number) - 4) + self.number[-4:]

    def token_masked(self) -> str:
        """What the token API shows: first 6 and last 4 digits (last 4 only if short)."""
        if len(self.number) < 14:
            return self.masked()
        return self.number[:6] + "*" * (len(self.number) - 10) + self.number[-4:]


@dataclass
class Transaction:
    shop_id: str
    order_id: str
    access_id: str
    access_pass: str
    entry_job_cd: str
    amount: int
    tax: int
    process_date: datetime
    status: str = "UNPROCESSED"
    job_cd: str = ""
    item_code: str = "0000990"
    tran_id: str = ""
    approve: str = ""
    forward: str = ""
    method: str = ""
    pay_times: str = ""
    card: StoredCard | None = None
    site_id: str = ""
    member_id: str = ""
    client_fields: tuple[str, str, str] = ("", "", "")
    authorized_at: datetime | None = None
    td_flag: str = ""  # EntryTran's TdFlag: "2" = 3-D Secure 2.0 for this transaction
    tds2_trans_id: str = ""
    tds2_ret_url: str = ""
    tds2_result: str = ""  # "" no 3DS, "C" waiting for the challenge, "Y" passed, "N" failed
    # Redirect methods (PayPay, d払い …): which one, the customer's start token, where the
    # customer returns, until when they may start (yyyyMMddHHmmss, Japan time).
    pay_method: str = ""
    start_token: str = ""
    ret_url: str = ""
    start_limit: str = ""


@dataclass
class SavedCard:
    seq: int
    card: StoredCard
    card_name: str = ""
    default: bool = False
    deleted: bool = False


@dataclass
class Member:
    member_id: str
    name: str = ""
    cards: list[SavedCard] = field(default_factory=list)

    def live_cards(self) -> list[SavedCard]:
        return [c for c in self.cards if not c.deleted]

    def card(self, seq: int | None) -> SavedCard | None:
        live = self.live_cards()
        if seq is None:
            return next((c for c in live if c.default), None)
        return next((c for c in live if c.seq == seq), None)


@dataclass
class Token:
    card: StoredCard
    shop_id: str | None
    expires_at: datetime
    used: bool = False


def gmo_datetime(moment: datetime) -> str:
    return to_tokyo(moment).strftime("%Y%m%d%H%M%S")


class State:
    def __init__(self, clock: SimClock) -> None:
        self.clock = clock
        self.transactions: dict[tuple[str, str], Transaction] = {}
        self.by_access_id: dict[str, Transaction] = {}
        self.by_tds2_id: dict[str, Transaction] = {}
        self.members: dict[tuple[str, str], Member] = {}
        self.tokens: dict[str, Token] = {}
        self._tran_seq = itertools.count(198_800)

    def reset(self) -> None:
        self.transactions.clear()
        self.by_access_id.clear()
        self.by_tds2_id.clear()
        self.members.clear()
        self.tokens.clear()

    # --- transactions -------------------------------------------------------------------
    def new_transaction(
        self, shop_id: str, order_id: str, job_cd: str, amount: int, tax: int
    ) -> Transaction:
        tran = Transaction(
            shop_id=shop_id,
            order_id=order_id,
            access_id=secrets.token_hex(16),
            access_pass=secrets.token_hex(16),
            entry_job_cd=job_cd,
            job_cd=job_cd,
            amount=amount,
            tax=tax,
            process_date=self.clock.now(),
        )
        self.transactions[(shop_id, order_id)] = tran
        self.by_access_id[tran.access_id] = tran
        return tran

    def find(self, access_id: str, access_pass: str) -> Transaction | None:
        tran = self.by_access_id.get(access_id)
        if tran is None or not secrets.compare_digest(tran.access_pass, access_pass):
            return None
        return tran

    def stamp(self, tran: Transaction, job_cd: str, status: str) -> None:
        """A processing step reached the card company: new TranID, Approve, date."""
        now = self.clock.now()
        n = next(self._tran_seq)
        tran.tran_id = to_tokyo(now).strftime("%y%m%d%H%M") + "111111111111" + f"{n:06d}"[-6:]
        tran.approve = f"{6_400_000 + n % 3_600_000:07d}"
        tran.forward = FORWARD
        tran.process_date = now
        tran.job_cd = job_cd
        tran.status = status

    def check_string(self, tran: Transaction, shop_pass: str) -> str:
        """MD5 of OrderID+Forward+Method+PayTimes+Approve+TranID+TranDate+ShopPass."""
        text = "".join(
            [
                tran.order_id,
                tran.forward,
                tran.method,
                tran.pay_times,
                tran.approve,
                tran.tran_id,
                gmo_datetime(tran.process_date),
                shop_pass,
            ]
        )
        return hashlib.md5(text.encode("cp932"), usedforsecurity=False).hexdigest()

    # --- tokens ---------------------------------------------------------------------------
    def new_token(self, card: StoredCard, shop_id: str | None, ttl_seconds: int) -> str:
        value = secrets.token_hex(32)
        expires = self.clock.now() + timedelta(seconds=ttl_seconds)
        self.tokens[value] = Token(card=card, shop_id=shop_id, expires_at=expires)
        return value

    def use_token(self, value: str, shop_id: str | None) -> StoredCard | str:
        """The token's card, spent; or the ErrInfo that refuses it."""
        token = self.tokens.get(value)
        if token is None or (token.shop_id and shop_id and token.shop_id != shop_id):
            return "EX1000301"
        if token.used:
            return "EX1000302"
        if self.clock.now() >= token.expires_at:
            return "EX1000303"
        token.used = True
        return token.card

    def peek_token(self, value: str) -> StoredCard | None:
        token = self.tokens.get(value)
        if token is None or token.used or self.clock.now() >= token.expires_at:
            return None
        return token.card
