from __future__ import annotations

import numpy as np
import pytest

from knowledge.search import Hit, SearchResult
from triage.stages.answering import (
    FEATURES,
    Answerer,
    AnswerModel,
    features,
    fit_answer_model,
    label_outcomes,
    prior_weights,
    threshold_for_handoff_recall,
    threshold_for_precision,
    wilson_lower,
)


def hit(entry_id: str, score: float, lexical: float = 0.0, dense: float | None = None) -> Hit:
    return Hit(entry_id=entry_id, kind="faq", title=entry_id, text=f"answer {entry_id}", matched=entry_id,
               chunk_id=f"{entry_id}@0", score=score, dense=score if dense is None else dense, lexical=lexical)


def test_features_compare_with_the_next_different_entry():
    feats = features([hit("a", 0.70, lexical=0.5, dense=0.90), hit("b", 0.20, 1.0, dense=0.92), hit("c", 0.1)])
    assert feats == pytest.approx({"score": 0.70, "margin": 0.50, "dense": 0.90, "dense_margin": -0.02,
                                   "lexical": 0.5, "lexical_top": 0.0})
    assert features([]) == dict.fromkeys(FEATURES, 0.0)


def test_threshold_for_precision_needs_enough_evidence():
    conf = np.linspace(1.0, 0.01, 100)
    # 100 right answers: the lower bound (0.984) clears 0.95, so everything may be answered
    assert threshold_for_precision(conf, np.ones(100, bool), 0.95) == pytest.approx(0.01)
    # 20 right answers are too few to vouch for 0.95 (lower bound 0.924)
    assert threshold_for_precision(conf[:20], np.ones(20, bool), 0.95) == 1.0
    # 60 right answers then only mistakes: the cut takes all 60 and stops within a few mistakes
    correct = np.arange(100) < 60
    assert conf[70] < threshold_for_precision(conf, correct, 0.9) <= conf[59]
    assert threshold_for_precision(conf, np.zeros(100, bool), 0.9) == 1.0


def test_handoff_recall_threshold_hands_off_enough_unanswerable_messages():
    conf = np.linspace(0.0, 0.99, 100)
    cut = threshold_for_handoff_recall(conf, 0.9)
    handed_off = (conf < cut).mean()
    assert handed_off >= 0.9 and wilson_lower(handed_off, 100) >= 0.9
    assert wilson_lower((conf < cut - 0.0101).mean(), 100) < 0.9  # one fewer is not enough
    assert threshold_for_handoff_recall(np.array([]), 0.9) == 0.0
    assert threshold_for_handoff_recall(conf[:5], 0.9) == 1.0  # 5 labels cannot vouch for 0.9


def synthetic_rows(n: int = 200, seed: int = 0):
    rng = np.random.default_rng(seed)
    rows, correct = [], []
    for _ in range(n):
        good = rng.random() < 0.6
        top = rng.normal(0.9 if good else 0.82, 0.02)
        margin = abs(rng.normal(0.04 if good else 0.01, 0.01))
        lexical = float(rng.random() < (0.7 if good else 0.3))
        rows.append({"score": top, "margin": margin, "dense": top, "dense_margin": margin, "lexical": lexical,
                     "lexical_top": lexical})
        correct.append(bool(good))
    return rows, correct


def test_fitted_model_meets_the_target_on_its_rows_and_round_trips():
    rows, correct = synthetic_rows()
    share = 1 - sum(correct) / len(correct)  # the labels' own no-answer share: every row weighs 1
    model = fit_answer_model(rows, correct, correct, 0.95, no_answer_share=share, meta={"embedder": "x"})
    chosen = [c for r, c in zip(rows, correct, strict=True) if model.confidence(r) >= model.threshold]
    assert sum(chosen) / len(chosen) >= 0.95
    assert model.meta["fit_precision"] >= 0.95 and model.meta["n_labels"] == 200
    again = AnswerModel.from_dict(model.to_dict())
    assert again.confidence(rows[0]) == pytest.approx(model.confidence(rows[0]))
    assert model.to_dict()["features"] == list(FEATURES)


def test_prior_weights_match_the_expected_no_answer_share():
    answerable = [True] * 90 + [False] * 10
    w = prior_weights(answerable, 0.3)
    assert w[90:].sum() / w.sum() == pytest.approx(0.3) and w.sum() == pytest.approx(100)
    assert (prior_weights([True] * 5, 0.3) == 1).all()


def test_more_expected_no_answers_means_a_stricter_threshold():
    rows, correct = synthetic_rows(400, seed=3)
    lenient = fit_answer_model(rows, correct, correct, 0.95, no_answer_share=0.05)
    strict = fit_answer_model(rows, correct, correct, 0.95, no_answer_share=0.6)
    def answered(model: AnswerModel) -> int:
        return sum(model.confidence(r) >= model.threshold for r in rows)

    assert answered(strict) < answered(lenient)


def test_calibration_refuses_too_few_or_one_sided_labels():
    rows, correct = synthetic_rows(10)
    with pytest.raises(ValueError, match="at least 20"):
        fit_answer_model(rows, correct, correct, 0.95)
    rows, _ = synthetic_rows(50)
    with pytest.raises(ValueError, match="both answerable and not"):
        fit_answer_model(rows, [True] * 50, [True] * 50, 0.95)


def decide(hits):
    rows, correct = synthetic_rows()
    result = SearchResult(query="q", faq_hits=hits, doc_hits=[], vector=np.zeros(4, np.float32))
    return Answerer(fit_answer_model(rows, correct, correct, 0.95)).decide(result)


def test_clear_match_is_answered_with_its_reason():
    d = decide([hit("a", 0.95, 1.0), hit("b", 0.80)])
    assert d.decision == "auto_answer" and d.hit.entry_id == "a" and "'a' matched" in d.reason


def test_close_runner_up_is_an_ambiguous_handoff_naming_both():
    d = decide([hit("a", 0.84), hit("b", 0.835)])
    assert d.decision == "handoff" and d.hit.entry_id == "a"
    assert "ambiguous" in d.reason and "'b'" in d.reason


def test_weak_match_hands_off_and_nothing_hands_off():
    assert "no FAQ entry answers it confidently" in decide([hit("a", 0.78), hit("b", 0.76)]).reason
    d = decide([])
    assert d.decision == "handoff" and d.hit is None and d.confidence == 0.0


def test_label_outcomes_count_an_answer_to_an_unanswerable_message_as_wrong():
    correct, answerable = label_outcomes(["a", "b", "c", None], ["a", "x", None, None])
    assert correct == [True, False, False, False]
    assert answerable == [True, True, False, False]


def test_equal_confidences_are_answered_or_handed_off_together():
    from triage.stages.answering import threshold_for_precision

    # one question judged right 40 times, then another at a lower confidence judged right 3 times and wrong 9 times:
    # counting only its first three rows, the running precision would still look fine
    confidence = np.array([0.99] * 40 + [0.80] * 12)
    correct = np.array([True] * 43 + [False] * 9)
    assert threshold_for_precision(confidence, correct, 0.9) == 0.99
    assert threshold_for_precision(confidence, np.ones(52, dtype=bool), 0.9) == 0.80
