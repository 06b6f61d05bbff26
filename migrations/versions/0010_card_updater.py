"""card_updater

自動洗替: a run per account and month, the cards each request file sent (with their results),
the staging of a fetched result file, and customers.deleted_at (a deleted customer's cards
are not sent).

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
# Safe to apply while the previous kessai serves (kessai.ops.upgrades): new tables and a
# nullable column (customers.deleted_at) the previous version neither reads nor writes.
online_safe: bool = True


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
    with op.batch_alter_table("card_updater_targets", schema=None) as batch_op:
        batch_op.create_index(
            "ix_card_updater_targets_run_card", ["run_id", "card_id"], unique=False
        )

    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("deleted_at", kessai.core.db.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("deleted_at")

    with op.batch_alter_table("card_updater_targets", schema=None) as batch_op:
        batch_op.drop_index("ix_card_updater_targets_run_card")

    op.drop_table("card_updater_targets")
    op.drop_table("card_updater_result_lines")
    op.drop_table("card_updater_runs")
