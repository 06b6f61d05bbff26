"""API shapes of 決済状況一括変更."""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from kessai.orders.schemas import RowId

MAX_SELECTED = 10_000

Filter = Annotated[str, StringConstraints(max_length=60)]


class OrderFilter(BaseModel):
    """The filters of GET /api/v1/orders, with the same meaning."""

    model_config = ConfigDict(extra="forbid")
    payment_status: Filter | None = Field(
        default=None, description="決済状況: コード (authorized) または表示名 (仮売上完了)"
    )
    ordered_from: Filter | None = Field(
        default=None,
        description="受注日時(から): 2026-11-01 (東京の暦日) またはタイムゾーン付き日時",
    )
    ordered_to: Filter | None = Field(
        default=None,
        description="受注日時(まで): 2026-11-30 (その日を含む) またはタイムゾーン付き日時",
    )
    number: Filter | None = Field(default=None, description="受注番号")
    payment_method: Filter | None = Field(default=None, description="支払い方法コード")
    handling_status: Filter | None = Field(default=None, description="対応状況: コードまたは表示名")
    subscription: bool | None = Field(
        default=None, description="定期: true は定期受注の受注のみ、false は通常の受注のみ"
    )
    updater_result: Filter | None = Field(
        default=None, description="定期受注のカードの洗替ステータス: 0-3・表示名・none"
    )
    label: Filter | None = Field(default=None, description="再オーソリバッチのラベル")


class BulkActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Annotated[str, StringConstraints(max_length=40)] = Field(
        description="capture (売上処理), cancel (取消処理), reauthorize (再オーソリ処理), "
        "force-capture (強制売上処理), force-cancel (強制取消処理)。日本語の処理名も可"
    )
    order_ids: list[RowId] | None = Field(
        default=None,
        max_length=MAX_SELECTED,
        description=f"対象の受注ID ({MAX_SELECTED:,}件まで)。search とどちらか一方",
    )
    search: OrderFilter | None = Field(
        default=None,
        description="検索結果すべてを処理対象にする: GET /api/v1/orders と同じ条件。"
        "対象はジョブの開始時に確定します",
    )
