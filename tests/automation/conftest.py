# The API client with a key and the webhook receiver (webhooks' tests), the loopback SMTP
# server (mail tests).
from tests.notifications.conftest import smtp
from tests.webhooks.conftest import api, hooks

__all__ = ["api", "hooks", "smtp"]
