from collections.abc import Iterator

import pytest

from tests.smtp_server import Inbox, smtp_server


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, str]]:
    with smtp_server() as running:
        yield running
