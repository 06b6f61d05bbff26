"""Every query of 自動洗替, as Core statements: a run touches every stored card of an account,
so the selection is one INSERT … SELECT, the request is streamed and the result is applied by
two set-based UPDATEs."""

from collections.abc import AsyncIterator, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Table,
    and_,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from kessai.cardupdater.models import UpdaterResultLine, UpdaterRun, UpdaterTarget
from kessai.cardupdater.status import NOT_DONE, RunStatus
from kessai.core.upsert import dialect_insert
from kessai.customers.models import Customer, CustomerCard
from kessai.customers.updater import UpdaterResult

runs_t: Table = UpdaterRun.__table__  # type: ignore[assignment]
targets_t: Table = UpdaterTarget.__table__  # type: ignore[assignment]
lines_t: Table = UpdaterResultLine.__table__  # type: ignore[assignment]
cards_t: Table = CustomerCard.__table__  # type: ignore[assignment]
customers_t: Table = Customer.__table__  # type: ignore[assignment]

STREAM_ROWS = 5000  # rows fetched per round trip while streaming a request file


def month_key(month: date) -> str:
    return f"{month:%Y-%m}"


def expiries(month: date) -> tuple[str, str]:
    """The YYMM of this month and the next (seed 000: 有効期限が「当月/次月」)."""
    nxt = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return f"{month:%y%m}", f"{nxt:%y%m}"


async def get_or_create_run(
    s: AsyncSession, account_id: int, month: date, now: datetime
) -> UpdaterRun:
    stmt = dialect_insert(s, UpdaterRun).values(
        account_id=account_id,
        month=month_key(month),
        status=RunStatus.SELECTED.value,
        first=False,
        targets=0,
        upload_attempts=0,
        created_at=now,
        updated_at=now,
    )
    await s.execute(stmt.on_conflict_do_nothing(index_elements=["account_id", "month"]))
    run = await s.scalar(
        select(UpdaterRun)
        .where(UpdaterRun.account_id == account_id, UpdaterRun.month == month_key(month))
        .with_for_update()
    )
    assert run is not None
    return run


async def run_of(s: AsyncSession, account_id: int, month: date) -> UpdaterRun | None:
    return await s.scalar(
        select(UpdaterRun).where(
            UpdaterRun.account_id == account_id, UpdaterRun.month == month_key(month)
        )
    )


async def had_run_before(s: AsyncSession, account_id: int, month: date) -> bool:
    """Whether an earlier month's request reached GMO (else this is the 初回洗替). A month
    whose result was never fetched (未実施, MISSED) counts: GMO had the cards all the same."""
    reached = [RunStatus.UPLOADED.value, RunStatus.APPLIED.value, RunStatus.MISSED.value]
    return bool(
        await s.scalar(
            select(
                exists().where(
                    UpdaterRun.account_id == account_id,
                    UpdaterRun.month < month_key(month),
                    UpdaterRun.status.in_(reached),
                )
            )
        )
    )


async def select_targets(
    s: AsyncSession, run: UpdaterRun, registered_before: datetime, month: date, first: bool
) -> int:
    """Seed 000's selection, written into the run's targets in one statement; the count.

    - 顧客情報とクレジットカード情報が削除されていない;
    - 前月末までに登録された (created before the month began, Asia/Tokyo);
    - 有効期限が「当月/次月」 — except on the 初回洗替, which takes every registered card;
    - 前回の洗替結果が「有効性NG」「照合エラー」「入力データエラー」でない.
    """
    await s.execute(delete(targets_t).where(targets_t.c.run_id == run.id))
    card, customer = cards_t.c, customers_t.c
    conditions = [
        card.account_id == run.account_id,
        card.deleted_at.is_(None),
        customer.deleted_at.is_(None),
        card.created_at < registered_before,
        or_(card.updater_result.is_(None), card.updater_result == UpdaterResult.VALID.value),
    ]
    if not first:
        conditions.append(card.expire.in_(expiries(month)))
    chosen = (
        select(
            literal(run.id, targets_t.c.run_id.type).label("run_id"),
            card.id,
            card.member_id,
            card.card_seq,
            card.masked_number,
            card.expire,
        )
        .select_from(cards_t.join(customers_t, customer.id == card.customer_id))
        .where(and_(*conditions))
        .order_by(card.id)
    )
    inserted = await s.execute(
        insert(targets_t).from_select(
            ["run_id", "card_id", "member_id", "card_seq", "sent_masked_number", "sent_expire"],
            chosen,
        )
    )
    count = int(inserted.rowcount)  # type: ignore[attr-defined]  # no second scan to count
    await s.execute(update(runs_t).where(runs_t.c.id == run.id).values(targets=count, first=first))
    return count


async def stream_targets(s: AsyncSession, run_id: int) -> AsyncIterator[list[dict[str, Any]]]:
    """The run's cards in file order, a few thousand rows per round trip (and per yield)."""
    t = targets_t.c
    result = await s.stream(
        select(t.member_id, t.card_seq, t.sent_expire, t.sent_masked_number)
        .where(t.run_id == run_id)
        .order_by(t.id)
        .execution_options(yield_per=STREAM_ROWS)
    )
    async for rows in result.partitions(STREAM_ROWS):
        yield [
            {"member_id": m, "card_seq": c, "expire": e, "masked_number": n} for m, c, e, n in rows
        ]


