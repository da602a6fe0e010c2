"""What every route depends on: the service's state, the caller's role, message length."""

from __future__ import annotations

import logging
import threading
from typing import Annotated

from fastapi import Depends, Request

from knowledge.errors import KnowledgeBaseError
from triage.alerts import AlertDispatcher
from triage.api.auth import Caller, require
from triage.config import Settings
from triage.errors import MessageTooLongError, NotReadyError
from triage.inbox import Inbox, demo_messages
from triage.kb import KnowledgeBase
from triage.pipeline import Pipeline
from triage.store import Store

log = logging.getLogger("triage.api")


class ServiceState:
    """The loaded knowledge base, the pipeline over it, the inbox store and the alert sender. The pipeline
    locks its own shared state (briefly, never around an LLM call); ``lock`` serializes the swap of a reloaded
    pipeline."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.pipeline: Pipeline | None = None
        self.load_error: str | None = None
        self.lock = threading.Lock()
        self.alerts = (AlertDispatcher(store, settings.alert_webhook_url, settings.public_url,
                                       attempts=settings.alert_attempts, backoff=settings.alert_backoff,
                                       timeout=settings.alert_timeout)
                       if settings.alert_webhook_url else None)
        self.inbox = Inbox(settings, store, self.ready_pipeline, self.alerts)

    def load(self) -> None:
        try:
            self.pipeline = Pipeline.for_settings(KnowledgeBase.open(self.settings), self.settings)
            log.info("event=kb_loaded path=%s", self.pipeline.kb.snapshot.path)
        except (KnowledgeBaseError, OSError) as exc:
            self.load_error = str(exc)
            log.error("event=kb_load_failed error=%s", type(exc).__name__)
            return
        self.after_load()

    def after_load(self) -> None:
        """Learn from stored verdicts; on the demo's first start, fill the inbox with the demo messages."""
        self.inbox.refresh_distrust()
        if self.settings.serves_demo and self.settings.seed_demo_inbox:
            self.inbox.seed(demo_messages())

    def reload(self) -> Pipeline:
        """Open the knowledge base again (after ``triage kb build``); on failure the serving one stays."""
        fresh = Pipeline.for_settings(KnowledgeBase.open(self.settings), self.settings)
        with self.lock:
            if (serving := self.pipeline) is not None:
                with serving.lock:  # runs still in flight on the old pipeline share its history and its lock
                    fresh.history, fresh.distrusted_faqs = serving.history, serving.distrusted_faqs
                    fresh.lock = serving.lock
            self.pipeline = fresh
        log.info("event=kb_reloaded path=%s", fresh.kb.snapshot.path)
        return fresh

    def ready_pipeline(self) -> Pipeline:
        if self.pipeline is None:
            raise NotReadyError(self.load_error or "the knowledge base is still loading; retry shortly")
        return self.pipeline


def get_service(request: Request) -> ServiceState:
    return request.app.state.service  # type: ignore[no-any-return]


Service = Annotated[ServiceState, Depends(get_service)]
BotCaller = Annotated[Caller, Depends(require("bot"))]
AgentCaller = Annotated[Caller, Depends(require("agent"))]
AdminCaller = Annotated[Caller, Depends(require("admin"))]
Agent = Depends(require("agent"))  # for routes that need the role but not the caller


def check_length(text: str, settings: Settings) -> None:
    if len(text) > settings.max_message_chars:
        raise MessageTooLongError(f"text has {len(text)} characters; the limit is {settings.max_message_chars}"
                                  " (send the latest message, not the whole thread)")
