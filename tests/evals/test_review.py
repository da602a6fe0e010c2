"""The review eval: export drafts to judge (blind to how they were made), read the verdicts back."""

from __future__ import annotations

import json

import pytest

from evals.review import CHECKS, export_review, review_files, review_markdown, score_review
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
    report = score_review({"demo": path})["sets"]["demo"]
    assert report["drafts"] == 4 and report["judged"] == 3
    assert report["verdicts"] == {"send": 1, "edit": 1, "rewrite": 0, "harmful": 1}
    assert report["usable"] == 0.667 and report["harmful"] == 0.333 and report["checks"]["natural"] == 0.667
    assert report["notes"] == ["c (harmful): asks for the password"]
    assert "| demo | 3 of 4 | 0.667 | 0.333 |" in review_markdown({"sets": {"demo": report}})


def test_empathy_is_scored_where_the_reader_says_it_applies(tmp_path):
    path = tmp_path / "market.jsonl"
    rows = [dict(json.loads(judged("a", "send")), empathy_needed=True),
            dict(json.loads(judged("b", "edit", empathy_fits=False)), empathy_needed=True),
            dict(json.loads(judged("c", "send", empathy_fits=False)), empathy_needed=False),
            json.loads(judged("d", "send"))]  # an earlier reader's row: no empathy_needed
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    report = score_review({"market": path})["sets"]["market"]
    assert (report["empathy_needed"], report["empathy_fits_where_needed"]) == (2, 0.5)
    assert report["checks"]["empathy_fits"] == 0.5  # over every draft, as before
    assert "| 0.5 (2) |" in review_markdown({"sets": {"market": report}})
    path.write_text(json.dumps(dict(rows[0], empathy_needed="yes")) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"market.jsonl:1: 'empathy_needed' must be true, false or null"):
        score_review({"market": path})


def test_a_bad_verdict_or_a_missing_check_names_the_file_and_line(tmp_path):
    path = tmp_path / "demo.jsonl"
    path.write_text(judged("a", "send") + "\n" + judged("b", "maybe") + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"demo.jsonl:2: verdict must be one of send, edit, rewrite, harmful"):
        score_review({"demo": path})
    path.write_text(judged("a", "send", natural=None) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"demo.jsonl:1: 'natural' must be true or false"):
        score_review({"demo": path})
    with pytest.raises(InputError, match="no review files for telecom"):
        review_files(tmp_path, ["telecom"])


def test_each_readers_files_are_scored_side_by_side(tmp_path):
    (tmp_path / "blind").mkdir()
    (tmp_path / "demo.jsonl").write_text(judged("a", "send") + "\n", encoding="utf-8")
    (tmp_path / "blind" / "demo.jsonl").write_text(judged("a", "rewrite") + "\n", encoding="utf-8")
    (tmp_path / "blind" / "telecom.jsonl").write_text(judged("t", "edit") + "\n", encoding="utf-8")
    files = review_files(tmp_path, ["demo"])
    assert list(files) == ["blind/demo", "demo"]
    sets = score_review(files)["sets"]
    assert sets["demo"]["usable"] == 1.0 and sets["blind/demo"]["usable"] == 0.0


def test_export_writes_drafts_to_judge_without_how_they_were_made(tmp_path):
    settings = Settings(var_dir=tmp_path / "var")
    path = tmp_path / "review" / "demo.jsonl"
    assert export_review(settings, "demo", path, lambda _: None, n=2) == 2
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 2 and all(r["draft"] and r["message"] and r["kb_entries"] for r in rows)
    assert all(r["verdict"] is None and all(r[c] is None for c in CHECKS) for r in rows)
    assert not any(key in rows[0] for key in ("kind", "confidence", "decision", "cited_ids", "drafting"))
    other = tmp_path / "review" / "blind" / "demo.jsonl"
    export_review(settings, "demo", other, lambda _: None, n=2, seed=7)
    assert {json.loads(line)["id"] for line in other.read_text(encoding="utf-8").splitlines()} != {
        r["id"] for r in rows}
