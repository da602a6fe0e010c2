"""The message worker: a real process that triages agents' messages as the serving process would, follows a
reload, and is replaced when it dies (the messages it was running fail with WorkerError, never silently)."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from knowledge.samples import DEMO_DIR
from triage.errors import WorkerError
from triage.kb import KnowledgeBase
from triage.message_worker import MessageWorker
from triage.models import Message
from triage.pipeline import Pipeline
from triage.store import Store

pytestmark = pytest.mark.slow
MESSAGE = Message.model_validate({"id": "w1", "text": "결제가 두 번 됐어요 돈 돌려주세요", "channel": "chat",
                                  "customer": {"id": "c-w", "segment": "VIP"},
                                  "created_at": "2026-03-02T10:00:00+09:00"})


@pytest.fixture
def worker(small_kb, tmp_path):
    from triage.config import Settings

    settings = Settings(kb_dir=small_kb, var_dir=tmp_path / "var", taxonomy=DEMO_DIR / "taxonomy.yaml",
                        database_url=f"sqlite:///{tmp_path}/triage.db")
    Store.open(settings.store_url).close()
    worker = MessageWorker(settings)
    yield worker, settings
    worker.close()


def test_the_worker_triages_as_the_serving_process_does(worker):
    worker, settings = worker
    kb = KnowledgeBase.open(settings)
    here, here_contact = Pipeline.for_settings(kb, settings).assess(MESSAGE)
    there, there_contact = worker.assess(MESSAGE, kb.snapshot.path)
    assert (there.decision, there.faq_id, there.tag, there.priority, there.reasons, there.draft) == \
        (here.decision, here.faq_id, here.tag, here.priority, here.reasons, here.draft)
    assert there_contact is not None and here_contact is not None
    assert there_contact[0] == "c-w" and there_contact[1].tag == here_contact[1].tag
    assert float(there_contact[1].vector @ here_contact[1].vector) == pytest.approx(1.0, abs=1e-5)


def test_a_dead_worker_fails_its_messages_and_the_next_one_starts_anew(worker):
    worker, settings = worker
    snapshot = KnowledgeBase.open(settings).snapshot.path
    worker.prepare(snapshot)
    first = worker._link
    assert first is not None
    failures: list[BaseException] = []

    def send() -> None:
        try:
            worker.assess(MESSAGE.model_copy(update={"text": "배송이 안 와요 " * 300}), snapshot)
        except WorkerError as exc:
            failures.append(exc)

    sender = threading.Thread(target=send)
    sender.start()
    deadline = time.monotonic() + 10
    while not first.pending and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(first.process.pid, signal.SIGKILL)  # type: ignore[arg-type]
    sender.join(timeout=60)
    assert failures and "stopped" in str(failures[0])
    result, _ = worker.assess(MESSAGE, snapshot)  # a new worker
    assert result.tag and worker._link is not first
