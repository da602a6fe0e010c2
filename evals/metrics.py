"""Answer / hand-off metrics over scored queries.

Each query has the entry that answers it (``None``: nothing in the KB does), the entry the search put first,
and the answer model's confidence. "Coverage" is the share of answerable queries that get auto-answered;
"precision" the share of auto-answers that are the right entry (an auto-answer to a no-answer query is
wrong).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


def nearest_rank(values: list[float], q: float) -> float:
    """The value at rank ``q`` (0..1) of the sorted values, without interpolation (p50, p95 of latencies)."""
    if not 0 <= q <= 1:  # 95 for p95 silently gave the maximum
        raise ValueError(f"q is a fraction from 0 to 1 (0.95 for p95), not {q}")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class Scored:
    expected: str | None
    top: str | None
    confidence: float


def at_threshold(rows: list[Scored], threshold: float) -> dict[str, Any]:
    answerable = [r for r in rows if r.expected is not None]
    no_answer = [r for r in rows if r.expected is None]
    auto = [r for r in rows if r.confidence >= threshold]
    correct = [r for r in auto if r.expected is not None and r.top == r.expected]
    return {
        "threshold": round(float(threshold), 4),
        "auto_answered": len(auto),
        "precision": round(len(correct) / len(auto), 4) if auto else None,
        "coverage": round(sum(r.confidence >= threshold for r in answerable) / len(answerable), 4)
        if answerable else None,
        "correct_coverage": round(len(correct) / len(answerable), 4) if answerable else None,
        "handoff_recall": round(sum(r.confidence < threshold for r in no_answer) / len(no_answer), 4)
        if no_answer else None,
    }


def top1_accuracy(rows: list[Scored]) -> float:
    answerable = [r for r in rows if r.expected is not None]
    return round(sum(r.top == r.expected for r in answerable) / len(answerable), 4) if answerable else 0.0


def curve(rows: list[Scored], points: int = 11) -> list[dict[str, Any]]:
    """Precision and coverage at evenly spaced quantiles of the confidence."""
    conf = np.array([r.confidence for r in rows])
    cuts = sorted(set(np.quantile(conf, np.linspace(0.0, 0.95, points)).round(4).tolist()))
    return [at_threshold(rows, t) for t in cuts]


def best_on_these_rows(rows: list[Scored], target: float) -> dict[str, Any]:
    """The highest coverage at precision ≥ target with the threshold chosen on the rows themselves
    (flattering; only for comparison with baselines reported the same way)."""
    best: dict[str, Any] | None = None
    for t in sorted({r.confidence for r in rows}):
        point = at_threshold(rows, t)
        if point["precision"] is not None and point["precision"] >= target and (
                best is None or point["coverage"] > best["coverage"]):
            best = point
    return best or at_threshold(rows, float("inf"))
