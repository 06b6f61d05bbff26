"""orders.payment_slip

The payment slip of a pay-later method (コンビニ 受付番号・確認番号・支払期限, Pay-easy お客様番号,
銀行振込 振込先口座): shown with the order while kessai waits for the customer to pay.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 22:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
# Safe to apply while the previous kessai serves (kessai.ops.upgrades): a nullable column.
online_safe: bool = True


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("payment_slip", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("payment_slip")
