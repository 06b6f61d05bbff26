"""API shapes of 顧客 and their stored cards."""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, StringConstraints


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
