"""The store's rows for the customer's side: the chat widget (its keys, customers' sessions, their chat lines)
and agents' replies on their way to the customer (deliveries), with the emails customers sent and the CES links
email replies carry. A mixin of ``Store``: each method is one transaction."""

from __future__ import annotations

import secrets
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import make_msgid
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from triage.errors import ConflictError, NotFoundError
from triage.models import BOT_PATH_ITEMS, DeliveryView, WidgetSource, WidgetTurn
from triage.store.tables import (
    BotOutcome,
    CesAnswer,
    CesInvitation,
    ChatTurn,
    Conversation,
    Delivery,
    FeedbackEvent,
    InboundMail,
    MessageRow,
    WidgetKey,
    WidgetSession,
    utcnow,
)

KEY_BYTES = 24
TOKEN_BYTES = 32
WidgetState = Literal["bot", "agent", "resolved"]
Route = Literal["widget", "email", "webhook"]


@dataclass(frozen=True)
class ChatSession:
    """A customer's widget session as the routes need it."""

    id: int
    widget_key: str
    customer_id: str
    conversation_id: int | None
    lang: str
    page: str | None
    section: str | None
    bot_path: list[str]


@dataclass(frozen=True)
class OpenChat:
    said: int  # the customer's lines in all
    lines: list[str]
    declined_faq_ids: list[str]


@dataclass(frozen=True)
class ChatState:
    state: WidgetState
    ces_asked: bool
    ces_score: int | None


@dataclass(frozen=True)
class DeliveryJob:
    """A claimed delivery with what its route needs: for email the thread (recipient, subject, the Message-IDs to
    reply to); for a webhook the conversation's customer, channel and latest message."""

    id: int
    route: Route
    text: str
    attempts: int
    external_id: str
    conversation_id: int
    customer_id: str | None
    channel: str | None
    latest_message_id: str | None
    recipient: str | None = None
    subject: str | None = None
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)


def _hash(value: str) -> str:
    from triage.store.repository import hash_key

    return hash_key(value)


def _turn(t: ChatTurn) -> WidgetTurn:
    return WidgetTurn(id=t.id, role=t.role, text=t.text, created_at=t.created_at,  # type: ignore[arg-type]
                      answered=t.answered, helpful=t.helpful,
                      sources=[WidgetSource.model_validate(x) for x in t.sources])


def _delivery(d: Delivery) -> DeliveryView:
    return DeliveryView(id=d.id, route=d.route, status=d.status, attempts=d.attempts,  # type: ignore[arg-type]
                        error_code=d.error_code, error=d.error, created_at=d.created_at, sent_at=d.sent_at)


