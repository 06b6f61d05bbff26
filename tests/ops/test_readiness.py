"""/readyz and `kessai doctor`: the database, its schema, the broker and the master key, each
named with what to fix; /healthz stays a liveness probe."""

from pathlib import Path

import httpx
import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from kessai.accounts.models import ProviderAccount
from kessai.cli import app
from kessai.core.crypto import SecretBox, generate_key
from kessai.core.db import transaction
from kessai.core.settings import Env, Settings
from kessai.services import Services, build_services
from kessai.web.app import create_app
from tests.conftest import TEST_SECRET_KEY
from tests.factories import make_method

runner = CliRunner()


def doctor(url: str, **env: str) -> tuple[int, str]:
    result = runner.invoke(
        app, ["doctor"], env={"KESSAI_DATABASE_URL": url, "KESSAI_ENV": "production", **env}
    )
    return result.exit_code, result.output


def block(output: str, title: str) -> str:
    """The lines the doctor printed for one check."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if title in line and line.startswith("["))
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i].startswith("[") or not lines[i]),
        len(lines),
    )
    return "\n".join(lines[start:end])


@pytest.fixture
def upgraded_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'kessai.db'}"
    assert runner.invoke(app, ["db", "upgrade"], env={"KESSAI_DATABASE_URL": url}).exit_code == 0
    return url


def test_doctor_passes_on_a_healthy_installation(upgraded_url: str) -> None:
    code, out = doctor(upgraded_url, KESSAI_SECRET_KEY=TEST_SECRET_KEY)
    assert code == 0, out
    assert out.count("[OK]") == 4
    assert "すべて正常です / all checks passed" in out
    assert "[OK] ジョブのブローカー / Job broker" in out
    assert "not configured: jobs run inside kessai serve" in out


def test_doctor_names_a_missing_secret_key(upgraded_url: str) -> None:
    code, out = doctor(upgraded_url, KESSAI_SECRET_KEY="")
    assert code == 1
    found = block(out, "マスターキー")
    assert found.startswith("[NG] マスターキー / Master key")
    assert "本番環境(KESSAI_ENV=production)ではマスターキーの設定が必要です" in found
    assert "production (KESSAI_ENV=production) needs a master key" in found
    assert "対処: KESSAI_SECRET_KEY" in found
    assert "Fix: set KESSAI_SECRET_KEY" in found
    assert "kessai secrets generate-key" in found
    assert "1件の問題があります / 1 problem(s) found" in out


@pytest.mark.parametrize(
    ("broker", "shown"),
    [
        ("amqp://kessai:hunter2@127.0.0.1:1/", "amqp://kessai:***@127.0.0.1:1/"),
        ("redis://:hunter2@127.0.0.1:1/0", "redis://:***@127.0.0.1:1/0"),
    ],
)
def test_doctor_names_an_unreachable_broker(upgraded_url: str, broker: str, shown: str) -> None:
    code, out = doctor(upgraded_url, KESSAI_SECRET_KEY=TEST_SECRET_KEY, KESSAI_BROKER_URL=broker)
    assert code == 1
    found = block(out, "ジョブのブローカー")
    assert found.startswith("[NG] ジョブのブローカー / Job broker")
    assert f"{shown} に接続できません" in found
    assert f"cannot connect to {shown}" in found
    assert "対処: KESSAI_BROKER_URL と、RabbitMQ / Redis が起動していること" in found
    assert "hunter2" not in out
    assert "[OK] マスターキー" in out  # one problem, named alone


def test_doctor_tells_to_upgrade_a_database_never_upgraded(tmp_path: Path) -> None:
    (tmp_path / "new.db").touch()  # an empty database: created, never upgraded
    code, out = doctor(f"sqlite:///{tmp_path / 'new.db'}", KESSAI_SECRET_KEY=TEST_SECRET_KEY)
    assert code == 1
    found = block(out, "スキーマ")
    assert found.startswith("[NG] スキーマ (マイグレーション)")
    assert "対処: `kessai db upgrade` を実行してください" in found


def test_doctor_names_an_unreachable_database() -> None:
    code, out = doctor("postgresql://kessai:hunter2@127.0.0.1:1/kessai")
    assert code == 1
    assert block(out, "データベース").startswith("[NG] データベース / Database")
    assert "kessai:***@127.0.0.1:1/kessai に接続できません" in out
    assert "データベースに接続できないため確認していません" in out
    assert "hunter2" not in out


def test_doctor_does_not_create_a_missing_sqlite_file(tmp_path: Path) -> None:
    code, out = doctor(f"sqlite:///{tmp_path / 'typo.db'}", KESSAI_SECRET_KEY=TEST_SECRET_KEY)
    assert code == 1
    assert f"データベースファイル {tmp_path / 'typo.db'} がありません" in out
    assert not (tmp_path / "typo.db").exists()


def test_doctor_on_unreadable_settings_says_which() -> None:
    result = runner.invoke(app, ["doctor"], env={"KESSAI_ENV": "staging"})
    assert result.exit_code == 1
    assert "[NG] 設定 / Settings" in result.output
    assert "KESSAI_ENV は sandbox か production" in result.output


async def readyz(services: Services) -> httpx.Response:
    transport = httpx.ASGITransport(app=create_app(services))
    async with httpx.AsyncClient(transport=transport, base_url="http://kessai.test") as client:
        health = await client.get("/healthz")
        assert health.status_code == 200  # alive, whatever readiness says
        return await client.get("/readyz")


async def test_readyz_is_ready_when_every_check_passes(services: Services) -> None:
    response = await readyz(services)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert [c["key"] for c in body["checks"]] == ["database", "schema", "broker", "secret_key"]
    assert all(c["ok"] for c in body["checks"])


async def test_readyz_refuses_without_a_master_key_in_production(database_url: str) -> None:
    services = build_services(Settings(database_url=database_url, env=Env.PRODUCTION))
    try:
        response = await readyz(services)
    finally:
        await services.close()
    assert response.status_code == 503
    failed = [c for c in response.json()["checks"] if not c["ok"]]
    assert [c["key"] for c in failed] == ["secret_key"]
    assert "KESSAI_SECRET_KEY" in failed[0]["fix_ja"]


async def test_readyz_refuses_secrets_sealed_by_a_key_it_does_not_hold(
    services: Services,
) -> None:
    method = await make_method(services)
    other = SecretBox.from_text(generate_key())
    token = other.encrypt("shop-pass", context="x")
    async with transaction(services.sessions) as s:
        await s.execute(
            update(ProviderAccount)
            .where(ProviderAccount.id == method.account_id)
            .values(secrets={"shop_pass": token})
        )
    response = await readyz(services)
    assert response.status_code == 503
    (failed,) = [c for c in response.json()["checks"] if not c["ok"]]
    assert failed["key"] == "secret_key"
    assert f"鍵ID {other.key_id} (1件)" in failed["detail_ja"]
    assert "KESSAI_SECRET_KEY_PREVIOUS" in failed["fix_ja"]
