"""card_updater

自動洗替: a run per account and month, the cards each request file sent (with their results),
the staging of a fetched result file, and customers.deleted_at (a deleted customer's cards
are not sent). 継続課金: a file per account and month and the orders it carried.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 19:15:14.257894
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kessai.core.db

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "card_updater_runs",
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
        sa.Column("first", sa.Boolean(), nullable=False),
        sa.Column("targets", sa.Integer(), nullable=False),
        sa.Column("request_path", sa.String(length=300), nullable=True),
        sa.Column("request_sha256", sa.String(length=64), nullable=True),
        sa.Column("upload_attempts", sa.Integer(), nullable=False),
        sa.Column("uploaded_at", kessai.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("result_path", sa.String(length=300), nullable=True),
        sa.Column("result_sha256", sa.String(length=64), nullable=True),
        sa.Column("result_lines", sa.Integer(), nullable=True),
        sa.Column("applied_at", kessai.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("result_job_id", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", kessai.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kessai.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["provider_accounts.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "month"),
    )
    op.create_table(
        "card_updater_result_lines",
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.String(length=60), nullable=False),
        sa.Column("card_seq", sa.String(length=10), nullable=False),
        sa.Column("result", sa.String(length=1), nullable=False),
        sa.Column("masked_number", sa.String(length=25), nullable=True),
        sa.Column("expire", sa.String(length=4), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["card_updater_runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id", "line_no"),
    )
    with op.batch_alter_table("card_updater_result_lines", schema=None) as batch_op:
        batch_op.create_index(
            "ix_card_updater_result_lines_card", ["run_id", "member_id", "card_seq"], unique=False
        )
    op.create_table(
        "card_updater_targets",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("card_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("member_id", sa.String(length=60), nullable=False),
        sa.Column("card_seq", sa.String(length=10), nullable=False),
        sa.Column("sent_masked_number", sa.String(length=25), nullable=False),
        sa.Column("sent_expire", sa.String(length=4), nullable=False),
        sa.Column("result", sa.String(length=1), nullable=True),
        sa.Column("masked_number", sa.String(length=25), nullable=True),
        sa.Column("expire", sa.String(length=4), nullable=True),
        sa.Column("result_line", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["card_id"],
            ["customer_cards.id"],
        ),
        sa.ForeignKeyConstraint(["run_id"], ["card_updater_runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_id", "member_id", "card_seq"),
    )
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
        sa.ForeignKeyConstraint(["account_id"], ["provider_accounts.id"]),
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
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("batch_id", "order_id"),
        sa.UniqueConstraint("batch_id", "terminal_seq"),
    )
    with op.batch_alter_table("recurring_lines", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_recurring_lines_order_id"), ["order_id"], unique=False)

    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("deleted_at", kessai.core.db.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("deleted_at")

    op.drop_table("recurring_lines")
    op.drop_table("recurring_batches")
    op.drop_table("card_updater_targets")
    op.drop_table("card_updater_result_lines")
    op.drop_table("card_updater_runs")
