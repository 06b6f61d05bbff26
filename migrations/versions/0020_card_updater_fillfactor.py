"""Room for HOT updates in customer_cards, which 自動洗替 updates in bulk (PostgreSQL only)

Applying a result file updates every stored card it names once a month; none of the updated
columns (洗替結果, 有効期限, マスク済みカード番号) is indexed, so with free room on the page
PostgreSQL keeps the new row version beside the old one (a HOT update) and touches none of
the table's indexes. New pages keep the room; existing pages get it when the table is next
rewritten. (card_updater_targets at fillfactor 50 was measured too: no further gain, and
the selection writes twice the pages.)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 02:10:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
# Safe to apply while the previous kessai serves (kessai.ops.upgrades): a storage parameter.
online_safe: bool = True

FILLFACTOR = {"customer_cards": 80}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, percent in FILLFACTOR.items():
        op.execute(f"ALTER TABLE {table} SET (fillfactor = {percent})")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in FILLFACTOR:
        op.execute(f"ALTER TABLE {table} RESET (fillfactor)")
