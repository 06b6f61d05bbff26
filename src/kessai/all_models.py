"""Imports every table so that Base.metadata is whole (Alembic, tests)."""

from kessai.accounts.models import PaymentMethod, ProviderAccount
from kessai.apikeys.models import ApiKey, IdempotencyRecord
from kessai.automation.models import AutomationRule, AutomationRun
from kessai.cardupdater.models import UpdaterResultLine, UpdaterRun, UpdaterTarget
from kessai.core.db import Base
from kessai.core.models import AppSetting
from kessai.customers.models import Customer, CustomerCard
from kessai.history.models import ChangeRecord
from kessai.inbox.models import InboundEvent
from kessai.jobs.models import Job, JobChunk, JobItem, JobLog
from kessai.notifications.models import MailTemplate, OutboxMail
from kessai.orders.models import Order, OrderLabel
from kessai.payments.models import PaymentAttempt
from kessai.providers.simulator.store import SimulatorRecord
from kessai.providers.store import ProviderReference
from kessai.recurring.models import RecurringBatch, RecurringLine
from kessai.subscriptions.models import Subscription
from kessai.users.models import AdminSession, AdminUser
from kessai.webhooks.models import Event, WebhookAttempt, WebhookDelivery, WebhookEndpoint

__all__ = [
    "AdminSession",
    "AdminUser",
    "ApiKey",
    "AppSetting",
    "AutomationRule",
    "AutomationRun",
    "Base",
    "ChangeRecord",
    "Customer",
    "CustomerCard",
    "Event",
    "IdempotencyRecord",
    "InboundEvent",
    "Job",
    "JobChunk",
    "JobItem",
    "JobLog",
    "MailTemplate",
    "Order",
    "OrderLabel",
    "OutboxMail",
    "PaymentAttempt",
    "PaymentMethod",
    "ProviderAccount",
    "ProviderReference",
    "RecurringBatch",
    "RecurringLine",
    "SimulatorRecord",
    "Subscription",
    "UpdaterResultLine",
    "UpdaterRun",
    "UpdaterTarget",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
]
