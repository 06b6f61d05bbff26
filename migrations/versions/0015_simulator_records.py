"""simulator_records

The simulator base's store: each simulator's records (GMO PG's transactions and members) in
kessai's own database, so a restarted simulator holds what the provider would. No card
number is ever among them (first six and last four digits only).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 20:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kessai.core.db

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
# Safe to apply while the previous kessai serves (kessai.ops.upgrades): a new table only.
online_safe: bool = True

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "simulator_records",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("simulator", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("updated_at", kessai.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("simulator", "kind", "key"),
    )


def downgrade() -> None:
    op.drop_table("simulator_records")
