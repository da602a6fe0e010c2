"""The agents' inbox as a service: a message in → the pipeline's suggestion stored (and the team alerted for P1
and VIP); an agent's verdict in → stored, then learned from. The API and the web pages both go through here."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from knowledge.samples import DEMO_DIR
from knowledge.sources import jsonl_rows, read_text
from triage.alerts import AlertDispatcher, alert_text, needs_alert
from triage.config import Settings
from triage.errors import InputError, NotReadyError
from triage.models import FeedbackIn, FeedbackRecord, Intake, Message
from triage.pipeline import Pipeline, chronological
from triage.store import Store

log = logging.getLogger("triage.inbox")


class Inbox:
    def __init__(self, settings: Settings, store: Store, pipeline: Callable[[], Pipeline],
                 alerts: AlertDispatcher | None = None) -> None:
        self.settings, self.store, self.pipeline, self.alerts = settings, store, pipeline, alerts

    def take(self, message: Message) -> Intake:
        """Run the pipeline on a customer message and store it with its suggestion."""
        result = self.pipeline().run(message)
        alert = alert_text(result, message.channel) if needs_alert(result) else None
        intake = self.store.record_message(message, result, alert)
        if alert is not None and self.alerts is not None:
            self.alerts.kick()
        return intake

    def decide(self, suggestion_id: int, feedback: FeedbackIn, agent: str,
               idempotency_key: str | None = None) -> FeedbackRecord:
        """Store an agent's verdict (the first one wins), then learn from it: a corrected tag at once, an
        edited reply as a reference (in the same transaction), a rejected auto-answer against its entry. Only
        a corrected tag needs the knowledge base loaded; any other verdict is stored while it loads."""
        if feedback.tag is not None:
            tagger = self.pipeline().kb.tagger
            if tagger is None or feedback.tag not in tagger.column:
                known = ", ".join(tagger.classes) if tagger else "none: this service has no taxonomy"
                raise InputError(f"unknown tag {feedback.tag!r}; known tags: {known}")
        decided = self.store.record_feedback(suggestion_id, feedback, agent, idempotency_key)
        if decided.learn_tag is not None:
            self.pipeline().learn_tag(decided.message_text, decided.learn_tag, self.settings.corrections_file,
                                      str(suggestion_id))
        if decided.record.action == "reject" and not decided.record.replayed:
            self.refresh_distrust()
        return decided.record

    def refresh_distrust(self) -> None:
        """Stop auto-answering from entries that agents and customers keep turning down. While the knowledge
        base loads there is nothing to update: loading ends with this refresh (so a verdict or a bot outcome
        already stored never fails because of it)."""
        try:
            pipeline = self.pipeline()
        except NotReadyError:
            return
        limit = self.settings.faq_complaint_limit
        distrusted = {faq: (f"agents or customers turned down this entry's answer {v.complaints} times "
                            f"(accepted {v.approvals}): an agent answers instead")
                      for faq, v in self.store.faq_verdicts().items()
                      if v.complaints >= limit and v.complaints > v.approvals}
        pipeline.distrusted_faqs = distrusted

    def seed(self, messages: Iterable[Message]) -> int:
        """Fill an empty inbox (the demo's first start); returns how many messages were stored."""
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
