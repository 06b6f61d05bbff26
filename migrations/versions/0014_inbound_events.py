"""inbound_events

The webhook inbox: one row per provider notification, unique by (provider, the provider's
event id), so a notification sent twice is stored and acted on once.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 19:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kessai.core.db

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
# Safe to apply while the previous kessai serves (kessai.ops.upgrades): a new table only.
online_safe: bool = True

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "inbound_events",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("provider", sa.String(length=40), nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("reference", sa.String(length=60), nullable=True),
        sa.Column("event", sa.String(length=60), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("job_id", ID, nullable=True),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("received_at", kessai.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("processed_at", kessai.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["provider_accounts.id"]),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("provider", "event_id"),
    )
    with op.batch_alter_table("inbound_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_inbound_events_account_id"), ["account_id"])
        batch_op.create_index(batch_op.f("ix_inbound_events_reference"), ["reference"])


def downgrade() -> None:
    with op.batch_alter_table("inbound_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbound_events_reference"))
        batch_op.drop_index(batch_op.f("ix_inbound_events_account_id"))
    op.drop_table("inbound_events")
