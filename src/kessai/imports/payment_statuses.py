"""決済状況CSV一括更新: a 処理 per order (受注ID or 受注番号), with the bulk change's rules.

Each row runs through the payment engine like 決済状況一括変更; the permissions of every
operation in the file are checked when it is uploaded, so a file is refused whole.
"""

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from kessai.imports.csvin import EXTRA, EXTRA_CELLS, Column, HeaderSpec
from kessai.imports.rows import RowsKind, lookup, row_result, run_rows
from kessai.jobs.kinds import ItemResult, register
from kessai.jobs.models import Job
from kessai.jobs.status import ItemStatus
from kessai.payments.bulk.actions import BulkAction, allowed_labels, parse_action
from kessai.payments.bulk.apply import run_waiting
from kessai.payments.plans import ActionRequest

if TYPE_CHECKING:
    from kessai.services import Services

KIND = "payment_status_import"
NAME = "決済状況CSV一括更新"

SPEC = HeaderSpec(
    columns=(
        Column("order_id", ("受注ID",)),
        Column("number", ("受注番号",)),
        Column("action", ("処理", "決済処理")),
    ),
    required=("action",),
    one_of=("order_id", "number"),
)

COLUMNS = (
    ("row", "行番号"),
    ("order_id", "受注ID"),
    ("number", "受注番号"),
    ("action", "処理"),
    ("before", "処理前の決済状況"),
    ("after", "処理後の決済状況"),
)


def row_action(row: dict[str, str]) -> BulkAction | str:
    raw = row.get("action", "")
    if not raw:
        return "処理が入力されていません"
    found = parse_action(raw)
    if found is None:
        return f"処理「{raw}」はありません({allowed_labels()}のいずれかを入力してください)"
    return found


class PaymentStatusImport(RowsKind):
    kind = KIND
    name = NAME
    columns: Sequence[tuple[str, str]] = COLUMNS

    async def run(self, services: "Services", job: Job, keys: list[Any]) -> list[ItemResult]:
        async def one(number: int, row: dict[str, str]) -> ItemResult:
            bulk = row_action(row)
            found = await lookup(services, row)
            data: dict[str, Any] = {
                "row": number,
                "order_id": found if isinstance(found, int) else row.get("order_id", ""),
                "number": row.get("number", ""),
                "action": bulk.label if isinstance(bulk, BulkAction) else row.get("action", ""),
            }
            errors = [e for e in (found, bulk) if isinstance(e, str)]
            if row.get(EXTRA):
                errors.append(EXTRA_CELLS)
            if errors:
                return ItemResult(str(number), ItemStatus.FAILED, "、".join(errors), data)
            assert isinstance(found, int)
            assert isinstance(bulk, BulkAction)
            req = ActionRequest(bulk.action.value, job.created_by)
            applied = await run_waiting(services, found, req)
            return row_result(number, applied, data)

        return await run_rows(services, job, keys, one, self.concurrency)


register(PaymentStatusImport())
