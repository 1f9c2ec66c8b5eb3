"""rate limits: per-user contract fields, per-key overrides, shared counters and leases

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 23:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIMIT_COLUMNS = (
    ("requests_per_minute", sa.Integer),
    ("tokens_per_minute", sa.BigInteger),
    ("concurrent_requests", sa.Integer),
)


def upgrade() -> None:
    for table in ("user_contracts", "api_keys"):
        for name, kind in LIMIT_COLUMNS:
            op.add_column(table, sa.Column(name, kind(), nullable=True))
    op.create_table(
        "rate_counters",
        sa.Column("subject", sa.String(64), primary_key=True),
        sa.Column("window", sa.BigInteger, primary_key=True),
        sa.Column("requests", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("tokens", sa.BigInteger, nullable=False, server_default="0"),
    )
    op.create_table(
        "rate_leases",
        sa.Column("replica", sa.String(64), primary_key=True),
        sa.Column("subject", sa.String(64), primary_key=True),
        sa.Column("in_flight", sa.Integer, nullable=False, server_default="0"),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_rate_leases_expires_at", "rate_leases", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_rate_leases_expires_at", "rate_leases")
    op.drop_table("rate_leases")
    op.drop_table("rate_counters")
    for table in ("user_contracts", "api_keys"):
        for name, _ in LIMIT_COLUMNS:
            op.drop_column(table, name)
