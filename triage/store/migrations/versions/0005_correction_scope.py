"""a tag correction belongs to the knowledge base and taxonomy it was made under (its scope, see
``triage.corrections``): a process learns only its own scope's. Rows stored before have none (NULL) and stay so:
they belong to the demo KB with its demo taxonomy, the one deployment before, and no other scope reads them

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tag_corrections", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scope", sa.String(length=32), nullable=True))
    op.create_index("ix_tag_corrections_scope_id", "tag_corrections", ["scope", "id"])


def downgrade() -> None:
    op.drop_index("ix_tag_corrections_scope_id", table_name="tag_corrections")
    with op.batch_alter_table("tag_corrections", schema=None) as batch_op:
        batch_op.drop_column("scope")
