"""order_reference_indexes

Orders are looked up by their provider's ids: the shipment CSV import by 取引ID
(provider_transaction_id), 電算システム's new 取引ID against the ones in use
(provider_reference). Without an index each lookup read the whole orders table.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22 22:15:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
# Safe to apply while the previous kessai serves (kessai.ops.upgrades): two indexes on orders; on
# PostgreSQL writes to orders wait while they build (seconds per million orders).
online_safe: bool = True


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_orders_provider_reference"), ["provider_reference"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_orders_provider_transaction_id"),
            ["provider_transaction_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orders_provider_transaction_id"))
        batch_op.drop_index(batch_op.f("ix_orders_provider_reference"))
