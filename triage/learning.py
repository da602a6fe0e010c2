"""What a pipeline learns from the store, so that every process and replica of the service agrees: agents' tag
corrections (those of the scope its knowledge base and taxonomy serve, ``triage.corrections``), the FAQ entries
whose answers agents and customers keep turning down, and the snapshot to serve.

A process follows the store by a version (the newest correction, verdict and bot outcome ids), asked at most once
a second before a message is handled: a correction or a rejection stored by another process or replica is
followed within about a second, without a restart. The process that stores a correction learns it at once, from
the text as the agent saw it; the others learn it from the stored text (personal data replaced by placeholders)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from triage.errors import StoreError
from triage.pipeline import Pipeline
from triage.store import Store
from triage.store.repository import FollowedVersion

log = logging.getLogger("triage.learning")

FOLLOW_EVERY_S = 1.0


def distrusted_entries(store: Store, complaint_limit: int, faq_id: str | None = None) -> dict[str, str]:
    """FAQ entries (or ``faq_id`` alone) turned down at least ``complaint_limit`` times and more often than
    accepted → why."""
    return {faq: (f"agents or customers turned down this entry's answer {v.complaints} times "
                  f"(accepted {v.approvals}): an agent answers instead")
            for faq, v in store.faq_verdicts(faq_id).items()
            if v.complaints >= complaint_limit and v.complaints > v.approvals}


class StoreFollower:
    """Keeps one process's pipeline up to date with the store (see the module's docstring)."""

    def __init__(self, store: Store, complaint_limit: int, every_s: float = FOLLOW_EVERY_S,
                 on_snapshot: Callable[[str], None] | None = None) -> None:
        self.store, self.complaint_limit, self.every_s = store, complaint_limit, every_s
        self.on_snapshot = on_snapshot  # called with the snapshot to serve when another replica published one
        self._lock = threading.Lock()
        self._swap = threading.Lock()  # around replacing the pipeline's distrusted entries
        self._pipeline: Pipeline | None = None
        self._version: FollowedVersion | None = None
        self._learned_up_to = 0  # the newest correction id of its scope this pipeline has learned
        self._learned_here: set[int] = set()  # newer corrections this process learned as they were made
        self._checked = float("-inf")

    def start(self, pipeline: Pipeline, learned_up_to: int) -> None:
        """A newly loaded pipeline, trained on the corrections of its scope (``pipeline.kb.scope``) up to
        ``learned_up_to``; followed from now on, in that scope only (a reload to another KB or taxonomy follows
        another scope)."""
        with self._lock:
            self._pipeline, self._version = pipeline, None
            self._learned_up_to, self._learned_here = learned_up_to, set()
            self._checked = float("-inf")
            self._follow(force=True, adopt_snapshot=False)  # it was just loaded: it publishes, not follows

    def learned(self, correction_id: int) -> None:
        """This process has just learned the correction ``correction_id`` itself."""
        with self._lock:
            self._learned_here.add(correction_id)

    def recheck(self, faq_id: str) -> None:
        """An auto-answer from ``faq_id`` was just turned down here: whether to distrust the entry is decided at
        once, from its verdicts alone (cheap: every other entry waits for the next look)."""
        pipeline = self._pipeline
        if pipeline is None:
            return
        verdict = distrusted_entries(self.store, self.complaint_limit, faq_id)
        with self._swap:
            distrusted = {k: v for k, v in pipeline.distrusted_faqs.items() if k != faq_id}
            pipeline.distrusted_faqs = distrusted | verdict

    def follow(self, force: bool = False) -> None:
        """Learn what the store gained since the last look (at most once every ``every_s`` unless ``force``).
        Requests never queue for it: while one thread looks, the others go on. A store that cannot be reached
        is looked at again a second later (a bot answer needs no database)."""
        if not self._lock.acquire(blocking=force):
            return
        try:
            self._follow(force)
        except StoreError as exc:
            log.warning("event=follow_store_failed error=%s", exc)
        finally:
            self._lock.release()

    def _follow(self, force: bool, adopt_snapshot: bool = True) -> None:
        now = time.monotonic()
        pipeline = self._pipeline
        if pipeline is None or (not force and now - self._checked < self.every_s):
            return
        self._checked = now
        version = self.store.followed_version()
        if version == self._version:
            return
        # the newest correction of any scope: a look may find none of this pipeline's
        if self._version is None or version.correction != self._version.correction:
            for correction_id, text, tag in self.store.tag_corrections(pipeline.kb.scope, self._learned_up_to):
                if correction_id not in self._learned_here and pipeline.kb.tagger is not None \
                        and tag in pipeline.kb.tagger.column:
                    pipeline.learn_tag(text, tag)
                self._learned_up_to = correction_id
            self._learned_here = {i for i in self._learned_here if i > self._learned_up_to}
        if self._version is None or (version.verdict, version.bot_outcome) != (self._version.verdict,
                                                                               self._version.bot_outcome):
            distrusted = distrusted_entries(self.store, self.complaint_limit)  # only verdicts change it
            with self._swap:
                pipeline.distrusted_faqs = distrusted
        self._version = version
        if adopt_snapshot and self.on_snapshot and version.snapshot \
                and version.snapshot != str(pipeline.kb.snapshot.path):
            self.on_snapshot(version.snapshot)
