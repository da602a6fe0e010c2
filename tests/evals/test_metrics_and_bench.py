from __future__ import annotations

import numpy as np
import pytest

from evals.bench import exact_vs_hnsw, query_latency_one, synthetic_entries
from evals.metrics import Scored, at_threshold, best_on_these_rows, top1_accuracy


def rows() -> list[Scored]:
    return [Scored("a", "a", 0.9), Scored("b", "b", 0.8), Scored("c", "x", 0.7), Scored(None, "a", 0.6),
            Scored(None, "b", 0.2), Scored("d", "d", 0.1)]


def test_metrics_count_wrong_answers_and_unanswerable_messages():
    point = at_threshold(rows(), 0.5)
    assert point["auto_answered"] == 4 and point["precision"] == 0.5
    assert point["coverage"] == 0.75 and point["correct_coverage"] == 0.5
    assert point["handoff_recall"] == 0.5
    assert top1_accuracy(rows()) == 0.75
    assert best_on_these_rows(rows(), 1.0)["threshold"] == 0.8


def test_synthetic_entries_are_deterministic():
    words = ["배송", "환불", "언제", "와요", "주문"]
    assert synthetic_entries(words, 12) == synthetic_entries(words, 12)
    assert len(synthetic_entries(words, 12)) == 3


def test_hnsw_recall_and_latency_are_reported():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(200, 32)).astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    result = exact_vs_hnsw(base, 3000, log=lambda _: None, nq=20)
    assert result["exact"]["recall_at_10"] == 1.0
    assert set(result["hnsw"]) == {32, 64, 128, 256, 512}
    assert result["hnsw"][256]["recall_at_10"] >= result["hnsw"][32]["recall_at_10"] - 0.05
    assert result["hnsw"][256]["recall_at_10"] >= 0.8
    assert result["exact"]["p95_ms"] >= result["exact"]["p50_ms"] > 0


@pytest.mark.slow
def test_query_latency_on_a_small_synthetic_kb(tmp_path):
    from triage.config import Settings

    result = query_latency_one(Settings(var_dir=tmp_path), 400, repeats=1)
    assert result["units"] == 400 and result["queries"] == 10
    assert result["p95_ms"] >= result["p50_ms"] > 0 and result["rss_mb"] > 0


def test_nearest_rank_takes_a_fraction_and_refuses_a_percent():
    from evals.metrics import nearest_rank

    values = [float(v) for v in range(1, 101)]  # 1 … 100
    assert nearest_rank(values, 0.5) == 51.0 and nearest_rank(values, 0.95) == 96.0 and nearest_rank(values, 1) == 100
    with pytest.raises(ValueError, match=r"0\.95 for p95"):
        nearest_rank(values, 95)  # read as a percent it would be the maximum
