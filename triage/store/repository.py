"""The inbox's reads and writes. Every write is one transaction; a call returns only after its commit, so
whatever the API acknowledged is on disk (SQLite: WAL with ``synchronous=FULL``).

Over 400 lines because it is the store's one repository: each method is one transaction, grouped by what it
serves (keys, intake, reads, feedback, shared state, the bot, accepted FAQ entries, alerts).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, NamedTuple, TypeVar

import numpy as np
from rapidfuzz.distance import Levenshtein
from sqlalchemy import ColumnElement, Engine, case, delete, func, or_, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from knowledge.gaps import FaqDraft, GapQuestion, Source, check_accepted_entry
from triage.corrections import LEGACY_SCOPE
from triage.errors import ConflictError, InputError, NotFoundError, StoreError
from triage.models import (
    BotOutcomeIn,
    ConversationView,
    Customer,
    FeedbackIn,
    FeedbackRecord,
    InboxItem,
    Intake,
    Message,
    Role,
    StoredMessage,
    SuggestionView,
    TriageResult,
)
from triage.stages.history import Contact, CustomerContact
from triage.stages.language import detect_language
from triage.stages.privacy import redact_text
from triage.store.chat_rows import ChatRows
from triage.store.database import exclusive, open_engine, unavailable
from triage.store.learned_rows import LearnedRows
from triage.store.tables import (
    MAX_ROW_ID,
    AcceptedFaqEntry,
    AlertRow,
    ApiKey,
    BotOutcome,
    CesAnswer,
    ChatTurn,
    ContactRow,
    Conversation,
    CustomerRow,
    FeedbackEvent,
    MessageRow,
    ReferenceReply,
    ServiceValue,
    Suggestion,
    TagCorrection,
    WebSession,
    WidgetSession,
    contact_row,
    utcnow,
)

InboxSort = Literal["priority", "waiting", "newest"]
FIRST_LINE_CHARS = 80
KEY_BYTES = 32
KEY_CACHE_SECONDS = 10.0
LOW_CONFIDENCE = 0.85  # an auto-answer below this confidence counts as a weak answer for the FAQ gaps
SERVING_SNAPSHOT = "serving_snapshot"
T = TypeVar("T", Conversation, Suggestion)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= FIRST_LINE_CHARS else line[: FIRST_LINE_CHARS - 1] + "…"


@dataclass(frozen=True)
class Decided:
    """A stored verdict and what the service should learn from it (after the commit)."""

    record: FeedbackRecord
    message_text: str
    learn_tag: str | None  # the corrected tag, to teach the tag classifier
    correction_id: int | None = None  # the stored correction (same transaction as the verdict)
    answered_from: str | None = None  # the FAQ entry of an auto-answer suggestion


class FollowedVersion(NamedTuple):
    correction: int
    verdict: int
    bot_outcome: int
    snapshot: str | None


@dataclass(frozen=True)
class FaqVerdicts:
    """How auto-answers from one FAQ entry fared: agents' verdicts and customers' 'did this help?'."""

    approvals: int
    complaints: int


@dataclass(frozen=True)
class AnswerVerdict:
    """One judged auto-answer: the question (as stored), the entry it was answered with, and whether the agent
    kept the answer (accepted or edited) or the customer found it helpful."""

    question: str
    faq_id: str
    right: bool


class Store(ChatRows, LearnedRows):
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        # SQLite has one writer at a time and makes the others sleep and poll; queuing them on a lock in this
        # process wakes each at once instead (PostgreSQL's row locks need no help)
        self._write_lock = threading.Lock() if engine.dialect.name == "sqlite" else None
        self._known_keys: dict[str, tuple[tuple[str, Role], float]] = {}

    @classmethod
    def open(cls, url: str) -> Store:
        """Connect and migrate to the newest schema."""
        return cls(open_engine(url))

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def session(self, write: bool = False) -> Iterator[Session]:
        """One transaction, committed on leaving; ``write=True`` for transactions that change rows. A database
        that cannot be reached raises ``StoreError`` (HTTP 503 ``store_unavailable``), here for every caller."""
        try:
            with self._write_lock if write and self._write_lock else nullcontext(), self._sessions() as session, \
                    session.begin():
                yield session
        except DBAPIError as exc:
            if unavailable(exc):
                raise StoreError(f"the database is unavailable ({type(exc.orig).__name__}); retry shortly") from exc
            raise

    def exclusive(self, name: str) -> AbstractContextManager[None]:
        """Held by one process at a time across all the service's processes and replicas (see
        ``database.exclusive``)."""
        return exclusive(self.engine, name)

    def ping(self) -> None:
        """A cheap round trip (``SELECT 1``); ``StoreError`` when the database cannot be reached."""
        with self.session() as s:
            s.execute(text("SELECT 1"))

    # --- API keys ---------------------------------------------------------------------------------------

    def create_key(self, name: str, role: Role) -> str:
        """A new key for ``role``; the key itself is returned once and only its hash is kept."""
        key = "tk_" + secrets.token_urlsafe(KEY_BYTES)
        try:
            with self.session(write=True) as s:
                s.add(ApiKey(name=name, role=role, key_hash=hash_key(key), prefix=key[:10]))
        except IntegrityError as exc:
            raise ConflictError(f"a key named {name!r} exists already; pick another name or revoke it") from exc
        return key

    def key_owner(self, key: str) -> tuple[str, Role] | None:
        """(name, role) of an active key, or None. A key found is remembered for ``KEY_CACHE_SECONDS``, so a
        key revoked through another process stops working within that time (through this one, at once)."""
        digest = hash_key(key)
        cached = self._known_keys.get(digest)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        with self.session() as s:
            row = s.scalar(select(ApiKey).where(ApiKey.key_hash == digest, ApiKey.revoked_at.is_(None)))
            owner: tuple[str, Role] | None = (row.name, row.role) if row else None  # type: ignore[assignment]
        if owner is not None:
            self._known_keys[digest] = (owner, time.monotonic() + KEY_CACHE_SECONDS)
        return owner

    def revoke_key(self, name: str) -> None:
        with self.session(write=True) as s:
            done = s.execute(update(ApiKey).where(ApiKey.name == name, ApiKey.revoked_at.is_(None))
                             .values(revoked_at=utcnow()))
            if done.rowcount == 0:  # type: ignore[attr-defined]
                raise NotFoundError(f"no active key named {name!r}")
            s.execute(delete(WebSession).where(WebSession.key_id.in_(select(ApiKey.id).where(ApiKey.name == name))))
        self._known_keys.clear()

    def api_keys(self) -> list[dict[str, object]]:
        with self.session() as s:
            return [{"name": k.name, "role": k.role, "prefix": k.prefix, "created_at": k.created_at,
                     "revoked": k.revoked_at is not None} for k in s.scalars(select(ApiKey).order_by(ApiKey.id))]

    # --- web sessions -----------------------------------------------------------------------------------

    def open_web_session(self, key: str, lifetime: timedelta) -> str | None:
        """A new session id for the active key ``key`` (None for an unknown or revoked key), valid for
        ``lifetime``; only its hash is kept. Expired sessions are deleted on the way."""
        session_id = secrets.token_urlsafe(KEY_BYTES)
        now = utcnow()
        with self.session(write=True) as s:
            key_id = s.scalar(select(ApiKey.id).where(ApiKey.key_hash == hash_key(key), ApiKey.revoked_at.is_(None)))
            if key_id is None:
                return None
            s.execute(delete(WebSession).where(WebSession.expires_at <= now))
            s.add(WebSession(id_hash=hash_key(session_id), key_id=key_id, created_at=now, expires_at=now + lifetime))
        return session_id

    def web_session_owner(self, session_id: str) -> tuple[str, Role] | None:
        """(name, role) of the active key behind an unexpired session, or None. Read from the database every
        time (no cache): a sign-out or a revoked key ends the session at once, in every replica."""
        with self.session() as s:
            row = s.execute(select(ApiKey.name, ApiKey.role).join(WebSession, WebSession.key_id == ApiKey.id)
                            .where(WebSession.id_hash == hash_key(session_id), WebSession.expires_at > utcnow(),
                                   ApiKey.revoked_at.is_(None))).first()
        return (row.name, row.role) if row else None  # type: ignore[return-value]

    def close_web_session(self, session_id: str) -> None:
        """Sign-out: the session is deleted, so its id opens nothing any more (a no-op for an unknown id)."""
        with self.session(write=True) as s:
            s.execute(delete(WebSession).where(WebSession.id_hash == hash_key(session_id)))

    # --- intake -----------------------------------------------------------------------------------------

    def record_message(self, message: Message, result: TriageResult, alert_text: str | None = None,
                       contact: CustomerContact | None = None, *, mail: dict[str, Any] | None = None,
                       conversation_id: int | None = None) -> Intake:
        """Store a customer message and the pipeline's suggestion for it. The message joins the customer's open
        conversation on the same channel, or starts one; the conversation's older open suggestion is
        superseded. ``alert_text`` queues a team-chat alert (at most one per conversation); ``contact`` joins
        the repeat-contact history in the same transaction (a message that failed to be stored never does).
        ``mail``: the raw email it came as (kept beside it); ``conversation_id``: the open conversation it replies
        to (an email's thread), rather than the customer's open one on its channel."""
        try:
            return self._record_message(message, result, alert_text, contact, mail, conversation_id)
        except IntegrityError:  # the same new customer stored at the same moment by another request: once more
            return self._record_message(message, result, alert_text, contact, mail, conversation_id)

    def _record_message(self, message: Message, result: TriageResult, alert_text: str | None,
                        contact: CustomerContact | None, mail: dict[str, Any] | None,
                        thread: int | None) -> Intake:
        now = utcnow()
        with self.session(write=True) as s:
            if contact is not None:
                s.add(contact_row(*contact))
            customer = message.customer
            customer_id = customer.id if customer is not None and customer.id else None
            conversation = s.get(Conversation, thread) if thread is not None else None
            if customer is not None and customer_id:
                s.merge(CustomerRow(id=customer_id, segment=customer.segment, tenure_days=customer.tenure_days,
                                    app_version=customer.app_version, updated_at=now))
            if conversation is None and customer_id:
                conversation = s.scalar(
                    select(Conversation).where(Conversation.customer_id == customer_id,
                                               Conversation.status == "open",
                                               Conversation.channel.is_not_distinct_from(message.channel))
                    .order_by(Conversation.id.desc()).limit(1))
            if conversation is None:
                conversation = Conversation(customer_id=customer_id, channel=message.channel, created_at=now)
                s.add(conversation)
                s.flush()
            at = message.created_at or now
            row = MessageRow(external_id=message.id, conversation_id=conversation.id, text=message.text,
                             bot_path=message.bot_path, page=message.page, created_at=at)
            s.add(row)
            s.flush()
            if mail is not None:
                self.add_inbound_mail(s, conversation, row, mail)
            s.execute(update(Suggestion).where(Suggestion.conversation_id == conversation.id,
                                               Suggestion.state == "open").values(state="superseded"))
            info = result.drafting
            suggestion = Suggestion(
                conversation_id=conversation.id, message_id=row.id, result=result.model_dump(mode="json"),
                decision=result.decision, faq_id=result.faq_id, tag=result.tag, priority=result.priority,
                draft=result.draft, prompt_hash=info.prompt_hash if info else None,
                model=info.model if info else None, created_at=now)
            s.add(suggestion)
            s.flush()
            conversation.latest_suggestion_id = suggestion.id
            conversation.message_count += 1
            if not conversation.tag_corrected:
                conversation.tag = result.tag
            if not conversation.priority_corrected:
                conversation.priority = result.priority
            conversation.vip = conversation.vip or bool(result.context and result.context.segment == "VIP")
            if conversation.waiting_since is None or at < conversation.waiting_since:
                conversation.waiting_since = at
            s.flush()
            if alert_text is not None and s.scalar(
                    select(AlertRow.id).where(AlertRow.conversation_id == conversation.id)) is None:
                s.add(AlertRow(conversation_id=conversation.id, text=alert_text, created_at=now))
            return Intake(conversation_id=conversation.id, suggestion_id=suggestion.id, result=result)

    # --- reads ------------------------------------------------------------------------------------------

    def inbox(self, *, status: str = "open", priority: str | None = None, tag: str | None = None,
              channel: str | None = None, sort: InboxSort = "priority", limit: int = 50,
              offset: int = 0) -> list[InboxItem]:
        """Conversations, most urgent first (then longest waiting) by default."""
        page = select(Conversation.id).where(Conversation.latest_suggestion_id.is_not(None))
        if status != "all":
            page = page.where(Conversation.status == status)
        for column, value in ((Conversation.priority, priority), (Conversation.tag, tag),
                              (Conversation.channel, channel)):
            if value:
                page = page.where(column == value)
        waiting_nulls_last = case((Conversation.waiting_since.is_(None), 1), else_=0)
        orders: dict[str, list[Any]] = {
            "priority": [case((Conversation.priority.is_(None), 1), else_=0), Conversation.priority,
                         waiting_nulls_last, Conversation.waiting_since, Conversation.id],
            "waiting": [waiting_nulls_last, Conversation.waiting_since, Conversation.id],
            "newest": [Conversation.id.desc()],
        }
        now = utcnow()
        with self.session() as s:
            # the page is chosen on the conversations table alone; only its rows are joined to their texts
            ids = list(s.scalars(page.order_by(*orders[sort]).limit(limit).offset(offset)))
            rows = s.execute(select(Conversation, MessageRow.text, Suggestion.state)
                             .join(Suggestion, Suggestion.id == Conversation.latest_suggestion_id)
                             .join(MessageRow, MessageRow.id == Suggestion.message_id)
                             .where(Conversation.id.in_(ids))).all()
            position = {conversation_id: i for i, conversation_id in enumerate(ids)}
            return [InboxItem.model_validate({
                "conversation_id": c.id, "suggestion_id": c.latest_suggestion_id, "priority": c.priority,
                "tag": c.tag, "channel": c.channel, "vip": c.vip, "status": c.status, "first_line": first_line(text),
                "messages": c.message_count, "waiting_seconds": _waiting_seconds(c.waiting_since, now),
                "suggestion_state": state,
            }) for c, text, state in sorted(rows, key=lambda row: position[row[0].id])]

    def suggestion(self, suggestion_id: int) -> SuggestionView:
        with self.session() as s:
            row = _get(s, Suggestion, suggestion_id)
            return self._suggestion_view(s, row)

    def conversation(self, conversation_id: int) -> ConversationView:
        with self.session() as s:
            c = _get(s, Conversation, conversation_id)
            latest = s.scalar(select(Suggestion).where(Suggestion.conversation_id == c.id)
                              .order_by(Suggestion.id.desc()).limit(1))
            customer = (Customer(id=c.customer.id, segment=c.customer.segment, tenure_days=c.customer.tenure_days,
                                 app_version=c.customer.app_version) if c.customer else None)
            view = ConversationView(
                id=c.id, status=c.status, channel=c.channel, customer=customer,  # type: ignore[arg-type]
                priority=c.priority, tag=c.tag, vip=c.vip,  # type: ignore[arg-type]
                waiting_seconds=_waiting_seconds(c.waiting_since, utcnow()),
                messages=[_message(m) for m in c.messages],
                suggestion=self._suggestion_view(s, latest) if latest else None)
        return view.model_copy(update={"deliveries": self.deliveries(conversation_id),
                                       "chat": self.conversation_chat(conversation_id)})

    def _suggestion_view(self, s: Session, row: Suggestion) -> SuggestionView:
        events = s.scalars(select(FeedbackEvent).where(FeedbackEvent.suggestion_id == row.id)
                           .order_by(FeedbackEvent.id))
        return SuggestionView(id=row.id, conversation_id=row.conversation_id, state=row.state,  # type: ignore[arg-type]
                              decided_by=row.decided_by, message=_message(row.message),
                              result=TriageResult.model_validate(row.result),
                              feedback=[_record(e) for e in events])

    # --- feedback ---------------------------------------------------------------------------------------

    def record_feedback(self, suggestion_id: int, feedback: FeedbackIn, agent: str,
                        idempotency_key: str | None = None, scope: str | None = None) -> Decided:
        """An agent's verdict. The first verdict on a suggestion wins; a later one gets ``ConflictError``.
        The same ``idempotency_key`` again returns the stored verdict (``replayed``) and changes nothing. A verdict
        with another tag stores a correction in ``scope`` (the serving KB and taxonomy's, ``triage.corrections``),
        which it then needs."""
        if idempotency_key is not None:
            replay = self._replay(idempotency_key, suggestion_id, agent)
            if replay is not None:
                return replay
        try:
            return self._decide(suggestion_id, feedback, agent, idempotency_key, scope)
        except (ConflictError, IntegrityError):
            # a concurrent request with the same key may have won the race: that is a replay, not a conflict
            replay = self._replay(idempotency_key, suggestion_id, agent) if idempotency_key else None
            if replay is not None:
                return replay
            raise

    def _decide(self, suggestion_id: int, feedback: FeedbackIn, agent: str, key: str | None,
                scope: str | None) -> Decided:
        now = feedback.created_at or utcnow()
        with self.session(write=True) as s:
            row = _get(s, Suggestion, suggestion_id)
            action, final = feedback.action, feedback.final_text
            if action in ("accept", "edit") and not (final or row.draft):
                raise InputError("this suggestion has no draft: send final_text with the reply you sent")
            if action == "accept" and final is None:
                final = row.draft
            if action == "edit" and not (final or "").strip():
                raise InputError("action 'edit' needs final_text: the reply as you sent it")
            if action == "accept" and final != row.draft:
                action = "edit"
            elif action == "edit" and final == row.draft:
                action = "accept"  # nothing was changed: not a reference reply
            state = {"accept": "accepted", "edit": "edited", "reject": "rejected"}[action]
            # one conditional UPDATE decides the race: the second agent's finds the state no longer open
            won = s.execute(update(Suggestion).where(Suggestion.id == suggestion_id, Suggestion.state == "open")
                            .values(state=state, decided_by=agent, decided_at=now))
            if won.rowcount == 0:  # type: ignore[attr-defined]
                s.refresh(row)
                who = f" by {row.decided_by}" if row.decided_by else ""
                raise ConflictError(f"suggestion {suggestion_id} is already {row.state}{who}; "
                                    "reload the conversation")
            event = FeedbackEvent(
                suggestion_id=suggestion_id, action=action, final_text=final,
                edit_distance=Levenshtein.distance(row.draft or "", final) if final is not None else None,
                corrected_tag=feedback.tag if feedback.tag and feedback.tag != row.tag else None,
                corrected_priority=(feedback.priority if feedback.priority and feedback.priority != row.priority
                                    else None),
                agent=agent, idempotency_key=key, created_at=now)
            s.add(event)
            s.flush()
            conversation = row.conversation
            if event.corrected_tag:
                conversation.tag, conversation.tag_corrected = event.corrected_tag, True
            if event.corrected_priority:
                conversation.priority, conversation.priority_corrected = event.corrected_priority, True
            if action != "reject" or final:
                conversation.waiting_since = None  # replied (a rejection with final_text: the agent's own reply)
                self._queue_delivery(s, conversation, event)
            if action == "edit" and final:
                s.add(ReferenceReply(feedback_id=event.id, faq_id=row.faq_id, tag=event.corrected_tag or row.tag,
                                     question=redact_text(row.message.text),
                                     reply=redact_text(final, seen_in=row.message.text),
                                     created_at=now))
            correction = None
            if event.corrected_tag:
                if not scope:  # a programming error: nothing is stored
                    raise ValueError("a verdict that corrects the tag needs the scope of the KB and taxonomy it "
                                     "was made under (triage.corrections)")
                correction = TagCorrection(text=redact_text(row.message.text), tag=event.corrected_tag,
                                           message_id=str(suggestion_id), scope=scope, created_at=now)
                s.add(correction)
                s.flush()
            return Decided(_record(event), row.message.text, event.corrected_tag,
                           correction.id if correction else None,
                           row.faq_id if row.decision == "auto_answer" else None)

    def _replay(self, key: str, suggestion_id: int, agent: str) -> Decided | None:
        with self.session() as s:
            event = s.scalar(select(FeedbackEvent).where(FeedbackEvent.idempotency_key == key))
            if event is None:
                return None
            if event.suggestion_id != suggestion_id or event.agent != agent:
                raise InputError("this Idempotency-Key was already used for another request; send a new key "
                                 "for a new request")
            record = _record(event).model_copy(update={"replayed": True})
            return Decided(record, "", None)

    def resolve(self, conversation_id: int) -> None:
        with self.session(write=True) as s:
            c = _get(s, Conversation, conversation_id)
            if c.status != "resolved":
                c.status, c.resolved_at, c.waiting_since = "resolved", utcnow(), None
                s.execute(update(Suggestion).where(Suggestion.conversation_id == c.id, Suggestion.state == "open")
                          .values(state="superseded"))
                for chat in s.scalars(select(WidgetSession.id).where(WidgetSession.conversation_id == c.id)):
                    s.add(ChatTurn(session_id=chat, role="system", text="resolved"))  # the widget asks for its CES

    # --- what every process learns from: corrections, repeat contacts, a version to follow ----------------

    def add_correction(self, text: str, tag: str, scope: str, message_id: str | None = None) -> int:
        """Store an agent's tag correction made in ``scope`` (the serving KB and taxonomy's,
        ``triage.corrections``; personal data in the text replaced by placeholders); its id."""
        if not scope:
            raise ValueError("a correction needs the scope of the KB and taxonomy it was made under")
        with self.session(write=True) as s:
            row = TagCorrection(text=redact_text(text), tag=tag, message_id=message_id, scope=scope,
                                created_at=utcnow())
            s.add(row)
            s.flush()
            return row.id

    def tag_corrections(self, scope: str, after_id: int = 0) -> list[tuple[int, str, str]]:
        """(id, text, tag) of the corrections of ``scope`` stored after ``after_id``, oldest first; those stored
        without a scope (before migration 0005) belong to ``LEGACY_SCOPE``."""
        with self.session() as s:
            rows = s.execute(select(TagCorrection.id, TagCorrection.text, TagCorrection.tag)
                             .where(_in_scope(scope), TagCorrection.id > after_id).order_by(TagCorrection.id))
            return [(i, t, tag) for i, t, tag in rows]

    def unscoped_corrections(self) -> int:
        """How many corrections were stored before corrections had a scope (see ``tag_corrections``)."""
        with self.session() as s:
            return s.scalar(select(func.count(TagCorrection.id)).where(TagCorrection.scope.is_(None))) or 0

    def import_corrections(self, rows: list[tuple[str, str, str | None]], scope: str) -> int:
        """Corrections from the JSONL file earlier versions kept under var/ (text, tag, message id), stored in
        ``scope`` in one transaction; how many were stored."""
        with self.session(write=True) as s:
            s.add_all(TagCorrection(text=redact_text(t), tag=tag, message_id=m, scope=scope, created_at=utcnow())
                      for t, tag, m in rows)
        return len(rows)

    def record_contact(self, customer_id: str, contact: Contact) -> None:
        with self.session(write=True) as s:
            s.add(contact_row(customer_id, contact))

    def recent_contacts(self, customer_id: str, start: datetime, end: datetime, limit: int) -> list[Contact]:
        """The customer's contacts from ``start`` to ``end``, oldest first (the newest ``limit``)."""
        with self.session() as s:
            rows = s.scalars(select(ContactRow).where(ContactRow.customer_id == customer_id,
                                                      ContactRow.at >= start, ContactRow.at <= end)
                             .order_by(ContactRow.at.desc(), ContactRow.id.desc()).limit(limit)).all()
        return [Contact(r.message_id, r.channel, r.at, r.tag, np.frombuffer(r.vector, np.float32))
                for r in reversed(rows)]

    def followed_version(self) -> FollowedVersion:
        """Changes whenever something every process follows is stored: a tag correction, an agent's verdict, a
        bot outcome (the newest id of each), the snapshot to serve. Cheap enough to ask once a second."""
        with self.session() as s:
            ids = [int(s.scalar(select(func.coalesce(func.max(table.id), 0))) or 0)
                   for table in (TagCorrection, FeedbackEvent, BotOutcome)]
            snapshot = s.scalar(select(ServiceValue.value).where(ServiceValue.key == SERVING_SNAPSHOT))
            return FollowedVersion(ids[0], ids[1], ids[2], snapshot)

    def publish_snapshot(self, path: str) -> None:
        """The index snapshot every replica should serve from now on."""
        with self.session(write=True) as s:
            s.merge(ServiceValue(key=SERVING_SNAPSHOT, value=path, updated_at=utcnow()))

    # --- the bot and the customer -----------------------------------------------------------------------

    def record_bot_outcome(self, outcome: BotOutcomeIn) -> int:
        with self.session(write=True) as s:
            row = BotOutcome(**outcome.model_dump(exclude={"question", "created_at"}),
                             question=redact_text(outcome.question) if outcome.question else None,
                             created_at=outcome.created_at or utcnow())
            s.add(row)
            s.flush()
            return row.id

    def record_ces(self, conversation_id: int, score: int, created_at: datetime | None = None, *,
                   once: bool = False) -> None:
        """The customer's effort score; ``created_at`` when it was given (default: now). ``once``: the customer's
        own answer (the widget, the email's link): ``ConflictError`` when the conversation has one already."""
        if not 1 <= score <= 7:
            raise InputError(f"a CES score is 1 (very hard) to 7 (very easy), not {score}")
        with self.session(write=True) as s:
            _get(s, Conversation, conversation_id)
            if once and s.scalar(select(CesAnswer.id).where(CesAnswer.conversation_id == conversation_id).limit(1)):
                raise ConflictError("this conversation was already rated")
            s.add(CesAnswer(conversation_id=conversation_id, score=score, created_at=created_at or utcnow()))

    def faq_verdicts(self, faq_id: str | None = None) -> dict[str, FaqVerdicts]:
        """Per FAQ entry (or for ``faq_id`` alone): auto-answers that agents accepted or customers found helpful,
        against those agents rejected or customers found unhelpful."""
        counts: dict[str, list[int]] = {}
        with self.session() as s:
            agent_rows = s.execute(
                select(Suggestion.faq_id, Suggestion.state, func.count())
                .where(Suggestion.decision == "auto_answer", Suggestion.faq_id.is_not(None),
                       Suggestion.state.in_(("accepted", "edited", "rejected")),
                       *([Suggestion.faq_id == faq_id] if faq_id is not None else []))
                .group_by(Suggestion.faq_id, Suggestion.state))
            for entry, state, n in agent_rows:
                counts.setdefault(str(entry), [0, 0])[state == "rejected"] += n
            bot_rows = s.execute(
                select(BotOutcome.faq_id, BotOutcome.helpful, func.count())
                .where(BotOutcome.auto_answered, BotOutcome.faq_id.is_not(None), BotOutcome.helpful.is_not(None),
                       *([BotOutcome.faq_id == faq_id] if faq_id is not None else []))
                .group_by(BotOutcome.faq_id, BotOutcome.helpful))
            for entry, helpful, n in bot_rows:
                counts.setdefault(str(entry), [0, 0])[not helpful] += n
        return {faq: FaqVerdicts(a, c) for faq, (a, c) in counts.items()}

    def answer_verdicts(self) -> list[AnswerVerdict]:
        """Every judged auto-answer, oldest first: agents' verdicts on auto-answer suggestions, and customers'
        'did this help?' on the bot's answers that kept the question."""
        with self.session() as s:
            agent_rows = s.execute(
                select(MessageRow.text, Suggestion.faq_id, Suggestion.state)
                .join(MessageRow, MessageRow.id == Suggestion.message_id)
                .where(Suggestion.decision == "auto_answer", Suggestion.faq_id.is_not(None),
                       Suggestion.state.in_(("accepted", "edited", "rejected")))
                .order_by(Suggestion.decided_at, Suggestion.id)).all()
            bot_rows = s.execute(
                select(BotOutcome.question, BotOutcome.faq_id, BotOutcome.helpful)
                .where(BotOutcome.auto_answered, BotOutcome.faq_id.is_not(None), BotOutcome.helpful.is_not(None),
                       BotOutcome.question.is_not(None))
                .order_by(BotOutcome.created_at, BotOutcome.id)).all()
        return ([AnswerVerdict(text, str(faq), state != "rejected") for text, faq, state in agent_rows]
                + [AnswerVerdict(str(question), str(faq), bool(helpful)) for question, faq, helpful in bot_rows])

    def gap_questions(self, start: datetime, end: datetime) -> list[GapQuestion]:
        """Questions the FAQ did not settle, from ``start`` to ``end`` (personal data redacted):
        hand-offs; auto-answers agents rejected, or answered with low confidence; answers the bot gave that
        still reached an agent (a hand-off after the bot answered, or the bot's own 'escalated'); and bot
        answers customers found unhelpful. Each with the reply an agent sent, when there is one. Messages that
        tried to instruct the system are left out."""
        questions: list[GapQuestion] = []
        with self.session() as s:
            rows = s.execute(
                select(Suggestion, MessageRow).join(MessageRow, MessageRow.id == Suggestion.message_id)
                .where(MessageRow.created_at >= start, MessageRow.created_at < end)).all()
            sent = dict(s.execute(
                select(FeedbackEvent.suggestion_id, FeedbackEvent.final_text)
                .where(FeedbackEvent.suggestion_id.in_([row.id for row, _ in rows]),
                       FeedbackEvent.final_text.is_not(None))).all()) if rows else {}
            for suggestion, message in rows:
                result = suggestion.result
                if "prompt_injection" in (result.get("flags") or []):
                    continue
                source = _gap_source(suggestion, message, result)
                if source is None:
                    continue
                reply = sent.get(suggestion.id)
                questions.append(GapQuestion(
                    id=f"message-{message.id}", text=redact_text(message.text), at=message.created_at, source=source,
                    faq_id=result.get("candidate_faq_id"),
                    reply=redact_text(reply, seen_in=message.text) if reply else None,
                    conversation_id=suggestion.conversation_id,
                    language=result.get("language") or detect_language(message.text)))
            outcomes = s.scalars(select(BotOutcome).where(
                BotOutcome.created_at >= start, BotOutcome.created_at < end, BotOutcome.question.is_not(None),
                (BotOutcome.helpful.is_(False)) | (BotOutcome.auto_answered & BotOutcome.escalated)))
            for outcome in outcomes:
                questions.append(GapQuestion(
                    id=f"bot-{outcome.id}", text=outcome.question or "", at=outcome.created_at,
                    source="unhelpful" if outcome.helpful is False else "answered_then_agent",
                    faq_id=outcome.faq_id, language=detect_language(outcome.question or "")))
        return sorted(questions, key=lambda q: (q.at, q.id))

    def reference_replies(self, faq_id: str | None = None, tag: str | None = None,
                          limit: int = 20) -> list[dict[str, object]]:
        query = select(ReferenceReply).order_by(ReferenceReply.id.desc()).limit(limit)
        if faq_id:
            query = query.where(ReferenceReply.faq_id == faq_id)
        if tag:
            query = query.where(ReferenceReply.tag == tag)
        with self.session() as s:
            return [{"faq_id": r.faq_id, "tag": r.tag, "question": r.question, "reply": r.reply,
                     "created_at": r.created_at} for r in s.scalars(query)]

    # --- FAQ entries a content team accepted from the gaps ------------------------------------------------

    def accept_faq_entry(self, entry_id: str, draft: FaqDraft, tags: list[str] | None = None,
                         by: str | None = None) -> None:
        """Keep a finished FAQ entry (``check_accepted_entry``: ``SourceError`` says what to fix) for the next KB
        build; ``ConflictError`` when the id is taken."""
        check_accepted_entry(draft, entry_id)
        try:
            with self.session(write=True) as s:
                s.add(AcceptedFaqEntry(id=entry_id, question=draft.question, answer=draft.answer,
                                       examples=list(draft.examples), tags=list(tags or []), accepted_by=by,
                                       created_at=utcnow()))
        except IntegrityError as exc:
            raise ConflictError(f"an accepted FAQ entry with id {entry_id!r} exists already; pick another id") \
                from exc

    def accepted_faq_entries(self) -> list[dict[str, Any]]:
        """The accepted entries, oldest first, in a FAQ file's shape (id, question, answer, examples, tags)."""
        with self.session() as s:
            rows = s.scalars(select(AcceptedFaqEntry).order_by(AcceptedFaqEntry.created_at, AcceptedFaqEntry.id))
            return [{"id": r.id, "question": r.question, "answer": r.answer, "examples": list(r.examples),
                     "tags": list(r.tags)} for r in rows]

    # --- alerts -----------------------------------------------------------------------------------------

    def claim_alerts(self) -> list[tuple[int, int, str]]:
        """(alert id, conversation id, text) of the pending alerts, each marked 'sending' by exactly one caller
        (so two workers never post the same alert)."""
        claimed = []
        with self.session(write=True) as s:
            for alert in s.scalars(select(AlertRow).where(AlertRow.status == "pending").order_by(AlertRow.id)):
                done = s.execute(update(AlertRow).where(AlertRow.id == alert.id, AlertRow.status == "pending")
                                 .values(status="sending"))
                if done.rowcount == 1:  # type: ignore[attr-defined]
                    claimed.append((alert.id, alert.conversation_id, alert.text))
        return claimed

    def finish_alert(self, alert_id: int, sent: bool, attempts: int, error: str | None = None) -> None:
        with self.session(write=True) as s:
            s.execute(update(AlertRow).where(AlertRow.id == alert_id).values(
                status="sent" if sent else "failed", attempts=attempts, last_error=error and error[:256],
                sent_at=utcnow() if sent else None))

    def fail_interrupted_alerts(self) -> int:
        """Alerts left 'sending' by a stopped process may have been posted: marked failed, never re-sent."""
        with self.session(write=True) as s:
            done = s.execute(update(AlertRow).where(AlertRow.status == "sending")
                             .values(status="failed", last_error="interrupted while sending; not re-sent"))
            return done.rowcount  # type: ignore[attr-defined,no-any-return]

    def alerts(self) -> list[dict[str, object]]:
        with self.session() as s:
            return [{"id": a.id, "conversation_id": a.conversation_id, "status": a.status, "attempts": a.attempts,
                     "last_error": a.last_error, "text": a.text} for a in s.scalars(select(AlertRow)
                                                                                  .order_by(AlertRow.id))]

    def count_conversations(self) -> int:
        with self.session() as s:
            return s.scalar(select(func.count(Conversation.id))) or 0


def _gap_source(suggestion: Suggestion, message: MessageRow, result: dict[str, Any]) -> Source | None:
    if suggestion.decision == "handoff":
        return "handoff"
    if suggestion.decision != "auto_answer":
        return None
    if suggestion.state == "rejected":
        return "answer_rejected"
    if (result.get("confidence") or 0.0) < LOW_CONFIDENCE:
        return "low_confidence"
    return "answered_then_agent" if message.bot_path else None  # the bot answered, yet the customer asked a person


def _in_scope(scope: str) -> ColumnElement[bool]:
    """The corrections of ``scope``: its own, and for ``LEGACY_SCOPE`` those stored without a scope too."""
    if scope == LEGACY_SCOPE:
        return or_(TagCorrection.scope == scope, TagCorrection.scope.is_(None))
    return TagCorrection.scope == scope


def _get(s: Session, table: type[T], row_id: int) -> T:
    """The row with this id, or ``NotFoundError`` (also for ids no integer column can hold)."""
    row = s.get(table, row_id) if 0 < row_id <= MAX_ROW_ID else None
    if row is None:
        raise NotFoundError(f"no {table.__name__.lower()} {row_id}")
    return row


def _message(m: MessageRow) -> StoredMessage:
    return StoredMessage(id=m.id, external_id=m.external_id, text=m.text, created_at=m.created_at, page=m.page)


def _record(e: FeedbackEvent) -> FeedbackRecord:
    return FeedbackRecord(id=e.id, suggestion_id=e.suggestion_id, action=e.action,  # type: ignore[arg-type]
                          final_text=e.final_text, edit_distance=e.edit_distance, corrected_tag=e.corrected_tag,
                          corrected_priority=e.corrected_priority, agent=e.agent,  # type: ignore[arg-type]
                          created_at=e.created_at)


def _waiting_seconds(since: datetime | None, now: datetime) -> float | None:
    return (now - since).total_seconds() if since else None
