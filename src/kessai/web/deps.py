"""FastAPI dependencies: the process's services, the caller's API key, shared path params."""

from typing import Annotated

from fastapi import Depends, Path, Query, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from kessai.apikeys import scopes
from kessai.apikeys.service import Principal, authenticate
from kessai.orders.schemas import MAX_ID
from kessai.services import Services


async def get_services(request: Request) -> Services:
    # async: FastAPI would run a plain def in the thread pool on every request.
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]

# Declared for OpenAPI (the "Authorize" button of /docs); the header is checked below so that
# every failure is the same 401 JSON with a Japanese message.
_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="APIKey",
    description="`kessai apikey create NAME` で発行した APIキー (Authorization: Bearer ks_…)",
)


async def principal_for(request: Request) -> Principal:
    """The caller's API key (asked of the database on every request), or Unauthorized."""
    services = await get_services(request)
    return await authenticate(
        services.sessions, request.headers.get("authorization"), services.clock.now()
    )


async def get_principal(
    request: Request, _: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)]
) -> Principal:
    """The caller, whose key's scope reaches the route (apikeys.scopes.NEEDED), or 401/403."""
    principal = await principal_for(request)
    route = request.scope.get("route")
    need = scopes.needed(request.method, getattr(route, "path", request.url.path))
    if need is not None:
        scopes.require(principal.scope, need)
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]

OrderIdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="受注ID")]
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
IdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID)]
OffsetQuery = Annotated[int, Query(ge=0, le=MAX_ID, description="先頭から飛ばす件数")]
