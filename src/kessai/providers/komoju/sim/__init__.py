"""KOMOJU simulator: an ASGI app that answers like KOMOJU's test mode.

Mount it (kessai mounts it at /sim/komoju in sandbox mode) or run it alone. Paths are
KOMOJU's, under /api/v1: sessions (create, get), tokens (create, with the publishable key),
payments (create, list ?external_order_num=, get, capture, cancel, refund). Every call needs
HTTP Basic auth with the key as user name (TEST_SECRET_KEY; TEST_PUBLISHABLE_KEY for
tokens): anything else answers 401 {"error": {"code": "unauthorized"}}. A POST repeated with
the same X-KOMOJU-IDEMPOTENCY gets the first answer and does nothing again.

The customer: GET /sessions/<id> (the session_url) shows the session's WeChat Pay / Alipay;
POST pays (payment captured at once), fails (payment failed, the session stays open) or
cancels (session cancelled), then redirects to the session's return_url with session_id.
Test cards for tokens are KOMOJU's own: 4111111111111111 succeeds, 4123111111111000
insufficient_funds, 4123111111111042 card_expired, 4123111111111059 card_declined (402 at
Create Payment).

Webhooks: with "webhook_url" and "webhook_secret" set (POST /_control), every payment change
is posted as an event (payment.authorized, .captured, .cancelled, .refunded, .failed) with
X-Komoju-ID, X-Komoju-Event and X-Komoju-Signature (hex HMAC-SHA256 of the body), posted
again three times a minute apart while the answer is not 2xx (app.RESEND, the simulator
base's notices: each attempt in GET /_records?kind=notice by event id and GET
/_calls?api=<event type>; POST /_control {"resend_pauses": [seconds, …]} changes it).
Faults as every simulator (POST /_control), by API name (CreatePayment, GetSession …).
"""

from kessai.providers.komoju.sim.app import (
    SIMULATOR,
    TEST_PUBLISHABLE_KEY,
    TEST_SECRET_KEY,
    ResponseLost,
    Simulator,
    SimulatorConfig,
    create_simulator,
)

__all__ = [
    "SIMULATOR",
    "TEST_PUBLISHABLE_KEY",
    "TEST_SECRET_KEY",
    "ResponseLost",
    "Simulator",
    "SimulatorConfig",
    "create_simulator",
]
