"""models.source: room for where an imported model came from (`<cluster>:<uuid there>`)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 23:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.alter_column(
        "models",
        "source",
        type_=sa.String(64),
        existing_type=sa.String(32),
        existing_nullable=False,
    )


def downgrade() -> None:
    # an origin longer than the old width is cut to it rather than refused
    op.execute("UPDATE models SET source = left(source, 32) WHERE length(source) > 32")
    op.alter_column(
        "models",
        "source",
        type_=sa.String(32),
        existing_type=sa.String(64),
        existing_nullable=False,
    )
