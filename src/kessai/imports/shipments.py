"""出荷CSVインポート: 配送伝票番号 and 発送完了日 per order, optionally with 売上処理.

With 売上処理 each row is a capture through the payment engine, which for 後払い is the
出荷報告 carrying the 発送完了日 and 配送伝票番号; an order already 売上完了 gets no second
provider call, only its shipment recorded (seed 004). Without it, the shipment fields are
set on the order (compare-and-set, 変更履歴) and nothing is sent to the provider.
"""

import asyncio
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import update

from kessai.core.db import transaction
from kessai.history.repository import record_changes
from kessai.imports.csvin import EXTRA, EXTRA_CELLS, Column, HeaderSpec
from kessai.imports.rows import RowsKind, lookup, parse_date, row_result, run_rows
from kessai.jobs.kinds import ItemResult, register
from kessai.jobs.models import Job
from kessai.jobs.status import ItemStatus
from kessai.orders.models import Order
from kessai.payments.bulk.apply import IN_PROGRESS_WAITS, Applied, order_state, run_waiting
from kessai.payments.import_lock import SHIPMENT_IMPORT_KIND, SHIPMENT_IMPORT_NAME
from kessai.payments.plans import ActionRequest, ShipmentInput
from kessai.payments.status import Action
from kessai.webhooks.events import state_of

if TYPE_CHECKING:
    from kessai.services import Services

KIND, NAME = SHIPMENT_IMPORT_KIND, SHIPMENT_IMPORT_NAME  # 伝票番号一括登録
MAX_TRACKING = 60  # orders.tracking_number
MAX_CARRIER = 60  # orders.carrier

SPEC = HeaderSpec(
    columns=(
        Column("order_id", ("受注ID",)),
        Column("number", ("受注番号",)),
        Column("transaction_id", ("取引ID",)),
        Column("tracking_number", ("配送伝票番号",)),
        Column("shipped_on", ("発送完了日",)),
        Column("carrier", ("配送業者名", "配送業者")),
    ),
    required=("tracking_number", "shipped_on"),
    one_of=("order_id", "number", "transaction_id"),
)

COLUMNS = (
    ("row", "行番号"),
    ("order_id", "受注ID"),
    ("number", "受注番号"),
    ("tracking_number", "配送伝票番号"),
    ("shipped_on", "発送完了日"),
    ("carrier", "配送業者名"),
    ("action", "処理"),
    ("before", "処理前の決済状況"),
    ("after", "処理後の決済状況"),
)
REASON = "出荷CSVインポート"
BUSY = "この受注は別の決済処理を実行中です。しばらくしてから再度お試しください"


def job_name(capture: bool) -> str:
    return f"{NAME}(売上処理あり)" if capture else NAME


def _shipment(row: dict[str, str]) -> tuple[ShipmentInput, list[str]]:
    errors: list[str] = []
    tracking = row.get("tracking_number", "")
    if not tracking:
        errors.append("配送伝票番号が入力されていません")
    elif len(tracking) > MAX_TRACKING:
        errors.append(f"配送伝票番号は{MAX_TRACKING}文字以内で入力してください")
    raw_date = row.get("shipped_on", "")
    shipped_on: date | None = None
    if not raw_date:
        errors.append("発送完了日が入力されていません")
    else:
        shipped_on = parse_date(raw_date)
        if shipped_on is None:
            errors.append("発送完了日の形式が正しくありません(例: 2026/03/02)")
    carrier = row.get("carrier", "")
    if len(carrier) > MAX_CARRIER:
        errors.append(f"配送業者名は{MAX_CARRIER}文字以内で入力してください")
    if row.get(EXTRA):
        errors.append(EXTRA_CELLS)
    return ShipmentInput(shipped_on, tracking or None, carrier or None), errors


async def record_shipment(
    services: "Services", order_id: int, shipment: ShipmentInput, actor: str
) -> Applied:
    """Set 発送完了日, 配送伝票番号 and 配送業者 (a new 配送伝票番号 counts one more 発送)."""
    before = await order_state(services, order_id)
    for wait in (*IN_PROGRESS_WAITS, None):
        async with transaction(services.sessions) as s:
            order = await s.get(Order, order_id, populate_existing=True)
            if order is None:
                return Applied(ItemStatus.FAILED, "受注が見つかりませんでした", None, None)
            values: dict[str, Any] = {}
            if order.shipped_on != shipment.shipped_on:
                values["shipped_on"] = shipment.shipped_on
            if order.tracking_number != shipment.tracking_number:
                values["tracking_number"] = shipment.tracking_number
                values["shipment_count"] = order.shipment_count + 1
            if shipment.carrier is not None and order.carrier != shipment.carrier:
                values["carrier"] = shipment.carrier
            if not values:
                return Applied(
                    ItemStatus.SKIPPED, "発送情報は登録済みです(変更はありません)", before, before
                )
            # A payment call in flight owns the order until it settles: never write under it.
            written = await s.execute(
                update(Order)
                .where(
                    Order.id == order.id,
                    Order.version == order.version,
                    Order.in_flight_attempt_id.is_(None),
                )
                .values(**values, version=order.version + 1, updated_at=services.clock.now())
                .execution_options(synchronize_session=False)
            )
            if written.rowcount == 1:  # type: ignore[attr-defined]
                await record_changes(
                    s,
                    entity="order",
                    entity_id=order.id,
                    changes={name: (getattr(order, name), v) for name, v in values.items()},
                    actor=actor,
                    at=services.clock.now(),
                    reason=REASON,
                    state=state_of("order", order, values),
                )
                return Applied(ItemStatus.SUCCEEDED, "発送情報を登録しました", before, before)
        if wait is not None:
            await asyncio.sleep(wait)
    return Applied(ItemStatus.FAILED, BUSY, before, await order_state(services, order_id))


class ShipmentImport(RowsKind):
    kind = KIND
    name = NAME
    columns: Sequence[tuple[str, str]] = COLUMNS

    async def run(self, services: "Services", job: Job, keys: list[Any]) -> list[ItemResult]:
        capture = bool(job.params.get("capture"))

        async def one(number: int, row: dict[str, str]) -> ItemResult:
            shipment, errors = _shipment(row)
            found = await lookup(services, row)
            data: dict[str, Any] = {
                "row": number,
                "order_id": found if isinstance(found, int) else row.get("order_id", ""),
                "number": row.get("number", ""),
                "tracking_number": row.get("tracking_number", ""),
                "shipped_on": shipment.shipped_on.isoformat()
                if shipment.shipped_on
                else row.get("shipped_on", ""),
                "carrier": row.get("carrier", ""),
                "action": "売上処理" if capture else "発送情報の登録",
            }
            if isinstance(found, str):
                errors.insert(0, found)
            if errors:
                return ItemResult(str(number), ItemStatus.FAILED, "、".join(errors), data)
            assert isinstance(found, int)
            if capture:
                req = ActionRequest(Action.CAPTURE.value, job.created_by, shipment=shipment)
                applied = await run_waiting(services, found, req)
            else:
                applied = await record_shipment(services, found, shipment, job.created_by)
            return row_result(number, applied, data)

        return await run_rows(services, job, keys, one, self.concurrency)


register(ShipmentImport())
