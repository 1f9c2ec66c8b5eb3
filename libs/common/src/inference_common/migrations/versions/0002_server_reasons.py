"""servers.reasons: why a server is not (fully) ready, kept with its mirrored status

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing rows start empty; the API's ModelServe watch rewrites every live server's
    # status (and so its reasons) when it lists them at start-up.
    op.add_column(
        "servers",
        sa.Column(
            "reasons",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
    )


def downgrade() -> None:
    op.drop_column("servers", "reasons")
