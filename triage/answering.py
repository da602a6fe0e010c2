"""Auto-answer or hand off: a calibrated decision over search evidence (Rasa-style threshold + ambiguity gap).

Features of the best FAQ hit: its similarity, the margin to the next *different* entry, and keyword (BM25)
agreement. A logistic model turns them into the probability that the top entry really answers the message;
``triage calibrate`` fits it on labeled messages and picks the lowest threshold whose precision on those
labels meets the target. The model is stored with the index snapshot (``calibration.json``); a snapshot
without one uses the model shipped for the demo KB.
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

FEATURES = ("top", "margin", "lexical", "lexical_top")
DEFAULT_MODEL_FILE = DEMO_DIR / "answer_model.json"
AMBIGUOUS_MARGIN = 0.015  # below this gap the top two entries are reported as competing


def features(hits: list[Hit]) -> dict[str, float]:
    faq = [h for h in hits if h.kind == "faq"]
    if not faq:
        return {"top": 0.0, "margin": 0.0, "lexical": 0.0, "lexical_top": 0.0}
    top = faq[0]
    second = faq[1].score if len(faq) > 1 else 0.0
    best_lexical = max(h.lexical for h in faq)
    return {
        "top": top.score,
        "margin": top.score - second,
        "lexical": top.lexical,
        "lexical_top": 1.0 if top.lexical > 0 and top.lexical >= best_lexical else 0.0,
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
    decision: str  # "auto_answer" | "handoff"
    confidence: float
    reason: str
    hit: Hit | None  # the best FAQ hit (answered with, or the candidate when handing off)
    features: dict[str, float]


class Answerer:
    def __init__(self, model: AnswerModel) -> None:
        self.model = model

    def decide(self, result: SearchResult) -> Decision:
        faq = result.faq_hits
        feats = features(result.hits)
        if not faq:
            return Decision("handoff", 0.0, "no FAQ entry matched the message", None, feats)
        top = faq[0]
        confidence = self.model.confidence(feats)
        threshold = self.model.threshold
        if confidence >= threshold:
            reason = (f"confidence {confidence:.2f} ≥ {threshold:.2f}: '{top.entry_id}' matched "
                      f"(similarity {feats['top']:.3f}, margin {feats['margin']:.3f})")
            return Decision("auto_answer", confidence, reason, top, feats)
        if len(faq) > 1 and feats["margin"] < AMBIGUOUS_MARGIN:
            reason = (f"ambiguous: '{top.entry_id}' and '{faq[1].entry_id}' are almost equally close "
                      f"(margin {feats['margin']:.3f}); confidence {confidence:.2f} < {threshold:.2f}")
        else:
            reason = (f"no FAQ entry answers it confidently: best '{top.entry_id}' "
                      f"(similarity {feats['top']:.3f}); confidence {confidence:.2f} < {threshold:.2f}")
        return Decision("handoff", confidence, reason, top, feats)


def fit_answer_model(rows: list[dict[str, float]], correct: list[bool], target_precision: float,
                     meta: dict[str, Any] | None = None) -> AnswerModel:
    """Fit the logistic model on labeled feature rows and choose the threshold for ``target_precision``.

    ``correct[i]`` is True when the top FAQ hit of message i is the entry that answers it. The threshold is
    the confidence of the deepest cut-off whose precision on these rows still meets the target.
    """
    from sklearn.linear_model import LogisticRegression

    if len(rows) < 20 or len(set(correct)) < 2:
        raise ValueError("calibration needs at least 20 labeled messages, both answerable and not")
    x = np.array([[r[f] for f in FEATURES] for r in rows], dtype=float)
    y = np.array(correct, dtype=int)
    mean = x.mean(axis=0)
    scale = np.where(x.std(axis=0) > 1e-9, x.std(axis=0), 1.0)
    clf = LogisticRegression(C=1.0, max_iter=1000).fit((x - mean) / scale, y)
    model = AnswerModel(weights=clf.coef_[0].tolist(), bias=float(clf.intercept_[0]), mean=mean.tolist(),
                        scale=scale.tolist(), threshold=1.0, meta=dict(meta or {}))
    conf = np.array([model.confidence(r) for r in rows])
    model.threshold = threshold_for_precision(conf, y.astype(bool), target_precision)
    chosen = conf >= model.threshold
    model.meta.update({
        "target_precision": target_precision,
        "n_labels": len(rows),
        "fit_precision": float(y[chosen].mean()) if chosen.any() else None,
        "fit_coverage": float(chosen[y == 1].mean()) if (y == 1).any() else None,
    })
    return model


def threshold_for_precision(confidence: np.ndarray, correct: np.ndarray, target: float) -> float:
    """Confidence at the deepest rank whose running precision meets the target (1.0 when none does)."""
    order = np.argsort(-confidence, kind="stable")
    hits = np.cumsum(correct[order])
    precision = hits / np.arange(1, len(order) + 1)
    ok = np.flatnonzero(precision >= target)
    if ok.size == 0:
        return 1.0
    return float(confidence[order][ok.max()])
