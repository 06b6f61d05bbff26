"""継続課金 month by month: send the orders shipped last month (around the 8th), apply the
売上結果 (around the 18th) and the 有効性チェック (around the 27th).

Each step is taken once per account and month by compare-and-set on the batch, in the
transaction that applies it; a result file with a malformed line is refused whole with its
line numbers (nothing applied). The files travel over the account's SFTP server exactly as
the 自動洗替 files do (cardupdater.transfer).
"""

import tempfile
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, delete, exists, insert, select, update

from kessai.accounts.models import PaymentMethod, ProviderAccount
from kessai.accounts.secrets import connector_settings
from kessai.cardupdater.events import emit_cards_ng
from kessai.cardupdater.request import ids_of, month_start
from kessai.cardupdater.result import MalformedResult, ResultNotReady
from kessai.cardupdater.transfer import download, target_of, upload
from kessai.core.db import transaction
from kessai.customers.models import CustomerCard
from kessai.customers.updater import UpdaterResult, blocks_charging, updater_label
from kessai.orders.models import Order
from kessai.payments import repository as payments_repo
from kessai.payments.status import Event, PaymentStatus, next_status
from kessai.providers import gmo_files as files
from kessai.providers import installed
from kessai.recurring.models import RecurringBatch, RecurringLine

if TYPE_CHECKING:
    from kessai.services import Services

ACTOR = "継続課金"
SELECTED, SENT, REPORTED = "selected", "sent", "reported"
MAX_REPORTED = 20
MAX_AMOUNT = 9_999_999  # 利用金額: 7 digits


@dataclass
class Sent:
    batch_id: int
    path: str
    lines: int
    already: bool = False
    excluded: list[str] = field(default_factory=list)  # 受注番号: 理由


def _month_key(month: date) -> str:
    return f"{month:%Y-%m}"


async def _batch(s: Any, account_id: int, month: date, now: datetime) -> RecurringBatch:
    batch: RecurringBatch | None = await s.scalar(
        select(RecurringBatch)
        .where(RecurringBatch.account_id == account_id, RecurringBatch.month == _month_key(month))
        .with_for_update()
    )
    if batch is None:
        batch = RecurringBatch(
            account_id=account_id, month=_month_key(month), status=SELECTED, lines=0, created_at=now
        )
        s.add(batch)
        await s.flush()
    return batch


async def _due_orders(s: Any, account_id: int, shipped_before: date) -> list[Any]:
    """決済完了 orders of the account's 継続課金 methods shipped before the month began and not
    waiting in another month's file (売上報告済, 売上失敗 and キャンセル are other statuses)."""
    pending = exists().where(
        RecurringLine.order_id == Order.id,
        RecurringBatch.id == RecurringLine.batch_id,
        RecurringBatch.status == SENT,
    )
    rows = await s.execute(
        select(
            Order.id,
            Order.number,
            Order.amount,
            Order.tax,
            Order.shipped_on,
            Order.payment_source,
        )
        .join(PaymentMethod, PaymentMethod.id == Order.payment_method_id)
        .where(
            PaymentMethod.account_id == account_id,
            PaymentMethod.recurring.is_(True),
            Order.payment_status == PaymentStatus.RECURRING_PAID.value,
            Order.shipped_on < shipped_before,
            ~pending,
        )
        .order_by(Order.id)
    )
    return list(rows.all())


def _refusal(order: Any, card: CustomerCard | None) -> str | None:
    if card is None or card.deleted_at is not None:
        return "登録カードがないため送信しません"
    if blocks_charging(card.updater_result):
        return (
            f"カードが「{updater_label(card.updater_result)}」のまま再登録されていないため"
            "送信しません"
        )
    # GMO would refuse the whole line; kessai keeps it out and says why (its own check).
    if not 1 <= order.amount <= MAX_AMOUNT:
        return f"利用金額({order.amount}円)が1〜{MAX_AMOUNT:,}円の範囲外のため送信しません"
    if not 0 <= order.tax <= order.amount:
        return f"税送料({order.tax}円)が0〜利用金額の範囲外のため送信しません"
    return None


