"""Mounted by `kessai serve` in sandbox mode at /sim/amazon-pay and /sim/komoju: the API
answers under the prefix (Amazon's signature covers the path Amazon would see, /v2/…) and the
customer's pages are there."""

import httpx

from kessai.providers.amazon_pay.config import AmazonPayConfig
from kessai.providers.amazon_pay.http import AmazonPayClient
from kessai.providers.amazon_pay.provider import sandbox_settings
from kessai.providers.komoju.sim import TEST_SECRET_KEY
from kessai.services import Services
from kessai.web.app import create_app
from tests.providers.amazon_pay.test_simulator import SESSION, content


async def test_both_simulators_answer_under_their_mount(services: Services) -> None:
    app = create_app(services)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kessai") as client:
        signer = AmazonPayClient(AmazonPayConfig.from_settings(sandbox_settings("http://kessai")))
        signer.now = services.clock.now  # the mounted simulator keeps kessai's time
        headers = signer.headers("POST", "/v2/checkoutSessions", content(SESSION), "m-1")
        r = await client.post(
            "/sim/amazon-pay/v2/checkoutSessions", content=content(SESSION), headers=headers
        )
        assert r.status_code == 201, r.text
        assert r.json()["webCheckoutDetails"]["amazonPayRedirectUrl"].startswith(
            "http://kessai/sim/amazon-pay/checkout/"
        )
        tampered = content({**SESSION, "storeId": "x"})
        r = await client.post(
            "/sim/amazon-pay/v2/checkoutSessions", content=tampered, headers=headers
        )
        assert (r.status_code, r.json()["reasonCode"]) == (401, "InvalidRequestSignature")
        page = await client.get("/sim/amazon-pay/checkout/S03-0000001")
        assert "Amazon Pay でお支払い" in page.text
        made = await client.post(
            "/sim/komoju/api/v1/sessions",
            json={"amount": 1200, "currency": "JPY", "payment_types": ["alipay"]},
            auth=(TEST_SECRET_KEY, ""),
            headers={"X-KOMOJU-IDEMPOTENCY": "mounted-1"},
        )
        assert made.status_code == 200, made.text
        assert made.json()["session_url"].startswith("http://kessai/sim/komoju/sessions/")
        shown = await client.get(made.json()["session_url"].removeprefix("http://kessai"))
        assert "1,200円" in shown.text
