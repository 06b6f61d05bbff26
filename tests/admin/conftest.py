"""Fixtures for the admin UI: users of each role and an httpx client on an app serving /admin
(the login throttle counts in the database, on the services' clock)."""

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from kessai.core.db import transaction
from kessai.services import Services
from kessai.users.service import Role, create_user
from kessai.users.throttle import LoginThrottle
from kessai.web import errors
from kessai.web.admin import admin_router

BASE_URL = "http://kessai.test"
PASSWORD = "correct horse battery"


def admin_app(services: Services, throttle: LoginThrottle | None = None) -> FastAPI:
    """The admin router on an app of its own, so a test controls the login throttle."""
    app = FastAPI()
    app.state.services = services
    errors.install(app)
    app.include_router(admin_router(services, throttle=throttle))
    return app


async def add_user(
    services: Services, email: str, role: Role = Role.ADMIN, name: str = "管理 太郎"
) -> None:
    async with transaction(services.sessions) as s:
        await create_user(
            s, email=email, name=name, password=PASSWORD, role=role, now=services.clock.now()
        )


@pytest.fixture
async def client(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    app = admin_app(services)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as c:
        yield c


def hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{re.escape(name)}" value="([^"]*)"', html)
    assert found, f"no hidden input {name}"
    return found.group(1)


async def login(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD, *, next_url: str = "/admin"
) -> httpx.Response:
    page = await client.get("/admin/login", params={"next": next_url})
    return await client.post(
        "/admin/login",
        data={
            "email": email,
            "password": password,
            "next": hidden(page.text, "next"),
            "csrf_token": hidden(page.text, "csrf_token"),
        },
    )


async def csrf_of(client: httpx.AsyncClient, path: str = "/admin/orders") -> str:
    page = await client.get(path)
    assert page.status_code == 200, page.text
    return hidden(page.text, "csrf_token")
