"""The service as one object: the knowledge base and the pipeline over it, the store, the inbox and the alerts.
API routes and web pages reach everything through it (``request.app.state.service``).

State that replicas share lives in the store: the repeat-contact history (``StoredHistory``), the tag corrections
(those of the scope of the KB and taxonomy served, ``triage.corrections``) and the verdicts the pipeline learns
from (followed by ``StoreFollower``)."""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from knowledge.errors import KnowledgeBaseError
from knowledge.gaps import FaqDraft
from triage.alerts import AlertDispatcher
from triage.channels.mail import InboundMail, strip_quoted
from triage.config import Settings
from triage.corrections import LEGACY_SCOPE, corrections_scope, import_legacy_file, scope_parts
from triage.delivery import DeliveryWorker
from triage.errors import NotReadyError, PolicyError, StoreError
from triage.faq_gaps import GapReport, accept_entry, current_gaps, import_accepted_file, top_gaps
from triage.inbox import Inbox, demo_messages
from triage.kb import KnowledgeBase
from triage.learning import StoreFollower
from triage.message_worker import MessageWorker
from triage.models import ID_CHARS, Customer, FeedbackIn, FeedbackRecord, Intake, Message, TriageResult
from triage.pipeline import Pipeline
from triage.reports import Period, Report, build_report, parse_date, resolve_range, zone
from triage.stages.history import CustomerContact, StoredHistory
from triage.store import Store
from triage.taxonomy import NEEDS_REVIEW
from triage.widget import WidgetChat

log = logging.getLogger("triage.service")
WARM_UP_QUESTION = "배송은 언제 와요?"


