"""GmoPgConfig: built from one account's settings, checked with a Japanese message, and
never showing a password."""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kessai.core.errors import ConfigurationError
from kessai.providers.gmo_pg.config import GmoPgConfig
from kessai.providers.gmo_pg.connector import GmoPgConnector
from kessai.providers.registry import ConnectorEnv, default_registry
from kessai.providers.store import ReferenceStore
from tests.providers.gmo_pg.test_connector_http import (
    SHOP_PASS,
    SITE_PASS,
    reference_store,
    settings_for,
)

GOOD = settings_for("https://pt01.mul-pay.jp/")


@pytest.fixture
async def store(sqlite_template: Path, tmp_path: Path) -> AsyncIterator[ReferenceStore]:
    async with reference_store(sqlite_template, tmp_path) as s:
        yield s


def test_a_complete_account_builds_a_config() -> None:
    config = GmoPgConfig.from_settings(
        {**GOOD, "timeout_seconds": "30", "e92_retries": 2, "tds2": "true",
         "tds2_return_url": "https://shop.example.jp/3ds"}
    )  # fmt: skip
    assert config.url("EntryTran") == "https://pt01.mul-pay.jp/payment/EntryTran.idPass"
    assert config.timeout_seconds == 30
    assert config.e92_retries == 2
    assert config.tds2 is True
    assert config.has_site


def test_a_shop_only_account_has_no_site() -> None:
    config = GmoPgConfig.from_settings(
        {"shop_id": "tshop00012345", "shop_pass": "abcd1234", "endpoint": "http://127.0.0.1:9/sim"}
    )
    assert not config.has_site
    assert config.url("SearchTrade") == "http://127.0.0.1:9/sim/payment/SearchTrade.idPass"


def test_passwords_never_appear_in_repr() -> None:
    config = GmoPgConfig.from_settings(GOOD)
    assert SHOP_PASS not in repr(config)
    assert SITE_PASS not in repr(config)
    assert "tshop00012345" in repr(config)


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"shop_id": None}, "shop_id", "ショップIDが設定されていません"),
        ({"shop_id": "tshop 0001"}, "shop_id", "13文字以内の半角英数字"),
        ({"shop_pass": ""}, "shop_pass", "ショップパスワードが設定されていません"),
        ({"site_pass": None}, "site_id", "両方とも設定してください"),
        ({"endpoint": "pt01.mul-pay.jp"}, "endpoint", "http:// または https://"),
        ({"timeout_seconds": "abc"}, "timeout_seconds", "タイムアウト秒数は1から300"),
        ({"e92_retries": 2.5}, "e92_retries", "整数"),
        ({"tds2": True}, "tds2_return_url", "戻り先URLを設定してください"),
        ({"tds2": "maybe"}, "tds2", "true か false"),
    ],
)
def test_a_bad_setting_is_named_in_japanese(change: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        GmoPgConfig.from_settings({**GOOD, **change})
    assert raised.value.message.startswith("GMO PGの設定に誤りがあります: ")
    assert words in raised.value.message
    assert field in raised.value.detail["fields"]


def test_every_problem_is_reported_at_once_and_no_value_is_echoed() -> None:
    with pytest.raises(ConfigurationError) as raised:
        GmoPgConfig.from_settings(
            {"shop_id": "", "shop_pass": "has space secret", "endpoint": "ftp://x"}
        )
    text = f"{raised.value.message} {raised.value.detail}"
    assert raised.value.detail["fields"] == ["endpoint", "shop_id", "shop_pass"]
    assert "secret" not in text


async def test_the_connector_is_built_per_account_from_its_settings(
    store: ReferenceStore,
) -> None:
    registry = default_registry(sandbox=False, env=ConnectorEnv(store.sessions, store.clock))
    conn = registry.for_account("gmo_pg", store.account_id, GOOD)
    assert isinstance(conn, GmoPgConnector)
    assert conn.config.shop_id == "tshop00012345"
    assert SHOP_PASS not in repr(conn)
    with pytest.raises(ConfigurationError):
        registry.for_account("gmo_pg", store.account_id + 1, {"shop_id": "x"})


@pytest.mark.parametrize(
    ("endpoint", "link_endpoint"),
    [
        ("https://pt01.mul-pay.jp", "https://stg.link.mul-pay.jp"),
        ("https://p01.mul-pay.jp/", "https://link.mul-pay.jp"),
        ("http://127.0.0.1:8001/sim/gmo-pg", "http://127.0.0.1:8001/sim/gmo-pg"),
    ],
)
def test_payment_links_point_at_the_link_host_of_the_same_environment(
    endpoint: str, link_endpoint: str
) -> None:
    assert GmoPgConfig.from_settings(settings_for(endpoint)).link_endpoint == link_endpoint


def test_a_link_endpoint_or_config_id_that_cannot_be_used_is_refused() -> None:
    bad = {**GOOD, "link_endpoint": "ftp://x", "link_config_id": "設定"}
    with pytest.raises(ConfigurationError) as caught:
        GmoPgConfig.from_settings(bad)
    assert set(caught.value.detail["fields"]) == {"link_endpoint", "link_config_id"}
