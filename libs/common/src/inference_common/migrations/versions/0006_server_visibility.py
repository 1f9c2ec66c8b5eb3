"""servers.visibility: who may use a server through the gateway and Traefik

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 23:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # 'public' for existing rows and for rows the ModelServe watch mirrors from kubectl: their
    # ModelServes carry no signed owner, so the gateway lets every caller use them. The API
    # records 'private' (or what was asked) for the servers it creates.
    op.add_column(
        "servers",
        sa.Column("visibility", sa.String(16), server_default="public", nullable=False),
    )


def downgrade() -> None:
    op.drop_column("servers", "visibility")
