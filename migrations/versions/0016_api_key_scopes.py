"""api_key_scopes

API keys carry a scope (storefront, operator, admin) and the time they were last used.
Keys issued before scopes existed could do everything: they become admin keys.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 20:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from kessai.core.db import UTCDateTime

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
# Safe to apply while the previous kessai serves (kessai.ops.upgrades): a new column with a default.
online_safe: bool = True


def upgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("scope", sa.String(length=20), server_default="admin", nullable=False)
        )
        batch_op.add_column(sa.Column("last_used_at", UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("last_used_at")
        batch_op.drop_column("scope")
