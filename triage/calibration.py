"""``triage calibrate``: fit the auto-answer model on labeled messages and store it with the snapshot."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from knowledge.index import Snapshot
from knowledge.search import Searcher
from triage.answering import NO_ANSWER_SHARE, AnswerModel, features, fit_answer_model, label_outcomes
from triage.errors import InputError
from triage.inputs import read_labels


def calibrate_snapshot(searcher: Searcher, labels: Path, target_precision: float,
                       no_answer_share: float = NO_ANSWER_SHARE) -> AnswerModel:
    """Fit on ``labels`` and write ``calibration.json`` into the searcher's snapshot."""
    snapshot: Snapshot = searcher.snapshot
    pairs = read_labels(labels)
    unknown = sorted({e for _, e in pairs if e is not None and e not in snapshot.entries})
    if unknown:
        raise InputError(f"{labels}: expected_faq_id not in this KB: {', '.join(unknown[:10])}")
    rows, tops = [], []
    for text, _ in pairs:
        result = searcher.search(text, k=8)
        rows.append(features(result.faq_hits))
        tops.append(result.faq_hits[0].entry_id if result.faq_hits else None)
    correct, answerable = label_outcomes(tops, [expected for _, expected in pairs])
    model = fit_answer_model(rows, correct, answerable, target_precision, no_answer_share, meta={
        "embedder": snapshot.embedder_name,
        "labels": str(labels),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    })
    (snapshot.path / "calibration.json").write_text(json.dumps(model.to_dict(), indent=2), encoding="utf-8")
    return model
