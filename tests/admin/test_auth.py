"""Login, sessions, CSRF and role permissions of the admin UI, over HTTP (the login throttle:
test_login_throttle.py)."""

import logging
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from kessai.accounts.models import ProviderAccount
from kessai.core.db import transaction
from kessai.core.errors import Conflict, InvalidInput
from kessai.services import Services
from kessai.users.models import AdminSession, AdminUser
from kessai.users.service import (
    ROLE_PERMISSIONS,
    SESSION_TTL,
    Permission,
    Role,
    create_user,
    has_permission,
    hash_password,
    verify_password,
)
from tests.admin.conftest import PASSWORD, add_user, csrf_of, hidden, login

EMAIL = "admin@example.jp"
LOGIN_FAILED = "メールアドレスまたはパスワードが正しくありません"


def test_passwords_are_hashed_with_argon2id() -> None:
    stored = hash_password(PASSWORD)
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    assert verify_password(stored, PASSWORD)
    assert not verify_password(stored, PASSWORD + "x")
    assert not verify_password("not a hash", PASSWORD)


async def test_stored_user_keeps_only_the_hash(services: Services) -> None:
    await add_user(services, "Admin@Example.JP")
    async with transaction(services.sessions) as s:
        user = (await s.scalars(select(AdminUser))).one()
    assert user.email == EMAIL  # one account whatever the case typed
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash


async def test_user_rules(services: Services) -> None:
    await add_user(services, EMAIL)
    async with transaction(services.sessions) as s:
        with pytest.raises(Conflict) as taken:
            await create_user(
                s,
                email=EMAIL.upper(),
                name="",
                password=PASSWORD,
                role=Role.VIEWER,
                now=services.clock.now(),
            )
        with pytest.raises(InvalidInput) as short:
            await create_user(
                s,
                email="b@example.jp",
                name="",
                password="short",
                role=Role.VIEWER,
                now=services.clock.now(),
            )
        with pytest.raises(InvalidInput) as bad_email:
            await create_user(
                s,
                email="not-an-email",
                name="",
                password=PASSWORD,
                role=Role.VIEWER,
                now=services.clock.now(),
            )
    assert taken.value.code == "email_taken"
    assert "10" in short.value.message
    assert bad_email.value.code == "invalid_email"


async def test_login_opens_the_admin_with_a_safe_cookie(
    client: httpx.AsyncClient, services: Services
) -> None:
    await add_user(services, EMAIL, name="決済 花子")
    before = await client.get("/admin/orders")
    assert before.status_code == 303
    assert before.headers["location"].startswith("/admin/login?next=/admin/orders")

    response = await login(client, EMAIL, next_url="/admin/orders")
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/orders"
    cookie = next(
        v for v in response.headers.get_list("set-cookie") if v.startswith("kessai_admin_session=")
    )
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain http in the sandbox: the browser would drop it
    page = await client.get("/admin/orders")
    assert page.status_code == 200
    assert "決済 花子" in page.text
    assert "受注管理" in page.text
    assert "外部連携アカウント管理" in page.text
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


