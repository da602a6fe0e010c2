"""The labeled-file eval and the tag cross-validation on a real small KB with the demo taxonomy."""

from __future__ import annotations

import json

import pytest

from evals.triage_evals import labeled, read_labeled_messages, tag_cross_validation
from knowledge.samples import DEMO_DIR
from triage.errors import InputError
from triage.kb import KnowledgeBase
from triage.pipeline import Pipeline

ROWS = [
    ("카드로 결제한 거 환불 언제 들어와요?", "refund-card", "refund_status", "P3"),
    ("무통장 입금 환불은 며칠 걸려요?", "refund-bank", "refund_status", "P3"),
    ("새벽배송 몇 시까지 주문해야 내일 와요?", "dawn-delivery-cutoff", "delivery_info", "P3"),
    ("비밀번호를 잊어버렸어요 어떻게 찾아요", "password-reset", "login_problem", "P3"),
    ("결제하면 E1023 오류가 떠요", "error-e1023", "payment_failed", "P2"),
    ("멤버십 가격이 얼마예요?", "membership-price", "membership_points", "P3"),
    ("내일 비 와요?", None, "needs_review", "P4"),
    ("카드 환불이 아직도 안 들어왔어요", "refund-card", "refund_status", "P2"),
]


@pytest.fixture(scope="module")
def demo_tagged_kb(small_kb, tmp_path_factory):
    from triage.config import Settings

    settings = Settings(kb_dir=small_kb, var_dir=tmp_path_factory.mktemp("var"), taxonomy=DEMO_DIR / "taxonomy.yaml")
    return KnowledgeBase.open(settings), settings


def write_rows(path):
    path.write_text("".join(json.dumps({"id": f"r{i}", "text": t, "expected_faq_id": f, "expected_tag": g,
                                        "expected_priority": p}, ensure_ascii=False) + "\n"
                            for i, (t, f, g, p) in enumerate(ROWS)), encoding="utf-8")
    return path


def test_labeled_report_scores_answers_tags_and_priorities(demo_tagged_kb, tmp_path):
    kb, settings = demo_tagged_kb
    rows = read_labeled_messages(write_rows(tmp_path / "labeled.jsonl"), 2000)
    report = labeled(Pipeline(kb, settings.repeat_window), rows, log=lambda _: None)
    assert report["messages"] == len(ROWS) and report["answer"]["answerable"] == 7
    assert report["answer"]["top1_accuracy"] >= 0.7
    assert report["tag"]["n"] == len(ROWS) and report["tag"]["accuracy"] >= 0.6
    assert 0 <= report["priority"]["exact"] <= report["priority"]["within_one"] <= 1
    assert report["latency_ms"]["p50"] > 0


def test_cross_validation_tags_each_fold_with_the_others(demo_tagged_kb, tmp_path):
    kb, settings = demo_tagged_kb
    rows = read_labeled_messages(write_rows(tmp_path / "labeled.jsonl"), 2000)
    report = tag_cross_validation(kb, rows, settings.var_dir / "cv-cache", folds=2)
    assert report["messages"] == len(ROWS) and report["priority"]["n"] == len(ROWS)
    assert report["tag_accuracy"] >= 0.6  # the FAQ phrasings alone carry most of these


def test_a_bad_labeled_line_is_named(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "환불"}\n{"text": ""}\nnot json\n', encoding="utf-8")
    with pytest.raises(InputError) as caught:
        read_labeled_messages(path, 2000)
    assert f"{path}:2:" in str(caught.value) and f"{path}:3:" in str(caught.value)


def test_p1_precision_and_recall_count_what_was_made_p1_against_what_really_was():
    from evals.triage_evals import _p1_metrics
    from evals.unseen import unseen_markdown

    pairs = [("P1", "P1"), ("P2", "P1"), ("P3", "P1"), ("P1", "P2"), ("P4", "P4")]
    assert _p1_metrics(pairs) == {"p1_precision": 0.3333, "p1_recall": 0.5, "p1_made": 3, "p1_real": 2}
    assert _p1_metrics([("P3", "P3")])["p1_precision"] is None  # nothing made P1: no precision to speak of
    run = {"answer": {"urgent": 4, "urgent_auto_answered": 1, "p1_auto_answered": 0},
           "tag": {"accuracy": 0.7, "needs_review_share": 0.3, "accuracy_when_not_reviewed": 0.9},
           "priority": {"exact": 0.6, "within_one": 0.9, **_p1_metrics(pairs)}}
    text = unseen_markdown({"sets": [{"set": "shop", "note": "n", "entries": 3, "build_seconds": 1.0,
                                      "calibration": {"threshold": 0.85}, "no_labels": run}]})
    assert "| 0.333 (3) | 0.500 (2) | 1 of 4 urgent |" in text
    # the one allowed exception is told apart: an urgent message answered by the KB's self-service entry
    run["answer"]["urgent_self_service"] = 1
    text = unseen_markdown({"sets": [{"set": "shop", "note": "n", "entries": 3, "build_seconds": 1.0,
                                      "calibration": {"threshold": 0.85}, "no_labels": run}]})
    assert "| 1 of 4 urgent (1 by a self-service entry) |" in text


def test_urgent_messages_answered_by_a_self_service_entry_are_counted_apart():
    from types import SimpleNamespace

    from evals.triage_evals import _answer_metrics

    rows = [(None, {"expected_faq_id": "paid-no-order", "urgent": True}),
            (None, {"expected_faq_id": "how-to-cancel", "urgent": True}),
            (None, {"expected_faq_id": None, "urgent": True})]
    results = [SimpleNamespace(decision="auto_answer", faq_id="paid-no-order", candidate_faq_id="paid-no-order"),
               SimpleNamespace(decision="auto_answer", faq_id="how-to-cancel", candidate_faq_id="how-to-cancel"),
               SimpleNamespace(decision="handoff", faq_id=None, candidate_faq_id="how-to-cancel")]
    answer = _answer_metrics(rows, results, {"paid-no-order"})["answer"]
    assert (answer["urgent"], answer["urgent_auto_answered"], answer["urgent_self_service"]) == (3, 2, 1)
