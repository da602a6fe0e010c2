"""Calibration from a KB's own content: held-out phrasings, never a borrowed model."""

from __future__ import annotations

import json

import pytest
import yaml

from knowledge.index import load_snapshot, resolve
from knowledge.samples import DEMO_DIR
from tests.conftest import FIXTURES
from triage.calibration import (
    SELF_TARGET_PRECISION,
    Asked,
    held_out_queries,
    held_out_rounds,
    self_calibrate,
    shortened,
)
from triage.config import Settings
from triage.kb import KnowledgeBase, build_kb


@pytest.fixture(scope="module")
def faq_kb(tmp_path_factory):
    """A real KB of the demo FAQ's first 36 entries (enough phrasings to calibrate itself), built the way
    `triage kb build` builds."""
    work = tmp_path_factory.mktemp("self-calibrated")
    entries = yaml.safe_load((DEMO_DIR / "faq.yaml").read_text(encoding="utf-8"))[:36]
    faq = work / "faq.yaml"
    faq.write_text(yaml.safe_dump(entries, allow_unicode=True), encoding="utf-8")
    settings = Settings(var_dir=work / "var", kb_dir=work / "index")
    build_kb(settings, work / "index", [faq])
    return settings, entries


def test_a_build_stores_a_calibration_fitted_on_its_own_phrasings(faq_kb):
    settings, _ = faq_kb
    snapshot = load_snapshot(settings.kb_dir)
    stored = json.loads((resolve(settings.kb_dir) / "calibration.json").read_text())
    summary = snapshot.manifest["calibration"]
    assert stored["source"] == summary["source"] == "self"
    assert summary["held_out_answerable"] >= 30 and summary["held_out_unanswerable"] > 0
    assert 0 < summary["threshold"] < 1 and summary["target_precision"] == SELF_TARGET_PRECISION
    kb = KnowledgeBase.open(settings)
    assert kb.calibrated and kb.answerer.model.threshold == stored["threshold"]


def test_no_held_out_phrasing_meets_itself_and_held_out_entries_are_absent(faq_kb, embedder):
    settings, entries = faq_kb
    snapshot = load_snapshot(settings.kb_dir, embedder)
    held = held_out_queries(snapshot, embedder)
    unanswerable = len(held.rows) - sum(held.answerable)
    # entries held out whole in the rounds run: all their phrasings are asked, each once
    phrasings = sum(1 + len(e.get("examples", [])) for e in entries)
    assert 0.4 * phrasings <= unanswerable <= 0.8 * phrasings
    # a phrasing asked of a KB that still held it would match itself exactly (similarity 1.0)
    assert max(r["dense"] for r in held.rows) < 0.999
    assert not any(c and not a for c, a in zip(held.correct, held.answerable, strict=True))


def test_the_same_kb_calibrates_to_the_same_model(faq_kb, embedder):
    settings, _ = faq_kb
    snapshot = load_snapshot(settings.kb_dir, embedder)
    assert self_calibrate(snapshot, embedder).threshold == self_calibrate(snapshot, embedder).threshold


def test_a_self_calibrated_kb_answers_its_questions_and_hands_off_the_rest(faq_kb):
    from triage.models import Message
    from triage.pipeline import Pipeline

    settings, entries = faq_kb
    pipeline = Pipeline.for_settings(KnowledgeBase.open(settings), settings)
    asked = pipeline.run(Message(id="q", text=entries[0]["examples"][0]))
    assert asked.decision == "auto_answer" and asked.faq_id == entries[0]["id"]
    off_topic = pipeline.run(Message(id="o", text="오늘 저녁 메뉴 뭐 먹을지 추천해 줄래?"))
    assert off_topic.decision == "handoff"


def test_too_few_phrasings_hand_everything_off_and_say_why(tmp_path):
    from triage.models import Message
    from triage.pipeline import Pipeline

    settings = Settings(var_dir=tmp_path / "var", kb_dir=tmp_path / "index")
    build_kb(settings, tmp_path / "index", [FIXTURES / "faq_small.yaml"])
    summary = load_snapshot(settings.kb_dir).manifest["calibration"]
    assert "add example phrasings" in summary["why_no_answers"]
    result = Pipeline.for_settings(KnowledgeBase.open(settings), settings).run(
        Message(id="m", text="카드 결제 취소하면 환불은 언제 돼요?"))
    assert result.decision == "handoff" and result.handoff_reason == "not_calibrated"
    assert result.candidate_faq_id == "refund-card"  # the match is still shown to the agent
    assert "add example phrasings" in result.decision_reason


def test_a_snapshot_without_calibration_is_calibrated_from_itself_not_from_the_demo(tmp_path, embedder):
    from knowledge.index import build_snapshot

    build_snapshot(tmp_path / "index", embedder, [FIXTURES / "faq_small.yaml"])
    kb = KnowledgeBase.open(Settings(var_dir=tmp_path / "var", kb_dir=tmp_path / "index"))
    assert not kb.calibrated and kb.answerer.model.meta["source"] == "self"


def test_every_round_thins_every_entry_it_asks_of_not_only_the_asked_one(faq_kb, embedder):
    settings, _ = faq_kb
    snapshot = load_snapshot(settings.kb_dir, embedder)
    lone = snapshot.entry_rows[next(iter(snapshot.entry_rows))][:1]  # as if the first entry had no examples
    snapshot.entry_rows[next(iter(snapshot.entry_rows))] = lone
    for asked in held_out_rounds(snapshot):
        hidden = {a.row for a in asked if not a.shortened}
        whole = {snapshot.chunks[a.row].entry_id for a in asked if a.expected is None}
        for entry_id, rows in snapshot.entry_rows.items():
            if entry_id in whole:
                assert hidden.issuperset(rows)  # held out whole: every phrasing asked, none left to find
            elif len(rows) >= 2:
                # the entry to find and its competitors all lose a phrasing, and all keep one
                assert hidden & set(rows) and set(rows) - hidden
            else:
                # a lone phrasing stays (nothing else could stand for its entry) and is asked shortened
                assert not hidden & set(rows)
                assert [a for a in asked if a.row == rows[0]] == [Asked(rows[0], entry_id, True)]


