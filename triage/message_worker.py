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
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from triage.config import Settings
from triage.errors import WorkerError
from triage.history import CustomerContact, StoredHistory
from triage.learning import StoreFollower
from triage.models import Message, TriageResult
from triage.pipeline import Pipeline

log = logging.getLogger("triage.worker")

NICE = 10  # the kernel gives a nice-0 process (the bot's) about 90% of a contended core against this one
THREADS = 16  # messages at once (most wait for the LLM); more queue
Job = tuple[int, dict[str, Any], str]  # request id, the message as JSON, the snapshot folder to use
Reply = tuple[int, bool, Any]  # request id, ok, (result JSON, contact) or the exception


class MessageWorker:
    """The service's side: sends messages to the worker process and waits for their results."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._pending: dict[int, Future[tuple[TriageResult, CustomerContact | None]]] = {}
        self._conn: Connection | None = None
        self._process: multiprocessing.process.BaseProcess | None = None

    def assess(self, message: Message, snapshot: Path) -> tuple[TriageResult, CustomerContact | None]:
        """The pipeline's ``assess`` for ``message``, run in the worker on the snapshot at ``snapshot``."""
        future: Future[tuple[TriageResult, CustomerContact | None]] = Future()
        with self._lock:
            conn = self._connection()
            request_id = next(self._ids)
            self._pending[request_id] = future
            try:
                conn.send((request_id, message.model_dump(mode="json"), str(snapshot)))
            except (OSError, ValueError) as exc:
                del self._pending[request_id]
                raise WorkerError(f"the message worker is gone ({exc}); retry") from exc
        return future.result()

    def close(self) -> None:
        with self._lock:
            conn, process, self._conn, self._process = self._conn, self._process, None, None
        if conn is not None:
            conn.close()  # the worker reads EOF and exits
        if process is not None:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()

    def _connection(self) -> Connection:
        """The live worker's pipe, starting a worker first if there is none (called under ``_lock``)."""
        if self._conn is not None and self._process is not None and self._process.is_alive():
            return self._conn
        context = multiprocessing.get_context("spawn")  # no fork: the service has threads and an event loop
        ours, theirs = context.Pipe()
        process = context.Process(target=serve, args=(theirs, self.settings),
                                  name="triage-message-worker", daemon=True)
        process.start()
        theirs.close()
        self._conn, self._process = ours, process
        threading.Thread(target=self._read, args=(ours,), name="message-worker-reader", daemon=True).start()
        log.info("event=message_worker_started pid=%s", process.pid)
        return ours

    def _read(self, conn: Connection) -> None:
        """Hand each reply to the request waiting for it; when the pipe breaks, fail those still waiting."""
        while True:
            try:
                request_id, ok, payload = conn.recv()
            except (EOFError, OSError):
                break
            with self._lock:
                future = self._pending.pop(request_id, None)
            if future is None:
                continue
            if ok:
                result, contact = payload
                future.set_result((TriageResult.model_validate(result), contact))
            else:
                future.set_exception(payload)
        with self._lock:
            if self._conn is conn:
                self._conn = None
            waiting, self._pending = self._pending, {}
        for future in waiting.values():
            future.set_exception(WorkerError("the message worker stopped while triaging this message; retry"))


def serve(conn: Connection, settings: Settings) -> None:
    """The worker process: run each message it receives on a thread, reply with the result or the error."""
    os.nice(NICE)
    from triage.kb import KnowledgeBase
    from triage.store import Store

    store = Store.open(settings.store_url)
    history = StoredHistory(store, settings.repeat_window)
    follower = StoreFollower(store, settings.faq_complaint_limit)
    loaded: dict[str, Pipeline] = {}
    load_lock, send_lock = threading.Lock(), threading.Lock()

    def pipeline_for(snapshot: str) -> Pipeline:
        with load_lock:
            if snapshot not in loaded:  # the first message, or the service reloaded: load what it serves
                kb = KnowledgeBase.open(settings, Path(snapshot), corrections=store.tag_corrections())
                loaded.clear()
                loaded[snapshot] = Pipeline.for_settings(kb, settings, history)
                follower.start(loaded[snapshot], kb.corrections_up_to)
            return loaded[snapshot]

    def run(job: Job) -> None:
        request_id, message, snapshot = job
        reply: Reply
        try:
            pipeline = pipeline_for(snapshot)
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
    import pickle

    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return False
    return True
