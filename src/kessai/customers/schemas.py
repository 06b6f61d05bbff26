"""API shapes of 顧客 and their stored cards."""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from kessai.core.inputs import RowId


class CustomerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    email: EmailStr | None = None


class CustomerOut(BaseModel):
    id: int
    name: str
    email: str | None
    created_at: datetime


class CardCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    payment_method: str
    token: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class CardOut(BaseModel):
    id: int
    payment_method: str
    member_id: str
    card_seq: str
    masked_number: str
    expire: str
    holder: str | None
    brand: str | None
    created_at: datetime


class CardChange(BaseModel):
    """マイページのクレジットカード変更: a token for the new card, replacing a stored one."""

    model_config = ConfigDict(extra="forbid")
    token: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    card_id: RowId | None = Field(
        default=None, description="変更前の登録カードID (省略時: 最後に登録したカード)"
    )
    payment_method: str | None = Field(
        default=None, description="新しいカードの支払い方法コード (省略時: 変更前のカードと同じ)"
    )
    keep_old_card: bool = Field(
        default=False, description="true: 変更前のカードを決済サービスに残す"
    )


class CardChangeOut(BaseModel):
    card: CardOut
    replaced_card_id: int
    subscriptions_switched: int
    old_card_deleted: bool
    old_card_message: str | None = None
    reauthorization_orders: list[int] = Field(
        description="次回の再オーソリで新しいカードを使う受注ID"
    )
