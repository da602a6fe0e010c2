"""State that replicas share lives in the store: two services on one database (as two replicas would be) follow
each other's corrections and rejections and see each other's customers' contacts; a restart forgets nothing; an
earlier version's corrections file is imported once. Corrections stay in their scope: a service of another KB or
another taxonomy on the same database never learns them. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import shutil
import threading
from datetime import UTC, datetime, timedelta

import pytest

from knowledge.samples import DEMO_DIR
from triage.corrections import LEGACY_SCOPE, corrections_scope
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


@pytest.fixture(scope="module")
def warm_cache(tmp_path_factory):
    """The first replica's embedding cache: each later replica's var/ starts with a copy (the same vectors, so the
    same tagger; it spares embedding the taxonomy and the FAQ again at every start)."""
    return tmp_path_factory.mktemp("shared-state-cache") / "cache"


@pytest.fixture
def replicas(own_kb, tmp_path, store_url, warm_cache):
    """Services on one store, each with its own var/ and its own knowledge base in memory; ``configured``: its
    settings that differ (another KB, another taxonomy)."""
    from triage.config import Settings

    made = []

    def start(name: str, **configured) -> ServiceState:
        settings = Settings(**{"kb_dir": own_kb, "var_dir": tmp_path / name, "taxonomy": DEMO_DIR / "taxonomy.yaml",
                               "faq_complaint_limit": 2, "database_url": store_url, **configured})
        if warm_cache.is_dir():
            shutil.copytree(warm_cache, settings.var_dir / "cache", dirs_exist_ok=True)
        service = ServiceState(settings, Store.open(store_url))
        service.load()
        assert service.pipeline is not None, service.load_error
        if not warm_cache.is_dir():
            shutil.copytree(settings.var_dir / "cache", warm_cache)
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
    assert [(t, tag) for _, t, tag in one.store.tag_corrections(one.scope)] == [(text, target)]
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
    stored = store.tag_corrections(corrections_scope(settings))  # the file was this var/'s: the service's scope
    assert [tag for _, _, tag in stored] == ["refund_status", "payment_info"]
    assert "010-9876-5432" not in stored[0][1]
    assert not settings.corrections_file.exists()
    assert store.tag_corrections(LEGACY_SCOPE) == [] and store.unscoped_corrections() == 0
    kb = KnowledgeBase.open(settings, store=store)
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


@pytest.fixture
def elsewhere(own_kb, tmp_path):
    """Another KB (the same content in another folder) and another taxonomy file with the very same tags: as
    far as the tagger goes, only the scope tells them from the first one."""
    other_kb = tmp_path / "other-kb"
    shutil.copytree(own_kb, other_kb, symlinks=True)
    other_taxonomy = tmp_path / "other" / "taxonomy.yaml"
    other_taxonomy.parent.mkdir()
    shutil.copy(DEMO_DIR / "taxonomy.yaml", other_taxonomy)
    return other_kb, other_taxonomy


def tag(service: ServiceState, text: str) -> str | None:
    return service.ready_pipeline().assess(Message(text=text), draft=False)[0].tag


def corrected(before: str | None) -> str:
    return "payment_info" if before != "payment_info" else "delivery_info"


def test_a_correction_is_learned_in_its_scope_only(replicas, elsewhere):
    other_kb, other_taxonomy = elsewhere
    one, other = replicas("one"), replicas("other-taxonomy", taxonomy=other_taxonomy)
    text = "배송지 바꾸면 환불 받을 수 있나요"
    before = tag(one, text)
    assert tag(other, text) == before, "the same KB and the same tags: the same tag"
    target = corrected(before)
    one.inbox.correct_tag(text, target, "x1")
    other.follower.follow(force=True)  # live: the follower looks, and finds nothing of its scope
    assert tag(other, text) == before
    started = [replicas("one-again"), replicas("other-taxonomy-again", taxonomy=other_taxonomy),
               replicas("other-kb", kb_dir=other_kb)]  # at start: trained with their scope's corrections
    assert [tag(service, text) for service in started] == [target, before, before]
    assert len({service.scope for service in (one, *started)}) == 3
    assert [t for _, _, t in one.store.tag_corrections(one.scope)] == [target]
    assert one.store.tag_corrections(other.scope) == one.store.tag_corrections(started[2].scope) == []


def test_a_verdict_on_another_taxonomy_is_not_learned_here(replicas, elsewhere):
    _, other_taxonomy = elsewhere
    one, other = replicas("one"), replicas("other", taxonomy=other_taxonomy)
    text = "쿠폰을 썼는데 결제 금액이 그대로예요"
    intake = other.inbox.take(message("v1", text, "c-v", T0))
    target = corrected(intake.result.tag)
    other.inbox.decide(intake.suggestion_id, FeedbackIn(action="reject", tag=target), "agent-a")
    assert tag(other, text) == target
    assert [t for _, _, t in other.store.tag_corrections(other.scope)] == [target]
    one.follower.follow(force=True)
    assert tag(one, text) == intake.result.tag and one.store.tag_corrections(one.scope) == []


def test_a_reload_to_another_taxonomy_switches_the_scope(replicas, elsewhere):
    _, other_taxonomy = elsewhere
    one, other = replicas("one"), replicas("other", taxonomy=other_taxonomy)
    first, second = "배송지 바꾸면 환불 받을 수 있나요", "쿠폰을 썼는데 결제 금액이 그대로예요"
    before_first, before_second = tag(one, first), tag(one, second)
    other.inbox.correct_tag(first, corrected(before_first))  # the other taxonomy's, before the switch
    first_scope = one.ready_pipeline().kb.scope
    one.serve(one.open_pipeline(KnowledgeBase.open(one.settings, taxonomy=other_taxonomy, store=one.store)))
    assert one.ready_pipeline().kb.scope == other.scope != first_scope
    assert tag(one, first) == corrected(before_first)  # trained with the other taxonomy's corrections
    one.inbox.correct_tag(second, corrected(before_second))  # recorded in the scope served now
    assert [t for _, t, _ in one.store.tag_corrections(other.scope)] == [first, second]
    assert one.store.tag_corrections(first_scope) == []
    one.store.add_correction(first, "login_problem" if before_first != "login_problem" else "delivery_info",
                             first_scope)  # a replica still on the first taxonomy
    one.follower.follow(force=True)  # the switched one follows the other taxonomy's only
    assert tag(one, first) == corrected(before_first)


def test_the_command_line_learns_the_corrections_of_its_kb_and_taxonomy_only(elsewhere, own_kb, tmp_path,
                                                                           store_url):
    from triage.cli import service_pipeline
    from triage.config import Settings

    other_kb, other_taxonomy = elsewhere
    settings = Settings(var_dir=tmp_path / "var", database_url=store_url)
    text = "배송지 바꾸면 환불 받을 수 있나요"
    before = service_pipeline(settings, other_kb, DEMO_DIR / "taxonomy.yaml").run(Message(text=text)).tag
    store = Store.open(store_url)  # a service on own_kb with the demo taxonomy took a correction
    store.add_correction(text, corrected(before), corrections_scope(settings, own_kb, DEMO_DIR / "taxonomy.yaml"))
    store.close()
    # as `triage batch --kb … --taxonomy …` would run
    assert service_pipeline(settings, own_kb, DEMO_DIR / "taxonomy.yaml").run(Message(text=text)).tag \
        == corrected(before)
    assert service_pipeline(settings, own_kb, other_taxonomy).run(Message(text=text)).tag == before
    assert service_pipeline(settings, other_kb, DEMO_DIR / "taxonomy.yaml").run(Message(text=text)).tag == before


def test_corrections_stored_before_scopes_are_learned_here_only_once_adopted(replicas, caplog):
    import re

    from sqlalchemy import text as sql

    probe = replicas("probe")
    text = "배송지 바꾸면 환불 받을 수 있나요"
    before = tag(probe, text)
    with probe.store.engine.begin() as connection:  # an earlier version's row, as migration 0005 leaves it
        connection.execute(sql("INSERT INTO tag_corrections (text, tag, created_at) VALUES (:t, :g, :at)"),
                           {"t": text, "g": corrected(before), "at": T0})
    with caplog.at_level("WARNING", logger="triage.service"):
        one = replicas("one")  # not the demo: they are not its corrections
    assert tag(one, text) == before
    [update] = re.findall(r"UPDATE tag_corrections SET scope = '\w+' WHERE scope IS NULL", caplog.text)
    assert one.scope in update
    with one.store.engine.begin() as connection:  # what the warning says to do
        connection.execute(sql(update))
    assert tag(replicas("two"), text) == corrected(before)


def test_an_accepted_faq_entry_is_every_replicas_and_an_earlier_file_is_imported_once(replicas, tmp_path):
    import yaml

    from knowledge.errors import SourceError
    from knowledge.gaps import FaqDraft
    from knowledge.sources import load_faq_files
    from triage.errors import ConflictError

    # a file an earlier version appended to under one replica's var/, with one unfinished entry
    legacy = tmp_path / "one" / "faq" / "accepted.yaml"
    legacy.parent.mkdir(parents=True)
    legacy.write_text(yaml.safe_dump([
        {"id": "gift-wrap", "question": "선물 포장 되나요?", "answer": "주문서에서 선물 포장을 고르시면 돼요."},
        {"id": "half-done", "question": "해외 배송 되나요?", "answer": "[확인 필요: 해외 배송]"}],
        allow_unicode=True), encoding="utf-8")
    one, two = replicas("one"), replicas("two")
    assert one.accepted_faq() == {"선물 포장 되나요?": "gift-wrap"} == two.accepted_faq()
    draft = FaqDraft(question="알바 채용하나요?", examples=["아르바이트 구해요?"],
                     answer="채용 공고는 홈페이지에 올려요.")
    path = one.accept_faq("recruiting", draft, ["feedback"], "agent-kim")
    assert two.accepted_faq()["알바 채용하나요?"] == "recruiting"  # the other replica sees it at once
    assert [e.id for e in load_faq_files([path])] == ["gift-wrap", "recruiting"]  # the file kb build takes
    with pytest.raises(ConflictError, match="exists already"):
        two.accept_faq("recruiting", draft, [])
    with pytest.raises(SourceError, match="no finished answer"):
        two.accept_faq("overseas", FaqDraft(question="해외 배송?", answer="[확인 필요: 정책]"), [])
    # a restart reads the earlier file again and adds nothing twice
    again = replicas("one")
    assert list(again.accepted_faq().values()) == ["gift-wrap", "recruiting"]
