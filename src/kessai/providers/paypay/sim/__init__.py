"""The simulator of PayPay's Open Payment API (sandbox): the same paths, JSON and result
codes, `hmac OPA-Auth` checked as PayPay checks it, the customer's side of a QR payment,
and Transaction webhooks sent back with retries."""

from kessai.providers.paypay.sim.app import create_simulator

__all__ = ["create_simulator"]
