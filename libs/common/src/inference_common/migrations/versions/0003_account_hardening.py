"""users.disabled_at and password_changed_at, api_keys.expires_at

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 22:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # users.is_active stays the one switch; disabled_at records when it was turned off.
    op.add_column("users", sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True))
    # Tokens issued before this moment are refused (NULL: the password never changed).
    op.add_column(
        "users", sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("api_keys", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("api_keys", "expires_at")
    op.drop_column("users", "password_changed_at")
    op.drop_column("users", "disabled_at")
