"""model visibility (private | shared | public, shared_with namespaces), runtime caps
(max_threads, max_batch_size) in contracts, aliases held by reservations

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 01:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CAP_COLUMNS = ("max_threads", "max_batch_size")


def _names(name: str) -> sa.Column[list[str]]:
    """A list of names, empty by default."""
    return sa.Column(
        name, postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'::text[]"), nullable=False
    )


def upgrade() -> None:
    # Existing models become 'public' so that running clusters keep serving them as before;
    # from now on a new row (upload, import) is 'private' until its owner shares it.
    op.add_column(
        "models", sa.Column("visibility", sa.String(16), server_default="public", nullable=False)
    )
    op.alter_column("models", "visibility", server_default="private")
    op.create_check_constraint(
        op.f("ck_models_visibility"), "models", "visibility IN ('private', 'shared', 'public')"
    )
    op.add_column("models", _names("shared_with"))
    for table in ("user_contracts", "namespace_contracts"):
        for name in CAP_COLUMNS:
            op.add_column(table, sa.Column(name, sa.Integer(), nullable=True))
    op.add_column("reservations", _names("aliases"))
    op.create_index("ix_reservations_aliases", "reservations", ["aliases"], postgresql_using="gin")


def downgrade() -> None:
    op.drop_index("ix_reservations_aliases", "reservations")
    op.drop_column("reservations", "aliases")
    for table in ("user_contracts", "namespace_contracts"):
        for name in CAP_COLUMNS:
            op.drop_column(table, name)
    op.drop_constraint(op.f("ck_models_visibility"), "models", type_="check")
    op.drop_column("models", "shared_with")
    op.drop_column("models", "visibility")
