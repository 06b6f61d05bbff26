"""FastAPI dependencies: the process's services and the caller's API key."""

from typing import Annotated

from fastapi import Depends, Request

from kessai.apikeys.service import Principal, authenticate
from kessai.core.db import transaction
from kessai.core.services import Services


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_principal(request: Request, services: ServicesDep) -> Principal:
    async with transaction(services.sessions) as s:
        return await authenticate(s, request.headers.get("authorization"))


PrincipalDep = Annotated[Principal, Depends(get_principal)]