async def send_month(services: "Services", account: ProviderAccount, month: date) -> Sent:
    settings = connector_settings(account, services.keyring)
    layout = files.recurring_layout(settings)
    target = target_of(settings)
    ids = ids_of(settings)
    path = layout.path("send", ids, month)
    now = services.clock.now()
    excluded: list[str] = []
    async with transaction(services.sessions) as s:
        batch = await _batch(s, account.id, month, now)
        if batch.status != SELECTED:
            return Sent(batch.id, batch.path or path, batch.lines, already=True)
        await s.execute(delete(RecurringLine).where(RecurringLine.batch_id == batch.id))
        orders = await _due_orders(s, account.id, month_start(month).date())
        cards = {
            c.id: c
            for c in (
                await s.scalars(
                    select(CustomerCard).where(
                        CustomerCard.id.in_(
                            [int(o.payment_source.get("card_id", 0) or 0) for o in orders]
                        )
                    )
                )
            ).all()
        }
        lines: list[dict[str, Any]] = []
        for order in orders:
            card = cards.get(int(order.payment_source.get("card_id", 0) or 0))
            why = _refusal(order, card)
            if why is not None or card is None:
                excluded.append(f"{order.number}: {why}")
                continue
            lines.append(
                {
                    "batch_id": batch.id,
                    "order_id": order.id,
                    "terminal_seq": len(lines) + 1,
                    "member_id": card.member_id,
                    "card_seq": card.card_seq,
                    "amount": order.amount,
                    "tax": order.tax,
                    "number": order.number,
                    "use_date": f"{order.shipped_on:%Y%m%d}" if order.shipped_on else "",
                }
            )
        if lines:
            await s.execute(
                insert(RecurringLine),
                [
                    {k: v for k, v in line.items() if k not in ("number", "use_date")}
                    for line in lines
                ],
            )
        batch_id = batch.id
    rows = [
        {
            **line,
            "shop_id": ids["shop_id"],
            "item_code": files.RECURRING_ITEM_CODE,
            "pay_method": files.RECURRING_PAY_METHOD,
            "order_number": line["number"],
        }
        for line in lines
    ]
    with tempfile.TemporaryDirectory(prefix="kessai-recurring-") as tmp:
        local = Path(tmp) / "send.csv"
        local.write_bytes(layout.send.header_line() + layout.send.encode_rows(rows))
        await upload(target, local, path)
    async with transaction(services.sessions) as s:
        await s.execute(
            update(RecurringBatch)
            .where(RecurringBatch.id == batch_id)
            .values(status=SENT, lines=len(lines), path=path, sent_at=services.clock.now())
        )
    return Sent(batch_id, path, len(lines), excluded=excluded)


async def _read(
    services: "Services", account: ProviderAccount, batch: RecurringBatch, kind: str
) -> tuple[str, list[tuple[int, dict[str, str]]]]:
    """Fetch the month's result or check file and read every line (refused whole when any
    line does not fit the layout)."""
    settings = connector_settings(account, services.keyring)
    month = date.fromisoformat(f"{batch.month}-01")
    layouts = files.recurring_layout(settings)
    path = layouts.path(kind, ids_of(settings), month)
    with tempfile.TemporaryDirectory(prefix="kessai-recurring-") as tmp:
        local = Path(tmp) / f"{kind}.csv"
        if await download(target_of(settings), path, local) is None:
            raise ResultNotReady(
                f"ファイル「{path}」はまだSFTPサーバにありません", detail={"path": path}
            )
        return path, _rows(getattr(layouts, kind), local, path)


def _rows(layout: files.FileLayout, local: Path, path: str) -> list[tuple[int, dict[str, str]]]:
    rows, errors = [], []
    with local.open("rb") as f:
        for line_no, cells in layout.decode_lines(f):
            if isinstance(cells, files.FileFormatError):
                errors.append(str(cells))
            else:
                rows.append((line_no, cells))
    if errors:
        raise _rejected(path, errors)
    return rows


def _rejected(path: str, errors: list[str]) -> MalformedResult:
    shown = errors[:MAX_REPORTED]
    more = f" ほか{len(errors) - len(shown)}件" if len(errors) > len(shown) else ""
    return MalformedResult(
        f"ファイル「{path}」に誤りがあるため、反映しませんでした: " + " / ".join(shown) + more,
        detail={"path": path, "errors": shown, "error_count": len(errors)},
    )


@dataclass
class Reported:
    reported: int = 0
    failed: int = 0
    already: bool = False