async def mark_uploaded(
    s: AsyncSession, run_id: int, path: str, sha256: str, now: datetime
) -> None:
    await s.execute(
        update(runs_t)
        .where(runs_t.c.id == run_id)
        .values(
            status=RunStatus.UPLOADED.value,
            request_path=path,
            request_sha256=sha256,
            uploaded_at=now,
            last_error=None,
            updated_at=now,
        )
    )


async def note_failure(s: AsyncSession, run_id: int, error: str, now: datetime) -> None:
    await s.execute(
        update(runs_t)
        .where(runs_t.c.id == run_id)
        .values(last_error=error, upload_attempts=runs_t.c.upload_attempts + 1, updated_at=now)
    )


async def claim_for_applying(s: AsyncSession, run_id: int, job_id: int, now: datetime) -> bool:
    """uploaded → applied, by compare-and-set: exactly one transaction applies a result."""
    result = await s.execute(
        update(runs_t)
        .where(runs_t.c.id == run_id, runs_t.c.status == RunStatus.UPLOADED.value)
        .values(
            status=RunStatus.APPLIED.value, applied_at=now, result_job_id=job_id, updated_at=now
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


LINE_COLUMNS = ("run_id", "line_no", "member_id", "card_seq", "result", "masked_number", "expire")


async def stage_lines(s: AsyncSession, rows: Sequence[tuple[Any, ...]]) -> None:
    """Stage result lines (LINE_COLUMNS in order) in the session's transaction: COPY on
    PostgreSQL (a million lines by INSERT would take most of a minute), a multi-row INSERT
    on SQLite."""
    if not rows:
        return
    conn = await s.connection()
    if conn.dialect.name != "postgresql":
        await s.execute(insert(lines_t), [dict(zip(LINE_COLUMNS, r, strict=True)) for r in rows])
        return
    pooled = await conn.get_raw_connection()
    driver = pooled.driver_connection
    assert driver is not None  # an open connection of the asyncpg dialect
    await driver.copy_records_to_table(lines_t.name, records=rows, columns=LINE_COLUMNS)


async def analyze_lines(s: AsyncSession) -> None:
    """PostgreSQL plans the checks and the UPDATE on fresh statistics of the staged lines (a
    nested loop over a million lines planned for an empty table never ends)."""
    if s.get_bind().dialect.name == "postgresql":
        await s.execute(text("ANALYZE card_updater_result_lines"))


async def duplicate_lines(s: AsyncSession, run_id: int, limit: int) -> list[int]:
    """Line numbers repeating a card already in an earlier line."""
    first = (
        select(
            lines_t.c.member_id,
            lines_t.c.card_seq,
            func.min(lines_t.c.line_no).label("first_line"),
        )
        .where(lines_t.c.run_id == run_id)
        .group_by(lines_t.c.member_id, lines_t.c.card_seq)
        .having(func.count() > 1)
        .subquery()
    )
    rows = await s.execute(
        select(lines_t.c.line_no)
        .join(
            first,
            and_(
                first.c.member_id == lines_t.c.member_id,
                first.c.card_seq == lines_t.c.card_seq,
            ),
        )
        .where(lines_t.c.run_id == run_id, lines_t.c.line_no != first.c.first_line)
        .order_by(lines_t.c.line_no)
        .limit(limit)
    )
    return [int(n) for n in rows.scalars()]


async def unknown_lines(s: AsyncSession, run_id: int, limit: int) -> list[int]:
    """Line numbers naming a card this run did not send."""
    sent = exists().where(
        targets_t.c.run_id == run_id,
        targets_t.c.member_id == lines_t.c.member_id,
        targets_t.c.card_seq == lines_t.c.card_seq,
    )
    rows = await s.execute(
        select(lines_t.c.line_no)
        .where(lines_t.c.run_id == run_id, ~sent)
        .order_by(lines_t.c.line_no)
        .limit(limit)
    )
    return [int(n) for n in rows.scalars()]


async def apply_staged(s: AsyncSession, run_id: int, now: datetime) -> int:
    """The staged result onto the run's targets, then onto the stored cards; the cards updated.

    A new expiry or masked number replaces the card's only when the result gives one.
    Every 定期受注 reads its card, so they all see the change at once.
    """
    line = lines_t.c
    await s.execute(
        update(targets_t)
        .where(
            targets_t.c.run_id == run_id,
            line.run_id == run_id,
            line.member_id == targets_t.c.member_id,
            line.card_seq == targets_t.c.card_seq,
        )
        .values(
            result=line.result,
            masked_number=line.masked_number,
            expire=line.expire,
            result_line=line.line_no,
        )
    )
    t = targets_t.c
    result = await s.execute(
        update(cards_t)
        .where(t.run_id == run_id, t.card_id == cards_t.c.id, t.result.is_not(None))
        .values(
            updater_result=t.result,
            updater_checked_at=now,
            masked_number=func.coalesce(t.masked_number, cards_t.c.masked_number),
            expire=func.coalesce(t.expire, cards_t.c.expire),
        )
    )
    await s.execute(delete(lines_t).where(lines_t.c.run_id == run_id))
    return int(result.rowcount)  # type: ignore[attr-defined]


async def record_result(
    s: AsyncSession, run_id: int, path: str, sha256: str, lines: int, now: datetime
) -> None:
    await s.execute(
        update(runs_t)
        .where(runs_t.c.id == run_id)
        .values(result_path=path, result_sha256=sha256, result_lines=lines, last_error=None)
    )


async def target_ids(s: AsyncSession, run_id: int) -> list[int]:
    rows = await s.execute(
        select(targets_t.c.id).where(targets_t.c.run_id == run_id).order_by(targets_t.c.id)
    )
    return [int(n) for n in rows.scalars()]


async def target_rows(s: AsyncSession, ids: Sequence[int]) -> list[Any]:
    """The job CSV's columns of these targets: the customer, the card as sent and as now."""
    t, c, u = targets_t.c, cards_t.c, customers_t.c
    rows = await s.execute(
        select(
            t.id,
            t.member_id,
            t.card_seq,
            t.sent_masked_number,
            t.sent_expire,
            t.result,
            t.result_line,
            c.id.label("card_id"),
            c.masked_number,
            c.expire,
            u.id.label("customer_id"),
            u.name.label("customer_name"),
        )
        .select_from(
            targets_t.join(cards_t, c.id == t.card_id).join(customers_t, u.id == c.customer_id)
        )
        .where(t.id.in_(list(ids)))
        .order_by(t.id)
    )
    return list(rows.all())


async def runs_applied_by(s: AsyncSession, job_id: int) -> list[UpdaterRun]:
    rows = await s.scalars(
        select(UpdaterRun).where(UpdaterRun.result_job_id == job_id).order_by(UpdaterRun.id)
    )
    return list(rows.all())


async def runs_waiting_for_result(s: AsyncSession) -> list[UpdaterRun]:
    rows = await s.scalars(
        select(UpdaterRun)
        .where(UpdaterRun.status == RunStatus.UPLOADED.value)
        .order_by(UpdaterRun.id)
    )
    return list(rows.all())


async def close_past_months(s: AsyncSession, month: date, now: datetime) -> list[UpdaterRun]:
    """Runs of months before `month` still 送信待ち or 結果待ち: marked 未実施, returned."""
    closed: list[UpdaterRun] = []
    for before, after in (
        (RunStatus.SELECTED, RunStatus.NOT_SENT),
        (RunStatus.UPLOADED, RunStatus.MISSED),
    ):
        rows = await s.scalars(
            update(UpdaterRun)
            .where(UpdaterRun.month < month_key(month), UpdaterRun.status == before.value)
            .values(status=after.value, updated_at=now)
            .returning(UpdaterRun)
        )
        closed.extend(rows.all())
    return sorted(closed, key=lambda r: (r.account_id, r.month))


async def open_past_months(s: AsyncSession, month: date) -> bool:
    """Whether a month before `month` is still 送信待ち or 結果待ち (to be closed)."""
    open_ = [RunStatus.SELECTED.value, RunStatus.UPLOADED.value]
    return bool(
        await s.scalar(
            select(
                exists().where(UpdaterRun.month < month_key(month), UpdaterRun.status.in_(open_))
            )
        )
    )


async def not_done_count(s: AsyncSession, since: date) -> int:
    """Account-months from `since` whose 自動洗替 did not happen (未実施), for the dashboard."""
    return int(
        await s.scalar(
            select(func.count()).where(
                UpdaterRun.month >= month_key(since),
                UpdaterRun.status.in_([st.value for st in NOT_DONE]),
            )
        )
        or 0
    )


async def result_counts(s: AsyncSession, run_id: int) -> dict[str, int]:
    """How many of the run's cards got each 洗替判定結果 ("" for none in the file)."""
    rows = await s.execute(
        select(targets_t.c.result, func.count())
        .where(targets_t.c.run_id == run_id)
        .group_by(targets_t.c.result)
    )
    return {(r or ""): int(n) for r, n in rows.all()}


async def blocked_targets(s: AsyncSession, run_id: int, limit: int) -> list[Any]:
    """Cards of the run that came back 有効性NG, 照合エラー or 入力データエラー."""
    t, c, u = targets_t.c, cards_t.c, customers_t.c
    blocking = [r.value for r in UpdaterResult if r.blocks_charging]
    rows = await s.execute(
        select(t.result, u.id.label("customer_id"), u.name.label("customer_name"))
        .select_from(
            targets_t.join(cards_t, c.id == t.card_id).join(customers_t, u.id == c.customer_id)
        )
        .where(t.run_id == run_id, t.result.in_(blocking))
        .order_by(t.id)
        .limit(limit)
    )
    return list(rows.all())
