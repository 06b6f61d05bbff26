"""API shapes of payment actions, 決済履歴 and 変更履歴."""

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from kessai.orders.schemas import OrderOut


class SandboxOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scenario: str = Field(
        description="サンドボックスの擬似決済の結果: succeed, decline, hard_decline, "
        "register_fail, error, pending, pending_reject, challenge, unknown, lost, not_sent"
    )


class PaymentActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: int | None = Field(default=None, description="金額変更: 変更後の合計金額(税込)")
    tax: int | None = Field(default=None, description="金額変更: 変更後の消費税額")
    shipped_on: date | None = Field(default=None, description="売上処理: 発送完了日")
    tracking_number: Annotated[str, StringConstraints(min_length=1, max_length=60)] | None = Field(
        default=None, description="売上処理: 配送伝票番号"
    )
    carrier: Annotated[str, StringConstraints(max_length=60)] | None = Field(
        default=None, description="売上処理: 配送業者名"
    )
    payment_source: dict[str, str] | None = Field(
        default=None, description="オーソリ・再オーソリ: カードトークンまたは登録カード"
    )
    sandbox: SandboxOptions | None = None


class ActionResultOut(BaseModel):
    outcome: str
    message: str
    attempt_id: int | None
    provider_code: str | None
    provider_message: str | None
    redirect_url: str | None
    order: OrderOut


class PaymentHistoryOut(BaseModel):
    id: int
    operation: str
    operation_label: str
    amount: int | None
    reference: str
    outcome: str
    provider_code: str | None
    provider_message: str | None
    provider_transaction_id: str | None
    note: str | None
    actor: str
    created_at: datetime
    completed_at: datetime | None


class ChangeHistoryOut(BaseModel):
    id: int
    field: str
    field_label: str
    before: str | None
    after: str | None
    actor: str
    reason: str | None
    created_at: datetime
