"""orders.payment_due_at

Until when the customer may pay an order left 決済準備中 (a slip's 支払期限, a payment link's
決済可能期限): after it the hourly 決済結果の自動照会 asks the provider by itself.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 01:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kessai.core.db

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
# Safe to apply while the previous kessai serves (kessai.ops.upgrades): a nullable column.
online_safe: bool = True


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.add_column(
            sa.Column("payment_due_at", kessai.core.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch.create_index(batch.f("ix_orders_payment_due_at"), ["payment_due_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_index(batch.f("ix_orders_payment_due_at"))
        batch.drop_column("payment_due_at")
