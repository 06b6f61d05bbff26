"""定期受注: subscriptions, their cycles, and the billing run that charges each cycle once."""
