"""/api/v1/payment-methods: the shop's 支払い方法 and what each can do."""

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import select

from kessai.accounts.models import PaymentMethod, ProviderAccount
from kessai.core.db import transaction
from kessai.payments import capabilities as caps
from kessai.web.deps import PrincipalDep, ServicesDep

router = APIRouter(prefix="/api/v1", tags=["支払い方法"])


class PaymentMethodOut(BaseModel):
    id: int
    code: str
    name: str
    provider: str
    provider_name: str
    method_type: str
    kind: str
    enabled: bool
    simulated: bool
    min_amount: int
    max_amount: int
    recurring: bool
    authorization_days: int | None
    flags: dict[str, bool]


FLAG_NAMES = (
    "cancel_api_link",
    "terminate_api_link",
    "capture_on_authorize",
    "post_capture_amount_change_link",
    "gmops_cancel_link",
    "gmops_modify_link",
    "atobarai_com_modify_link",
    "reduce_link",
    "security_code_required",
)


@router.get("/payment-methods", response_model=list[PaymentMethodOut], summary="支払い方法一覧")
async def list_payment_methods(services: ServicesDep, _: PrincipalDep) -> list[PaymentMethodOut]:
    async with transaction(services.sessions) as s:
        rows = (
            await s.execute(
                select(PaymentMethod, ProviderAccount)
                .outerjoin(ProviderAccount, ProviderAccount.id == PaymentMethod.account_id)
                .order_by(PaymentMethod.id)
            )
        ).all()
    out = []
    for method, account in rows:
        row = caps.row(method.provider, method.method_type)
        out.append(
            PaymentMethodOut(
                id=method.id,
                code=method.code,
                name=method.name,
                provider=method.provider,
                provider_name=caps.PROVIDERS.get(method.provider, method.provider),
                method_type=method.method_type,
                kind=row.kind.value,
                enabled=method.enabled,
                simulated=account is not None and account.connector == "fake",
                min_amount=method.min_amount,
                max_amount=method.max_amount,
                recurring=method.recurring,
                authorization_days=caps.authorization_days_for(
                    method.provider,
                    method.method_type,
                    account.authorization_days if account else None,
                ),
                flags={name: bool(getattr(method, name)) for name in FLAG_NAMES},
            )
        )
    return out
