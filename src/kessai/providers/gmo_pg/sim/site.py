"""Site APIs (members and their cards) and the shop-and-site ones (TradedCard, card detail)."""

from collections.abc import Mapping

from kessai.providers.gmo_pg.sim.context import Ctx, Reply
from kessai.providers.gmo_pg.sim.state import FORWARD, Member, SavedCard, StoredCard
from kessai.providers.gmo_pg.sim.validation import Checks, Refused, cp932_len, value


def _member(ctx: Ctx, c: Checks, site_id: str, p: Mapping[str, str]) -> Member | None:
    member_id = value(p, "MemberID")
    if not c.member_id(member_id) or not site_id or c.lookup_failed:
        return None
    member = ctx.state.members.get((site_id, member_id))
    if member is None:
        c.not_found("E01390002")
    return member


def _member_name(c: Checks, p: Mapping[str, str]) -> str:
    name = value(p, "MemberName")
    if cp932_len(name) > 255:
        c.add("E01430012")
    return name


def save_member(ctx: Ctx, p: Mapping[str, str]) -> Reply:
    c = Checks()
    site_id = c.site(p, ctx.config)
    member_id = value(p, "MemberID")
    if c.member_id(member_id) and site_id and (site_id, member_id) in ctx.state.members:
        c.add("E01390010")
    name = _member_name(c, p)
    c.raise_if_any()
    ctx.state.members[(site_id, member_id)] = Member(member_id=member_id, name=name)
    return [("MemberID", member_id)]


def update_member(ctx: Ctx, p: Mapping[str, str]) -> Reply:
    c = Checks()
    member = _member(ctx, c, c.site(p, ctx.config), p)
    name = _member_name(c, p)
    c.raise_if_any()
    assert member is not None
    member.name = name
    return [("MemberID", member.member_id)]


def delete_member(ctx: Ctx, p: Mapping[str, str]) -> Reply:
    c = Checks()
    site_id = c.site(p, ctx.config)
    member = _member(ctx, c, site_id, p)
    c.raise_if_any()
    assert member is not None
    del ctx.state.members[(site_id, member.member_id)]
    return [("MemberID", member.member_id)]


def search_member(ctx: Ctx, p: Mapping[str, str]) -> Reply:
    c = Checks()
    member = _member(ctx, c, c.site(p, ctx.config), p)
    c.raise_if_any()
    assert member is not None
    return [("MemberID", member.member_id), ("MemberName", member.name), ("DeleteFlag", "0")]


def _card_extras(c: Checks, p: Mapping[str, str]) -> tuple[str, bool, str]:
    card_name = value(p, "CardName")
    if cp932_len(card_name) > 10:
        c.add("E01130012")
    holder = value(p, "HolderName")
    if len(holder) > 50 or not holder.isascii():
        c.add("E01480008")
    return card_name, value(p, "DefaultFlag") == "1", holder


def _add_card(
    ctx: Ctx, member: Member, card: StoredCard, card_name: str, default: bool
) -> SavedCard:
    if len(member.live_cards()) >= ctx.config.max_cards_per_member:
        raise Refused("E01230009")
    seq = max((saved.seq for saved in member.cards), default=-1) + 1
    saved = SavedCard(seq=seq, card=card, card_name=card_name)
    member.cards.append(saved)
    _set_default(member, saved, default)
    return saved


def _set_default(member: Member, saved: SavedCard, default: bool) -> None:
    if default:
        for other in member.cards:
            other.default = False
    saved.default = default


def _saved_reply(saved: SavedCard) -> Reply:
    return [("CardSeq", str(saved.seq)), ("CardNo", saved.card.masked()), ("Forward", FORWARD)]


def save_card(ctx: Ctx, p: Mapping[str, str]) -> Reply:
    """Registers a card (Token, or CardNo + Expire), or replaces the one at CardSeq."""
    c = Checks()
    member = _member(ctx, c, c.site(p, ctx.config), p)
    c.seq_mode(value(p, "SeqMode"))
    card_seq = c.card_seq(value(p, "CardSeq"))
    card_name, default, holder = _card_extras(c, p)
    token = value(p, "Token")
    if not token:
        c.card_number(value(p, "CardNo"))
        c.expire(value(p, "Expire"))
    c.security_code(value(p, "SecurityCode"))
    c.raise_if_any()
    assert member is not None
    existing = None
    if card_seq is not None:
        existing = member.card(card_seq)
        if existing is None:
            raise Refused("E01240002")
    if token:
        used = ctx.state.use_token(token, None)
        if isinstance(used, str):
            raise Refused(used)
        card = StoredCard(used.number, used.expire, holder or used.holder_name, False)
    else:
        card = StoredCard(value(p, "CardNo"), value(p, "Expire"), holder, False)
    if existing is None:
        return _saved_reply(_add_card(ctx, member, card, card_name, default))
    existing.card, existing.card_name = card, card_name
    _set_default(member, existing, default)
    return _saved_reply(existing)


