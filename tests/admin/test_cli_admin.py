"""`kessai admin create-user`: the first administrator of a fresh installation."""

import asyncio
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from kessai.cli import app
from kessai.core.db import create_engine, session_factory, transaction
from kessai.core.migrate import upgrade
from kessai.users.models import AdminUser
from kessai.users.service import verify_password

runner = CliRunner()
PASSWORD = "a long admin password"


async def users(url: str) -> list[AdminUser]:
    engine = create_engine(url)
    try:
        async with transaction(session_factory(engine)) as s:
            return list((await s.scalars(select(AdminUser))).all())
    finally:
        await engine.dispose()


def test_create_user_from_the_command_line(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'kessai.db'}"
    upgrade(url)
    env = {"KESSAI_DATABASE_URL": url, "KESSAI_ENV": "sandbox"}

    def kessai(*args: str, password: str = PASSWORD) -> tuple[int, str]:
        result = runner.invoke(app, list(args), input=password + "\n", env=env)
        return result.exit_code, result.output

    code, out = kessai(
        "admin",
        "create-user",
        "Ops@Example.jp",
        "--role",
        "operator",
        "--name",
        "運用 一郎",
        "--password-stdin",
    )
    assert code == 0, out
    assert "ops@example.jp" in out
    assert "運用担当" in out
    assert PASSWORD not in out

    code, out = kessai("admin", "create-user", "x@example.jp", "--role", "root", "--password-stdin")
    assert code == 2
    assert "ロールは" in out
    code, out = kessai("admin", "create-user", "y@example.jp", "--password-stdin", password="short")
    assert code == 2
    assert "パスワードは10" in out
    code, out = kessai("admin", "create-user", "ops@example.jp", "--password-stdin")
    assert code == 2
    assert "登録済み" in out

    (user,) = asyncio.run(users(url))
    assert (user.email, user.name, user.role) == ("ops@example.jp", "運用 一郎", "operator")
    assert verify_password(user.password_hash, PASSWORD)
