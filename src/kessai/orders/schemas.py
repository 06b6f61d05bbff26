"""API shapes of 受注."""

from datetime import date, datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from kessai.accounts.integrations.fields import Channel
from kessai.core.inputs import MAX_ID, PositiveYen, RowId, Yen

__all__ = ["MAX_ID", "RowId"]  # imported from here by the domains that name ids

OrderNumber = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]{1,20}$")]


class CustomerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    email: EmailStr | None = None


class OrderCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    number: OrderNumber | None = Field(
        default=None, description="受注番号 (省略時は自動採番)。英数字とハイフン20文字以内"
    )
    customer: CustomerIn | None = Field(default=None, description="新しい顧客")
    customer_id: RowId | None = Field(default=None, description="登録済みの顧客ID")
    payment_method: str = Field(description="支払い方法コード (GET /api/v1/payment-methods)")
    amount: PositiveYen = Field(description="合計金額 (税込、円)。支払い方法の上限以内")
    tax: Yen = Field(default=0, description="うち消費税 (円)")
    ordered_at: AwareDatetime | None = Field(
        default=None, description="受注日時 (タイムゾーン付き、省略時は現在時刻)"
    )
    payment_source: dict[str, str] = Field(
        default_factory=dict,
        description="決済手段の参照: カードトークン {'token': ...} や登録カード "
        "{'member_id': ..., 'card_seq': ...}。カード番号・セキュリティコードは受け付けません",
    )
    subscription_id: RowId | None = None
    channel: Channel | None = Field(
        default=None,
        description="受注経路 (lp: LP, shop: ショップ, order_entry: 受注作成)。指定すると、"
        "その経路で有効な支払い方法だけを受け付けます",
    )


class CustomerOut(BaseModel):
    id: int
    name: str
    email: str | None


class PaymentMethodRef(BaseModel):
    code: str
    name: str
    provider: str
    method_type: str


class OrderOut(BaseModel):
    id: int
    number: str
    customer: CustomerOut
    payment_method: PaymentMethodRef
    amount: int
    tax: int
    payment_status: str
    payment_status_label: str
    handling_status: str
    handling_status_label: str
    ordered_at: datetime
    subscription_id: int | None
    shipped_on: date | None
    tracking_number: str | None
    carrier: str | None
    shipment_count: int
    provider_reference: str | None
    provider_transaction_id: str | None
    authorized_at: datetime | None
    authorization_expires_at: datetime | None
    captured_at: datetime | None
    redirect_url: str | None
    payment_slip: dict[str, str] | None = None  # 受付番号・確認番号・支払期限・振込先口座 …
    payment_due_at: datetime | None = None  # the customer pays by then (支払期限, 決済可能期限)
    needs_reconcile: bool
    allowed_actions: list[str]
    # 再オーソリバッチ's mark: target (再与信対象), completed (再与信完了), …
    reauthorization_label: str | None = None
    reauthorization_label_text: str | None = None
    created_at: datetime
    updated_at: datetime


class OrderPage(BaseModel):
    items: list[OrderOut]
    total: int
    limit: int
    offset: int
