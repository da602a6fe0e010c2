"""The inbox's tables (SQLAlchemy 2 declarative). Alembic migrations in ``migrations/`` create them; change
both together (``tests/triage/test_store.py`` checks that the migrated schema matches these models)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from triage.models import INT32_MAX

if TYPE_CHECKING:
    from triage.stages.history import Contact


MAX_ROW_ID = INT32_MAX  # PostgreSQL's integer: larger ids cannot exist


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on every backend (SQLite keeps no zone: it is stored naive in UTC and restored)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime, dict[str, Any]: JSON, list[str]: JSON}


class CustomerRow(Base):
    __tablename__ = "customers"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    segment: Mapped[str | None] = mapped_column(String(32))
    tenure_days: Mapped[int | None]
    app_version: Mapped[str | None] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (Index("ix_conversations_inbox", "status", "priority", "waiting_since"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.id"))
    channel: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | resolved
    priority: Mapped[str | None] = mapped_column(String(2))
    tag: Mapped[str | None] = mapped_column(String(64))
    vip: Mapped[bool] = mapped_column(default=False)
    # an agent's correction outlives the customer's next message (its suggestion still carries its own tag)
    tag_corrected: Mapped[bool] = mapped_column(default=False, server_default=false())
    priority_corrected: Mapped[bool] = mapped_column(default=False, server_default=false())
    waiting_since: Mapped[datetime | None] = mapped_column(doc="the oldest customer message not yet replied to")
    # kept with every message, so the inbox query reads one row per conversation
    latest_suggestion_id: Mapped[int | None]
    message_count: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]

    customer: Mapped[CustomerRow | None] = relationship()
    messages: Mapped[list[MessageRow]] = relationship(back_populates="conversation", order_by="MessageRow.id")


class MessageRow(Base):
    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(128), index=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    bot_path: Mapped[list[str]] = mapped_column(default=list)
    page: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    conversation: Mapped[Conversation] = relationship(back_populates="messages")


class Suggestion(Base):
    """Everything the pipeline proposed for one message, with its state in the agent's hands."""

    __tablename__ = "suggestions"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"))
    result: Mapped[dict[str, Any]] = mapped_column(doc="the whole TriageResult as JSON")
    decision: Mapped[str | None] = mapped_column(String(16))
    faq_id: Mapped[str | None] = mapped_column(String(128), index=True)
    tag: Mapped[str | None] = mapped_column(String(64))
    priority: Mapped[str | None] = mapped_column(String(2))
    draft: Mapped[str | None] = mapped_column(Text)
    prompt_hash: Mapped[str | None] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(128))
    # open | accepted | edited | rejected | superseded (a newer message in the conversation replaced it)
    state: Mapped[str] = mapped_column(String(16), default="open")
    decided_by: Mapped[str | None] = mapped_column(String(128))
    decided_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    message: Mapped[MessageRow] = relationship()
    conversation: Mapped[Conversation] = relationship()


