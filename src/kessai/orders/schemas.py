"""API shapes of 受注."""

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

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
    customer: CustomerIn | None = None
    customer_id: int | None = None
    payment_method: str = Field(description="支払い方法コード (GET /api/v1/payment-methods)")
    amount: int = Field(description="合計金額 (税込、円)")
    tax: int = Field(default=0, description="うち消費税 (円)")
    ordered_at: datetime | None = None
    payment_source: dict[str, str] = Field(
        default_factory=dict,
        description="決済手段の参照: カードトークン {'token': ...} や登録カード "
        "{'member_id': ..., 'card_seq': ...}。カード番号・セキュリティコードは受け付けません",
    )
    subscription_id: int | None = None


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
    needs_reconcile: bool
    allowed_actions: list[str]
    created_at: datetime
    updated_at: datetime


class OrderPage(BaseModel):
    items: list[OrderOut]
    total: int
    limit: int
    offset: int
