"""contracts: user and namespace contracts, reservations

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 22:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _limit_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("max_servers", sa.Integer(), nullable=True),
        sa.Column("max_replicas_per_server", sa.Integer(), nullable=True),
        sa.Column("max_gpus", sa.Integer(), nullable=True),
        sa.Column("max_gpus_per_replica", sa.Integer(), nullable=True),
        sa.Column("max_gpu_memory_gib", sa.Integer(), nullable=True),
        sa.Column("max_storage_bytes", sa.BigInteger(), nullable=True),
        sa.Column("allowed_gpu_products", postgresql.ARRAY(sa.Text()), nullable=True),
        sa.Column("allowed_images", postgresql.ARRAY(sa.Text()), nullable=True),
        sa.Column("max_context_size", sa.Integer(), nullable=True),
        sa.Column("max_parallel", sa.Integer(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "user_contracts",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("allowed_namespaces", postgresql.ARRAY(sa.Text()), nullable=True),
        *_limit_columns(),
        sa.PrimaryKeyConstraint("username", name=op.f("pk_user_contracts")),
    )
    op.create_table(
        "namespace_contracts",
        sa.Column("namespace", sa.String(length=63), nullable=False),
        *_limit_columns(),
        sa.PrimaryKeyConstraint("namespace", name=op.f("pk_namespace_contracts")),
    )
    op.create_table(
        "reservations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("namespace", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=253), nullable=False),
        sa.Column("server_uuid", sa.String(length=64), nullable=True),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.Column("model_name", sa.String(length=256), nullable=False),
        sa.Column("replicas", sa.Integer(), nullable=False),
        sa.Column("gpus_per_replica", sa.Integer(), nullable=False),
        sa.Column("gpu_memory_gib_per_gpu", sa.Integer(), nullable=False),
        sa.Column("gpu_product", sa.String(length=63), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reservations")),
        sa.UniqueConstraint("namespace", "name", name=op.f("uq_reservations_namespace")),
        sa.UniqueConstraint("server_uuid", name=op.f("uq_reservations_server_uuid")),
    )
    op.create_index(op.f("ix_reservations_owner"), "reservations", ["owner"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_reservations_owner"), table_name="reservations")
    op.drop_table("reservations")
    op.drop_table("namespace_contracts")
    op.drop_table("user_contracts")
