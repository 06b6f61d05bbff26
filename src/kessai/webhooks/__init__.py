"""Outbound webhooks: every change's event written with the change, relayed after commit to
the shop's endpoints and signed per Standard Webhooks (webhook-id, webhook-timestamp,
webhook-signature)."""
