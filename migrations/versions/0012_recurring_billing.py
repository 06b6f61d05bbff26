"""recurring_billing

GMO 継続課金: a file per account and month and the orders it carried. 自動洗替 at scale: the
staged result lines are matched to the run's cards by an index; the targets' (run, card)
index no query used is dropped.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 19:51:49.711466
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kessai.core.db

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
# Safe to apply while the previous kessai serves (kessai.ops.upgrades): new tables and indexes;
# the index it drops served no query of the previous version either.
online_safe: bool = True


def upgrade() -> None:
    op.create_table(
        "recurring_batches",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=300), nullable=True),
        sa.Column("sent_at", kessai.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reported_at", kessai.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("checked_at", kessai.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", kessai.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["provider_accounts.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "month"),
    )
    op.create_table(
        "recurring_lines",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("batch_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("terminal_seq", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.String(length=60), nullable=False),
        sa.Column("card_seq", sa.String(length=10), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("tax", sa.Integer(), nullable=False),
        sa.Column("result", sa.String(length=1), nullable=True),
        sa.Column("error_code", sa.String(length=20), nullable=True),
        sa.ForeignKeyConstraint(["batch_id"], ["recurring_batches.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("batch_id", "order_id"),
        sa.UniqueConstraint("batch_id", "terminal_seq"),
    )
    with op.batch_alter_table("recurring_lines", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_recurring_lines_order_id"), ["order_id"], unique=False)

    with op.batch_alter_table("card_updater_result_lines", schema=None) as batch_op:
        batch_op.create_index(
            "ix_card_updater_result_lines_card", ["run_id", "member_id", "card_seq"], unique=False
        )

    with op.batch_alter_table("card_updater_targets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_card_updater_targets_run_card"))


def downgrade() -> None:
    with op.batch_alter_table("card_updater_targets", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_card_updater_targets_run_card"), ["run_id", "card_id"], unique=False
        )

    with op.batch_alter_table("card_updater_result_lines", schema=None) as batch_op:
        batch_op.drop_index("ix_card_updater_result_lines_card")

    with op.batch_alter_table("recurring_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recurring_lines_order_id"))

    op.drop_table("recurring_lines")
    op.drop_table("recurring_batches")
