"""The simulator of PayPay's Open Payment API (sandbox): the same paths, JSON and result
codes, `hmac OPA-Auth` checked as PayPay checks it, the customer's side of a QR payment,
and Transaction webhooks sent back, again while not taken (the simulator base's notices)."""

from kessai.providers.paypay.sim.app import create_simulator

__all__ = ["create_simulator"]
