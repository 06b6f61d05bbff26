# The API client with a key (webhooks' tests) and the loopback SMTP server (mail tests).
from tests.notifications.conftest import smtp
from tests.webhooks.conftest import api

__all__ = ["api", "smtp"]
