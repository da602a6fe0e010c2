"""The review eval: export drafts to judge (blind to how they were made), read the verdicts back."""

from __future__ import annotations

import json

import pytest

from evals.review import CHECKS, export_review, review_markdown, score_review
from triage.config import Settings
from triage.errors import InputError


def judged(row_id: str, verdict: str | None, **checks) -> str:
    return json.dumps({"id": row_id, "message": "m", "draft": "d", "verdict": verdict,
                       **{c: checks.get(c, True) for c in CHECKS}, "note": checks.get("note", "")},
                      ensure_ascii=False)


def test_scores_the_judged_drafts_and_keeps_the_notes(tmp_path):
    path = tmp_path / "demo.jsonl"
    path.write_text("\n".join([judged("a", "send"), judged("b", "edit", natural=False),
                               judged("c", "harmful", note="asks for the password"), judged("d", None)]) + "\n",
                    encoding="utf-8")
    report = score_review([path])["sets"]["demo"]
    assert report["drafts"] == 4 and report["judged"] == 3
    assert report["verdicts"] == {"send": 1, "edit": 1, "rewrite": 0, "harmful": 1}
    assert report["usable"] == 0.667 and report["harmful"] == 0.333 and report["checks"]["natural"] == 0.667
    assert report["notes"] == ["c (harmful): asks for the password"]
    assert "| demo | 3 of 4 | 0.667 | 0.333 |" in review_markdown({"sets": {"demo": report}})


def test_a_bad_verdict_or_a_missing_check_names_the_file_and_line(tmp_path):
    path = tmp_path / "demo.jsonl"
    path.write_text(judged("a", "send") + "\n" + judged("b", "maybe") + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"demo.jsonl:2: verdict must be one of send, edit, rewrite, harmful"):
        score_review([path])
    path.write_text(judged("a", "send", natural=None) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"demo.jsonl:1: 'natural' must be true or false"):
        score_review([path])
    with pytest.raises(InputError, match="no such review file"):
        score_review([tmp_path / "telecom.jsonl"])


def test_export_writes_drafts_to_judge_without_how_they_were_made(tmp_path):
    settings = Settings(var_dir=tmp_path / "var")
    path = tmp_path / "review" / "demo.jsonl"
    assert export_review(settings, "demo", path, lambda _: None, n=2) == 2
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 2 and all(r["draft"] and r["message"] and r["kb_entries"] for r in rows)
    assert all(r["verdict"] is None and all(r[c] is None for c in CHECKS) for r in rows)
    assert not any(key in rows[0] for key in ("kind", "confidence", "decision", "cited_ids", "drafting"))
