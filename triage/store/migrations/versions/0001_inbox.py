"""the inbox: customers, conversations, messages, suggestions, feedback, bot outcomes, CES, API keys, alerts

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-22 19:45:15.559995
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('api_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('role', sa.String(length=8), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=12), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("role IN ('bot', 'agent', 'admin')", name='ck_api_key_role'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key_hash'),
    sa.UniqueConstraint('name')
    )
    op.create_table('bot_outcomes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.String(length=128), nullable=True),
    sa.Column('faq_id', sa.String(length=128), nullable=True),
    sa.Column('auto_answered', sa.Boolean(), nullable=False),
    sa.Column('helpful', sa.Boolean(), nullable=True),
    sa.Column('escalated', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('bot_outcomes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bot_outcomes_faq_id'), ['faq_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_bot_outcomes_message_id'), ['message_id'], unique=False)

    op.create_table('customers',
    sa.Column('id', sa.String(length=128), nullable=False),
    sa.Column('segment', sa.String(length=32), nullable=True),
    sa.Column('tenure_days', sa.Integer(), nullable=True),
    sa.Column('app_version', sa.String(length=32), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('conversations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.String(length=128), nullable=True),
    sa.Column('channel', sa.String(length=16), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('priority', sa.String(length=2), nullable=True),
    sa.Column('tag', sa.String(length=64), nullable=True),
    sa.Column('vip', sa.Boolean(), nullable=False),
    sa.Column('waiting_since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('latest_suggestion_id', sa.Integer(), nullable=True),
    sa.Column('message_count', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.create_index('ix_conversations_inbox', ['status', 'priority', 'waiting_since'], unique=False)

    op.create_table('alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.String(length=256), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('conversation_id', name='uq_alerts_conversation')
    )
    op.create_table('ces_answers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('score BETWEEN 1 AND 7', name='ck_ces_score'),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('ces_answers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ces_answers_conversation_id'), ['conversation_id'], unique=False)

    op.create_table('messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('external_id', sa.String(length=128), nullable=True),
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('bot_path', sa.JSON(), nullable=False),
    sa.Column('page', sa.String(length=128), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_messages_conversation_id'), ['conversation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_messages_external_id'), ['external_id'], unique=False)

    op.create_table('suggestions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('result', sa.JSON(), nullable=False),
    sa.Column('decision', sa.String(length=16), nullable=True),
    sa.Column('faq_id', sa.String(length=128), nullable=True),
    sa.Column('tag', sa.String(length=64), nullable=True),
    sa.Column('priority', sa.String(length=2), nullable=True),
    sa.Column('draft', sa.Text(), nullable=True),
    sa.Column('prompt_hash', sa.String(length=64), nullable=True),
    sa.Column('model', sa.String(length=128), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('decided_by', sa.String(length=128), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], ),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('suggestions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_suggestions_conversation_id'), ['conversation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_suggestions_faq_id'), ['faq_id'], unique=False)

    op.create_table('feedback_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('suggestion_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=8), nullable=False),
    sa.Column('final_text', sa.Text(), nullable=True),
    sa.Column('edit_distance', sa.Integer(), nullable=True),
    sa.Column('corrected_tag', sa.String(length=64), nullable=True),
    sa.Column('corrected_priority', sa.String(length=2), nullable=True),
    sa.Column('agent', sa.String(length=128), nullable=False),
    sa.Column('idempotency_key', sa.String(length=128), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("action IN ('accept', 'edit', 'reject')", name='ck_feedback_action'),
    sa.ForeignKeyConstraint(['suggestion_id'], ['suggestions.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('idempotency_key')
    )
    with op.batch_alter_table('feedback_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_feedback_events_suggestion_id'), ['suggestion_id'], unique=False)

    op.create_table('reference_replies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('feedback_id', sa.Integer(), nullable=False),
    sa.Column('faq_id', sa.String(length=128), nullable=True),
    sa.Column('tag', sa.String(length=64), nullable=True),
    sa.Column('question', sa.Text(), nullable=False),
    sa.Column('reply', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['feedback_id'], ['feedback_events.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('feedback_id')
    )
    with op.batch_alter_table('reference_replies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reference_replies_faq_id'), ['faq_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_reference_replies_tag'), ['tag'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('reference_replies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reference_replies_tag'))
        batch_op.drop_index(batch_op.f('ix_reference_replies_faq_id'))

    op.drop_table('reference_replies')
    with op.batch_alter_table('feedback_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_feedback_events_suggestion_id'))

    op.drop_table('feedback_events')
    with op.batch_alter_table('suggestions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_suggestions_faq_id'))
        batch_op.drop_index(batch_op.f('ix_suggestions_conversation_id'))

    op.drop_table('suggestions')
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_messages_external_id'))
        batch_op.drop_index(batch_op.f('ix_messages_conversation_id'))

    op.drop_table('messages')
    with op.batch_alter_table('ces_answers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ces_answers_conversation_id'))

    op.drop_table('ces_answers')
    op.drop_table('alerts')
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_index('ix_conversations_inbox')

    op.drop_table('conversations')
    op.drop_table('customers')
    with op.batch_alter_table('bot_outcomes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bot_outcomes_message_id'))
        batch_op.drop_index(batch_op.f('ix_bot_outcomes_faq_id'))

    op.drop_table('bot_outcomes')
    op.drop_table('api_keys')
