"""The rows a CX lead's report reads from the inbox store: one select each, bounded by the report's range
``[lo, hi)`` in UTC. ``triage.reports`` buckets them by local date and counts them (SQLite and PostgreSQL have
no common date functions, so bucketing happens in Python)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import and_, func, or_, select

from triage.store.repository import Store
from triage.store.tables import BotOutcome, CesAnswer, Conversation, FeedbackEvent, MessageRow, Suggestion


@dataclass(frozen=True)
class MessageReportRow:
    """A customer message with its suggestion and the verdict on it (None where there is none)."""

    at: datetime
    conversation_id: int
    channel: str | None
    suggestion_id: int | None
    tag: str | None
    decision: str | None
    state: str | None
    corrected_tag: str | None
    action: str | None
    edit_distance: int | None


@dataclass
class ReportRows:
    messages: list[MessageReportRow] = field(default_factory=list)  # by message id, then feedback id
    handoffs: list[tuple[datetime, dict[str, Any]]] = field(default_factory=list)  # (message time, stored result)
    first_messages: dict[int, datetime] = field(default_factory=dict)  # conversations that began in the range
    replies: dict[int, list[datetime]] = field(default_factory=dict)  # agents' replies to those conversations
    bot_outcomes: list[tuple[datetime, bool, bool | None, bool]] = field(default_factory=list)  # auto, helpful, esc.
    ces: list[tuple[datetime, int, str | None]] = field(default_factory=list)  # (time, score, conversation tag)


def read_report_rows(store: Store, lo: datetime, hi: datetime) -> ReportRows:
    """Everything a report over ``[lo, hi)`` counts, read in one session."""
    rows = ReportRows()
    with store.session() as s:
        rows.messages = [MessageReportRow(*cast(tuple[Any, ...], row)) for row in s.execute(
            select(MessageRow.created_at, MessageRow.conversation_id, Conversation.channel, Suggestion.id,
                   Suggestion.tag, Suggestion.decision, Suggestion.state, FeedbackEvent.corrected_tag,
                   FeedbackEvent.action, FeedbackEvent.edit_distance)
            .join(Conversation, Conversation.id == MessageRow.conversation_id)
            .outerjoin(Suggestion, Suggestion.message_id == MessageRow.id)
            .outerjoin(FeedbackEvent, FeedbackEvent.suggestion_id == Suggestion.id)
            .where(MessageRow.created_at >= lo, MessageRow.created_at < hi)
            .order_by(MessageRow.id, FeedbackEvent.id))]
        # only hand-offs' stored results are read
        rows.handoffs = [(at, result or {}) for at, result in s.execute(
            select(MessageRow.created_at, Suggestion.result)
            .join(Suggestion, Suggestion.message_id == MessageRow.id)
            .where(MessageRow.created_at >= lo, MessageRow.created_at < hi, Suggestion.decision == "handoff"))]
        in_range = select(MessageRow.conversation_id).where(MessageRow.created_at >= lo, MessageRow.created_at < hi)
        rows.first_messages = {cid: at for cid, at in s.execute(
            select(MessageRow.conversation_id, func.min(MessageRow.created_at))
            .where(MessageRow.conversation_id.in_(in_range)).group_by(MessageRow.conversation_id))
            if lo <= at < hi}
        # a reply: a verdict that accepted or edited a draft, or rejected it with the agent's own text
        replied = or_(FeedbackEvent.action.in_(("accept", "edit")),
                      and_(FeedbackEvent.action == "reject", FeedbackEvent.final_text.is_not(None),
                           FeedbackEvent.final_text != ""))
        replies: dict[int, list[datetime]] = defaultdict(list)
        for cid, at in s.execute(select(Suggestion.conversation_id, FeedbackEvent.created_at)
                                 .join(Suggestion, Suggestion.id == FeedbackEvent.suggestion_id)
                                 .where(Suggestion.conversation_id.in_(in_range), replied)):
            replies[cid].append(at)
        rows.replies = dict(replies)
        rows.bot_outcomes = [(at, bool(auto), helpful, bool(escalated)) for at, auto, helpful, escalated in s.execute(
            select(BotOutcome.created_at, BotOutcome.auto_answered, BotOutcome.helpful, BotOutcome.escalated)
            .where(BotOutcome.created_at >= lo, BotOutcome.created_at < hi))]
        rows.ces = [(at, score, tag) for at, score, tag in s.execute(
            select(CesAnswer.created_at, CesAnswer.score, Conversation.tag)
            .join(Conversation, Conversation.id == CesAnswer.conversation_id)
            .where(CesAnswer.created_at >= lo, CesAnswer.created_at < hi))]
    return rows
