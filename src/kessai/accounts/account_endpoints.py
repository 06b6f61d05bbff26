"""/api/v1/integrations and /api/v1/provider-accounts: 外部連携アカウント管理 over REST.

Secrets go in and never come out: responses show ******** for a stored secret, 変更履歴
says "(変更されました)", and a refused save answers 422 listing every field error (labels and
rules, never the values sent).
"""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse

from kessai.accounts import service
from kessai.accounts.account_schemas import (
    AccountChangeOut,
    AccountCreate,
    AccountOut,
    AccountUpdate,
    ConnectionTestOut,
    FileInfoOut,
    IntegrationOut,
    integration_out,
)
from kessai.accounts.connection import connects, notice
from kessai.accounts.integrations import INTEGRATIONS
from kessai.accounts.models import ProviderAccount
from kessai.accounts.secrets import spec_of
from kessai.core.db import transaction
from kessai.history.repository import list_changes
from kessai.orders.schemas import MAX_ID
from kessai.providers.installed import is_simulated
from kessai.web.deps import PrincipalDep, ServicesDep
from kessai.web.idempotency import run_idempotent

router = APIRouter(prefix="/api/v1", tags=["外部連携アカウント"])

AccountIdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="外部連携アカウントID")]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "外部連携アカウントがない (account_not_found)"}
}
INVALID: dict[int | str, dict[str, Any]] = {
    422: {"description": "入力の誤り (invalid_account_settings: detail.errors に全項目)"}
}


def account_out(account: ProviderAccount) -> AccountOut:
    spec = spec_of(account)
    missing = service.missing_fields(account)
    return AccountOut(
        id=account.id,
        integration=account.integration,
        integration_name=spec.name if spec else None,
        name=account.name,
        provider=account.provider,
        connector=account.connector,
        simulated=is_simulated(account.connector),
        connected=connects(account.connector),
        connection_notice=notice(account),
        values=service.display_values(account),
        files={k: FileInfoOut(**v) for k, v in service.file_infos(account).items()},
        missing=missing,
        complete=not missing,
        created_at=account.created_at,
        updated_at=account.updated_at,
    )


@router.get("/integrations", response_model=list[IntegrationOut], summary="連携の一覧と設定項目")
async def list_integrations(_: PrincipalDep) -> list[IntegrationOut]:
    return [
        integration_out(spec, connection_test=spec.code in service.CONNECTION_TESTS)
        for spec in INTEGRATIONS
    ]


@router.get("/provider-accounts", response_model=list[AccountOut], summary="外部連携アカウント一覧")
async def list_provider_accounts(services: ServicesDep, _: PrincipalDep) -> list[AccountOut]:
    async with transaction(services.sessions) as s:
        accounts = await service.list_accounts(s)
    return [account_out(a) for a in accounts]


@router.post(
    "/provider-accounts",
    status_code=201,
    response_model=AccountOut,
    summary="外部連携アカウントを登録",
    responses=INVALID,
)
async def post_provider_account(
    data: AccountCreate, request: Request, services: ServicesDep, principal: PrincipalDep
) -> JSONResponse:
    async def handler() -> tuple[int, object]:
        account = await service.create_account(
            services, data.integration, data.name, data.values, actor=principal.actor
        )
        return 201, account_out(account)

    return await run_idempotent(request, services, principal, handler)


@router.get(
    "/provider-accounts/{account_id}",
    response_model=AccountOut,
    summary="外部連携アカウントを取得 (秘密情報はマスク)",
    responses=NOT_FOUND,
)
async def get_provider_account(
    account_id: AccountIdPath, services: ServicesDep, _: PrincipalDep
) -> AccountOut:
    async with transaction(services.sessions) as s:
        return account_out(await service.get_account(s, account_id))


@router.patch(
    "/provider-accounts/{account_id}",
    response_model=AccountOut,
    summary="外部連携アカウントを変更",
    responses={**NOT_FOUND, **INVALID},
)
async def patch_provider_account(
    account_id: AccountIdPath, data: AccountUpdate, services: ServicesDep, principal: PrincipalDep
) -> AccountOut:
    account = await service.update_account(
        services, account_id, data.values, clear=data.clear, actor=principal.actor, name=data.name
    )
    return account_out(account)


@router.post(
    "/provider-accounts/{account_id}/test",
    response_model=ConnectionTestOut,
    summary="接続テスト",
    responses=NOT_FOUND,
)
async def post_connection_test(
    account_id: AccountIdPath, request: Request, services: ServicesDep, principal: PrincipalDep
) -> JSONResponse:
    async def handler() -> tuple[int, object]:
        result = await service.test_connection(services, account_id)
        return 200, ConnectionTestOut(ok=result.ok, message=result.message, detail=result.detail)

    return await run_idempotent(request, services, principal, handler)


@router.get(
    "/provider-accounts/{account_id}/change-history",
    response_model=list[AccountChangeOut],
    summary="変更履歴 (秘密情報は「(変更されました)」とだけ記録)",
    responses=NOT_FOUND,
)
async def get_account_change_history(
    account_id: AccountIdPath, services: ServicesDep, _: PrincipalDep
) -> list[AccountChangeOut]:
    async with transaction(services.sessions) as s:
        account = await service.get_account(s, account_id)
        records = await list_changes(s, service.HISTORY_ENTITY, account_id)
    spec = spec_of(account)
    labels = {f.key: f.label for f in spec.fields} if spec else {}
    labels["name"] = service.NAME_LABEL
    return [
        AccountChangeOut(
            id=r.id,
            field=r.field,
            field_label=r.reason or labels.get(r.field, r.field),
            before=r.before,
            after=r.after,
            actor=r.actor,
            created_at=r.created_at,
        )
        for r in records
    ]
