"""Amazon Pay (v2), Japan: what this folder declares.

- connector.py: checkout session → complete → charge permission → charge → capture / cancel /
  refund; signing.py the AMZN-PAY-RSASSA-PSS(-V2) signatures, http.py the transport.
- sim/: the simulator of Amazon Pay's Sandbox (buyer page, IPN over SNS).
- ipn.py: IPN verification (SNS message signature).
- registration.py: 「Amazonアカウント新規登録・連携」 (registration + Automatic Key Exchange).
Seed 003's rules for Amazon Pay (減額のみ, no linkage until capture, no cancel after capture)
are the payment core's: this connector declares no amount change.
"""

import uuid
from collections.abc import Mapping
from typing import Any

import aiohttp

from kessai.providers.amazon_pay import declines, ipn, registration
from kessai.providers.amazon_pay.config import AmazonPayConfig
from kessai.providers.amazon_pay.connector import AmazonPayConnector
from kessai.providers.amazon_pay.http import AmazonPayClient
from kessai.providers.kit import (
    AsgiApp,
    KeyExchange,
    Provider,
    Sandbox,
    SandboxInput,
    SimulatorContext,
    with_store,
)


def simulator(ctx: SimulatorContext) -> AsgiApp:
    from kessai.providers.amazon_pay.sim.app import simulator

    return simulator(ctx)


def sandbox_settings(base_url: str) -> Mapping[str, Any]:
    """The simulator's Sandbox merchant, as its 連携 would store it."""
    from kessai.providers.amazon_pay import sim

    return {
        "public_key_id": sim.SANDBOX_PUBLIC_KEY_ID,
        "private_key": sim.sandbox_private_key_pem(),
        "merchant_id": sim.SANDBOX_MERCHANT_ID,
        "store_id": sim.SANDBOX_STORE_ID,
        "ipn_certificate": sim.sns_certificate_pem(),
        "endpoint": base_url,
    }


def _new_keys() -> tuple[bytes, str]:
    pair = registration.new_key_pair()
    return pair.private_pem, pair.public_key


def charges(simulator_app: Any, _connector: object) -> int:
    """Charges the simulator authorized (whatever became of them later)."""
    return len(simulator_app.state.simulator.state.kind("charge"))


async def checkout(base_url: str, source: Mapping[str, str]) -> Mapping[str, str]:
    """The customer's side of the Sandbox: the storefront creates a checkout session (signed,
    as the Amazon Pay button's payload is), the buyer picks a simulated payment method on
    Amazon's page and comes back with the amazonCheckoutSessionId."""
    method = source.get("test_payment_method")
    if not method:
        return source
    client = AmazonPayClient(AmazonPayConfig.from_settings(sandbox_settings(base_url)))
    try:
        created = await client.call(
            "CreateCheckoutSession",
            "POST",
            "checkoutSessions",
            {
                "webCheckoutDetails": {"checkoutReviewReturnUrl": "https://shop.invalid/review"},
                "storeId": client.config.store_id,
            },
            idempotency_key=uuid.uuid4().hex,
        )
    finally:
        await client.aclose()
    session = str(created.body["checkoutSessionId"])
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{base_url}/checkout/{session}", data={"payment_method": method}) as chosen,
    ):
        chosen.raise_for_status()
    rest = {k: v for k, v in source.items() if k != "test_payment_method"}
    return rest | {"checkout_session_id": session}


PROVIDER = Provider(
    name="amazon_pay",
    title="Amazon Pay (v2)",
    connect=with_store("Amazon Pay", AmazonPayConnector),
    check_settings=AmazonPayConfig.from_settings,
    provider_codes=frozenset({"amazon"}),
    method_types=frozenset({"amazon_pay_v2"}),
    integration="amazon_pay_v2",
    final_decline=declines.is_final_decline,
    simulator=simulator,
    sim_path="amazon-pay",
    simulator_help=(
        "  API: /v2/checkoutSessions, /v2/charges …(署名必須)、購入者画面: /checkout/<id>\n"
        "  公開鍵ID SANDBOX-KESSAISIMULATORKEY01 (秘密鍵は sim/sandbox_merchant_key.pem)"
    ),
    webhook=ipn.verify,
    key_exchange=KeyExchange(
        new_keys=_new_keys,
        registration=registration.registration,
        read=registration.read_payload,
        answer_headers=registration.ANSWER_HEADERS,
        fields=("merchant_id", "store_id", "public_key_id"),
    ),
    webhook_ack="OK",
    sandbox=Sandbox(
        method=("amazon", "amazon_pay_v2"),
        succeed=SandboxInput(1000, {"test_payment_method": "1111"}),
        decline=SandboxInput(1000, {"test_payment_method": "0002"}, code="SoftDeclined"),
        hard_decline=SandboxInput(1000, {"test_payment_method": "4354"}, code="HardDeclined"),
        account_settings=sandbox_settings,
        charges=charges,
        prepare=checkout,
        fault_calls={
            "authorize": "CreateCharge",
            "capture": "CaptureCharge",
            "cancel": "CancelCharge",
            "lookup": "GetCharge",
        },
    ),
)