def search_card(ctx: Ctx, p: Mapping[str, str]) -> Reply:
    """Every card of the member (pipe-joined in parallel), or the one at CardSeq."""
    c = Checks()
    member = _member(ctx, c, c.site(p, ctx.config), p)
    seq_mode = c.seq_mode(value(p, "SeqMode"))
    card_seq = c.card_seq(value(p, "CardSeq"))
    c.raise_if_any()
    assert member is not None
    cards = member.cards if seq_mode == "1" else member.live_cards()
    if card_seq is not None:
        cards = [saved for saved in cards if saved.seq == card_seq]
    if not cards:
        raise Refused("E01240002")
    columns: dict[str, list[str]] = {
        "CardSeq": [str(s.seq) for s in cards],
        "DefaultFlag": ["1" if s.default else "0" for s in cards],
        "CardName": [s.card_name for s in cards],
        "CardNo": [s.card.masked() for s in cards],
        "Expire": [s.card.expire for s in cards],
        "HolderName": [s.card.holder_name for s in cards],
        "DeleteFlag": ["1" if s.deleted else "0" for s in cards],
    }
    return [(key, "|".join(values)) for key, values in columns.items()]


def delete_card(ctx: Ctx, p: Mapping[str, str]) -> Reply:
    c = Checks()
    member = _member(ctx, c, c.site(p, ctx.config), p)
    c.seq_mode(value(p, "SeqMode"))
    card_seq = c.card_seq(value(p, "CardSeq"))
    c.raise_if_any()
    assert member is not None
    saved = member.card(card_seq) if card_seq is not None else None
    if saved is None:
        raise Refused("E01240002")
    saved.deleted, saved.default = True, False
    return [("CardSeq", str(saved.seq))]


def traded_card(ctx: Ctx, p: Mapping[str, str]) -> Reply:
    """Registers the card a finished transaction was paid with (決済後カード登録)."""
    c = Checks()
    shop_id = c.shop(p, ctx.config)
    site_id = c.site(p, ctx.config)
    order_id = value(p, "OrderID")
    ctx.order_id = order_id
    tran = None
    if c.order_id(order_id):
        tran = ctx.state.transactions.get((shop_id, order_id))
        if tran is None:
            c.not_found("E01110002")
    member = _member(ctx, c, site_id, p)
    c.seq_mode(value(p, "SeqMode"))
    _, default, holder = _card_extras(c, p)
    c.raise_if_any()
    assert tran is not None
    assert member is not None
    if tran.card is None:
        raise Refused("E01110010")
    card = StoredCard(tran.card.number, tran.card.expire, holder or tran.card.holder_name)
    return _saved_reply(_add_card(ctx, member, card, "", default))


def _brand(number: str) -> str:
    if number.startswith("4"):
        return "VISA"
    if number[:2] in ("51", "52", "53", "54", "55") or 2221 <= int(number[:4] or 0) <= 2720:
        return "MASTER"
    if number.startswith("35"):
        return "JCB"
    if number[:2] in ("34", "37"):
        return "AMEX"
    if number[:2] in ("30", "36", "38", "39"):
        return "DINERS"
    return ""


def search_card_detail(ctx: Ctx, p: Mapping[str, str]) -> Reply:
    """カード属性照会 by Token, OrderID (shop), MemberID (site) or CardNo."""
    c = Checks()
    shop_id = c.shop(p, ctx.config) if value(p, "ShopID") or value(p, "ShopPass") else ""
    card: StoredCard | None = None
    if value(p, "Token"):
        card = ctx.state.peek_token(value(p, "Token"))
        if card is None:
            raise Refused("EX1000301")
    elif value(p, "OrderID"):
        tran = ctx.state.transactions.get((shop_id, value(p, "OrderID")))
        ctx.order_id = value(p, "OrderID")
        card = tran.card if tran else None
        if card is None:
            raise Refused("E01110002")
    elif value(p, "MemberID"):
        member = _member(ctx, c, c.site(p, ctx.config), p)
        c.seq_mode(value(p, "SeqMode"))
        card_seq = c.card_seq(value(p, "CardSeq"))
        c.raise_if_any()
        assert member is not None
        saved = member.card(card_seq) or (None if card_seq is not None else _first(member))
        if saved is None:
            raise Refused("E01240002")
        card = saved.card
    else:
        c.card_number(value(p, "CardNo"))
        c.raise_if_any()
        card = StoredCard(value(p, "CardNo"), "")
    return [
        ("CardNo", card.masked()),
        ("Brand", _brand(card.number)),
        ("DomesticFlag", "1"),
        ("IssuerCode", ""),
        ("DebitPrepaidFlag", "0"),
        ("DebitPrepaidIssuerName", ""),
        ("ForwardFinal", FORWARD),
    ]


def _first(member: Member) -> SavedCard | None:
    live = member.live_cards()
    return live[0] if live else None