async def test_wrong_password_and_unknown_email_get_the_same_answer(
    client: httpx.AsyncClient, services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    await add_user(services, EMAIL)
    caplog.set_level(logging.DEBUG)
    wrong = await login(client, EMAIL, "wrong password 123")
    unknown = await login(client, "nobody@example.jp", "wrong password 123")
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert LOGIN_FAILED in response.text
        assert "wrong password 123" not in response.text  # never echoed back
        assert "kessai_admin_session=" not in response.headers.get("set-cookie", "")
    assert "wrong password 123" not in caplog.text
    assert (await client.get("/admin/orders")).status_code == 303


async def test_login_form_needs_its_csrf_token(
    client: httpx.AsyncClient, services: Services
) -> None:
    await add_user(services, EMAIL)
    page = await client.get("/admin/login")
    response = await client.post(
        "/admin/login",
        data={"email": EMAIL, "password": PASSWORD, "csrf_token": "forged", "next": "/admin"},
    )
    assert response.status_code == 403
    assert "kessai_admin_session=" not in response.headers.get("set-cookie", "")
    assert hidden(page.text, "csrf_token") != "forged"


async def test_post_without_the_session_csrf_token_is_refused(
    client: httpx.AsyncClient, services: Services
) -> None:
    await add_user(services, EMAIL)
    await login(client, EMAIL)
    token = await csrf_of(client)

    missing = await client.post("/admin/logout")
    forged = await client.post("/admin/logout", data={"csrf_token": "x" * len(token)})
    for response in (missing, forged):
        assert response.status_code == 403
        assert "不正なリクエスト" in response.text
    assert (await client.get("/admin/orders")).status_code == 200  # still logged in

    by_header = await client.post("/admin/logout", headers={"X-CSRF-Token": token})
    assert by_header.status_code == 303
    assert (await client.get("/admin/orders")).status_code == 303
    async with transaction(services.sessions) as s:
        assert (await s.scalars(select(AdminSession))).all() == []


async def test_logout_ends_the_session_on_the_server(
    client: httpx.AsyncClient, services: Services
) -> None:
    await add_user(services, EMAIL)
    await login(client, EMAIL)
    stolen = client.cookies.get("kessai_admin_session")
    token = await csrf_of(client)
    response = await client.post("/admin/logout", data={"csrf_token": token})
    assert response.status_code == 303
    assert "ログアウトしました" in (await client.get(response.headers["location"])).text
    client.cookies.set("kessai_admin_session", stolen or "", domain="kessai.test", path="/admin")
    assert (await client.get("/admin/orders")).status_code == 303  # the old cookie is dead


async def test_sessions_expire(client: httpx.AsyncClient, services: Services) -> None:
    await add_user(services, EMAIL)
    await login(client, EMAIL)
    assert (await client.get("/admin/orders")).status_code == 200
    services.clock.advance(SESSION_TTL + timedelta(seconds=1))
    assert (await client.get("/admin/orders")).status_code == 303


async def test_login_never_redirects_off_the_admin(
    client: httpx.AsyncClient, services: Services
) -> None:
    await add_user(services, EMAIL)
    for target in ("https://evil.example/", "//evil.example/admin", "/admin\\@evil"):
        client.cookies.clear()
        response = await login(client, EMAIL, next_url=target)
        assert response.headers["location"] == "/admin", target


def test_role_permissions() -> None:
    assert ROLE_PERMISSIONS[Role.ADMIN] == frozenset(Permission)
    assert has_permission("operator", Permission.ORDERS_OPERATE)
    assert has_permission("operator", Permission.ACCOUNTS_TEST)
    assert not has_permission("operator", Permission.ACCOUNTS_EDIT)
    assert not has_permission("operator", Permission.ORDERS_FORCE_CAPTURE)
    assert ROLE_PERMISSIONS[Role.VIEWER] == {Permission.ORDERS_VIEW, Permission.ACCOUNTS_VIEW}
    assert not has_permission("retired-role", Permission.ORDERS_VIEW)
    assert [role.label for role in Role] == ["管理者", "運用担当", "閲覧のみ"]


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.VIEWER])
async def test_only_admins_may_change_accounts(
    client: httpx.AsyncClient, services: Services, role: Role
) -> None:
    await add_user(services, EMAIL, role=role)
    await login(client, EMAIL)
    listing = await client.get("/admin/settings/accounts")
    assert listing.status_code == 200
    assert 'href="/admin/settings/accounts/new"' not in listing.text  # no 新規登録 button
    token = await csrf_of(client)
    response = await client.post(
        "/admin/settings/accounts/new/gmo_pg",
        data={"csrf_token": token, "account_name": "GMO", "v.shop_id": "tshop00000001"},
    )
    assert response.status_code == 403
    assert "権限がありません" in response.text
    assert role.label in response.text
    async with transaction(services.sessions) as s:
        assert (await s.scalars(select(ProviderAccount))).all() == []
