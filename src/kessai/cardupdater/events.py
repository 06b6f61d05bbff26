"""The event `card.updater_ng`: one per card whose 洗替判定結果 came back 有効性NG, 照合エラー
or 入力データエラー, with its customer and the 定期受注 it pays.

Written by one INSERT … SELECT in the apply's own transaction (the outbox rule: the events
exist exactly when the result is applied), so a run of a million cards with a hundred
thousand NG adds one statement, not a loop. The JSON is built by the database.
"""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    ColumnElement,
    FromClause,
    String,
    Table,
    case,
    cast,
    func,
    insert,
    literal,
    select,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession

from kessai.cardupdater.repository import cards_t, targets_t
from kessai.core.db import UTCDateTime
from kessai.customers.updater import UpdaterResult
from kessai.subscriptions.models import Subscription
from kessai.webhooks.models import Event

TYPE = "card.updater_ng"
BLOCKING = [r.value for r in UpdaterResult if r.blocks_charging]
subscriptions_t: Table = Subscription.__table__  # type: ignore[assignment]


def _object(pg: bool, *pairs: tuple[str, ColumnElement[object]]) -> ColumnElement[object]:
    args: list[object] = []
    for key, value in pairs:
        args.extend((literal(key), value))
    return (func.json_build_object if pg else func.json_object)(*args)


def _uid(pg: bool) -> ColumnElement[str]:
    """A fresh webhook-id (msg_ + 32 hex digits) per row."""
    if pg:
        raw = func.replace(cast(func.gen_random_uuid(), String), "-", "")
    else:
        raw = func.lower(func.hex(func.randomblob(16)))
    return literal("msg_") + raw


async def emit_updater_ng(s: AsyncSession, run_id: int, now: datetime, source: str) -> int:
    """One `card.updater_ng` event per card of the 自動洗替 run that came back NG; how many."""
    t = targets_t.c
    cards = targets_t.join(cards_t, cards_t.c.id == t.card_id)
    return await _emit(s, cards, [t.run_id == run_id, t.result.in_(BLOCKING)], now, source)


async def emit_cards_ng(s: AsyncSession, card_ids: list[int], now: datetime, source: str) -> int:
    """The same for cards another check (継続課金's 有効性チェック) found NG."""
    if not card_ids:
        return 0
    await s.flush()  # the caller set the results on ORM rows
    c = cards_t.c
    where = [c.id.in_(card_ids), c.updater_result.in_(BLOCKING)]
    return await _emit(s, cards_t, where, now, source)


async def _emit(
    s: AsyncSession,
    cards: FromClause,
    where: Sequence[ColumnElement[bool]],
    now: datetime,
    source: str,
) -> int:
    pg = s.get_bind().dialect.name == "postgresql"
    c, sub = cards_t.c, subscriptions_t.c
    subs: ColumnElement[object]
    if pg:
        agg = func.json_agg(aggregate_order_by(sub.id, sub.id))
        subs = (
            select(func.coalesce(agg, literal("[]").cast(JSON)))
            .where(sub.card_id == c.id)
            .scalar_subquery()
        )
    else:  # json(): the array stays JSON inside json_object, not a quoted string
        subs = func.json(
            select(func.json_group_array(sub.id)).where(sub.card_id == c.id).scalar_subquery()
        )
    label = case(
        *((c.updater_result == r.value, literal(r.label)) for r in UpdaterResult),
        else_=literal(""),
    )
    data = _object(
        pg,
        (
            "card",
            _object(
                pg,
                ("id", c.id),
                ("customer_id", c.customer_id),
                ("masked_number", c.masked_number),
                ("expire", c.expire),
                ("updater_result", c.updater_result),
            ),
        ),
        ("updater_result_label", label),
        ("customer", _object(pg, ("id", c.customer_id))),
        ("subscriptions", subs),
        ("source", literal(source)),
    )
    rows = (
        select(
            _uid(pg),
            literal(TYPE),
            literal("card:") + cast(c.id, String),
            type_coerce(data, JSON),
            literal(now, UTCDateTime()),
            literal(False, Boolean()),
        )
        .select_from(cards)
        .where(*where)
        .order_by(c.id)
    )
    result = await s.execute(
        insert(Event).from_select(["uid", "type", "subject", "data", "created_at", "relayed"], rows)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
