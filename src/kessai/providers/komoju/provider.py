"""KOMOJU: WeChat Pay and Alipay (seed 003: captured on authorization, cancel linked by
default) and credit card: what this folder declares.

- connector.py: sessions (the customer pays on KOMOJU's page) and payments (card tokens),
  capture, cancel, refund; http.py the transport (Basic auth, X-KOMOJU-IDEMPOTENCY).
- sim/: the simulator of KOMOJU's test mode (session page, test cards, webhooks).
- webhook.py: X-Komoju-Signature (hex HMAC-SHA256 of the raw body).
Seed 003 has no KOMOJU credit card row, so only the wallets are declared as method types;
the connector takes a card token all the same.
"""

import uuid
from collections.abc import Mapping
from typing import Any

import aiohttp

from kessai.providers.kit import (
    AsgiApp,
    Provider,
    Sandbox,
    SandboxInput,
    SimulatorContext,
    with_store,
)
from kessai.providers.komoju import declines, webhook
from kessai.providers.komoju.config import KomojuConfig
from kessai.providers.komoju.connector import KomojuConnector
from kessai.providers.komoju.http import KomojuClient

SANDBOX_WEBHOOK_SECRET = "whsec-kessai-simulator"  # noqa: S105 - the simulator's test value


def simulator(ctx: SimulatorContext) -> AsgiApp:
    from kessai.providers.komoju.sim.app import simulator

    return simulator(ctx)


def sandbox_settings(base_url: str) -> Mapping[str, Any]:
    from kessai.providers.komoju.sim import TEST_PUBLISHABLE_KEY, TEST_SECRET_KEY

    return {
        "secret_key": TEST_SECRET_KEY,
        "publishable_key": TEST_PUBLISHABLE_KEY,
        "webhook_secret": SANDBOX_WEBHOOK_SECRET,
        "endpoint": base_url,
    }


def charges(simulator_app: Any, _connector: object) -> int:
    """Payments KOMOJU took (authorized or captured, whatever became of them later)."""
    payments = simulator_app.state.simulator.state.kind("payment").values()
    return sum(1 for p in payments if p["status"] not in ("pending", "failed"))


async def pay_in_session(base_url: str, source: Mapping[str, str]) -> Mapping[str, str]:
    """The customer's side in the sandbox: the storefront opens a session for the amount, the
    customer pays (or fails, or cancels) on KOMOJU's page and comes back with session_id."""
    outcome = source.get("test_outcome")
    if not outcome:
        return source
    client = KomojuClient(KomojuConfig.from_settings(sandbox_settings(base_url)))
    async with aiohttp.ClientSession() as http:
        try:
            created = await client.call(
                "CreateSession",
                "POST",
                "sessions",
                {
                    "amount": int(source.get("amount", "1000")),
                    "currency": "JPY",
                    "payment_types": [source.get("payment_type", "wechatpay")],
                },
                idempotency_key=uuid.uuid4().hex,
            )
        finally:
            await client.aclose()
        session = str(created.body["id"])
        async with http.post(
            f"{base_url}/sessions/{session}",
            data={"payment_type": source.get("payment_type", "wechatpay"), "outcome": outcome},
        ) as paid:
            paid.raise_for_status()
    kept = {k: v for k, v in source.items() if k not in ("test_outcome", "amount", "payment_type")}
    return kept | {"session_id": session}


PROVIDER = Provider(
    name="komoju",
    title="KOMOJU (WeChat Pay・Alipay)",
    connect=with_store("KOMOJU", KomojuConnector),
    check_settings=KomojuConfig.from_settings,
    provider_codes=frozenset({"komoju"}),
    method_types=frozenset({"wechat_pay", "alipay"}),
    integration="komoju",
    final_decline=declines.is_final_decline,
    simulator=simulator,
    sim_path="komoju",
    simulator_help=(
        "  API: /api/v1/sessions, /api/v1/payments …(Basic認証)、お客様の画面: /sessions/<id>\n"
        "  シークレットキー sk_test_kessaisimulator0001"
    ),
    webhook=webhook.verify,
    webhook_ack="OK",
    sandbox=Sandbox(
        method=("komoju", "wechat_pay"),
        succeed=SandboxInput(1000, {"test_outcome": "pay", "amount": "1000"}),
        decline=SandboxInput(1000, {"test_outcome": "fail", "amount": "1000"}, code="failed"),
        hard_decline=SandboxInput(
            1000, {"test_outcome": "cancel", "amount": "1000"}, code="cancelled"
        ),
        account_settings=sandbox_settings,
        charges=charges,
        prepare=pay_in_session,
        fault_calls={
            "authorize": "GetSession",
            "capture": "CapturePayment",
            "cancel": "RefundPayment",
            "lookup": "GetPayment",
        },
    ),
)