class ServiceState:
    """The loaded knowledge base, the pipeline over it, the inbox store and the alert sender. The pipeline
    locks its own shared state (briefly, never around an LLM call); a private lock serializes the swap of a
    reloaded pipeline."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.pipeline: Pipeline | None = None
        self.load_error: str | None = None
        self._lock = threading.Lock()
        self.history = StoredHistory(store, settings.repeat_window)
        # replicas serving a configured KB follow each other's reloads (the demo's index is each replica's own)
        self.follower = StoreFollower(store, settings.faq_complaint_limit,
                                      on_snapshot=self.follow_snapshot if settings.kb_dir is not None else None)
        self._following = threading.Lock()  # one reload to another replica's snapshot at a time
        self.alerts = (AlertDispatcher(store, settings.alert_webhook_url, settings.public_url,
                                       attempts=settings.alert_attempts, backoff=settings.alert_backoff,
                                       timeout=settings.alert_timeout)
                       if settings.alert_webhook_url else None)
        self.deliveries = DeliveryWorker(store, settings)
        self.worker = MessageWorker(settings) if settings.message_worker else None
        self.worker_prepared = threading.Event()  # the worker has loaded the knowledge base (or failed to)
        self.inbox = Inbox(settings, store, self.ready_pipeline, self.assess, self.follower, self.alerts)
        self.widget = WidgetChat(self)
        self.scope = corrections_scope(settings)  # of the KB and taxonomy configured (each pipeline has its own)
        import_legacy_file(store, settings.corrections_file, self.scope)
        try:
            import_accepted_file(store, settings.accepted_faq_file)
        except StoreError as exc:  # read again at the next start
            log.error("event=accepted_faq_import_failed error=%s", exc)
        self._tell_unscoped()

    def _tell_unscoped(self) -> None:
        """Log the scope served, and how to adopt the corrections stored before corrections had one (they belong
        to the demo KB with its demo taxonomy): once, at start."""
        kb, taxonomy = scope_parts(self.settings)
        log.info("event=corrections_scope scope=%s kb=%s taxonomy=%s", self.scope, kb, taxonomy)
        if self.scope == LEGACY_SCOPE:
            return
        try:
            unscoped = self.store.unscoped_corrections()
        except StoreError:
            return
        if unscoped:
            log.warning("event=unscoped_corrections rows=%d: stored before corrections had a scope, they belong to "
                        "the demo KB and this KB does not learn them; to have it learn them: UPDATE tag_corrections "
                        "SET scope = '%s' WHERE scope IS NULL", unscoped, self.scope)

    def open_pipeline(self, kb: KnowledgeBase | None = None, snapshot: Path | None = None) -> Pipeline:
        """A pipeline over ``kb`` (default: the settings' knowledge base, or ``snapshot`` of it, trained with the
        stored corrections of its scope)."""
        if kb is None:
            kb = KnowledgeBase.open(self.settings, snapshot, store=self.store, scope=self.scope)
        pipeline = Pipeline.for_settings(kb, self.settings, self.history)
        # one question answered before serving: the first one otherwise pays about 2 s of lazy start-up in the
        # encoder and the tokenizers, and it would be a customer's (nothing is recorded)
        pipeline.assess(Message(text=WARM_UP_QUESTION), draft=False)
        return pipeline

    def serve(self, pipeline: Pipeline) -> None:
        """Serve ``pipeline`` from now on, following the store: it learns the corrections its tagger was not
        trained with, and the entries to distrust."""
        with self._lock:
            self.pipeline = pipeline  # runs in flight finish on the old one; both share the store's history
        self.follower.start(pipeline, pipeline.kb.corrections_up_to)

    def load(self) -> None:
        try:
            self.serve(self.open_pipeline())
            assert self.pipeline is not None
            log.info("event=kb_loaded path=%s", self.pipeline.kb.snapshot.path)
        except (KnowledgeBaseError, OSError, StoreError, PolicyError) as exc:  # /readyz names the problem
            self.load_error = str(exc)
            log.error("event=kb_load_failed error=%s", type(exc).__name__)
            return
        self.after_load()

    def after_load(self) -> None:
        """Tell the other replicas which snapshot this one serves, start the message worker on it; on the demo's
        first start, fill the inbox with the demo messages."""
        self.publish_snapshot()
        if self.worker is not None and self.pipeline is not None:
            try:
                self.worker.prepare(self.pipeline.kb.snapshot.path)
            except Exception as exc:  # the next message starts a worker again; the service keeps serving
                log.error("event=message_worker_failed error=%s", exc)
            self.worker_prepared.set()
        if self.settings.serves_demo and self.settings.seed_demo_inbox:
            self.inbox.seed(demo_messages())

    def reload(self, snapshot: Path | None = None) -> Pipeline:
        """Open the knowledge base again (after ``triage kb build``) and have every replica follow; on failure
        the serving one stays. ``snapshot``: the one another replica published (followed, not published)."""
        fresh = self.open_pipeline(snapshot=snapshot)
        if self.worker is not None:
            self.worker.prepare(fresh.kb.snapshot.path)  # the worker serves the new snapshot before the service does
        self.serve(fresh)
        log.info("event=kb_reloaded path=%s", fresh.kb.snapshot.path)
        if snapshot is None:
            self.publish_snapshot()
        return fresh

    def publish_snapshot(self) -> None:
        """Tell the other replicas which snapshot this one serves (a configured KB only: see ``follower``)."""
        if self.settings.kb_dir is None or self.pipeline is None:
            return
        try:
            self.store.publish_snapshot(str(self.pipeline.kb.snapshot.path))
        except StoreError as exc:  # the others follow at the next reload
            log.error("event=kb_publish_failed error=%s", exc)

    def follow_snapshot(self, snapshot: str) -> None:
        """Another replica serves ``snapshot``: load it in the background (requests go on meanwhile)."""
        def load() -> None:
            try:
                self.reload(Path(snapshot))
            except Exception as exc:  # the current snapshot keeps serving
                log.error("event=kb_follow_failed path=%s error=%s", snapshot, exc)
            finally:
                self._following.release()

        if self._following.acquire(blocking=False):
            threading.Thread(target=load, name="kb-follower", daemon=True).start()

    # --- what the API routes, the web pages and the CLI offer, each once ---------------------------------

    def triage(self, message: Message) -> TriageResult:
        """A preview of the full pipeline: neither the message nor its contact is kept."""
        return self.assess(message)[0]

    def bot_answer(self, message: Message, section: str | None = None) -> TriageResult:
        """The support bot's answer or hand-off (no draft), in this process: it never waits for agents' work."""
        return self.ready_pipeline().assess(message, section=section, draft=False)[0]

    def take_message(self, message: Message) -> Intake:
        """A customer message into the inbox, with its suggestion."""
        return self.inbox.take(message)

    def take_mail(self, mail: InboundMail) -> dict[str, Any]:
        """A customer's email into the inbox: the words after the quoted earlier mail are triaged; it joins the
        open conversation it replies to, else the customer's open email conversation (the customer is their
        address). The same Message-ID again is a duplicate (an inbound-parse service retrying): nothing new."""
        known = self.store.mail_conversation(mail.message_id)
        if known is not None:
            return {"conversation_id": known, "suggestion_id": None, "duplicate": True}
        customer = Customer(id=f"email:{mail.sender}"[:ID_CHARS])
        message = Message(id=mail.message_id[:ID_CHARS], text=strip_quoted(mail.text) or mail.subject or "(빈 메일)",
                          channel="email", customer=customer)
        raw = {"message_id": mail.message_id[:255], "in_reply_to": (mail.in_reply_to or "")[:255] or None,
               "references": mail.references, "sender": mail.sender[:254], "recipient": mail.to[:254] or None,
               "subject": mail.subject, "text": mail.text, "html": mail.html}
        thread = self.store.mail_thread([i for i in (mail.in_reply_to, *mail.references) if i])
        intake = self.inbox.take(message, mail=raw, conversation_id=thread)
        return {"conversation_id": intake.conversation_id, "suggestion_id": intake.suggestion_id, "duplicate": False}

    def decide(self, suggestion_id: int, feedback: FeedbackIn, agent: str,
               idempotency_key: str | None = None) -> FeedbackRecord:
        """An agent's verdict on a suggestion (the first one wins), learned from; its reply on its way."""
        record = self.inbox.decide(suggestion_id, feedback, agent, idempotency_key)
        self.deliveries.kick()
        return record

    def correct_tag(self, text: str, tag: str, message_id: str | None = None) -> None:
        """An agent's tag correction: stored, learned at once here and by every replica within a second."""
        self.inbox.correct_tag(text, tag, message_id)

    def assess(self, message: Message) -> tuple[TriageResult, CustomerContact | None]:
        """An agent's message through every stage (in the message worker when there is one): the result, and
        the contact to record if the message is kept."""
        pipeline = self.ready_pipeline()
        if self.worker is None:
            return pipeline.assess(message)
        return self.worker.assess(message, pipeline.kb.snapshot.path)

    def report(self, period: Period, start: str | None, end: str | None, timezone: str,
               with_gaps: bool = True) -> Report:
        """The CX leads' report for the days ``[start, end)`` (``YYYY-MM-DD`` in ``timezone``; None: the
        period's default range up to today there); ``with_gaps`` adds the top FAQ gaps (they need the encoder:
        charts and CSV skip them; while the knowledge base loads there are none)."""
        today = datetime.now(zone(timezone)).date()  # "today" where the days are counted, not in UTC
        first, last = resolve_range(period, parse_date(start, "start"), parse_date(end, "end"), today=today)
        pipeline = self.pipeline
        gaps = top_gaps(self.store, pipeline.kb, self.settings, first, last, timezone) \
            if with_gaps and pipeline is not None else None
        tagger = pipeline.kb.tagger if pipeline is not None else None
        return build_report(self.store, period, first, last, timezone=timezone,
                            tag_names=tagger.taxonomy.names if tagger is not None else {}, gaps=gaps,
                            catch_all=tagger.taxonomy.catch_all if tagger is not None else NEEDS_REVIEW)

    def gaps(self, days: int) -> GapReport:
        """The FAQ gaps of the last ``days`` days, with a suggested entry each."""
        pipeline = self.ready_pipeline()
        return current_gaps(self.store, pipeline.kb, self.settings, days, llm=pipeline.drafter.llm)

    def accept_faq(self, entry_id: str, draft: FaqDraft, tags: list[str], by: str | None = None) -> Path:
        """Keep an entry a content team accepted from the gaps, for every replica; the FAQ file it is now in (all
        accepted entries, for ``triage kb build --faq``). ``SourceError``: unfinished; ``ConflictError``: the id
        is taken."""
        return accept_entry(self.store, self.settings.accepted_faq_file, entry_id, draft, tags, by)

    def accepted_faq(self) -> dict[str, str]:
        """question → id of the entries accepted so far."""
        return {e["question"]: e["id"] for e in self.store.accepted_faq_entries()}

    def close(self) -> None:
        if self.worker is not None:
            self.worker.close()

    def check_ready(self) -> Pipeline:
        """The serving pipeline; ``NotReadyError`` until the knowledge base is loaded, in the message worker too
        when there is one."""
        pipeline = self.ready_pipeline()
        if self.worker is not None and not self.worker_prepared.is_set():
            raise NotReadyError("the message worker is loading the knowledge base; retry shortly")
        return pipeline

    def ready_pipeline(self) -> Pipeline:
        """The serving pipeline, up to date with the store; ``NotReadyError`` while the knowledge base loads."""
        if self.pipeline is None:
            raise NotReadyError(self.load_error or "the knowledge base is still loading; retry shortly")
        self.follower.follow()
        return self.pipeline
