"""/api/v1/api-keys: list, issue and revoke API keys (admin scope)."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import select

from kessai.apikeys.models import ApiKey
from kessai.apikeys.scopes import Scope
from kessai.apikeys.service import MAX_NAME_LENGTH, create_key, list_keys, revoke_key_id
from kessai.core.db import read_transaction, transaction
from kessai.core.inputs import MAX_ID
from kessai.web.deps import PrincipalDep, ServicesDep
from kessai.web.idempotency import run_idempotent

router = APIRouter(prefix="/api/v1/api-keys", tags=["APIキー"])

KeyIdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="APIキーID")]


class ApiKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME_LENGTH)] = Field(
        description="キーの名前 (決済履歴・変更履歴に api:名前 として残ります)"
    )
    scope: Scope = Field(
        default=Scope.STOREFRONT,
        description="権限: storefront (受注登録・オーソリ) / operator (すべての決済処理) / "
        "admin (外部連携アカウント・設定・APIキー)",
    )


class ApiKeyOut(BaseModel):
    id: int
    name: str
    prefix: str = Field(description="キーの公開部分 (ks_<prefix>_…)")
    scope: Scope
    scope_label: str
    created_at: datetime
    last_used_at: datetime | None = Field(description="最終利用日時 (1分単位)")
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="APIキー。この応答でしか表示されません")


def key_out(key: ApiKey) -> ApiKeyOut:
    scope = Scope(key.scope)
    return ApiKeyOut(
        id=key.id,
        name=key.name,
        prefix=key.prefix,
        scope=scope,
        scope_label=scope.label,
        created_at=key.created_at,
        last_used_at=key.last_used_at,
        revoked_at=key.revoked_at,
    )


@router.get("", response_model=list[ApiKeyOut], summary="APIキーの一覧")
async def get_keys(services: ServicesDep, _: PrincipalDep) -> list[ApiKeyOut]:
    async with read_transaction(services.sessions) as s:
        return [key_out(k) for k in await list_keys(s)]


@router.post(
    "",
    status_code=201,
    response_model=ApiKeyCreated,
    summary="APIキーを発行 (キーはこの応答でしか表示されません)",
    description="Idempotency-Key は使われません: 応答を保存するとキーが保存されてしまうため。",
)
async def post_key(data: ApiKeyIn, services: ServicesDep, _: PrincipalDep) -> ApiKeyCreated:
    async with transaction(services.sessions) as s:
        token = await create_key(s, data.name, services.clock.now(), data.scope)
        created = await s.scalar(select(ApiKey).where(ApiKey.prefix == token.split("_", 2)[1]))
        assert created is not None  # just written in this transaction
        return ApiKeyCreated(**key_out(created).model_dump(), key=token)


@router.post(
    "/{key_id}/revoke",
    response_model=ApiKeyOut,
    summary="APIキーを失効 (すべてのプロセスで直ちに使えなくなります)",
)
async def post_revoke(
    key_id: KeyIdPath, request: Request, services: ServicesDep, principal: PrincipalDep
) -> JSONResponse:
    async def handler() -> tuple[int, object]:
        async with transaction(services.sessions) as s:
            return 200, key_out(await revoke_key_id(s, key_id, services.clock.now()))

    return await run_idempotent(request, services, principal, handler)
