"""API shapes of 定期受注."""

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints

from kessai.core.inputs import MAX_YEN, PositiveYen, Yen
from kessai.orders.schemas import CustomerOut, PaymentMethodRef, RowId
from kessai.subscriptions.cycles import CycleKind

SubscriptionNumber = Annotated[str, StringConstraints(pattern=r"^[0-9]{10}$")]
MAX_ITEM_PRICE = 9_999_999


class ItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)] = Field(
        description="商品名"
    )
    sku: Annotated[str, StringConstraints(min_length=1, max_length=60)] | None = Field(
        default=None, description="商品コード (SKU)"
    )
    quantity: StrictInt = Field(ge=1, le=999, description="数量")
    unit_price: StrictInt = Field(ge=0, le=MAX_ITEM_PRICE, description="単価 (税込、円)")


class CycleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: CycleKind = Field(
        description="days: N日ごと / months: Nヶ月ごと / day_of_month: Nヶ月ごとの指定日"
    )
    interval: StrictInt = Field(
        default=1, description="間隔 (日ごと: 1〜365日、それ以外: 1〜12ヶ月)"
    )
    day: StrictInt | None = Field(
        default=None,
        description="日付 (1〜31、月末を超える日はその月の末日)。day_of_month では必須、"
        "months では省略時に次回発送予定日の日付",
    )


class SubscriptionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    number: SubscriptionNumber | None = Field(
        default=None, description="定期受注番号 (10桁の数字、省略時は自動採番)"
    )
    customer_id: RowId = Field(description="顧客ID")
    payment_method: str = Field(description="支払い方法コード")
    card_id: RowId | None = Field(
        default=None, description="登録カードID (クレジットカードの支払い方法では必須)"
    )
    items: list[ItemIn] = Field(min_length=1, max_length=50, description="商品")
    amount: PositiveYen | None = Field(
        default=None, le=MAX_YEN, description="1回あたりの合計金額 (税込、円)。省略時は商品の合計"
    )
    tax: Yen = Field(default=0, description="うち消費税 (円)")
    cycle: CycleIn
    next_ship_on: date = Field(description="次回発送予定日")
    next_delivery_on: date | None = Field(default=None, description="次回配送予定日")


class SubscriptionPatch(BaseModel):
    """Only the fields given change; a refused change changes nothing."""

    model_config = ConfigDict(extra="forbid")
    status: str | None = Field(
        default=None, description="active (有効) / paused (停止) / canceled (キャンセル)"
    )
    cycle: CycleIn | None = None
    next_ship_on: date | None = None
    next_delivery_on: date | None = None
    card_id: RowId | None = None
    reason: Annotated[str, StringConstraints(max_length=200)] | None = Field(
        default=None, description="変更理由 (変更履歴に残ります)"
    )


class ItemOut(BaseModel):
    name: str
    sku: str | None
    quantity: int
    unit_price: int


class CycleOut(BaseModel):
    kind: str
    interval: int
    day: int | None
    label: str


class CardRef(BaseModel):
    id: int
    masked_number: str
    expire: str
    brand: str | None
    deleted: bool
    updater_result: str | None
    updater_result_label: str
    updater_checked_at: datetime | None


class ChildOrderOut(BaseModel):
    id: int
    number: str
    subscription_cycle: int | None
    amount: int
    payment_status: str
    payment_status_label: str
    ordered_at: datetime


class SubscriptionOut(BaseModel):
    id: int
    number: str
    customer: CustomerOut
    payment_method: PaymentMethodRef
    card: CardRef | None
    # 洗替ステータス of the card: "0"-"3" (GMO 洗替判定結果) or none yet.
    updater_result: str | None
    updater_result_label: str
    items: list[ItemOut]
    amount: int
    tax: int
    cycle: CycleOut
    next_ship_on: date
    next_delivery_on: date | None
    status: str
    status_label: str
    cycle_count: int = Field(description="子受注を作成済みの回数")
    orders: list[ChildOrderOut] | None = Field(
        default=None, description="子受注 (詳細の取得時のみ、新しい順)"
    )
    created_at: datetime
    updated_at: datetime


class SubscriptionPage(BaseModel):
    items: list[SubscriptionOut]
    total: int
    limit: int
    offset: int


def item_dicts(items: list[ItemIn]) -> list[dict[str, Any]]:
    return [i.model_dump() for i in items]