class FeedbackEvent(Base):
    __tablename__ = "feedback_events"
    __table_args__ = (CheckConstraint("action IN ('accept', 'edit', 'reject')", name="ck_feedback_action"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    suggestion_id: Mapped[int] = mapped_column(ForeignKey("suggestions.id"), index=True)
    action: Mapped[str] = mapped_column(String(8))
    final_text: Mapped[str | None] = mapped_column(Text)
    edit_distance: Mapped[int | None] = mapped_column(doc="characters changed from the draft (Levenshtein)")
    corrected_tag: Mapped[str | None] = mapped_column(String(64))
    corrected_priority: Mapped[str | None] = mapped_column(String(2))
    agent: Mapped[str] = mapped_column(String(128))
    idempotency_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ReferenceReply(Base):
    """An agent's edited reply, kept as an example of a good answer (personal data redacted)."""

    __tablename__ = "reference_replies"

    id: Mapped[int] = mapped_column(primary_key=True)
    feedback_id: Mapped[int] = mapped_column(ForeignKey("feedback_events.id"), unique=True)
    faq_id: Mapped[str | None] = mapped_column(String(128), index=True)
    tag: Mapped[str | None] = mapped_column(String(64), index=True)
    question: Mapped[str] = mapped_column(Text)
    reply: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TagCorrection(Base):
    """An agent's tag correction (the text redacted), learned by every process of the service that serves its
    ``scope`` (the KB and taxonomy it was made under, ``triage.corrections``): at once by the one that took it,
    within seconds by the others (they follow ``id``), and as a training row at every start. ``scope`` NULL: stored
    before corrections had one, learned by the demo KB with its demo taxonomy only (``LEGACY_SCOPE``)."""

    __tablename__ = "tag_corrections"
    # what a process reads: its scope's corrections after an id
    __table_args__ = (Index("ix_tag_corrections_scope_id", "scope", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    tag: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[str | None] = mapped_column(String(128))
    scope: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AcceptedFaqEntry(Base):
    """A FAQ entry a content team accepted from the gaps (the draft as they finished it), for the next
    ``triage kb build``: the store holds it for every replica; ``GET /v1/gaps/accepted.yaml`` and the file
    ``var/faq/accepted.yaml`` (written from these rows after each accept) give it as a FAQ file."""

    __tablename__ = "accepted_faq_entries"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    examples: Mapped[list[str]] = mapped_column(default=list)
    tags: Mapped[list[str]] = mapped_column(default=list)
    accepted_by: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ServiceValue(Base):
    """A value every replica of the service follows; ``serving_snapshot``: the index snapshot folder the
    replicas serve (the last one loaded or reloaded)."""

    __tablename__ = "service_values"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ContactRow(Base):
    """A customer's stored message as the repeat-contact check reads it: when, on which channel, its tag and its
    vector (float32 bytes). A customer has few contacts within the window, so they are compared in numpy."""

    __tablename__ = "contacts"
    __table_args__ = (Index("ix_contacts_customer_at", "customer_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(128))
    message_id: Mapped[str | None] = mapped_column(String(128))
    channel: Mapped[str | None] = mapped_column(String(16))
    at: Mapped[datetime]
    tag: Mapped[str] = mapped_column(String(64))
    vector: Mapped[bytes] = mapped_column(LargeBinary)


def contact_row(customer_id: str, contact: Contact) -> ContactRow:
    return ContactRow(customer_id=customer_id, message_id=contact.message_id, channel=contact.channel, at=contact.at,
                      tag=contact.tag, vector=np.asarray(contact.vector, np.float32).tobytes())


class BotOutcome(Base):
    __tablename__ = "bot_outcomes"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str | None] = mapped_column(String(128), index=True)
    faq_id: Mapped[str | None] = mapped_column(String(128), index=True)
    question: Mapped[str | None] = mapped_column(Text, doc="the customer's question, personal data redacted")
    auto_answered: Mapped[bool]
    helpful: Mapped[bool | None]
    escalated: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class CesAnswer(Base):
    """Customer effort score: 'how easy was it to get your issue solved?', 1 (very hard) to 7 (very easy)."""

    __tablename__ = "ces_answers"
    __table_args__ = (CheckConstraint("score BETWEEN 1 AND 7", name="ck_ces_score"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    score: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class WidgetKey(Base):
    """The chat widget's key. It sits in the company's page, so it is public (like Stripe's publishable keys) and
    kept as is: it opens only the widget routes, from its ``origins`` (the sites that may embed the widget)."""

    __tablename__ = "widget_keys"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    origins: Mapped[list[str]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]


class WidgetSession(Base):
    """One customer's chat in one browser: the browser keeps a random token and only its SHA-256 is kept here.
    ``conversation_id``: the inbox conversation once the customer asked for an agent."""

    __tablename__ = "widget_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    widget_key: Mapped[str] = mapped_column(ForeignKey("widget_keys.key"), index=True)
    customer_id: Mapped[str] = mapped_column(String(128))
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id"), index=True)
    lang: Mapped[str] = mapped_column(String(2), default="ko")
    page: Mapped[str | None] = mapped_column(String(128))
    section: Mapped[str | None] = mapped_column(String(128))
    bot_path: Mapped[list[str]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChatTurn(Base):
    """One line of a widget chat: the customer's, the bot's (``answered``: from the KB, else a hand-off offer), an
    agent's reply (``delivery_id``) or the service's (``text`` is then a code: handed_off, resolved)."""

    __tablename__ = "chat_turns"
    __table_args__ = (CheckConstraint("role IN ('customer', 'bot', 'agent', 'system')", name="ck_chat_turn_role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("widget_sessions.id"), index=True)
    role: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text)
    answered: Mapped[bool] = mapped_column(default=False)
    faq_id: Mapped[str | None] = mapped_column(String(128))
    sources: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    helpful: Mapped[bool | None]
    bot_outcome_id: Mapped[int | None] = mapped_column(doc="the bot outcome this answer counts as")
    delivery_id: Mapped[int | None] = mapped_column(ForeignKey("deliveries.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Delivery(Base):
    """An agent's reply on its way to the customer: one per verdict (the unique key is what keeps it from being
    sent twice). ``route``: widget (shown in the chat at once), email (SMTP) or webhook (the company's channel
    adapter). ``external_id``: the mail's Message-ID or the webhook's id, the same on every retry."""

    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    feedback_id: Mapped[int] = mapped_column(ForeignKey("feedback_events.id"), unique=True)
    route: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(8), default="queued")  # queued | sending | sent | failed
    attempts: Mapped[int] = mapped_column(default=0)
    error_code: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(String(256))
    external_id: Mapped[str | None] = mapped_column(String(255))
    next_attempt_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class InboundMail(Base):
    """A customer's email as it came in (the raw fields kept; the message row holds the text triaged, without
    the quoted earlier mail)."""

    __tablename__ = "inbound_mails"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_row_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), unique=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    message_id: Mapped[str] = mapped_column(String(255), index=True)
    in_reply_to: Mapped[str | None] = mapped_column(String(255))
    references: Mapped[list[str]] = mapped_column(default=list)
    sender: Mapped[str] = mapped_column(String(254))
    recipient: Mapped[str | None] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    html: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CesInvitation(Base):
    """A link an email reply carries to the CES question: the token's SHA-256, and the conversation it rates."""

    __tablename__ = "ces_invitations"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    """Keys are random 32-byte tokens, so a SHA-256 of the key is enough to store (no salt or slow hash
    needed: there is nothing to guess); ``prefix`` shows which key is which."""

    __tablename__ = "api_keys"
    __table_args__ = (CheckConstraint("role IN ('bot', 'agent', 'admin')", name="ck_api_key_role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    role: Mapped[str] = mapped_column(String(8))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]


class WebSession(Base):
    """A browser signed in to the web pages. The cookie holds a random session id and only its SHA-256 is kept
    here (like the keys). It belongs to the key it was opened with: revoking the key ends it. It ends at
    ``expires_at`` (absolute, ``web_session_hours`` after sign-in) or at sign-out, when the row is deleted."""

    __tablename__ = "web_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class AlertRow(Base):
    """One team-chat alert per conversation: the unique key is what keeps retries from posting twice."""

    __tablename__ = "alerts"
    __table_args__ = (UniqueConstraint("conversation_id", name="uq_alerts_conversation"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(8), default="pending")  # pending | sending | sent | failed
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class LearnedExample(Base):
    """One thing the service learned about its KB's traffic, with where it came from: a past helpdesk ticket
    (``source`` ``history``, ``ref`` its ticket id). ``text`` is the customer's first message (redacted);
    ``entry_id`` the FAQ entry an agent's reply linked or pasted (``how``), or NULL: a reply the learned set
    decides as a paraphrase or as answered by hand (the hand-off side) from its ``evidence``; ``tag`` the agents'
    tag mapped to the taxonomy (``tag_how``). The next snapshot of the KB (``scope``:
    ``triage.helpdesk.learned.learned_scope``) indexes the phrasings and calibrates on all of them. A content team
    removes one (``removed_at``); importing the ticket again keeps it removed. ``digest``: of the ticket as read,
    so a later, overlapping export changes only what changed."""

    __tablename__ = "learned_examples"
    __table_args__ = (UniqueConstraint("scope", "source", "ref", name="uq_learned_examples_ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(16))
    ref: Mapped[str] = mapped_column(String(128))
    digest: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    entry_id: Mapped[str | None] = mapped_column(String(128))
    how: Mapped[str] = mapped_column(String(16))
    evidence: Mapped[dict[str, Any]] = mapped_column(default=dict)  # what the reading rests on (matching.py)
    tag: Mapped[str | None] = mapped_column(String(64))
    tag_how: Mapped[str] = mapped_column(String(16))
    reply: Mapped[str | None] = mapped_column(Text)
    channel: Mapped[str | None] = mapped_column(String(16))
    at: Mapped[datetime | None]
    removed_at: Mapped[datetime | None]
    removed_by: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
