"""The agents' inbox as a service: a message in → the pipeline's suggestion stored (and the team alerted for P1
and VIP); an agent's verdict in → stored, then learned from. The API and the web pages both go through here."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from knowledge.samples import DEMO_DIR
from knowledge.sources import jsonl_rows, read_text
from triage.alerts import AlertDispatcher, alert_text, needs_alert
from triage.config import Settings
from triage.learning import StoreFollower
from triage.models import FeedbackIn, FeedbackRecord, Intake, Message, TriageResult
from triage.pipeline import Pipeline, chronological
from triage.stages.history import CustomerContact
from triage.store import Store

log = logging.getLogger("triage.inbox")


class Inbox:
    def __init__(self, settings: Settings, store: Store, pipeline: Callable[[], Pipeline],
                 assess: Callable[[Message], tuple[TriageResult, CustomerContact | None]], follower: StoreFollower,
                 alerts: AlertDispatcher | None = None) -> None:
        self.settings, self.store, self.pipeline, self.alerts = settings, store, pipeline, alerts
        self.assess, self.follower = assess, follower

    def take(self, message: Message, *, mail: dict[str, Any] | None = None,
             conversation_id: int | None = None) -> Intake:
        """Run the pipeline on a customer message and store it with its suggestion and its place in the
        repeat-contact history (one transaction); ``mail``, ``conversation_id``: an email's raw fields and the
        thread it replies to (``Store.record_message``)."""
        result, contact = self.assess(message)
        alert = alert_text(result, message.channel) if needs_alert(result) else None
        intake = self.store.record_message(message, result, alert, contact, mail=mail,
                                           conversation_id=conversation_id)
        if alert is not None and self.alerts is not None:
            self.alerts.kick()
        return intake

    def decide(self, suggestion_id: int, feedback: FeedbackIn, agent: str,
               idempotency_key: str | None = None) -> FeedbackRecord:
        """Store an agent's verdict (the first one wins), then learn from it: a corrected tag at once, an
        edited reply as a reference (in the same transaction), a rejected auto-answer against its entry. Only
        a corrected tag needs the knowledge base loaded (it is stored in the scope of the KB and taxonomy served,
        ``triage.corrections``); any other verdict is stored while it loads."""
        scope = None
        if feedback.tag is not None:
            pipeline = self.pipeline()
            pipeline.check_tag(feedback.tag)
            scope = pipeline.kb.scope
        decided = self.store.record_feedback(suggestion_id, feedback, agent, idempotency_key, scope=scope)
        if scope is not None and decided.learn_tag is not None and decided.correction_id is not None:
            self._learn(scope, decided.message_text, decided.learn_tag, decided.correction_id)
        if decided.record.action == "reject" and not decided.record.replayed and decided.answered_from:
            self.follower.recheck(decided.answered_from)
        return decided.record

    def correct_tag(self, text: str, tag: str, message_id: str | None = None) -> None:
        """An agent fixes a message's tag: stored in the scope of the KB and taxonomy served, then learned at once
        (and by every other process serving them within about a second, see ``triage.learning``)."""
        pipeline = self.pipeline()
        pipeline.check_tag(tag)
        correction_id = self.store.add_correction(text, tag, pipeline.kb.scope, message_id)
        self._learn(pipeline.kb.scope, text, tag, correction_id)

    def _learn(self, scope: str, text: str, tag: str, correction_id: int) -> None:
        """A correction just stored in ``scope``, learned at once by the pipeline serving now (reloaded meanwhile:
        the new one), unless it serves another scope (a reload to another KB or taxonomy)."""
        pipeline = self.pipeline()
        if pipeline.kb.scope == scope:
            pipeline.learn_tag(text, tag)
            self.follower.learned(correction_id)

    def seed(self, messages: Iterable[Message]) -> int:
        """Fill an empty inbox (the demo's first start); returns how many messages were stored. Replicas
        starting together seed once: one fills the inbox while the others wait, then find it full."""
        with self.store.exclusive("seed"):
            if self.store.count_conversations():
                return 0
            stored = 0
            for message in messages:
                self.take(message)
                stored += 1
        log.info("event=inbox_seeded messages=%d", stored)
        return stored


def demo_messages() -> list[Message]:
    """The demo dev set as customer messages, oldest first (labels dropped), moved in time so that the newest
    arrives now: a new user sees waits of minutes and hours, not weeks."""
    rows = [row for _, row in jsonl_rows(read_text(DEMO_DIR / "dev.jsonl"))]
    messages = [Message.model_validate(row) for row in rows]
    ordered = [messages[i] for i in chronological(messages)]
    times = [m.created_at for m in ordered if m.created_at is not None]
    if not times:
        return ordered
    shift = datetime.now(UTC) - max(times)
    return [m.model_copy(update={"created_at": m.created_at + shift}) if m.created_at else m for m in ordered]
