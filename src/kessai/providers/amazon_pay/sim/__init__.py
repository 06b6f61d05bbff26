"""Amazon Pay simulator: an ASGI app that answers like Amazon Pay API v2's Sandbox (Japan).

Mount it (kessai mounts it at /sim/amazon-pay in sandbox mode) or run it alone. Paths are
Amazon's: /v2/… (keys with a SANDBOX-/LIVE- prefix) or /sandbox/v2/…, /live/v2/…:
checkoutSessions (create, get, complete), chargePermissions (get), charges (create, get,
capture, cancel), refunds (create, get). Every request must be signed
(AMZN-PAY-RSASSA-PSS or -V2) with a key registered here: a missing header answers 400
MissingHeader, an unknown PublicKeyId 401 UnauthorizedAccess, a wrong signature 401
InvalidRequestSignature, an x-amz-pay-date 15 minutes off 400 InvalidHeaderValue; a POST
without x-amz-pay-idempotency-key 400 MissingHeader, and a repeated key gets the first answer.
Amounts are whole yen in JPY ("1000"; "1000.00" answers 400 InvalidParameterValue).
Registered key: SANDBOX_PUBLIC_KEY_ID, whose private key is sandbox_merchant_key.pem.

The Sandbox buyer: GET /checkout/<checkoutSessionId> shows the simulated payment methods,
POST picks one (form field payment_method, Amazon's Sandbox methods: 1111 succeeds, 3064 /
3434 cancel the checkout (BuyerCanceled / Declined), 4354 is a hard decline at Create Charge;
0002, a soft decline there, is kessai's own) and redirects to checkoutResultReturnUrl with
amazonCheckoutSessionId. x-amz-pay-simulation-code SoftDeclined / HardDeclined /
AmazonRejected / ProcessingFailure on Create Charge overrides the method.

A charge authorizes for 30 days (then Canceled, ExpiredUnused). IPN: with "ipn_url" set
(POST /_control), each charge or refund change is posted as an SNS Notification signed
(SignatureVersion 2) with the certificate sns_signing_cert.pem, posted again three times
20 seconds apart while the answer is not 2xx (app.RESEND, the simulator base's notices: each
attempt in GET /_records?kind=notice by MessageId and GET /_calls?api=IPN; POST /_control
{"resend_pauses": [seconds, …]} changes it).

Faults (POST /_control, GET /_control): latency_seconds, lose_response, rate_limit (429
TooManyRequests), inject_error (400 with that reasonCode), server_error, as every simulator
(kessai.providers.simulator.faults), by API name (CreateCharge, CaptureCharge …);
{"advance_seconds": n} moves the clock, {"reset": true} forgets everything. GET /_calls lists
the calls answered.
"""

from kessai.providers.amazon_pay.sim.app import (
    SANDBOX_MERCHANT_ID,
    SANDBOX_PUBLIC_KEY_ID,
    SANDBOX_STORE_ID,
    SIMULATOR,
    ResponseLost,
    Simulator,
    SimulatorConfig,
    create_simulator,
    sandbox_private_key_pem,
    sns_certificate_pem,
)

__all__ = [
    "SANDBOX_MERCHANT_ID",
    "SANDBOX_PUBLIC_KEY_ID",
    "SANDBOX_STORE_ID",
    "SIMULATOR",
    "ResponseLost",
    "Simulator",
    "SimulatorConfig",
    "create_simulator",
    "sandbox_private_key_pem",
    "sns_certificate_pem",
]
