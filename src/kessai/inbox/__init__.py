"""The inbound webhook inbox: the notifications providers send to /webhooks/<provider>/<account>
(outbound webhooks to the shop's own endpoints are another matter)."""
