"""Imports every module that registers job kinds, so every process knows all of them."""

from kessai.imports import (
    payment_statuses,  # noqa: F401
    shipments,  # noqa: F401
)
from kessai.payments.bulk import kind  # noqa: F401
from kessai.subscriptions import (
    billing,  # noqa: F401
    reauthorization,  # noqa: F401
)
