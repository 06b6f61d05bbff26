"""/api/v1/mails: the mail outbox (送信待ち・送信済み, with the last error of each)."""

from typing import Annotated

from fastapi import APIRouter, Query

from kessai.core.db import read_transaction
from kessai.core.errors import InvalidInput
from kessai.notifications import repository as repo
from kessai.notifications.delivery import Delivery, deliver_pending
from kessai.notifications.models import MailStatus
from kessai.notifications.schemas import MailOut
from kessai.web.deps import IdQuery, OffsetQuery, PrincipalDep, ServicesDep

router = APIRouter(prefix="/api/v1/mails", tags=["メール"])


@router.get("", response_model=list[MailOut], summary="メール送信履歴 (送信待ち・送信済み)")
async def list_mails(
    services: ServicesDep,
    _: PrincipalDep,
    status: Annotated[str | None, Query(description="pending, sending, sent")] = None,
    order_id: IdQuery = None,
    customer_id: IdQuery = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: OffsetQuery = 0,
) -> list[MailOut]:
    if status is not None and status not in {s.value for s in MailStatus}:
        raise InvalidInput(
            f"メールの状態「{status}」はありません",
            code="invalid_mail_status",
            detail={"allowed": [s.value for s in MailStatus]},
        )
    async with read_transaction(services.sessions) as s:
        mails = await repo.list_mails(
            s,
            status=status,
            order_id=order_id,
            customer_id=customer_id,
            limit=limit,
            offset=offset,
        )
    return [MailOut.of(m) for m in mails]


@router.post("/deliver", summary="送信待ちのメールを今すぐ送信")
async def deliver(services: ServicesDep, _: PrincipalDep) -> dict[str, int]:
    done: Delivery = await deliver_pending(services)
    return {"sent": done.sent, "failed": done.failed}
