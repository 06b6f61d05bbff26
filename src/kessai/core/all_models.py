"""Imports every table so that Base.metadata is whole (Alembic, tests)."""

from kessai.accounts.models import PaymentMethod, ProviderAccount
from kessai.apikeys.models import ApiKey, IdempotencyRecord
from kessai.core.db import Base
from kessai.core.models import AppSetting
from kessai.customers.models import Customer
from kessai.history.models import ChangeRecord
from kessai.orders.models import Order
from kessai.payments.models import PaymentAttempt

__all__ = [
    "ApiKey",
    "AppSetting",
    "Base",
    "ChangeRecord",
    "Customer",
    "IdempotencyRecord",
    "Order",
    "PaymentAttempt",
    "PaymentMethod",
    "ProviderAccount",
]
