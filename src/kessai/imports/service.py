"""Starting an import: the file is read and its header checked now (a wrong file changes
nothing), its rows kept with the job, and each row processed as one of the job's items."""

import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kessai.core.errors import InvalidInput
from kessai.imports import payment_statuses, shipments
from kessai.imports.csvin import Table, read_table
from kessai.jobs import service as jobs
from kessai.jobs.models import Job
from kessai.payments.bulk.actions import BulkAction, NotPermitted, require_permitted
from kessai.payments.import_lock import refuse_during_shipment_import
from kessai.payments.status import Action
from kessai.users.service import Permission

if TYPE_CHECKING:
    from kessai.services import Services

MAX_FILENAME = 120
# Who may do what: None is an API key, which may run every operation.
Can = Callable[[Permission], bool] | None


def _params(table: Table, raw: bytes, filename: str, **extra: Any) -> dict[str, Any]:
    return {
        "filename": filename[:MAX_FILENAME],
        "encoding": table.encoding,
        "digest": hashlib.sha256(raw).hexdigest(),
        **extra,
        "rows": [[number, row] for number, row in table.rows],
    }


def read_shipments(raw: bytes, encoding: str, capture: bool, can: Can, who: str) -> Table:
    if can is not None:
        if not can(Permission.ORDERS_IMPORT_SHIPMENTS):
            raise NotPermitted(f"出荷CSVインポートの権限がありません({who}には許可されていません)")
        if capture and not can(Permission.ORDERS_BULK_CAPTURE):
            raise NotPermitted(
                f"売上処理を実行する権限がありません({who}には許可されていません)。"
                "「同時に売上処理を行う」を外して取り込んでください"
            )
    return read_table(raw, shipments.SPEC, encoding)


def read_payment_statuses(raw: bytes, encoding: str, can: Can, who: str) -> Table:
    table = read_table(raw, payment_statuses.SPEC, encoding)
    if can is not None:
        wanted = [payment_statuses.row_action(row) for _, row in table.rows]
        require_permitted((a for a in wanted if isinstance(a, BulkAction)), can, who)
    return table


async def submit_shipments(
    services: "Services",
    raw: bytes,
    *,
    filename: str,
    encoding: str = "auto",
    capture: bool = False,
    actor: str,
    can: Can = None,
    who: str = "",
    dedupe_key: str | None = None,
) -> tuple[Job, bool]:
    table = read_shipments(raw, encoding, capture, can, who)
    params = _params(table, raw, filename, capture=capture)
    name = shipments.job_name(capture)
    return await _submit(services, shipments.KIND, name, params, actor, dedupe_key)


async def submit_payment_statuses(
    services: "Services",
    raw: bytes,
    *,
    filename: str,
    encoding: str = "auto",
    actor: str,
    can: Can = None,
    who: str = "",
    dedupe_key: str | None = None,
) -> tuple[Job, bool]:
    table = read_payment_statuses(raw, encoding, can, who)
    # Every row is a 決済ステータス change: refused whole while 伝票番号一括登録 runs.
    await refuse_during_shipment_import(services.sessions, [Action.CAPTURE])
    params = _params(table, raw, filename)
    name = payment_statuses.NAME
    return await _submit(services, payment_statuses.KIND, name, params, actor, dedupe_key)


async def _submit(
    services: "Services",
    kind: str,
    name: str,
    params: dict[str, Any],
    actor: str,
    dedupe_key: str | None,
) -> tuple[Job, bool]:
    job, new = await jobs.submit(
        services, kind, created_by=actor, params=params, name=name, dedupe_key=dedupe_key
    )
    same = (job.params.get("digest"), job.params.get("capture")) == (
        params["digest"],
        params.get("capture"),
    )
    if not new and (job.kind != kind or not same):
        raise InvalidInput(
            "同じ送信キー (Idempotency-Key) で別の内容のファイルが送られています。"
            "画面を開き直すか、別のキーで送信してください",
            code="idempotency_key_reused",
        )
    return job, new
