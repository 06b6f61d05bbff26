"""The events every change writes into the outbox (table `events`), in the change's own
transaction: one row per committed change of an order, a payment, a 定期受注 or a job.

Types are `<entity>.<what>` (Standard Webhooks' hierarchy): an endpoint filters on them,
exactly or by `order.*`. `data` is thin: ids, the statuses after the change, and the change.
"""

import json
import uuid
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from kessai.webhooks.models import Event

EVENT_TYPES: dict[str, str] = {
    "order.created": "受注の登録",
    "order.updated": "受注の変更 (決済状況・対応状況・金額・発送情報)",
    "payment.succeeded": "決済処理の成功",
    "payment.declined": "決済処理の失敗 (決済サービスの拒否)",
    "payment.pending": "決済処理の保留 (与信審査中・3Dセキュア)",
    "payment.unknown": "決済処理の応答不明",
    "payment.not_sent": "決済処理の未送信 (接続不可)",
    "subscription.created": "定期受注の登録",
    "subscription.updated": "定期受注の変更",
    "job.succeeded": "ジョブの完了",
    "job.partially_failed": "ジョブの一部失敗",
    "job.failed": "ジョブの失敗",
    "order.deadline_closing": "取消期限・与信期限がN日以内 (自動化設定のルールが指定した日数)",
    "card.updater_ng": "カードの洗替判定結果がNG (有効性NG・照合エラー・入力データエラー)",
    "automation.fired": "自動化設定のルールによる通知",
}

# What an event's `data` says of the entity, after the change.
SNAPSHOT_FIELDS: dict[str, tuple[str, ...]] = {
    "order": (
        "number",
        "payment_status",
        "handling_status",
        "amount",
        "tax",
        "customer_id",
        "subscription_id",
    ),
    "subscription": ("number", "status", "amount", "next_ship_on", "customer_id"),
    "card": ("customer_id", "masked_number", "expire", "updater_result"),
    "job": ("kind", "name", "status", "total", "succeeded", "failed", "skipped", "error"),
}

EVENTS = Event.__table__
assert isinstance(EVENTS, Table)
_INSERT = insert(EVENTS)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def subject_of(entity: str, entity_id: int) -> str:
    return f"{entity}:{entity_id}"


def new_uid() -> str:
    return f"msg_{uuid.uuid4().hex}"


def snapshot(entity: str, entity_id: int, values: dict[str, Any]) -> dict[str, Any]:
    """The entity's id and its SNAPSHOT_FIELDS found in `values`."""
    out = {"id": entity_id}
    out.update((k, _plain(values[k])) for k in SNAPSHOT_FIELDS.get(entity, ()) if k in values)
    return out


def state_of(entity: str, row: object, values: dict[str, Any]) -> dict[str, Any]:
    """The SNAPSHOT_FIELDS of `row` once `values` are written over it."""
    return {
        name: values[name] if name in values else getattr(row, name)
        for name in SNAPSHOT_FIELDS.get(entity, ())
    }


def event_row(
    type_: str,
    entity: str,
    entity_id: int,
    at: datetime,
    *,
    state: dict[str, Any],
    changes: Iterable[tuple[str, object, object]] = (),
    **extra: Any,
) -> dict[str, Any]:
    """One outbox row: `state` is the entity after the change (SNAPSHOT_FIELDS are kept),
    `changes` (field, before, after) what changed, `extra` more of `data` (reason, actor,
    payment)."""
    data: dict[str, Any] = {entity: snapshot(entity, entity_id, state)}
    listed = [{"field": f, "before": _plain(b), "after": _plain(a)} for f, b, a in changes]
    if listed:
        data["changes"] = listed
    data.update((k, v) for k, v in extra.items() if v is not None)
    assert type_ in EVENT_TYPES, type_
    return {
        "uid": new_uid(),
        "type": type_,
        "subject": subject_of(entity, entity_id),
        "data": data,
        "created_at": at,
        "relayed": False,
    }


def data_text(row: dict[str, Any]) -> str:
    """`data` as JSON text, for statements that take JSON as text (asyncpg)."""
    return json.dumps(row["data"], ensure_ascii=False, separators=(",", ":"))


async def emit(target: AsyncSession | AsyncConnection, rows: list[dict[str, Any]]) -> None:
    """Write events into the outbox, in the caller's transaction."""
    if rows:
        await target.execute(_INSERT, rows)
