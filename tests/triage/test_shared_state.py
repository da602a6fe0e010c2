"""State that replicas share lives in the store: two services on one database (as two replicas would be) follow
each other's corrections and rejections and see each other's customers' contacts; a restart forgets nothing; an
earlier version's corrections file is imported once. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest

from knowledge.samples import DEMO_DIR
from triage.kb import KnowledgeBase
from triage.models import FeedbackIn, Message
from triage.service import ServiceState
from triage.store import Store

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # fixed: the history window is measured from the messages' times


@pytest.fixture(scope="module")
def own_kb(tmp_path_factory, embedder):
    """The small fixture KB built for this module: the session's is calibrated by other tests, which changes
    what it auto-answers."""
    from tests.conftest import build_small_kb

    return build_small_kb(tmp_path_factory.mktemp("shared-state-kb") / "index", embedder)


@pytest.fixture
def replicas(own_kb, tmp_path, store_url):
    """Two services on one store, each with its own var/ and its own knowledge base in memory."""
    from triage.config import Settings

    made = []

    def start(name: str) -> ServiceState:
        settings = Settings(kb_dir=own_kb, var_dir=tmp_path / name, taxonomy=DEMO_DIR / "taxonomy.yaml",
                            faq_complaint_limit=2, database_url=store_url)
        service = ServiceState(settings, Store.open(store_url))
        service.load()
        assert service.pipeline is not None, service.load_error
        made.append(service)
        return service

    yield start
    for service in made:
        service.store.close()


def message(i: str, text: str, customer: str, at: datetime, channel: str = "chat") -> Message:
    return Message.model_validate({"id": i, "text": text, "channel": channel, "customer": {"id": customer},
                                   "created_at": at.isoformat()})


def test_a_correction_on_one_is_followed_by_the_other_and_survives_a_restart(replicas):
    one, two = replicas("one"), replicas("two")
    text = "배송지 바꾸면 환불 받을 수 있나요"
    before = two.ready_pipeline().assess(Message(text=text))[0].tag
    target = "payment_info" if before != "payment_info" else "delivery_info"
    one.inbox.correct_tag(text, target, "x1")
    assert one.ready_pipeline().assess(Message(text=text))[0].tag == target  # at once where it was made
    two.follower.follow(force=True)  # what the next request after a second does
    assert two.ready_pipeline().assess(Message(text=text))[0].tag == target
    three = replicas("three")  # a restart: trained with the stored correction
    assert three.ready_pipeline().assess(Message(text=text))[0].tag == target


def test_a_verdict_with_a_corrected_tag_is_stored_with_its_correction(replicas):
    one, two = replicas("one"), replicas("two")
    text = "쿠폰을 썼는데 결제 금액이 그대로예요"
    intake = one.inbox.take(message("v1", text, "c-v", T0))
    target = "payment_info" if intake.result.tag != "payment_info" else "delivery_info"
    one.inbox.decide(intake.suggestion_id, FeedbackIn(action="reject", tag=target), "agent-a")
    assert [(t, tag) for _, t, tag in one.store.tag_corrections()] == [(text, target)]
    two.follower.follow(force=True)
    assert two.ready_pipeline().assess(Message(text=text))[0].tag == target


def test_a_repeat_on_one_replica_is_seen_by_the_other_and_after_a_restart(replicas):
    one, two = replicas("one"), replicas("two")
    first = one.inbox.take(message("h1", "비밀번호를 잊어버렸어요. 재설정 메일이 안 와요", "c-h", T0))
    assert first.result.duplicate_of is None
    again = two.inbox.take(message("h2", "비밀번호 재설정 메일이 아직도 안 와요", "c-h", T0 + timedelta(hours=20),
                                   channel="email"))
    assert again.result.duplicate_of == "h1"
    restarted = replicas("restarted")
    third = restarted.inbox.take(message("h3", "비밀번호 재설정 메일이 계속 안 와요", "c-h", T0 + timedelta(hours=30)))
    assert third.result.duplicate_of == "h2"


def test_rejections_on_one_replica_stop_the_others_auto_answers(replicas):
    one, two = replicas("one"), replicas("two")
    question = Message(text="멤버십 가격이 얼마예요?")
    answered = two.ready_pipeline().assess(question, draft=False)[0]
    assert answered.decision == "auto_answer", "the fixture KB answers this question"
    for n in range(2):  # faq_complaint_limit
        intake = one.inbox.take(message(f"d{n}", question.text, f"c-d{n}", T0))
        assert intake.result.faq_id == answered.faq_id
        one.inbox.decide(intake.suggestion_id, FeedbackIn(action="reject"), "agent-a")
    two.follower.follow(force=True)
    after = two.ready_pipeline().assess(question, draft=False)[0]
    assert after.decision == "handoff" and "turned down" in after.decision_reason


def test_an_earlier_versions_corrections_file_is_imported_once(small_kb, tmp_path, store_url):
    from triage.config import Settings

    settings = Settings(kb_dir=small_kb, var_dir=tmp_path / "var", taxonomy=DEMO_DIR / "taxonomy.yaml",
                        database_url=store_url)
    settings.corrections_file.parent.mkdir(parents=True)
    rows = [{"text": "환불 계좌 바꾸고 싶어요 010-9876-5432", "tag": "refund_status", "message_id": "m1"},
            {"text": "쿠폰이 안 돼요", "tag": "payment_info"}]
    settings.corrections_file.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
                                         + '{"text": "torn', encoding="utf-8")
    store = Store.open(store_url)
    ServiceState(settings, store)
    ServiceState(settings, store)  # the second start finds the file renamed: nothing is imported twice
    stored = store.tag_corrections()
    assert [tag for _, _, tag in stored] == ["refund_status", "payment_info"]
    assert "010-9876-5432" not in stored[0][1]
    assert not settings.corrections_file.exists()
    kb = KnowledgeBase.open(settings, corrections=stored)
    assert kb.corrections_up_to == stored[-1][0]
    store.close()


def test_replicas_seeding_together_fill_the_inbox_once(replicas):
    one, two = replicas("one"), replicas("two")
    messages = [message(f"s{n}", text, f"c-s{n}", T0 + timedelta(minutes=n))
                for n, text in enumerate(["환불 언제 돼요?", "배송이 안 와요", "쿠폰이 안 돼요"])]
    seeded: list[int] = []
    threads = [threading.Thread(target=lambda s=s: seeded.append(s.inbox.seed(messages))) for s in (one, two)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(seeded) == [0, 3] and one.store.count_conversations() == 3