def test_a_lone_question_is_asked_with_words_dropped_the_same_way_every_time():
    question = "해외에서 결제한 카드 금액은 언제 환불되나요"
    asked = shortened(question)
    assert asked == shortened(question) and asked is not None
    assert 0 < len(asked.split()) < len(question.split()) and set(asked.split()) < set(question.split())
    assert shortened("환불 언제") is None  # too short to lose a word and still ask something


# ---------------------------------------------------------------- agents' and customers' verdicts

def judged_questions(kb, embedder):
    """The small KB's phrasings it auto-answers with their own entry, least confident first, and its model."""
    from knowledge.search import Searcher
    from triage.kb import answer_model
    from triage.stages.answering import features

    snapshot = load_snapshot(kb, embedder)
    searcher = Searcher(snapshot, embedder)
    model, _ = answer_model(snapshot, embedder)
    answered = []
    for chunk in snapshot.chunks:
        hits = searcher.search(chunk.text, k=8).faq_hits if chunk.kind == "faq" else []
        if hits and hits[0].entry_id == chunk.entry_id and model.confidence(features(hits)) >= model.threshold:
            answered.append((model.confidence(features(hits)), chunk.text, chunk.entry_id))
    return searcher, model, sorted(answered)


def test_verdicts_raise_the_threshold_above_the_answers_turned_down_and_keep_it_otherwise(tmp_path, embedder,
                                                                                          store_url):
    from tests.conftest import build_small_kb
    from triage.calibration import refine_with_verdicts
    from triage.models import BotOutcomeIn
    from triage.stages.answering import wilson_lower
    from triage.store import Store

    searcher, model, answered = judged_questions(build_small_kb(tmp_path / "index", embedder), embedder)
    assert len(answered) >= 9
    store = Store.open(store_url)
    for _, question, faq_id in answered:
        for _ in range(3):
            store.record_bot_outcome(BotOutcomeIn(faq_id=faq_id, auto_answered=True, helpful=True, question=question))
    store.record_bot_outcome(BotOutcomeIn(faq_id="not-in-this-kb", auto_answered=True, helpful=False, question="x"))

    kept = refine_with_verdicts(searcher, model, store.answer_verdicts())
    assert kept.threshold == model.threshold and kept.meta["verdict_precision"] == 1.0
    assert kept.meta["verdicts"] == 3 * len(answered)  # the entry this KB lacks is not counted

    turned_down = answered[: len(answered) // 3]  # customers found the least confident third unhelpful
    for _, question, faq_id in turned_down:
        for _ in range(6):
            store.record_bot_outcome(BotOutcomeIn(faq_id=faq_id, auto_answered=True, helpful=False,
                                                  question=question))
    refined = refine_with_verdicts(searcher, model, store.answer_verdicts())
    assert refined.threshold > model.threshold
    assert refined.threshold <= answered[-1][0]  # the most confident answers still go out
    # what it still answers meets the target precision (0.9 for this model) at the lower bound, as labels would
    still = [(c, q) for c, q, _ in answered if c >= refined.threshold]
    wrong = sum(6 for c, q in still if any(q == t for _, t, _ in turned_down))
    assert 0 < len(still) < len(answered)
    assert wilson_lower((3 * len(still)) / (3 * len(still) + wrong), 3 * len(still) + wrong) >= 0.9
    assert refined.meta["threshold_before_verdicts"] == model.threshold and refined.weights == model.weights
    store.close()


def test_too_few_verdicts_are_named_and_change_nothing(tmp_path, embedder, small_kb):
    from triage.calibration import refine_with_verdicts
    from triage.errors import InputError
    from triage.store.repository import AnswerVerdict

    searcher, model, answered = judged_questions(small_kb, embedder)
    verdicts = [AnswerVerdict(question, faq_id, False) for _, question, faq_id in answered[:3]]
    with pytest.raises(InputError, match=r"3 judged auto-answers that this KB would still give \(20 needed"):
        refine_with_verdicts(searcher, model, verdicts)


def test_calibrate_with_verdicts_stores_the_refined_model(tmp_path, embedder, monkeypatch):
    from typer.testing import CliRunner

    from tests.conftest import build_small_kb
    from triage.cli import app
    from triage.models import BotOutcomeIn
    from triage.store import Store

    kb = build_small_kb(tmp_path / "index", embedder)
    _, _, answered = judged_questions(kb, embedder)
    url = f"sqlite:///{tmp_path}/triage.db"
    monkeypatch.setenv("TRIAGE_DATABASE_URL", url)
    runner = CliRunner()
    neither = runner.invoke(app, ["calibrate", "--kb", str(kb)])
    assert neither.exit_code == 2 and "--labels FILE" in neither.output and "--verdicts" in neither.output
    store = Store.open(url)
    for _, question, faq_id in answered * 3:
        store.record_bot_outcome(BotOutcomeIn(faq_id=faq_id, auto_answered=True, helpful=False, question=question))
    store.close()

    result = runner.invoke(app, ["calibrate", "--verdicts", "--kb", str(kb)])

    assert result.exit_code == 0, result.output
    assert f"{3 * len(answered)} judged auto-answers, 0.000 right: never auto-answers" in result.output
    stored = json.loads((resolve(kb) / "calibration.json").read_text())
    assert stored["refined_by"] == "verdicts" and stored["threshold"] > 1.0 and stored["source"] == "labels"