class ChatRows:
    if TYPE_CHECKING:
        def session(self, write: bool = False) -> AbstractContextManager[Session]: ...

    # --- widget keys ------------------------------------------------------------------------------------

    def create_widget_key(self, name: str, origins: list[str]) -> str:
        """A new public widget key for the sites at ``origins`` (``https://shop.example``)."""
        key = "wk_" + secrets.token_urlsafe(KEY_BYTES)
        try:
            with self.session(write=True) as s:
                s.add(WidgetKey(key=key, name=name, origins=origins))
        except IntegrityError as exc:
            raise ConflictError(f"a widget key named {name!r} exists already; pick another name") from exc
        return key

    def ensure_widget_key(self, name: str, origins: list[str]) -> str:
        """The active widget key named ``name`` (its origins set to ``origins``), created when there is none;
        ``ConflictError`` when a key of that name was revoked (it is not made again behind the admin's back)."""
        for _ in range(2):  # a second look when another replica created it meanwhile
            with self.session() as s:
                row = s.scalar(select(WidgetKey).where(WidgetKey.name == name, WidgetKey.revoked_at.is_(None)))
            if row is not None:
                if list(row.origins) != origins:
                    with self.session(write=True) as s:
                        s.execute(update(WidgetKey).where(WidgetKey.key == row.key).values(origins=origins))
                return row.key
            try:
                return self.create_widget_key(name, origins)
            except ConflictError:
                continue
        raise ConflictError(f"the widget key {name!r} was revoked; make another with `triage keys create`")

    def widget_origins(self, key: str) -> list[str] | None:
        """The origins an active widget key may be used from; None for an unknown or revoked key."""
        with self.session() as s:
            row = s.scalar(select(WidgetKey.origins).where(WidgetKey.key == key, WidgetKey.revoked_at.is_(None)))
        return list(row) if row is not None else None

    def is_widget_key(self, key: str) -> bool:
        with self.session() as s:
            return s.scalar(select(func.count()).where(WidgetKey.key == key)) == 1

    def widget_keys(self) -> list[dict[str, Any]]:
        with self.session() as s:
            return [{"name": k.name, "key": k.key, "origins": list(k.origins), "created_at": k.created_at,
                     "revoked": k.revoked_at is not None}
                    for k in s.scalars(select(WidgetKey).order_by(WidgetKey.created_at))]

    def revoke_widget_key(self, name: str) -> None:
        with self.session(write=True) as s:
            done = s.execute(update(WidgetKey).where(WidgetKey.name == name, WidgetKey.revoked_at.is_(None))
                             .values(revoked_at=utcnow()))
            if done.rowcount == 0:  # type: ignore[attr-defined]
                raise NotFoundError(f"no active widget key named {name!r}")

    # --- widget sessions and their chat ------------------------------------------------------------------

    def open_chat_session(self, key: str, lang: str, page: str | None, section: str | None) -> str:
        """A new customer session of widget ``key``; its token, returned once (only the hash is kept)."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        with self.session(write=True) as s:
            s.add(WidgetSession(token_hash=_hash(token), widget_key=key, customer_id="widget:" + secrets.token_hex(8),
                                lang=lang, page=page, section=section, bot_path=[]))
        return token

    def chat_session(self, key: str, token: str, idle: timedelta) -> ChatSession | None:
        """The session of ``token`` under widget ``key``, unless it has been idle longer than ``idle``."""
        with self.session() as s:
            row = s.scalar(select(WidgetSession).where(WidgetSession.token_hash == _hash(token),
                                                       WidgetSession.widget_key == key,
                                                       WidgetSession.last_seen_at > utcnow() - idle))
            if row is None:
                return None
            return ChatSession(row.id, row.widget_key, row.customer_id, row.conversation_id, row.lang, row.page,
                               row.section, list(row.bot_path))

    def chat_state(self, session: ChatSession) -> ChatState:
        if session.conversation_id is None:
            return ChatState("bot", False, None)
        with self.session() as s:
            status = s.scalar(select(Conversation.status).where(Conversation.id == session.conversation_id))
            if status != "resolved":
                return ChatState("agent", False, None)
            score = s.scalar(select(CesAnswer.score).where(CesAnswer.conversation_id == session.conversation_id)
                             .limit(1))
            return ChatState("resolved", True, score)

    def chat_turns(self, session_id: int, after: int = 0) -> list[WidgetTurn]:
        with self.session() as s:
            return [_turn(t) for t in s.scalars(select(ChatTurn).where(ChatTurn.session_id == session_id,
                                                                        ChatTurn.id > after).order_by(ChatTurn.id))]

    def newest_turns(self, after: int) -> list[tuple[int, int]]:
        """(turn id, session id) of every chat line after ``after``, in every session: what the long polls of
        this process wait for (one query for all of them)."""
        with self.session() as s:
            return [(int(i), int(sid)) for i, sid in s.execute(
                select(ChatTurn.id, ChatTurn.session_id).where(ChatTurn.id > after).order_by(ChatTurn.id))]

    def add_chat_turns(self, session: ChatSession, turns: list[dict[str, Any]], *,
                       path: list[str] | None = None, outcome: dict[str, Any] | None = None) -> list[WidgetTurn]:
        """Append lines to a session (``outcome``: the bot outcome the last line counts as, stored with it);
        ``path``: the quick replies pressed, kept as the session's bot path."""
        now = utcnow()
        with self.session(write=True) as s:
            row = s.get(WidgetSession, session.id)
            assert row is not None
            row.last_seen_at = now
            if path:
                row.bot_path = (list(row.bot_path) + [p for p in path if p not in row.bot_path])[-BOT_PATH_ITEMS:]
            added = [ChatTurn(session_id=session.id, created_at=now, **turn) for turn in turns]
            s.add_all(added)
            s.flush()
            if outcome is not None:
                bot = BotOutcome(created_at=now, **outcome)
                s.add(bot)
                s.flush()
                added[-1].bot_outcome_id = bot.id
            return [_turn(t) for t in added]

    def rate_chat_turn(self, session: ChatSession, turn_id: int, helpful: bool) -> tuple[WidgetTurn, str | None]:
        """The customer's 'did this help?' on a bot answer (once). Its bot outcome is stored again with the
        answer (a new row, so every replica following the outcomes sees it); the FAQ entry to recheck."""
        with self.session(write=True) as s:
            turn = s.scalar(select(ChatTurn).where(ChatTurn.id == turn_id, ChatTurn.session_id == session.id,
                                                   ChatTurn.role == "bot"))
            if turn is None:
                raise NotFoundError(f"no bot answer {turn_id} in this chat")
            if turn.helpful is not None:
                raise ConflictError("this answer was already rated")
            turn.helpful = helpful
            self._restate_outcome(s, turn, helpful=helpful)
            return _turn(turn), turn.faq_id

    def _restate_outcome(self, s: Session, turn: ChatTurn, **changes: Any) -> None:
        old = s.get(BotOutcome, turn.bot_outcome_id) if turn.bot_outcome_id else None
        if old is None:
            return
        values = {c: getattr(old, c) for c in ("message_id", "faq_id", "question", "auto_answered", "helpful",
                                               "escalated", "created_at")}
        s.delete(old)
        new = BotOutcome(**{**values, **changes})
        s.add(new)
        s.flush()
        turn.bot_outcome_id = new.id

    def hand_chat_over(self, session: ChatSession, conversation_id: int) -> None:
        """The session now belongs to inbox conversation ``conversation_id``; its last bot answer counts as
        escalated; the customer sees the notice ``handed_off`` (a system line's text is a code)."""
        with self.session(write=True) as s:
            row = s.get(WidgetSession, session.id)
            assert row is not None
            row.conversation_id, row.last_seen_at = conversation_id, utcnow()
            last_bot = s.scalar(select(ChatTurn).where(ChatTurn.session_id == session.id, ChatTurn.role == "bot")
                                .order_by(ChatTurn.id.desc()).limit(1))
            if last_bot is not None:
                self._restate_outcome(s, last_bot, escalated=True)
            s.add(ChatTurn(session_id=session.id, role="system", text="handed_off"))

    def open_chat(self, session_id: int) -> OpenChat:
        """What a session's customer has said (read once): how many lines in all; those still open for an agent
        (since the last hand-off or resolution, without a line whose answer the customer marked helpful, unless
        all were); and the FAQ entries whose answers the customer marked unhelpful since then."""
        with self.session() as s:
            turns = s.scalars(select(ChatTurn).where(ChatTurn.session_id == session_id,
                                                     ChatTurn.role.in_(("customer", "bot", "system")))
                              .order_by(ChatTurn.id)).all()
        said = 0
        lines: list[tuple[str, bool]] = []  # since the last notice: (text, settled)
        declined: list[str] = []
        for turn in turns:
            if turn.role == "customer":
                said += 1
                lines.append((turn.text, False))
            elif turn.role == "system":
                lines, declined = [], []
            elif turn.helpful and lines:
                lines[-1] = (lines[-1][0], True)
            elif turn.helpful is False and turn.faq_id and turn.faq_id not in declined:
                declined.append(turn.faq_id)
        # every line settled, yet a person is wanted: they all say what the chat was about
        open_lines = [text for text, settled in lines if not settled] or [text for text, _ in lines]
        return OpenChat(said, open_lines, declined)

    def bot_answer_counts(self, days: int = 30) -> dict[str, int]:
        """How often the bot answered each FAQ entry in the last ``days`` days (the widget's quick replies)."""
        with self.session() as s:
            return {str(faq): int(n) for faq, n in s.execute(
                select(BotOutcome.faq_id, func.count()).where(
                    BotOutcome.auto_answered, BotOutcome.faq_id.is_not(None),
                    BotOutcome.created_at >= utcnow() - timedelta(days=days)).group_by(BotOutcome.faq_id))}

    def conversation_chat(self, conversation_id: int) -> list[WidgetTurn]:
        """The widget chat behind an inbox conversation (what the customer and the bot said), for agents."""
        with self.session() as s:
            return [_turn(t) for t in s.scalars(
                select(ChatTurn).join(WidgetSession, WidgetSession.id == ChatTurn.session_id)
                .where(WidgetSession.conversation_id == conversation_id).order_by(ChatTurn.id))]

    # --- replies on their way to the customer ------------------------------------------------------------

    def _queue_delivery(self, s: Session, conversation: Conversation, event: FeedbackEvent) -> None:
        """In the verdict's transaction: its reply goes back through the conversation's channel. A widget chat
        shows it at once; an email or another channel is queued for the delivery worker."""
        assert event.final_text
        now = event.created_at
        chat = s.scalar(select(WidgetSession.id).where(WidgetSession.conversation_id == conversation.id).limit(1))
        if chat is not None:
            delivery = Delivery(conversation_id=conversation.id, feedback_id=event.id, route="widget",
                                text=event.final_text, status="sent", attempts=1, created_at=now, sent_at=now,
                                external_id=f"reply_{event.id}")
            s.add(delivery)
            s.flush()
            s.add(ChatTurn(session_id=chat, role="agent", text=event.final_text, delivery_id=delivery.id,
                           created_at=now))
            return
        mailed = s.scalar(select(InboundMail.id).where(InboundMail.conversation_id == conversation.id).limit(1))
        s.add(Delivery(conversation_id=conversation.id, feedback_id=event.id,
                       route="email" if mailed is not None else "webhook", text=event.final_text, status="queued",
                       next_attempt_at=now, created_at=now))

    def claim_deliveries(self, now: datetime, mail_domain: str, limit: int = 20) -> list[DeliveryJob]:
        """Queued deliveries that are due, each marked 'sending' by exactly one caller. A delivery gets its id
        (Message-ID, webhook id) on its first claim and keeps it for every retry."""
        jobs = []
        with self.session(write=True) as s:
            due = s.scalars(select(Delivery).where(Delivery.status == "queued", Delivery.next_attempt_at <= now)
                            .order_by(Delivery.next_attempt_at, Delivery.id).limit(limit)).all()
            for d in due:
                won = s.execute(update(Delivery).where(Delivery.id == d.id, Delivery.status == "queued")
                                .values(status="sending"))
                if won.rowcount != 1:  # type: ignore[attr-defined]
                    continue
                if d.external_id is None:
                    d.external_id = (make_msgid(idstring=f"reply{d.id}", domain=mail_domain) if d.route == "email"
                                     else f"reply_{d.id}")
                jobs.append(self._job(s, d))
        return jobs

    def _job(self, s: Session, d: Delivery) -> DeliveryJob:
        c = s.get(Conversation, d.conversation_id)
        assert c is not None and d.external_id is not None
        latest = s.scalar(select(MessageRow.external_id).where(MessageRow.conversation_id == c.id)
                          .order_by(MessageRow.id.desc()).limit(1))
        job = DeliveryJob(d.id, d.route, d.text, d.attempts, d.external_id, c.id,  # type: ignore[arg-type]
                          c.customer_id, c.channel, latest)
        if d.route != "email":
            return job
        mails = s.scalars(select(InboundMail).where(InboundMail.conversation_id == c.id)
                          .order_by(InboundMail.id)).all()
        sent = s.execute(select(Delivery.external_id, Delivery.created_at)
                         .where(Delivery.conversation_id == c.id, Delivery.route == "email", Delivery.id != d.id,
                                Delivery.external_id.is_not(None), Delivery.created_at <= d.created_at)).all()
        chain = sorted([(m.created_at, m.message_id) for m in mails] + [(at, str(mid)) for mid, at in sent])
        references = list(dict.fromkeys([*mails[0].references, *(mid for _, mid in chain)]))
        last = mails[-1]
        return DeliveryJob(**{**job.__dict__, "recipient": last.sender, "subject": mails[0].subject,
                              "in_reply_to": last.message_id, "references": references})

    def finish_delivery(self, delivery_id: int, *, sent: bool, attempts: int, error_code: str | None = None,
                        error: str | None = None, retry_at: datetime | None = None) -> None:
        """After an attempt: sent, queued again for ``retry_at``, or failed for good."""
        status = "sent" if sent else "queued" if retry_at is not None else "failed"
        with self.session(write=True) as s:
            s.execute(update(Delivery).where(Delivery.id == delivery_id).values(
                status=status, attempts=attempts, error_code=error_code, error=error and error[:256],
                next_attempt_at=retry_at, sent_at=utcnow() if sent else None))

    def requeue_interrupted_deliveries(self) -> int:
        """Deliveries left 'sending' by a stopped process: queued again with the same id (a receiver that already
        has it recognises the id; an email keeps its Message-ID)."""
        with self.session(write=True) as s:
            done = s.execute(update(Delivery).where(Delivery.status == "sending")
                             .values(status="queued", next_attempt_at=utcnow()))
            return done.rowcount  # type: ignore[attr-defined,no-any-return]

    def retry_delivery(self, delivery_id: int) -> DeliveryView:
        """An agent sends a failed delivery again (same id)."""
        with self.session(write=True) as s:
            d = s.get(Delivery, delivery_id)
            if d is None:
                raise NotFoundError(f"no delivery {delivery_id}")
            if d.status != "failed":
                raise ConflictError(f"delivery {delivery_id} is {d.status}; only a failed one is sent again")
            d.status, d.next_attempt_at, d.error_code, d.error = "queued", utcnow(), None, None
            return _delivery(d)

    def deliveries(self, conversation_id: int) -> list[DeliveryView]:
        with self.session() as s:
            return [_delivery(d) for d in s.scalars(select(Delivery).where(Delivery.conversation_id == conversation_id)
                                                     .order_by(Delivery.id))]

    def delivery(self, delivery_id: int) -> DeliveryView:
        with self.session() as s:
            d = s.get(Delivery, delivery_id)
            if d is None:
                raise NotFoundError(f"no delivery {delivery_id}")
            return _delivery(d)

    # --- email in, CES links out -------------------------------------------------------------------------

    def mail_thread(self, message_ids: list[str]) -> int | None:
        """The open conversation an email replies to: the one holding any of ``message_ids`` (its In-Reply-To and
        References), as a customer's mail or as a reply sent to them."""
        if not message_ids:
            return None
        with self.session() as s:
            found = s.scalar(select(InboundMail.conversation_id).join(
                Conversation, Conversation.id == InboundMail.conversation_id)
                .where(InboundMail.message_id.in_(message_ids), Conversation.status == "open")
                .order_by(InboundMail.id.desc()).limit(1))
            if found is None:
                found = s.scalar(select(Delivery.conversation_id).join(
                    Conversation, Conversation.id == Delivery.conversation_id)
                    .where(Delivery.external_id.in_(message_ids), Conversation.status == "open").limit(1))
            return found

    def mail_conversation(self, message_id: str) -> int | None:
        """The conversation of an email already taken (by its Message-ID), or None."""
        with self.session() as s:
            return s.scalar(select(InboundMail.conversation_id).where(InboundMail.message_id == message_id[:255])
                            .limit(1))

    def add_inbound_mail(self, s: Session, conversation: Conversation, row: MessageRow, mail: dict[str, Any]) -> None:
        """In the message's transaction: the raw mail beside the stripped text that was triaged."""
        s.add(InboundMail(message_row_id=row.id, conversation_id=conversation.id, created_at=row.created_at, **mail))

    def ces_invitation(self, conversation_id: int) -> str:
        """A new token for a link to the CES question of ``conversation_id`` (only its hash is kept)."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        with self.session(write=True) as s:
            s.add(CesInvitation(token_hash=_hash(token), conversation_id=conversation_id))
        return token

    def ces_invited(self, token: str) -> tuple[int, int | None] | None:
        """(conversation id, its score so far) of a CES link's token; None for an unknown token."""
        with self.session() as s:
            conversation_id = s.scalar(select(CesInvitation.conversation_id)
                                       .where(CesInvitation.token_hash == _hash(token)))
            if conversation_id is None:
                return None
            score = s.scalar(select(CesAnswer.score).where(CesAnswer.conversation_id == conversation_id).limit(1))
            return int(conversation_id), score

