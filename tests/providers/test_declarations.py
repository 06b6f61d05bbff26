"""Each provider folder's provider.py, read against the seeds, and what is built from them."""

import inspect
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from kessai.accounts.integrations import integration
from kessai.accounts.secrets import CONNECTOR_ALIASES
from kessai.cli import app as cli
from kessai.payments import capabilities as caps
from kessai.providers import registry as registry_module
from kessai.providers.installed import PROVIDERS, is_simulated
from kessai.providers.kit import Provider
from kessai.providers.registry import default_registry
from kessai.services import Services
from kessai.subscriptions.reauthorization import FINAL_DECLINE_RULES
from kessai.web.app import create_app

SEED_003 = {(row.provider, row.method_type) for row in caps.ROWS}


@pytest.mark.parametrize("provider", PROVIDERS, ids=lambda p: p.name)
def test_what_a_provider_declares_exists_in_the_seeds(provider: Provider) -> None:
    for code in provider.provider_codes:
        assert code in caps.PROVIDERS, f"seed 003 has no provider {code}"
        for method_type in provider.method_types:
            assert (code, method_type) in SEED_003, (code, method_type)
    if provider.integration is not None:
        spec = integration(provider.integration)
        assert spec is not None, f"seed 001 has no integration {provider.integration}"
        keys = {f.key for f in spec.fields}
        assert set(provider.setting_aliases) <= keys


def test_names_and_simulator_paths_are_unique() -> None:
    names = [p.name for p in PROVIDERS]
    paths = [p.sim_path for p in PROVIDERS if p.sim_path]
    assert len(names) == len(set(names))
    assert len(paths) == len(set(paths))


def test_the_registry_knows_providers_only_through_their_declarations() -> None:
    source = inspect.getsource(registry_module)
    for provider in PROVIDERS:
        assert f'"{provider.name}"' not in source
    assert default_registry(sandbox=True, env=None).names() == sorted(
        p.name for p in PROVIDERS if not p.needs_store
    )
    # Production: no simulated connector is ever offered.
    assert all(not is_simulated(n) for n in default_registry(sandbox=False).names())


def test_final_declines_and_aliases_come_from_the_declarations() -> None:
    assert {
        p.name: p.final_decline for p in PROVIDERS if p.final_decline is not None
    } == FINAL_DECLINE_RULES
    assert CONNECTOR_ALIASES["gmo_pg"] == {
        "shop_password": "shop_pass",
        "site_password": "site_pass",
    }
    assert FINAL_DECLINE_RULES["gmo_pg"]("42G650000") is True  # カード番号誤り
    assert FINAL_DECLINE_RULES["gmo_pg"]("42G020000") is False  # 残高不足


async def test_each_simulator_is_mounted_in_the_sandbox(services: Services) -> None:
    app = create_app(services)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://kessai"
    ) as client:
        token = await client.post("/sim/gmo-pg/token", json={"cardno": "4111111111111111"})
        page = await client.get("/sim/fake/3ds")
    assert token.json()["resultCode"] == "110"  # GMO's token answer: 有効期限が未入力
    assert "本人認証" in page.text


def test_kessai_simulate_names_what_exists_when_asked_for_what_does_not() -> None:
    result = CliRunner().invoke(cli, ["simulate", "paypal", "--port", "0"])
    assert result.exit_code == 2
    assert "「paypal」のシミュレーターはありません" in result.stderr
    assert "gmo-pg" in result.stderr


async def test_declared_side_simulators_and_connection_tests_are_used(
    services: Services, tmp_path: Path
) -> None:
    """What web/app.py and the 接続テスト take from the declarations, naming no provider:
    GMO PG's SFTP side starts beside its mounted simulator; its gateway check is registered
    under its integration; mounted for people, the issuer's page waits for a click."""
    import dataclasses
    import socket

    import asyncssh

    from kessai.accounts.service import CONNECTION_TESTS
    from kessai.web.app import start_side_simulators

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    db = tmp_path / "kessai.db"
    # the SFTP files beside a SQLite file under tmp_path (the database itself is unchanged)
    services.settings = dataclasses.replace(
        services.settings, sim_sftp_port=port, database_url=f"sqlite+aiosqlite:///{db}"
    )
    app = create_app(services)
    started = await start_side_simulators(app, services)
    try:
        assert len(started) == 1
        async with (
            asyncssh.connect(
                "127.0.0.1", port, username="kessai-sftp", password="sftp-pass", known_hosts=None
            ) as conn,
            conn.start_sftp_client() as client,
        ):
            assert set(await client.listdir(".")) >= {"upload", "download"}
    finally:
        for server in started:
            server.close()
    assert {p.integration for p in PROVIDERS if p.connection_test} <= set(CONNECTION_TESTS)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://kessai"
    ) as client:
        page = await client.get("/sim/gmo-pg/payment/Tds2Challenge?tds2TransID=x")
    assert "認証する" in page.text