async def apply_results(
    services: "Services", account: ProviderAccount, batch: RecurringBatch
) -> Reported:
    """The 18th: 処理結果 0 → 売上報告済, anything else → 売上失敗 (with the エラーコード)."""
    path, rows = await _read(services, account, batch, "result")
    now = services.clock.now()
    out = Reported()
    async with transaction(services.sessions) as s:
        claimed = await s.execute(
            update(RecurringBatch)
            .where(RecurringBatch.id == batch.id, RecurringBatch.status == SENT)
            .values(status=REPORTED, reported_at=now)
        )
        if not claimed.rowcount:  # type: ignore[attr-defined]
            return Reported(already=True)
        lines = {
            line.terminal_seq: line
            for line in (
                await s.scalars(select(RecurringLine).where(RecurringLine.batch_id == batch.id))
            ).all()
        }
        errors, seen = [], set()
        for line_no, cells in rows:
            seq = int(cells["terminal_seq"]) if cells["terminal_seq"].isdigit() else -1
            line = lines.get(seq)
            if line is None or seq in seen:
                seq_text = cells["terminal_seq"][:10]
                errors.append(f"{line_no}行目: 端末処理通番「{seq_text}」が送信データにありません")
            elif cells["result"] not in ("0", "1"):
                errors.append(f"{line_no}行目: 処理結果は0か1です")
            seen.add(seq)
        if errors:
            raise _rejected(path, errors)
        for _, cells in rows:
            line = lines[int(cells["terminal_seq"])]
            ok = cells["result"] == "0"
            line.result, line.error_code = cells["result"], cells["error_code"] or None
            await _report(s, line, ok, cells["error_code"], now)
            out.reported += ok
            out.failed += not ok
    return out


def _error_words(code: str) -> str:
    """The 継続課金 result's error code in words, by the provider that runs 継続課金."""
    for p in installed.PROVIDERS:
        if "recurring" in p.file_services and p.file_error_words is not None:
            return p.file_error_words(code)
    return code


async def _report(s: Any, line: RecurringLine, ok: bool, code: str, now: datetime) -> None:
    order = await s.get(Order, line.order_id, with_for_update=True)
    event = Event.RECURRING_REPORTED if ok else Event.RECURRING_REPORT_FAILED
    message = "売上報告済" if ok else _error_words(code)
    await payments_repo.add_attempt(
        s,
        order_id=order.id,
        operation="recurring_report",
        amount=line.amount,
        reference=str(line.terminal_seq),
        outcome="succeeded" if ok else "declined",
        provider_code=code or None,
        provider_message=message,
        note="継続課金 売上結果",
        request={"batch_id": line.batch_id, "terminal_seq": line.terminal_seq},
        actor=ACTOR,
        created_at=now,
        completed_at=now,
    )
    status = next_status(PaymentStatus(order.payment_status), event)
    await payments_repo.compare_and_set(
        s,
        order,
        {"payment_status": status.value},
        actor=ACTOR,
        at=now,
        reason=f"継続課金 売上結果: {message}",
    )


@dataclass
class Checked:
    ok: int = 0
    invalid: list[int] = field(default_factory=list)  # cards now 有効性NG (or 2, 3)
    already: bool = False


async def apply_check(
    services: "Services", account: ProviderAccount, batch: RecurringBatch
) -> Checked:
    """The 27th: each card's 有効性チェック result onto the card (and so its 定期受注)."""
    path, rows = await _read(services, account, batch, "check")
    errors = [
        f"{n}行目: 有効性チェック結果は0〜3です"
        for n, cells in rows
        if cells["result"] not in {r.value for r in UpdaterResult}
    ]
    if errors:
        raise _rejected(path, errors)
    now = services.clock.now()
    out = Checked()
    async with transaction(services.sessions) as s:
        claimed = await s.execute(
            update(RecurringBatch)
            .where(RecurringBatch.id == batch.id, RecurringBatch.checked_at.is_(None))
            .values(checked_at=now)
        )
        if not claimed.rowcount:  # type: ignore[attr-defined]
            return Checked(already=True)
        for _, cells in rows:
            card = await s.scalar(
                select(CustomerCard).where(
                    and_(
                        CustomerCard.account_id == account.id,
                        CustomerCard.member_id == cells["member_id"],
                        CustomerCard.card_seq == cells["card_seq"],
                    )
                )
            )
            if card is None:
                continue
            card.updater_result = cells["result"]
            card.updater_checked_at = now
            if blocks_charging(cells["result"]):
                out.invalid.append(card.id)
            else:
                out.ok += 1
        await emit_cards_ng(s, out.invalid, now, source="継続課金 有効性チェック")
    return out
