"""What the service learned from a company's helpdesk history: its past tickets' first messages, the FAQ entry
agents answered each with (or none: by hand), their tags, with provenance

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08 04:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "learned_examples",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("ref", sa.String(length=128), nullable=False),
        sa.Column("digest", sa.String(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("entry_id", sa.String(length=128), nullable=True),
        sa.Column("how", sa.String(length=16), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("tag", sa.String(length=64), nullable=True),
        sa.Column("tag_how", sa.String(length=16), nullable=False),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("at", AT, nullable=True),
        sa.Column("removed_at", AT, nullable=True),
        sa.Column("removed_by", sa.String(length=128), nullable=True),
        sa.Column("created_at", AT, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("scope", "source", "ref", name="uq_learned_examples_ref"),
    )


def downgrade() -> None:
    op.drop_table("learned_examples")
