"""API shapes of payment actions, 決済履歴 and 変更履歴."""

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from kessai.core.inputs import PositiveYen, Yen
from kessai.orders.schemas import OrderOut
from kessai.providers.sandboxes import Scenario


class SandboxOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # An enum, so a typo is a 422 and never reaches the simulated provider.
    scenario: Scenario = Field(
        description="サンドボックスの擬似決済の結果 (succeed: 成功, decline: カード利用不可, "
        "hard_decline: 無効カード, register_fail: 取引登録失敗, error: 決済エラー, "
        "pending: 与信審査中→審査完了, pending_reject: 与信審査中→審査エラー, "
        "challenge: 3Dセキュア認証待ち, unknown: 応答なし(処理済み), lost: 応答なし(未処理), "
        "not_sent: 接続不可)"
    )


class PaymentActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: PositiveYen | None = Field(default=None, description="金額変更: 変更後の合計金額(税込)")
    tax: Yen | None = Field(default=None, description="金額変更: 変更後の消費税額")
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
    sandbox: SandboxOptions | None = Field(
        default=None, description="サンドボックス環境のみ: 擬似決済の結果を選ぶ"
    )


# Which body fields each action reads; any other field is refused rather than ignored, so a
# capture with an amount (no partial capture in kessai) cannot look as if it had worked.
ACTION_FIELDS: dict[str, frozenset[str]] = {
    "authorize": frozenset({"payment_source"}),
    "reauthorize": frozenset({"payment_source"}),
    "capture": frozenset({"shipped_on", "tracking_number", "carrier"}),
    "cancel": frozenset(),
    "change-amount": frozenset({"amount", "tax"}),
    "force-capture": frozenset(),
    "force-cancel": frozenset(),
    "reconcile": frozenset(),
}


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
    refusal_code: str | None = Field(
        default=None,
        description="kessai のルールで処理しなかった理由 (決済サービスのコードではありません)",
    )
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
