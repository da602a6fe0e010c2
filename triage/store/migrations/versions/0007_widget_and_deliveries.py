"""The chat widget (its keys, customers' sessions and their chat lines), agents' replies on their way to the
customer (deliveries), customers' emails as they came in, and the CES links email replies carry

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "widget_keys",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("origins", sa.JSON(), nullable=False),
        sa.Column("created_at", AT, nullable=False),
        sa.Column("revoked_at", AT, nullable=True),
        sa.PrimaryKeyConstraint("key"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "widget_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("widget_key", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=128), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=True),
        sa.Column("lang", sa.String(length=2), nullable=False),
        sa.Column("page", sa.String(length=128), nullable=True),
        sa.Column("section", sa.String(length=128), nullable=True),
        sa.Column("bot_path", sa.JSON(), nullable=False),
        sa.Column("created_at", AT, nullable=False),
        sa.Column("last_seen_at", AT, nullable=False),
        sa.ForeignKeyConstraint(["widget_key"], ["widget_keys.key"]),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_widget_sessions_widget_key", "widget_sessions", ["widget_key"])
    op.create_index("ix_widget_sessions_conversation_id", "widget_sessions", ["conversation_id"])
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("feedback_id", sa.Integer(), nullable=False),
        sa.Column("route", sa.String(length=8), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error_code", sa.String(length=32), nullable=True),
        sa.Column("error", sa.String(length=256), nullable=True),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("next_attempt_at", AT, nullable=True),
        sa.Column("created_at", AT, nullable=False),
        sa.Column("sent_at", AT, nullable=True),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"]),
        sa.ForeignKeyConstraint(["feedback_id"], ["feedback_events.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("feedback_id"),
    )
    op.create_index("ix_deliveries_conversation_id", "deliveries", ["conversation_id"])
    op.create_index("ix_deliveries_due", "deliveries", ["status", "next_attempt_at"])
    op.create_table(
        "chat_turns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=8), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("answered", sa.Boolean(), nullable=False),
        sa.Column("faq_id", sa.String(length=128), nullable=True),
        sa.Column("sources", sa.JSON(), nullable=False),
        sa.Column("helpful", sa.Boolean(), nullable=True),
        sa.Column("bot_outcome_id", sa.Integer(), nullable=True),
        sa.Column("delivery_id", sa.Integer(), nullable=True),
        sa.Column("created_at", AT, nullable=False),
        sa.CheckConstraint("role IN ('customer', 'bot', 'agent', 'system')", name="ck_chat_turn_role"),
        sa.ForeignKeyConstraint(["session_id"], ["widget_sessions.id"]),
        sa.ForeignKeyConstraint(["delivery_id"], ["deliveries.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_chat_turns_session_id", "chat_turns", ["session_id"])
    op.create_table(
        "inbound_mails",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_row_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("in_reply_to", sa.String(length=255), nullable=True),
        sa.Column("references", sa.JSON(), nullable=False),
        sa.Column("sender", sa.String(length=254), nullable=False),
        sa.Column("recipient", sa.String(length=254), nullable=True),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=True),
        sa.Column("created_at", AT, nullable=False),
        sa.ForeignKeyConstraint(["message_row_id"], ["messages.id"]),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_row_id"),
    )
    op.create_index("ix_inbound_mails_conversation_id", "inbound_mails", ["conversation_id"])
    op.create_index("ix_inbound_mails_message_id", "inbound_mails", ["message_id"])
    op.create_table(
        "ces_invitations",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("created_at", AT, nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"]),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_index("ix_ces_invitations_conversation_id", "ces_invitations", ["conversation_id"])


def downgrade() -> None:
    for table in ("ces_invitations", "inbound_mails", "chat_turns", "deliveries", "widget_sessions", "widget_keys"):
        op.drop_table(table)
