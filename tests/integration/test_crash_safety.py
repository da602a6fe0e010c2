"""Kill the server (SIGKILL) in the middle of a feedback load: every verdict it acknowledged is in the store
afterwards, once, with the tag correction it carried, on SQLite (WAL, synchronous=FULL) and on PostgreSQL."""

from __future__ import annotations

import itertools
import threading
import time

import httpx
import pytest
from sqlalchemy import select

from knowledge.samples import DEMO_DIR
from tests.conftest import uvicorn_server
from triage.models import FeedbackIn, Message, TriageResult
from triage.store import Store
from triage.store.tables import TagCorrection

pytestmark = pytest.mark.integration
SUGGESTIONS = 300
WRITERS = 8


def seeded_store(url: str) -> tuple[Store, list[int], str]:
    store = Store.open(url)
    result = TriageResult(decision="handoff", tag="refund_status", priority="P3", draft="환불은 3영업일 안에 돼요.")
    ids = [store.record_message(Message(text=f"환불 언제 돼요? ({i})", channel="chat", customer={"id": f"c-{i}"}),
                                result).suggestion_id for i in range(SUGGESTIONS)]
    return store, ids, store.create_key("crash-agent", "agent")


def test_killing_the_server_mid_feedback_loses_nothing_acknowledged(small_kb, tmp_path, store_url):
    store, ids, key = seeded_store(store_url)
    env = {"TRIAGE_KB_DIR": str(small_kb), "TRIAGE_VAR_DIR": str(tmp_path), "TRIAGE_DATABASE_URL": store_url,
           "TRIAGE_TAXONOMY": str(DEMO_DIR / "taxonomy.yaml")}
    acknowledged: dict[str, dict] = {}  # idempotency key → the stored record the server returned
    queue = iter(ids)
    lock = threading.Lock()

    def write(base: str) -> None:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=10) as client:
            for n in itertools.count():
                with lock:
                    sid = next(queue, None)
                if sid is None:
                    return
                idem = f"crash-{sid}"
                text = f"환불은 3영업일 안에 돼요. 확인 번호 {sid}-{n}. 더 궁금한 점 있으세요?"
                try:
                    response = client.post(f"/v1/suggestions/{sid}/feedback", headers={"Idempotency-Key": idem},
                                           json={"action": "edit", "final_text": text,
                                                 "tag": "delivery_info" if sid % 2 else None})
                except httpx.HTTPError:
                    return  # the server is gone
                if response.status_code == 201:
                    with lock:
                        acknowledged[idem] = response.json()

    with uvicorn_server(env) as (base, proc):
        writers = [threading.Thread(target=write, args=(base,)) for _ in range(WRITERS)]
        for w in writers:
            w.start()
        deadline = time.monotonic() + 30
        while len(acknowledged) < SUGGESTIONS // 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        proc.kill()  # SIGKILL in the middle of the writes: no shutdown, no flush
        proc.wait(timeout=10)
        for w in writers:
            w.join(timeout=15)
    assert SUGGESTIONS // 3 <= len(acknowledged) < SUGGESTIONS, "the kill should land mid-load"

    reopened = Store.open(store_url)  # as the next start would: a fresh connection, migrations checked
    for idem, record in acknowledged.items():
        view = reopened.suggestion(record["suggestion_id"])
        assert [e.id for e in view.feedback] == [record["id"]], idem
        assert view.feedback[0].final_text == record["final_text"] and view.state == "edited"
    corrected = {int(record["suggestion_id"]) for record in acknowledged.values() if record["suggestion_id"] % 2}
    with reopened.session() as session:
        learned = {int(m) for m in session.scalars(select(TagCorrection.message_id))}
    assert corrected and corrected <= learned  # no acknowledged correction is lost to the kill
    # a client that never saw its answer retries with the same key: stored once, not twice
    retried = [i for i in ids if f"crash-{i}" not in acknowledged][:5]
    for sid in retried:
        first = reopened.record_feedback(sid, FeedbackIn(action="edit", final_text="다시 보낸 답변이에요. 더 있나요?"),
                                         "crash-agent", f"crash-{sid}")
        again = reopened.record_feedback(sid, FeedbackIn(action="edit", final_text="다시 보낸 답변이에요. 더 있나요?"),
                                         "crash-agent", f"crash-{sid}")
        assert again.record.id == first.record.id and again.record.replayed
        assert len(reopened.suggestion(sid).feedback) == 1
    store.close()
    reopened.close()
