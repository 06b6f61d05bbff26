"""PayPay (オープンペイメントAPI): what this folder declares.

- connector.py: dynamic QR code with pre-authorization, capture, revert, cancel, refund,
  lookup by merchantPaymentId; signing.py the `hmac OPA-Auth` signature, http.py the
  transport, errors.py PayPay's result codes, limits.py its own limits.
- sim/: the simulator of PayPay's sandbox (test merchant and linked users in sim/state.py).
- notification.py: PayPay's webhooks, not signed: taken only from the account's listed
  addresses, and the inbox looks the payment up at PayPay before anything moves.
"""

from collections.abc import Mapping
from typing import Any

from kessai.providers.kit import (
    AsgiApp,
    Provider,
    Sandbox,
    SandboxInput,
    SimulatorContext,
    with_store,
)
from kessai.providers.paypay import errors, notification
from kessai.providers.paypay.config import PayPayConfig
from kessai.providers.paypay.connector import PayPayConnector
from kessai.providers.paypay.sim.state import (
    TEST_API_KEY,
    TEST_API_SECRET,
    TEST_MERCHANT_ID,
    USER_NO_FUNDS,
    USER_OK,
    USER_SUSPICIOUS,
)


def simulator(ctx: SimulatorContext) -> AsgiApp:
    from kessai.providers.paypay.sim.app import simulator

    return simulator(ctx)


def sandbox_settings(base_url: str) -> Mapping[str, Any]:
    """An account on the simulator's test merchant (the integration's field names)."""
    return {
        "api_key": TEST_API_KEY,
        "api_secret": TEST_API_SECRET,
        "merchant_id": TEST_MERCHANT_ID,
        "endpoint": base_url,
        "webhook_sources": "127.0.0.1, ::1",
    }


def charges(simulator_app: Any, _connector: object) -> int:
    """Payments the simulator has taken money for (authorized or paid), reverted or not."""
    payments = simulator_app.state.simulator.state.payments.values()
    return sum(1 for p in payments if p.charged)


PROVIDER = Provider(
    name="paypay",
    title="PayPay (オープンペイメントAPI)",
    connect=with_store("PayPay", PayPayConnector),
    check_settings=PayPayConfig.from_settings,
    provider_codes=frozenset({"paypay"}),
    method_types=frozenset({"paypay"}),
    integration="paypay",
    final_decline=errors.is_final_decline,
    simulator=simulator,
    sim_path="paypay",
    simulator_help=(
        "  Open Payment API: /v2/…, お客様の支払い画面: /qr/<codeId>\n"
        f"  APIキー {TEST_API_KEY} / シークレット {TEST_API_SECRET}\n"
        f"  加盟店ID {TEST_MERCHANT_ID}\n"
        f"  連携済みユーザー: {USER_OK} (成功), {USER_NO_FUNDS} (残高不足), "
        f"{USER_SUSPICIOUS} (利用不可)"
    ),
    webhook=notification.verify,
    webhook_ack="OK",
    sandbox=Sandbox(
        method=("paypay", "paypay"),
        succeed=SandboxInput(1000, {"user_authorization_id": USER_OK}),
        decline=SandboxInput(
            1000, {"user_authorization_id": USER_NO_FUNDS}, code="NO_SUFFICIENT_FUND"
        ),
        hard_decline=SandboxInput(
            1000, {"user_authorization_id": USER_SUSPICIOUS}, code="UNACCEPTABLE_OP"
        ),
        account_settings=sandbox_settings,
        charges=charges,
        fault_calls={
            "authorize": "preauthorizePayment",
            "capture": "capturePaymentAuth",
            "cancel": "revertAuth",
            "change_amount": "reauthorizePayment",
            "lookup": "getPaymentDetails",
        },
    ),
)
