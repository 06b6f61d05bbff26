"""inbound_events.next_look_at

A notification whose payment kessai does not know yet (its authorization's answer not yet
committed) waits 対象待ち instead of being ignored at once: the time of its next look.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 04:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kessai.core.db

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
# Safe to apply while the previous kessai serves (kessai.ops.upgrades): a nullable column.
online_safe: bool = True


def upgrade() -> None:
    with op.batch_alter_table("inbound_events") as batch:
        batch.add_column(
            sa.Column("next_look_at", kessai.core.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch.create_index(
            batch.f("ix_inbound_events_next_look_at"), ["next_look_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("inbound_events") as batch:
        batch.drop_index(batch.f("ix_inbound_events_next_look_at"))
        batch.drop_column("next_look_at")
