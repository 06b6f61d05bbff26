"""Starting a 決済状況一括変更 job: which operation, on which orders, by whom.

The orders are either chosen (ids) or every result of a search; a search is validated
when the job is submitted and run when it starts, which fixes the set.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kessai.accounts.models import PaymentMethod
from kessai.core.errors import InvalidInput
from kessai.customers.updater import parse_updater_filter
from kessai.jobs import service as jobs
from kessai.jobs.models import Job
from kessai.orders.models import Order
from kessai.orders.search import search_moment
from kessai.orders.service import (
    OrderSearch,
    handling_code,
    label_code,
    search_conditions,
    status_code,
)
from kessai.payments.bulk.actions import BulkAction, allowed_labels, parse_action
from kessai.payments.bulk.schemas import MAX_SELECTED, OrderFilter
from kessai.payments.import_lock import refuse_during_shipment_import

if TYPE_CHECKING:
    from kessai.services import Services

KIND = "bulk_payment_action"


def job_name(bulk: BulkAction) -> str:
    return f"決済状況一括変更: {bulk.label}"


def bulk_action(raw: str) -> BulkAction:
    found = parse_action(raw)
    if found is None:
        raise InvalidInput(
            f"決済状況一括変更の処理「{raw[:40]}」はありません({allowed_labels()}のいずれか)",
            code="unknown_bulk_action",
        )
    return found


def search_params(f: OrderFilter) -> dict[str, Any]:
    """The search, checked and written as the job keeps it (times as ISO 8601)."""
    out: dict[str, Any] = {}
    if f.payment_status and f.payment_status.strip():
        out["payment_status"] = status_code(f.payment_status.strip()).value
    for name, end in (("ordered_from", False), ("ordered_to", True)):
        raw = getattr(f, name)
        if raw and raw.strip():
            moment = search_moment(name, raw, end=end)
            assert moment is not None  # raw is not blank here
            out[name] = moment.isoformat()
    for name in ("number", "payment_method"):
        raw = getattr(f, name)
        if raw and raw.strip():
            out[name] = raw.strip()
    if f.handling_status and f.handling_status.strip():
        out["handling_status"] = handling_code(f.handling_status.strip()).value
    if f.subscription is not None:
        out["subscription"] = f.subscription
    if f.updater_result and f.updater_result.strip():
        out["updater_result"] = parse_updater_filter(f.updater_result.strip())
    if f.label and f.label.strip():
        out["label"] = label_code(f.label.strip()).value
    return out


async def matching_order_ids(s: AsyncSession, search: dict[str, Any]) -> list[int]:
    """Every order the search finds now, as GET /api/v1/orders would list it."""
    q = OrderSearch(
        payment_status=search.get("payment_status"),
        ordered_from=_bound(search.get("ordered_from")),
        ordered_to=_bound(search.get("ordered_to")),
        number=search.get("number"),
        payment_method=search.get("payment_method"),
        handling_status=search.get("handling_status"),
        subscription=search.get("subscription"),
        updater_result=search.get("updater_result"),
        label=search.get("label"),
    )
    query = (
        select(Order.id)
        .join(PaymentMethod, PaymentMethod.id == Order.payment_method_id)
        .where(*search_conditions(q))
        .order_by(Order.id)
    )
    return [int(i) for i in (await s.execute(query)).scalars()]


def _bound(raw: str | None) -> datetime | None:
    return None if raw is None else datetime.fromisoformat(raw)


def bulk_params(
    bulk: BulkAction, *, order_ids: Sequence[int] | None, search: OrderFilter | None
) -> dict[str, Any]:
    """The job's params, checked: the operation and either the ids or the search."""
    if (order_ids is None) == (search is None):
        raise InvalidInput(
            "処理対象の受注を選択するか、検索結果すべてを処理対象にしてください"
            "(order_ids か search のどちらか一方)",
            code="bulk_target_required",
        )
    params: dict[str, Any] = {"action": bulk.action.value}
    if order_ids is not None:
        ids = list(dict.fromkeys(order_ids))
        if not ids:
            raise InvalidInput("処理対象の受注が選択されていません", code="bulk_target_required")
        if len(ids) > MAX_SELECTED:
            raise InvalidInput(
                f"一度に選択できる受注は{MAX_SELECTED:,}件までです", code="too_many_orders"
            )
        params["order_ids"] = ids
    else:
        assert search is not None
        params["search"] = search_params(search)
    return params


async def submit_bulk(
    services: "Services",
    bulk: BulkAction,
    params: dict[str, Any],
    *,
    actor: str,
    dedupe_key: str | None = None,
) -> tuple[Job, bool]:
    """The job (and whether it is new). Permissions are the caller's to check first."""
    await refuse_during_shipment_import(services.sessions, [bulk.action])
    return await jobs.submit(
        services,
        KIND,
        created_by=actor,
        params=params,
        name=job_name(bulk),
        dedupe_key=dedupe_key,
    )
