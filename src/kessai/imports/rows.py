"""What both imports do with a row: find its order, read a date, run it as a job item."""

import re
from collections.abc import Awaitable, Callable, Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kessai.core.db import transaction
from kessai.jobs.kinds import ItemResult
from kessai.jobs.models import Job
from kessai.orders.models import Order
from kessai.orders.schemas import MAX_ID
from kessai.payments.bulk import progress
from kessai.payments.bulk.apply import Applied

if TYPE_CHECKING:
    from kessai.services import Services

NOT_FOUND = "受注が見つかりませんでした"
# Per identifying column: its header and how an order is found by it.
IDENTIFIERS = {
    "order_id": ("受注ID", Order.id),
    "number": ("受注番号", Order.number),
    "transaction_id": ("取引ID", Order.provider_transaction_id),
}


async def find_order(s: AsyncSession, row: Mapping[str, str]) -> int | str:
    """The order's id, or why the row names none: every identifier given must agree."""
    found: set[int] = set()
    for key, (label, column) in IDENTIFIERS.items():
        raw = row.get(key, "")
        if not raw:
            continue
        value: object = raw
        if key == "order_id":
            if not raw.isdigit() or not 1 <= int(raw) <= MAX_ID:
                return "受注IDの形式が正しくありません"
            value = int(raw)
        ids = list((await s.execute(select(Order.id).where(column == value).limit(2))).scalars())
        if not ids:
            return NOT_FOUND
        if len(ids) > 1:
            return f"{label}「{raw}」に該当する受注が複数あります"
        found.add(int(ids[0]))
    if not found:
        names = "・".join(label for key, (label, _) in IDENTIFIERS.items() if key in row)
        return f"{names}が入力されていません"
    if len(found) > 1:
        return "受注ID・受注番号・取引IDが別々の受注を指しています"
    return found.pop()


_DATE = re.compile(r"^(\d{4})[/\-.年](\d{1,2})[/\-.月](\d{1,2})日?$")


def parse_date(raw: str) -> date | None:
    """2026/03/02, 2026-3-2, 2026年3月2日 or 20260302; None when it is not a date."""
    found = _DATE.match(raw)
    parts = found.groups() if found else None
    if parts is None and len(raw) == 8 and raw.isdigit():
        parts = (raw[:4], raw[4:6], raw[6:])
    if parts is None:
        return None
    try:
        return date(int(parts[0]), int(parts[1]), int(parts[2]))
    except ValueError:
        return None


async def run_rows(
    services: "Services",
    job: Job,
    keys: list[Any],
    one: Callable[[int, dict[str, str]], Awaitable[ItemResult]],
    concurrency: int,
) -> list[ItemResult]:
    """Run a chunk of an import's rows (keys: their positions in the file), each recorded
    as soon as it is done so that the chunk run again does none of them twice."""
    rows: list[list[Any]] = job.params["rows"]
    items = [(int(k), str(rows[int(k)][0])) for k in keys]

    async def item(position: int, number: str) -> ItemResult:
        return await one(int(number), dict(rows[position][1]))

    return await progress.run_items(services, job.id, items, item, concurrency)


async def lookup(services: "Services", row: Mapping[str, str]) -> int | str:
    async with transaction(services.sessions) as s:
        return await find_order(s, row)


def row_result(number: int, applied: Applied, data: dict[str, Any]) -> ItemResult:
    """The row's CSV line: what it named, the order's 決済状況 before and after, the result."""
    if applied.before is not None:
        data["number"] = applied.before.number
        data["before"] = applied.before.label
    if applied.after is not None:
        data["after"] = applied.after.label
    return ItemResult(str(number), applied.status, applied.message, data)


class RowsKind:
    """What both import kinds share: one item per row of the stored file, a few at once."""

    chunk_size = 100
    concurrency = 8

    async def plan(self, services: "Services", job: Job) -> list[Any]:
        return list(range(len(job.params["rows"])))
