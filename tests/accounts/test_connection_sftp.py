"""SFTP (GMO PG's SFTP 連携オプション): the client and the 接続テスト against a real OpenSSH sshd
on loopback (tests/sftp_server.py)."""

import shutil
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kessai.accounts.connection_tests import check_account, check_sftp
from kessai.accounts.models import ProviderAccount
from kessai.core.settings import Env, Settings
from kessai.providers import sftp
from kessai.providers.gmo_pg.simulator import (
    TEST_SHOP_ID,
    TEST_SHOP_PASS,
    TEST_SITE_ID,
    TEST_SITE_PASS,
    create_simulator,
)
from kessai.services import Services, build_services
from tests.loopback import serve
from tests.sftp_server import HOME_FILES, SftpServer, sftp_server


@pytest.fixture
async def services(sqlite_template: Path, tmp_path: Path) -> AsyncIterator[Services]:
    """The checks here only read the database (GMO PG's lookup asks the reference store): one
    backend is enough (no sqlite/postgres pair of every test, each with its own sshd)."""
    path = tmp_path / "kessai.db"
    shutil.copy(sqlite_template, path)
    svc = build_services(Settings(database_url=f"sqlite+aiosqlite:///{path}", env=Env.SANDBOX))
    yield svc
    await svc.close()


@pytest.fixture
async def sftpd() -> AsyncIterator[SftpServer]:
    async with sftp_server() as server:
        yield server


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def account() -> ProviderAccount:
    return ProviderAccount(id=1, provider="gmo_pg", integration="gmo_pg", name="GMO PG")


def sftp_settings(server: SftpServer, **overrides: Any) -> dict[str, Any]:
    """The GMO PG account's SFTP fields, with the extra settings a test server needs."""
    values: dict[str, Any] = {
        "sftp_host": server.host,
        "sftp_login_id": server.username,
        "sftp_port": server.port,
        "sftp_private_key": server.client_key,
        "sftp_host_key_fingerprint": server.host_key_fingerprint,
    }
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


def target(server: SftpServer, **overrides: Any) -> sftp.SftpTarget:
    values: dict[str, Any] = {
        "host": server.host,
        "username": server.username,
        "port": server.port,
        "private_key": server.client_key,
        "host_key_fingerprint": server.host_key_fingerprint,
    }
    values.update(overrides)
    return sftp.SftpTarget(**values)


async def test_list_read_and_write(sftpd: SftpServer) -> None:
    async with sftp.connect(target(sftpd)) as session:
        entries = await session.listdir()
        assert [e.name for e in entries] == sorted(HOME_FILES)
        assert {e.name: e.size for e in entries} == {k: len(v) for k, v in HOME_FILES.items()}
        assert not any(e.is_dir for e in entries)
        assert await session.read("readme.txt") == b"hello\n"
        await session.write("upload.csv", "会員ID,カード\n".encode("cp932"))
        with pytest.raises(sftp.SftpError, match="一覧できませんでした"):
            await session.listdir("no-such-dir")
    assert (sftpd.home / "upload.csv").read_bytes() == "会員ID,カード\n".encode("cp932")


async def test_connection_test_lists_the_login_directory(
    services: Services, sftpd: SftpServer
) -> None:
    result = await check_sftp(services, account(), sftp_settings(sftpd))
    assert result.ok is True, result
    assert result.message == f"SFTPに接続できました(ファイル{len(HOME_FILES)}件)"
    assert result.detail == {"entries": len(HOME_FILES), "host_key_verified": True}


async def test_a_wrong_password_cannot_log_in(services: Services, sftpd: SftpServer) -> None:
    settings = sftp_settings(sftpd, sftp_private_key=None, sftp_password="wrong-password")
    result = await check_sftp(services, account(), settings)
    assert result.ok is False
    assert result.message == "SFTPにログインできませんでした"
    assert "wrong-password" not in repr(result)
    # The server really was asked with that password.
    assert f"Failed password for {sftpd.username}" in sftpd.log()


async def test_a_key_the_server_does_not_know_cannot_log_in(
    services: Services, sftpd: SftpServer
) -> None:
    (sftpd.log_path.parent / "authorized_keys").write_text("")
    result = await check_sftp(services, account(), sftp_settings(sftpd))
    assert (result.ok, result.message) == (False, "SFTPにログインできませんでした")


