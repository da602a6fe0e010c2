"""bot outcomes keep the customer's question (redacted), so unhelpful answers can feed the FAQ gaps; the
report's time ranges get indexes; a conversation remembers that an agent corrected its tag or priority

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 20:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


TIMED = ("messages", "feedback_events", "bot_outcomes", "ces_answers")
CORRECTED = ("tag_corrected", "priority_corrected")


def upgrade() -> None:
    with op.batch_alter_table("bot_outcomes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("question", sa.Text(), nullable=True))
    for table in TIMED:
        op.create_index(f"ix_{table}_created_at", table, ["created_at"])
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        for column in CORRECTED:
            batch_op.add_column(sa.Column(column, sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        for column in CORRECTED:
            batch_op.drop_column(column)
    for table in TIMED:
        op.drop_index(f"ix_{table}_created_at", table_name=table)
    with op.batch_alter_table("bot_outcomes", schema=None) as batch_op:
        batch_op.drop_column("question")
