"""The simulator's transactions and members as records of the simulator base's store
(kessai.providers.simulator.store), so a restarted simulator holds what GMO would.

A card is kept as GMO shows it: first six and last four digits, expiry, holder. A card read
back has zeros in between, the last of them chosen so the number passes the Luhn check;
every test card keeps its behaviour that way (their middle digits are zeros:
4000000000000028 comes back as itself, 4111111111111111 as a succeeding 4111110000091111).
A one-time token is kept the same way, with its shop, expiry and whether it was used.
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, fields
from datetime import datetime
from typing import Any

from kessai.core.carddata import luhn_valid
from kessai.providers.gmo_pg.sim.state import (
    Member,
    SavedCard,
    State,
    StoredCard,
    Token,
    Transaction,
)
from kessai.providers.simulator.base import Records

SIMULATOR = "gmo_pg"
TRANSACTION, MEMBER, TOKEN = "transaction", "member", "token"
_DATES = ("process_date", "authorized_at")


def _card_out(card: StoredCard | None) -> dict[str, Any] | None:
    if card is None:
        return None
    number = card.number
    return {
        "first6": number[:6],
        "last4": number[-4:],
        "length": len(number),
        "expire": card.expire,
        "holder_name": card.holder_name,
        "security_code_set": card.security_code_set,
    }


def _card_in(data: Mapping[str, Any] | None) -> StoredCard | None:
    if not data:
        return None
    first6, last4, length = data["first6"], data["last4"], int(data["length"])
    if length <= 10:
        number = (first6 + last4)[-length:]
    else:
        zeros = "0" * (length - 11)
        candidates = (f"{first6}{zeros}{digit}{last4}" for digit in "0123456789")
        number = next(n for n in candidates if luhn_valid(n))
    return StoredCard(
        number=number,
        expire=data["expire"],
        holder_name=data.get("holder_name", ""),
        security_code_set=bool(data.get("security_code_set")),
    )


def transaction_out(tran: Transaction) -> dict[str, Any]:
    out = {f.name: getattr(tran, f.name) for f in fields(tran) if f.name != "card"}
    for name in _DATES:
        value = out[name]
        out[name] = value.isoformat() if value is not None else None
    out["client_fields"] = list(tran.client_fields)
    out["card"] = _card_out(tran.card)
    return out


def transaction_in(data: Mapping[str, Any]) -> Transaction:
    values = dict(data)
    for name in _DATES:
        values[name] = datetime.fromisoformat(values[name]) if values.get(name) else None
    values["client_fields"] = tuple(values.get("client_fields") or ("", "", ""))
    values["card"] = _card_in(values.get("card"))
    return Transaction(**values)


def member_out(member: Member) -> dict[str, Any]:
    return {
        "member_id": member.member_id,
        "name": member.name,
        "cards": [
            {**{k: v for k, v in asdict(c).items() if k != "card"}, "card": _card_out(c.card)}
            for c in member.cards
        ],
    }


def member_in(data: Mapping[str, Any]) -> Member:
    cards = []
    for c in data.get("cards", []):
        card = _card_in(c["card"])
        assert card is not None
        cards.append(SavedCard(c["seq"], card, c["card_name"], c["default"], c["deleted"]))
    return Member(member_id=data["member_id"], name=data.get("name", ""), cards=cards)


def token_out(token: Token) -> dict[str, Any]:
    return {
        "card": _card_out(token.card),
        "shop_id": token.shop_id,
        "expires_at": token.expires_at.isoformat(),
        "used": token.used,
    }


def token_in(data: Mapping[str, Any]) -> Token:
    card = _card_in(data["card"])
    assert card is not None
    expires = datetime.fromisoformat(data["expires_at"])
    return Token(card=card, shop_id=data["shop_id"], expires_at=expires, used=data["used"])


def restore(state: State, records: Records) -> None:
    """Fill an empty state from the store's records (what load() returned)."""
    for data in records.get(TRANSACTION, {}).values():
        tran = transaction_in(data)
        state.transactions[(tran.shop_id, tran.order_id)] = tran
        state.by_access_id[tran.access_id] = tran
        if tran.tds2_trans_id:
            state.by_tds2_id[tran.tds2_trans_id] = tran
    for key, data in records.get(MEMBER, {}).items():
        site_id = key.split("|", 1)[0]
        state.members[(site_id, data["member_id"])] = member_in(data)
    for key, data in records.get(TOKEN, {}).items():
        state.tokens[key] = token_in(data)


Keep = Callable[[str, str, dict[str, Any] | None], None]


def keep(
    keep: Keep,
    state: State,
    trans: Iterable[Transaction] = (),
    members: Iterable[tuple[str, str]] = (),
    tokens: Iterable[str] = (),
) -> None:
    """Hand what one call touched to the store: its transactions, its members (gone ones
    deleted) and its tokens."""
    for tran in trans:
        keep(TRANSACTION, f"{tran.shop_id}|{tran.order_id}", transaction_out(tran))
    for site_id, member_id in members:
        member = state.members.get((site_id, member_id))
        keep(MEMBER, f"{site_id}|{member_id}", member_out(member) if member else None)
    for value in tokens:
        token = state.tokens.get(value)
        keep(TOKEN, value, token_out(token) if token else None)
