"""``triage calibrate``: fit the auto-answer model on labeled messages and store it with the snapshot."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from triage.answering import AnswerModel, features, fit_answer_model
from triage.errors import InputError
from triage.kb import KnowledgeBase


def read_labels(path: Path) -> list[tuple[str, str | None]]:
    """(text, expected_faq_id) pairs; ``expected_faq_id`` null means nothing in the KB answers it."""
    rows, problems = [], []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read as UTF-8 text ({exc})") from exc
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"{path}:{lineno}: invalid JSON ({exc.msg})")
            continue
        if not isinstance(row, dict) or not str(row.get("text") or "").strip():
            problems.append(f"{path}:{lineno}: 'text' is missing or empty")
        elif "expected_faq_id" not in row:
            problems.append(f"{path}:{lineno}: 'expected_faq_id' is missing (use null for no answer)")
        else:
            rows.append((str(row["text"]), row["expected_faq_id"]))
    if problems:
        raise InputError(f"{len(problems)} bad line(s):\n  " + "\n  ".join(problems))
    return rows


def calibrate_snapshot(kb: KnowledgeBase, labels: Path, target_precision: float) -> AnswerModel:
    pairs = read_labels(labels)
    unknown = sorted({e for _, e in pairs if e is not None and e not in kb.snapshot.entries})
    if unknown:
        raise InputError(f"{labels}: expected_faq_id not in this KB: {', '.join(unknown[:10])}")
    rows, correct = [], []
    for text, expected in pairs:
        result = kb.searcher.search(text, k=8)
        rows.append(features(result.hits))
        top = result.faq_hits[0].entry_id if result.faq_hits else None
        correct.append(expected is not None and top == expected)
    model = fit_answer_model(rows, correct, target_precision, meta={
        "embedder": kb.snapshot.embedder_name,
        "labels": str(labels),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    })
    (kb.snapshot.path / "calibration.json").write_text(json.dumps(model.to_dict(), indent=2), encoding="utf-8")
    return model
