"""/api/v1/subscriptions/payment-method-change-mails: 再決済・決済方法変更のご案内 in bulk from the
定期受注 list (seed 002: 「定期購入照会」から対象者への一括送信)."""

from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from kessai.orders.schemas import MAX_ID
from kessai.recurring.notices import send_change_notices
from kessai.web.deps import PrincipalDep, ServicesDep

router = APIRouter(prefix="/api/v1/subscriptions", tags=["定期受注"])


class ChangeMailsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    subscription_ids: Annotated[
        list[Annotated[int, Field(ge=1, le=MAX_ID)]], Field(min_length=1, max_length=1000)
    ] = Field(
        description="送信する定期受注ID (カードが有効性NG・照合エラー・入力データエラーのもの)"
    )


class ChangeMailsOut(BaseModel):
    customers: int = Field(description="ご案内を送った顧客の数 (同じ日に送信済みの顧客は除く)")


@router.post(
    "/payment-method-change-mails",
    response_model=ChangeMailsOut,
    summary="再決済・決済方法変更のご案内を一括送信",
)
async def post_change_mails(
    data: ChangeMailsIn, services: ServicesDep, principal: PrincipalDep
) -> ChangeMailsOut:
    return ChangeMailsOut(customers=await send_change_notices(services, data.subscription_ids))
