"""Messages for agents are triaged in a process of their own, so the support bot never shares an interpreter with
them. Within one process, Python runs one thread at a time (the GIL): a message's 20–1,000 ms of tagging,
drafting and lint slowed every bot answer that overlapped it, whatever the locks. In a second process, at a lower
CPU priority, they share only the machine's cores, and the kernel gives the bot's process the core first.

The worker loads the same knowledge base snapshot as the service (the service names it with every message, so
an admin reload reaches the worker with the next message), reads and writes the same store (the repeat-contact
history, the corrections it follows: see ``triage.learning``) and runs many messages at once on threads, since
most of a message's time may be spent waiting for the LLM. It returns the result and the contact to record; the
service stores both, with the message, in one transaction.

If the worker dies, the messages it was running fail with ``WorkerError`` (HTTP 503, nothing stored) and the next
message starts a new worker.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import multiprocessing
import os
import pickle
import signal
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from triage.config import Settings
from triage.errors import WorkerError
from triage.learning import StoreFollower
from triage.models import Message, TriageResult
from triage.pipeline import Pipeline
from triage.stages.history import CustomerContact, StoredHistory

log = logging.getLogger("triage.worker")

NICE = 10  # the kernel gives a nice-0 process (the bot's) about 90% of a contended core against this one
THREADS = 16  # messages at once (most wait for the LLM); more queue
Job = tuple[int, dict[str, Any] | None, str]  # request id, the message as JSON (None: load only), the snapshot
Outcome = tuple[TriageResult, CustomerContact | None]  # what ``Pipeline.assess`` returns
Reply = tuple[int, bool, Any]  # request id, ok, (result JSON, contact) or the exception


@dataclass
class _Link:
    """One worker process, its pipe and the requests waiting for it."""

    conn: Connection
    process: multiprocessing.process.BaseProcess
    pending: dict[int, Future[Outcome | None]] = field(default_factory=dict)


class MessageWorker:
    """The service's side: sends messages to the worker process and waits for their results."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # the worker's own work is bounded (the LLM budget); past this, something is wrong with it
        self.timeout = settings.llm_message_budget + 60
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._link: _Link | None = None

    def prepare(self, snapshot: Path) -> None:
        """Start the worker if needed and have it load ``snapshot`` now (at start and after a reload), so that
        no message waits for the load."""
        self._call(None, snapshot)

    def assess(self, message: Message, snapshot: Path) -> Outcome:
        """The pipeline's ``assess`` for ``message``, run in the worker on the snapshot at ``snapshot``."""
        done = self._call(message.model_dump(mode="json"), snapshot)
        assert done is not None
        return done

    def _call(self, message: dict[str, Any] | None, snapshot: Path) -> Outcome | None:
        future: Future[Outcome | None] = Future()
        with self._lock:
            link = self._live_link()
            request_id = next(self._ids)
            link.pending[request_id] = future
            try:
                link.conn.send((request_id, message, str(snapshot)))
            except (OSError, ValueError) as exc:
                del link.pending[request_id]
                raise WorkerError(f"the message worker is gone ({exc}); retry") from exc
        try:
            return future.result(timeout=self.timeout)
        except TimeoutError as exc:
            with self._lock:
                link.pending.pop(request_id, None)
            raise WorkerError(f"the message worker gave no answer in {self.timeout:g} s; retry") from exc

    def close(self) -> None:
        with self._lock:
            link, self._link = self._link, None
        if link is not None:
            link.conn.close()  # the worker reads EOF and exits
            link.process.join(timeout=10)
            if link.process.is_alive():
                link.process.kill()

    def _live_link(self) -> _Link:
        """The live worker, starting one first if there is none (called under ``_lock``)."""
        if self._link is not None and self._link.process.is_alive():
            return self._link
        context = multiprocessing.get_context("spawn")  # no fork: the service has threads and an event loop
        ours, theirs = context.Pipe()
        process = context.Process(target=serve, args=(theirs, self.settings),
                                  name="triage-message-worker", daemon=True)
        process.start()
        theirs.close()
        self._link = _Link(ours, process)
        threading.Thread(target=self._read, args=(self._link,), name="message-worker-reader", daemon=True).start()
        log.info("event=message_worker_started pid=%s", process.pid)
        return self._link

    def _read(self, link: _Link) -> None:
        """Hand each of this worker's replies to the request waiting for it; when its pipe breaks, fail its
        requests still waiting."""
        while True:
            try:
                request_id, ok, payload = link.conn.recv()
            except (EOFError, OSError):
                break
            with self._lock:
                future = link.pending.pop(request_id, None)
            if future is None:
                continue
            if ok and payload is None:
                future.set_result(None)
            elif ok:
                result, contact = payload
                future.set_result((TriageResult.model_validate(result), contact))
            else:
                future.set_exception(payload)
        with self._lock:
            if self._link is link:
                self._link = None
            waiting, link.pending = link.pending, {}
        for future in waiting.values():
            future.set_exception(WorkerError("the message worker stopped while triaging this message; retry"))


def serve(conn: Connection, settings: Settings) -> None:
    """The worker process: run each message it receives on a thread, reply with the result or the error."""
    os.nice(NICE)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C reaches the whole group: the service stops its worker
    from triage.corrections import corrections_scope
    from triage.kb import KnowledgeBase
    from triage.store import Store

    store = Store.open(settings.store_url)
    scope = corrections_scope(settings)  # the service's: the snapshots it names are of the KB it is configured for
    history = StoredHistory(store, settings.repeat_window)
    follower = StoreFollower(store, settings.faq_complaint_limit)
    loaded: dict[str, Pipeline] = {}
    load_lock, send_lock = threading.Lock(), threading.Lock()

    def pipeline_for(snapshot: str) -> Pipeline:
        with load_lock:
            if snapshot not in loaded:  # the first message, or the service reloaded: load what it serves
                kb = KnowledgeBase.open(settings, Path(snapshot), store=store, scope=scope)
                loaded.clear()
                loaded[snapshot] = Pipeline.for_settings(kb, settings, history)
                follower.start(loaded[snapshot], kb.corrections_up_to)
            return loaded[snapshot]

    def run(job: Job) -> None:
        request_id, message, snapshot = job
        reply: Reply
        try:
            pipeline = pipeline_for(snapshot)
            if message is None:  # prepare: the snapshot is loaded
                reply = (request_id, True, None)
            else:
                follower.follow()
                result, contact = pipeline.assess(Message.model_validate(message))
                reply = (request_id, True, (result.model_dump(mode="json"), contact))
        except Exception as exc:
            reply = (request_id, False, exc if _picklable(exc) else WorkerError(f"{type(exc).__name__}: {exc}"))
        with send_lock, contextlib.suppress(OSError, ValueError):  # ValueError/OSError: the service is gone
            conn.send(reply)

    with ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="message") as pool:
        while True:
            try:
                job = conn.recv()
            except (EOFError, OSError):
                break
            pool.submit(run, job)
    store.close()


def _picklable(exc: BaseException) -> bool:
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return False
    return True
