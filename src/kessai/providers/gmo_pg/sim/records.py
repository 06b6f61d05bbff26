"""The simulator's transactions and members as records of the simulator base's store
(kessai.providers.simulator.store), so a restarted simulator holds what GMO would.

A card is kept as GMO shows it: first six and last four digits, expiry, holder. A card read
back has zeros in between; every test card keeps its behaviour that way (their middle
digits are zeros: 4000000000000028 comes back as itself, 4111111111111111 as a succeeding
4111110000001111).
"""

from collections.abc import Mapping
from dataclasses import asdict, fields
from datetime import datetime
from typing import Any

from kessai.providers.gmo_pg.sim.state import Member, SavedCard, State, StoredCard, Transaction
from kessai.providers.simulator.store import SimulatorStore

SIMULATOR = "gmo_pg"
TRANSACTION, MEMBER = "transaction", "member"
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
    middle = "0" * max(0, int(data["length"]) - 10)
    return StoredCard(
        number=f"{data['first6']}{middle}{data['last4']}",
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


def restore(state: State, records: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> None:
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


async def save(
    store: SimulatorStore,
    state: State,
    trans: list[Transaction],
    members: list[tuple[str, str]],
) -> None:
    """Write what one call touched: its transactions, and its members (gone ones deleted)."""
    records: dict[tuple[str, str], dict[str, Any] | None] = {}
    for tran in trans:
        records[(TRANSACTION, f"{tran.shop_id}|{tran.order_id}")] = transaction_out(tran)
    for site_id, member_id in members:
        member = state.members.get((site_id, member_id))
        key = (MEMBER, f"{site_id}|{member_id}")
        records[key] = member_out(member) if member is not None else None
    await store.put(records)
