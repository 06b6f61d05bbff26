"""GMO PG (PGマルチペイメント, idPass): what this folder declares.

- connector.py: クレジットカード: EntryTran/ExecTran/AlterTran/ChangeTran/SearchTrade,
  会員・カード (members.py); redirect.py + methods.py: PayPay, d払い・auかんたん決済・
  ソフトバンクまとめて支払い(B), 楽天ペイ, 楽天ペイ V2, リクルートかんたん支払い, LINE Pay, au PAY,
  エポスかんたん決済, PayPal (EntryTran<X>/ExecTran<X>,
  the customer's approval, <X>Sales, <X>Cancel…, SearchTradeMulti);
  codec.py the CP932 wire format, http.py the transport, errors.py GMO's ErrInfo table.
- sim/: the simulator of GMO's test environment (test cards in sim/config.py).
- link.py + linkpay.py: クレジットカード(リンクタイプ): a signed リンクタイプ Plus link to GMO's
  hosted page, the result by 結果通知.
- notification.py: 結果通知 (GMO does not sign it: the shop id is checked here, the
  transaction is looked up at GMO by the inbox before anything moves).
"""

from collections.abc import Mapping
from typing import Any

import httpx

from kessai.core.settings import Settings
from kessai.providers.gmo_pg import declines, link, notification
from kessai.providers.gmo_pg.config import GmoPgConfig
from kessai.providers.gmo_pg.connection_test import check_gateway
from kessai.providers.gmo_pg.connector import GmoPgConnector
from kessai.providers.gmo_pg.methods import SEED_003_REDIRECTS, SLIP_BY_KEY
from kessai.providers.gmo_pg.recurring_errors import recurring_error_message
from kessai.providers.gmo_pg.sim.app import GmoSimulator
from kessai.providers.gmo_pg.sim.config import (
    TEST_SHOP_ID,
    TEST_SHOP_PASS,
    TEST_SITE_ID,
    TEST_SITE_PASS,
)
from kessai.providers.kit import (
    Closable,
    Provider,
    Sandbox,
    SandboxInput,
    with_store,
)

SUCCESS_CARD = "4111111111111111"
SOFT_DECLINE_CARD = "4000000000000028"  # 42G020000 カード残高が不足している
HARD_DECLINE_CARD = "4000000000000655"  # 42G650000 カード番号に誤りがある


def sandbox_settings(base_url: str) -> Mapping[str, Any]:
    """An account on the simulator's public test shop and site (seed-001 field names;
    `endpoint` is the connector's own setting beyond the schema)."""
    return {
        "shop_id": TEST_SHOP_ID,
        "shop_password": TEST_SHOP_PASS,
        "site_id": TEST_SITE_ID,
        "site_password": TEST_SITE_PASS,
        "endpoint": base_url,
    }


def charges(simulator_app: Any, _connector: object) -> int:
    """Transactions the simulator has charged (ExecTran went through), cancelled or not."""
    state = simulator_app.state.simulator.state
    return sum(1 for t in state.transactions.values() if t.status not in _NOT_CHARGED)


_NOT_CHARGED = ("UNPROCESSED", "AUTHENTICATED")


async def start_sftp_side(simulator_app: Any, settings: Settings) -> Closable | None:
    """Sandbox: the simulator's SFTP side (自動洗替) on KESSAI_SIM_SFTP_PORT, sharing its
    members; its 洗替 answers go to the simulator's store. None when the port is 0."""
    from kessai.providers.gmo_pg.sim.sftp import sandbox_root, start_sftp_simulator

    port = settings.sim_sftp_port
    if not port:
        return None
    sim = simulator_app.state.simulator
    await sim.ready()  # the members it kept in the database, before SFTP reads them
    root = sandbox_root(settings)
    return await start_sftp_simulator(sim.state, root, port=port, persist=sim.keep_members)


def sandbox_file_settings(settings: Settings) -> Mapping[str, Any]:
    """The simulator's SFTP side (自動洗替, 継続課金) as an account reaches it in the
    sandbox: its port, test login and host key (created on first use)."""
    from kessai.providers.gmo_pg.sim.sftp import (
        TEST_SFTP_PASSWORD,
        TEST_SFTP_USER,
        host_key,
        host_key_path,
        sandbox_root,
    )

    key = host_key(host_key_path(sandbox_root(settings)))
    return {
        "site_id": TEST_SITE_ID,
        "sftp_host": "127.0.0.1",
        "sftp_port": settings.sim_sftp_port,
        "sftp_login_id": TEST_SFTP_USER,
        "sftp_password": TEST_SFTP_PASSWORD,
        "sftp_host_key_fingerprint": key.get_fingerprint("sha256"),
    }


async def token_for(base_url: str, source: Mapping[str, str]) -> Mapping[str, str]:
    """A test card becomes a one-time token at the simulator's token endpoint, as the
    browser's token.js would do it: the card number never reaches kessai."""
    card = source.get("test_card")
    if not card:
        return source
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        reply = await client.post("/token", json={"cardno": card, "expire": "3012"})
    tokens = reply.json()["tokenObject"]["token"]
    return {k: v for k, v in source.items() if k != "test_card"} | {"token": tokens[0]}


PROVIDER = Provider(
    name="gmo_pg",
    title="GMOペイメントゲートウェイ",
    connect=with_store("GMO PG", GmoPgConnector),
    check_settings=GmoPgConfig.from_settings,
    provider_codes=frozenset({"gmo_pg"}),
    method_types=frozenset(
        {
            "credit_card",
            "credit_card_recurring",
            link.METHOD,
            *SEED_003_REDIRECTS,
            *SLIP_BY_KEY,
        },
    ),
    integration="gmo_pg",
    setting_aliases={"shop_password": "shop_pass", "site_password": "site_pass"},
    final_decline=declines.is_final_decline,
    simulator=GmoSimulator.create,
    sim_path="gmo-pg",
    card_script="ext/js/token.js",
    simulator_help=(
        "  idPass: /payment/<API>.idPass, トークン: /token\n"
        f"  ショップID {TEST_SHOP_ID} / {TEST_SHOP_PASS}\n"
        f"  サイトID {TEST_SITE_ID} / {TEST_SITE_PASS}"
    ),
    side_simulator=start_sftp_side,
    connection_test=check_gateway,
    file_services=frozenset({"card_updater", "recurring"}),
    file_error_words=recurring_error_message,
    webhook=notification.verify,
    webhook_ack="0",
    sandbox=Sandbox(
        method=("gmo_pg", "credit_card"),
        succeed=SandboxInput(1000, {"test_card": SUCCESS_CARD}),
        decline=SandboxInput(1000, {"test_card": SOFT_DECLINE_CARD}, code="42G020000"),
        hard_decline=SandboxInput(1000, {"test_card": HARD_DECLINE_CARD}, code="42G650000"),
        account_settings=sandbox_settings,
        charges=charges,
        prepare=token_for,
        file_settings=sandbox_file_settings,
        fault_calls={
            "authorize": "ExecTran",
            "capture": "AlterTran",
            "cancel": "AlterTran",
            "change_amount": "ChangeTran",
            "lookup": "SearchTrade",
        },
    ),
)
