"""webhook_attempts.refused

A try kessai did not send because the destination broke the rule of
kessai.webhooks.destination (an address inside the shop's own network, http in production …):
the rule's code, beside the message in `error`.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 04:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
# Safe to apply while the previous kessai serves (kessai.ops.upgrades): a nullable column.
online_safe: bool = True


def upgrade() -> None:
    with op.batch_alter_table("webhook_attempts") as batch:
        batch.add_column(sa.Column("refused", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("webhook_attempts") as batch:
        batch.drop_column("refused")