async def test_another_host_key_is_refused(services: Services, sftpd: SftpServer) -> None:
    other = "SHA256:" + "A" * 43
    result = await check_sftp(
        services, account(), sftp_settings(sftpd, sftp_host_key_fingerprint=other)
    )
    assert result.ok is False
    assert "ホスト鍵" in result.message
    assert "Accepted publickey" not in sftpd.log()  # refused before logging in


async def test_an_unconfirmed_host_is_shown_its_fingerprint_and_sent_nothing(
    services: Services, sftpd: SftpServer
) -> None:
    """The first test of a server: its key's fingerprint for the operator to confirm; no user
    name or password reaches a host that has not been confirmed."""
    settings = sftp_settings(
        sftpd,
        sftp_host_key_fingerprint=None,
        sftp_private_key=None,
        sftp_password="Never-Sent-Pw-1",
    )
    result = await check_sftp(services, account(), settings)
    assert result.ok is False
    assert result.detail["code"] == "sftp_host_key_unconfirmed"
    assert result.detail["host_key_fingerprint"] == sftpd.host_key_fingerprint
    assert sftpd.host_key_fingerprint in result.message
    log = sftpd.log()
    assert sftpd.username not in log  # no login was even tried
    assert "password" not in log.lower()
    # The client refuses too, whoever calls it (自動洗替's transfers): nothing is sent.
    with pytest.raises(sftp.SftpHostKeyUnconfirmed):
        async with sftp.connect(target(sftpd, host_key_fingerprint=None)):
            pass
    assert sftpd.username not in sftpd.log()

    confirmed = {**settings, "sftp_host_key_fingerprint": result.detail["host_key_fingerprint"]}
    (sftpd.log_path.parent / "authorized_keys").write_text("")  # the password alone logs in?
    again = await check_sftp(services, account(), confirmed)
    assert again.detail.get("code") != "sftp_host_key_unconfirmed"
    assert sftpd.username in sftpd.log()  # now, and only now, a login was tried


async def test_no_server_means_not_connected(services: Services) -> None:
    settings = {
        "sftp_host": "127.0.0.1",
        "sftp_port": closed_port(),
        "sftp_login_id": "user",
        "sftp_password": "pw",
    }
    result = await check_sftp(services, account(), settings)
    assert (result.ok, result.message) == (False, "SFTPサーバに接続できませんでした")


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        ({}, "SFTPの接続先が設定されていません"),
        ({"sftp_host": "127.0.0.1"}, "SFTP ログインID"),
        ({"sftp_host": "127.0.0.1", "sftp_login_id": "u"}, "パスワードか秘密鍵"),
        (
            {"sftp_host": "127.0.0.1", "sftp_login_id": "u", "sftp_private_key": "not a key"},
            "秘密鍵を読み込めませんでした",
        ),
        (
            {"sftp_host": "127.0.0.1", "sftp_login_id": "u", "sftp_password": "p", "sftp_port": 0},
            "ポート番号",
        ),
    ],
)
async def test_incomplete_settings_are_named_without_connecting(
    services: Services, settings: dict[str, Any], words: str
) -> None:
    result = await check_sftp(services, account(), settings)
    assert result.ok is False
    assert words in result.message


async def test_the_gmo_pg_test_covers_gateway_and_sftp(
    services: Services, sftpd: SftpServer
) -> None:
    async with serve(create_simulator()) as sim_url:
        gateway = {
            "shop_id": TEST_SHOP_ID,
            "shop_password": TEST_SHOP_PASS,
            "site_id": TEST_SITE_ID,
            "site_password": TEST_SITE_PASS,
            "endpoint": sim_url,
        }
        good = await check_account(services, account(), gateway | sftp_settings(sftpd))
        bad_sftp = sftp_settings(sftpd, sftp_private_key=None, sftp_password="nope")
        bad = await check_account(services, account(), gateway | bad_sftp)
        gateway_only = await check_account(services, account(), gateway)
    assert good.ok is True
    assert good.message == f"接続できました(SFTPに接続できました(ファイル{len(HOME_FILES)}件))"
    assert bad.ok is False
    assert bad.message == "SFTPにログインできませんでした"
    assert bad.detail["gateway"]["ok"] is True
    assert bad.detail["sftp"]["ok"] is False
    assert (gateway_only.ok, gateway_only.message) == (True, "接続できました")
    assert "sftp" not in gateway_only.detail
