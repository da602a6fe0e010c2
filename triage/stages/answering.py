"""Auto-answer or hand off: a calibrated decision over search evidence (Rasa-style threshold + ambiguity gap).

Features of the best FAQ hit: its ranking score and similarity, their margins to the next *different*
entry, and keyword (BM25) agreement. A logistic model turns them into the probability that the top entry
really answers the message; ``triage calibrate`` fits it on labeled messages and picks the threshold (see
``fit_answer_model``: precision and hand-off recall judged at their lower confidence bounds, labels weighted
to the expected share of unanswerable traffic). ``triage kb build`` fits it on the KB's own phrasings
(``triage.calibration.self_calibrate``) and ``triage calibrate --labels`` on labeled messages; it is stored
with the index snapshot (``calibration.json``). The demo KB ships the model fitted on its labels.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from knowledge.samples import DEMO_DIR
from knowledge.search import Hit, SearchResult
from triage.models import DecisionName, HandoffReason

FEATURES = ("score", "margin", "dense", "dense_margin", "lexical", "lexical_top")
DEFAULT_MODEL_FILE = DEMO_DIR / "answer_model.json"
AMBIGUOUS_MARGIN = 0.015  # below this similarity gap the top two entries are reported as competing


def features(faq: list[Hit]) -> dict[str, float]:
    """Evidence about the best FAQ hit: its ranking score and similarity, their margins to the next
    different entry, and keyword agreement."""
    if not faq:
        return dict.fromkeys(FEATURES, 0.0)
    top, rest = faq[0], faq[1:]
    return {
        "score": top.score,
        "margin": top.score - (rest[0].score if rest else 0.0),
        "dense": top.dense,
        "dense_margin": top.dense - max((h.dense for h in rest), default=0.0),
        "lexical": top.lexical,
        "lexical_top": 1.0 if top.lexical > 0 and top.lexical >= max((h.lexical for h in rest), default=0.0)
        else 0.0,
    }


@dataclass
class AnswerModel:
    """Standardized logistic regression over ``FEATURES`` plus a threshold on its probability."""

    weights: list[float]
    bias: float
    mean: list[float]
    scale: list[float]
    threshold: float
    meta: dict[str, Any]

    def confidence(self, feats: dict[str, float]) -> float:
        x = (np.array([feats[f] for f in FEATURES]) - np.array(self.mean)) / np.array(self.scale)
        z = float(np.dot(self.weights, x) + self.bias)
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    def to_dict(self) -> dict[str, Any]:
        return {"features": list(FEATURES), "weights": self.weights, "bias": self.bias, "mean": self.mean,
                "scale": self.scale, "threshold": self.threshold, **self.meta}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AnswerModel:
        if tuple(data.get("features", ())) != FEATURES:
            raise ValueError(f"answer model has features {data.get('features')}, expected {list(FEATURES)}")
        meta = {k: v for k, v in data.items() if k not in {"features", "weights", "bias", "mean", "scale", "threshold"}}
        return cls(weights=list(data["weights"]), bias=float(data["bias"]), mean=list(data["mean"]),
                   scale=list(data["scale"]), threshold=float(data["threshold"]), meta=meta)

    @classmethod
    def load(cls, path: Path) -> AnswerModel:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


@dataclass
class Decision:
    decision: DecisionName
    confidence: float
    reason: str
    hit: Hit | None  # the best FAQ hit (answered with, or the candidate when handing off)
    features: dict[str, float]
    handoff_reason: HandoffReason | None = None  # the code of ``reason`` for a hand-off


class Answerer:
    def __init__(self, model: AnswerModel) -> None:
        self.model = model

    def decide(self, result: SearchResult) -> Decision:
        faq = result.faq_hits
        feats = features(faq)
        if not faq:
            return Decision("handoff", 0.0, "no FAQ entry matched the message", None, feats, "no_match")
        top = faq[0]
        confidence = self.model.confidence(feats)
        threshold = self.model.threshold
        if threshold > 1.0:
            why = self.model.meta.get("why_no_answers", "the calibration allows no auto-answer")
            return Decision("handoff", confidence, f"never auto-answered on this KB: {why}", top, feats,
                            "not_calibrated")
        if confidence >= threshold:
            reason = (f"confidence {confidence:.2f} ≥ {threshold:.2f}: '{top.entry_id}' matched "
                      f"(score {feats['score']:.3f}, similarity {feats['dense']:.3f}, margin {feats['margin']:.3f})")
            return Decision("auto_answer", confidence, reason, top, feats)
        code: HandoffReason
        if len(faq) > 1 and feats["dense_margin"] < AMBIGUOUS_MARGIN:
            code, reason = "ambiguous", (
                f"ambiguous: '{top.entry_id}' and '{faq[1].entry_id}' are almost equally close "
                f"(similarity margin {feats['dense_margin']:.3f}); confidence {confidence:.2f} < {threshold:.2f}")
        else:
            code, reason = "not_confident", (
                f"no FAQ entry answers it confidently: best '{top.entry_id}' "
                f"(similarity {feats['dense']:.3f}); confidence {confidence:.2f} < {threshold:.2f}")
        return Decision("handoff", confidence, reason, top, feats, code)


NO_ANSWER_SHARE = 0.3  # assumed share of incoming messages the KB cannot answer (see prior_weights)
MIN_HANDOFF_RECALL = 0.9  # share of unanswerable messages that must be handed off
CONFIDENCE_Z = 1.28  # rates are judged by their one-sided 90% Wilson lower bound, not the point estimate


def label_outcomes(tops: list[str | None], expected: list[str | None]) -> tuple[list[bool], list[bool]]:
    """From the top FAQ hit and the labeled answer of each message: (top hit is right, message answerable)."""
    correct = [e is not None and t == e for t, e in zip(tops, expected, strict=True)]
    return correct, [e is not None for e in expected]


def prior_weights(answerable: list[bool], no_answer_share: float) -> np.ndarray:
    """Row weights that make the labels' no-answer share equal to the share expected in traffic.

    Precision depends on how many unanswerable messages arrive: a threshold chosen on labels with 3%
    of them lets through far more wrong answers when 20% arrive. Weighting the labels to the expected
    share (a deployment assumption, ``--no-answer-share``) keeps the chosen precision honest.
    """
    a = np.array(answerable, dtype=bool)
    if a.all() or not a.any():
        return np.ones(len(a))
    return np.where(a, (1 - no_answer_share) / a.sum(), no_answer_share / (~a).sum()) * len(a)


def fit_answer_model(rows: list[dict[str, float]], correct: list[bool], answerable: list[bool],
                     target_precision: float, no_answer_share: float = NO_ANSWER_SHARE,
                     min_handoff_recall: float = MIN_HANDOFF_RECALL,
                     meta: dict[str, Any] | None = None, pointwise: bool = False) -> AnswerModel:
    """Fit the logistic model on labeled feature rows and choose the threshold.

    ``correct[i]``: the top FAQ hit of message i is the entry that answers it; ``answerable[i]``: some
    entry answers it. The threshold is the stricter of (a) the deepest cut-off whose prior-weighted
    precision meets ``target_precision`` and (b) the lowest cut-off that hands off ``min_handoff_recall``
    of the unanswerable labels, both judged at their lower confidence bound. ``pointwise``: (a) is instead
    the target itself: answer only where the model's own probability that the top entry is right reaches it.
    That rule does not depend on how the rows are spread over the confidence scale, so it holds when the rows
    are not the traffic (the KB's own phrasings, see ``triage.calibration.self_calibrate``).
    """
    from sklearn.linear_model import LogisticRegression

    if len(rows) < 20 or len(set(correct)) < 2:
        raise ValueError("calibration needs at least 20 labeled messages, both answerable and not")
    x = np.array([[r[f] for f in FEATURES] for r in rows], dtype=float)
    y = np.array(correct, dtype=int)
    weights = prior_weights(answerable, no_answer_share)
    mean = x.mean(axis=0)
    scale = np.where(x.std(axis=0) > 1e-9, x.std(axis=0), 1.0)
    clf = LogisticRegression(C=1.0, max_iter=1000).fit((x - mean) / scale, y, sample_weight=weights)
    model = AnswerModel(weights=clf.coef_[0].tolist(), bias=float(clf.intercept_[0]), mean=mean.tolist(),
                        scale=scale.tolist(), threshold=1.0, meta=dict(meta or {}))
    conf = np.array([model.confidence(r) for r in rows])
    precise = target_precision if pointwise else threshold_for_precision(conf, y.astype(bool), target_precision,
                                                                        weights)
    model.threshold = max(precise, threshold_for_handoff_recall(conf[~np.array(answerable, dtype=bool)],
                                                                min_handoff_recall))
    chosen = conf >= model.threshold
    model.meta.update({
        "target_precision": target_precision,
        "threshold_rule": "pointwise" if pointwise else "precision_lower_bound",
        "no_answer_share": no_answer_share,
        "min_handoff_recall": min_handoff_recall,
        "n_labels": len(rows),
        "fit_precision": float(np.average(y[chosen], weights=weights[chosen])) if chosen.any() else None,
        "fit_coverage": float(chosen[y == 1].mean()) if (y == 1).any() else None,
    })
    return model


def never_answer(meta: dict[str, Any]) -> AnswerModel:
    """A model that hands everything off (its threshold is above any confidence); ``meta`` says why."""
    return AnswerModel(weights=[0.0] * len(FEATURES), bias=0.0, mean=[0.0] * len(FEATURES),
                       scale=[1.0] * len(FEATURES), threshold=1.01, meta=meta)


def wilson_lower(rate: np.ndarray | float, n: np.ndarray | float) -> np.ndarray:
    """One-sided lower confidence bound of a rate observed over n (effective) trials."""
    z2 = CONFIDENCE_Z**2
    p, n = np.asarray(rate, dtype=float), np.asarray(n, dtype=float)
    return (p + z2 / (2 * n) - CONFIDENCE_Z * np.sqrt(p * (1 - p) / n + z2 / (4 * n**2))) / (1 + z2 / n)


def threshold_for_precision(confidence: np.ndarray, correct: np.ndarray, target: float,
                            weights: np.ndarray | None = None) -> float:
    """Confidence at the deepest rank whose running weighted precision, at its lower bound, meets the
    target (1.0 when none does). Rows of equal confidence (the same question judged twice) are answered or
    handed off together, so only the last rank of each such group can be the cut."""
    w = np.ones(len(confidence)) if weights is None else np.asarray(weights, dtype=float)
    order = np.argsort(-confidence, kind="stable")
    cum_w = np.cumsum(w[order])
    precision = np.cumsum(correct[order] * w[order]) / cum_w
    effective_n = cum_w**2 / np.cumsum(w[order] ** 2)
    ranked = confidence[order]
    last_of_equals = np.r_[ranked[1:] != ranked[:-1], True]
    ok = np.flatnonzero((wilson_lower(precision, effective_n) >= target) & last_of_equals)
    if ok.size == 0:
        return 1.0
    return float(confidence[order][ok.max()])


def threshold_for_handoff_recall(unanswerable: np.ndarray, target: float) -> float:
    """Lowest cut-off that hands off enough unanswerable messages for the recall's lower bound to meet
    the target (0.0 without such labels, 1.0 when even handing off all of them is not enough)."""
    n = len(unanswerable)
    if n == 0:
        return 0.0
    handed_off = np.arange(1, n + 1)
    enough = np.flatnonzero(wilson_lower(handed_off / n, n) >= target)
    if enough.size == 0:
        return 1.0
    k = int(enough.min()) + 1  # hand off the k least confident: the cut sits just above the k-th
    return float(np.nextafter(np.sort(unanswerable)[k - 1], 2.0))
