"""The key exchange over HTTP: where the provider posts an account's keys (its keyShareURL,
no kessai credentials: the payload proves itself by opening with the account's private key),
and the API call that starts a registration.

Every answer to the provider is its documented one: 200 {"result": "success"} or 400
{"result": "error", "message"} with its CORS headers. The message is Japanese for the
operator who reads it on the provider's page; keys never appear in it.
"""

import logging
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from kessai.accounts import key_exchange
from kessai.core.errors import KessaiError
from kessai.orders.schemas import MAX_ID
from kessai.web.deps import PrincipalDep, ServicesDep

log = logging.getLogger("kessai.accounts.key_exchange")

MAX_BODY = 16 * 1024
ProviderPath = Annotated[str, Path(max_length=40, pattern=r"^[a-z0-9_-]+$")]
AccountPath = Annotated[int, Path(ge=1, le=MAX_ID, description="外部連携アカウントID")]

key_share = APIRouter(tags=["決済サービスからの通知"])
router = APIRouter(prefix="/api/v1", tags=["外部連携アカウント"])


@key_share.options("/key-exchange/{provider}/{account_id}", include_in_schema=False)
async def preflight(provider: ProviderPath, account_id: AccountPath) -> Response:
    return Response(status_code=200, headers=key_exchange.answer_headers(provider))


class KeyShareAnswer(BaseModel):
    """The answer the provider's key exchange documents (not kessai's Error)."""

    result: str  # success | error
    message: str | None = None


@key_share.post(
    "/key-exchange/{provider}/{account_id}",
    summary="決済サービスから連携の認証情報を受け取る (keyShareURL)",
    response_model=KeyShareAnswer,
    responses={
        400: {"model": KeyShareAnswer, "description": "連携情報を受け付けない (理由は message)"},
        404: {"model": KeyShareAnswer, "description": "外部連携アカウントがない"},
    },
)
async def receive_keys(
    request: Request, services: ServicesDep, provider: ProviderPath, account_id: AccountPath
) -> JSONResponse:
    headers = key_exchange.answer_headers(provider)
    try:
        body = await request.body()
        if len(body) > MAX_BODY:
            return _error("連携情報が大きすぎます", headers)
        form = await request.form()
        payload = form.get("payload")
        await key_exchange.receive(
            services, provider, account_id, payload if isinstance(payload, str) else ""
        )
    except KessaiError as refused:
        log.warning(
            "鍵の連携を受け付けませんでした: provider=%s account=%s code=%s",
            provider,
            account_id,
            refused.code,
        )
        return _error(refused.message, headers, refused.status_code)
    return JSONResponse({"result": "success"}, status_code=200, headers=headers)


def _error(message: str, headers: dict[str, str], status: int = 400) -> JSONResponse:
    # The documented answer is a 400; a missing account keeps its 404.
    return JSONResponse(
        {"result": "error", "message": message},
        status_code=404 if status == 404 else 400,
        headers=headers,
    )


class RegistrationOut(BaseModel):
    registration_url: str
    fields: dict[str, str]


@router.post(
    "/provider-accounts/{account_id}/key-exchange",
    response_model=RegistrationOut,
    summary="「Amazonアカウント新規登録・連携」を始める (鍵ペアを作り、登録フォームを返す)",
)
async def start_key_exchange(
    account_id: AccountPath, request: Request, services: ServicesDep, principal: PrincipalDep
) -> RegistrationOut:
    started = await key_exchange.start(
        services, account_id, str(request.base_url), actor=principal.actor
    )
    return RegistrationOut(registration_url=started.url, fields=started.fields)
