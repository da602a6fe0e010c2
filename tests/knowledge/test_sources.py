from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from knowledge.errors import SourceError
from knowledge.sources import html_to_markdown, load_faq_files, load_manuals, write_faq_jsonl, write_text_atomic

FIXTURES = Path(__file__).parents[1] / "fixtures"


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


ROWS = [
    {"id": "a", "question": "환불 언제 돼요?", "answer": "3~5영업일이에요.", "examples": ["환불 기간", "환불 며칠"],
     "tags": ["refund"], "section": "payment", "owner": "cx-team", "urgent_self_service": True},
    {"id": "b", "question": "배송 조회", "answer": "마이페이지에서 확인해요."},
]


@pytest.mark.parametrize("name,text", [
    ("faq.jsonl", "\n".join(json.dumps(r, ensure_ascii=False) for r in ROWS) + "\n"),
    ("faq.json", json.dumps(ROWS, ensure_ascii=False, indent=2)),
    ("faq.yaml", "- id: a\n  question: 환불 언제 돼요?\n  answer: 3~5영업일이에요.\n"
                 "  examples: [환불 기간, 환불 며칠]\n"
                 "  tags: [refund]\n  section: payment\n  owner: cx-team\n  urgent_self_service: yes\n"
                 "- id: b\n  question: 배송 조회\n  answer: 마이페이지에서 확인해요.\n"),
    ("faq.csv", "id,question,answer,examples,tags,section,owner,urgent_self_service\n"
                "a,환불 언제 돼요?,3~5영업일이에요.,환불 기간|환불 며칠,refund,payment,cx-team,TRUE\n"
                "b,배송 조회,마이페이지에서 확인해요.,,,,,\n"),
])
def test_every_format_loads_the_same_entries(tmp_path, name, text):
    entries = load_faq_files([write(tmp_path, name, text)])
    assert [e.id for e in entries] == ["a", "b"]
    a = entries[0]
    assert a.examples == ("환불 기간", "환불 며칠")
    assert a.tags == ("refund",) and a.section == "payment"
    assert a.metadata == {"owner": "cx-team"}  # unknown fields are kept
    assert entries[1].examples == ()
    assert a.urgent_self_service is True and entries[1].urgent_self_service is False


def test_urgent_self_service_must_be_true_or_false_named_with_file_and_line(tmp_path):
    yaml_file = write(tmp_path, "faq.yaml", "- id: a\n  question: q\n  answer: a\n  urgent_self_service: true\n"
                                            "- id: b\n  question: q\n  answer: a\n  urgent_self_service: maybe\n")
    jsonl_file = write(tmp_path, "faq.jsonl", json.dumps({"id": "j", "question": "q", "answer": "a",
                                                          "urgent_self_service": "true"}))
    csv_file = write(tmp_path, "faq.csv", "id,question,answer,urgent_self_service\nc1,q,a,no\nc2,q,a,sometimes\n")
    with pytest.raises(SourceError) as info:
        load_faq_files([yaml_file, jsonl_file, csv_file])
    assert info.value.problems == [
        f"{yaml_file}:5: 'urgent_self_service' must be true or false, got 'maybe'",
        f"{jsonl_file}:1: 'urgent_self_service' must be true or false, got 'true'",
        f"{csv_file}:3: 'urgent_self_service' must be true or false, got 'sometimes'",
    ]


def test_every_bad_row_is_named_with_file_and_line(tmp_path):
    path = write(tmp_path, "faq.jsonl", "\n".join([
        json.dumps({"id": "ok", "question": "q", "answer": "a"}),
        json.dumps({"id": "x", "question": "", "answer": "a"}),
        "{not json",
        json.dumps({"id": "y", "question": "q", "answer": "a", "examples": "one|two", "tags": {"a": 1}}),
    ]))
    with pytest.raises(SourceError) as info:
        load_faq_files([path])
    problems = info.value.problems
    assert len(problems) == 3
    assert problems[0].startswith(f"{path}:2:") and "'question' is missing or empty" in problems[0]
    assert problems[1].startswith(f"{path}:3:") and "invalid JSON" in problems[1]
    assert problems[2].startswith(f"{path}:4:") and "'tags' must be a list of strings" in problems[2]


def test_yaml_and_json_errors_point_at_the_entry_line(tmp_path):
    yaml_file = write(tmp_path, "faq.yaml", "- id: a\n  question: q\n  answer: a\n- id: b\n  question: q\n")
    json_file = write(tmp_path, "faq.json", '[\n  {"id": "j1", "question": "q", "answer": "a"},\n\n  {"id": "j2"}\n]')
    csv_file = write(tmp_path, "faq.csv", 'id,question,answer\nc1,q,a\n"c2","multi\nline",a\nc3,,a\n')
    with pytest.raises(SourceError) as info:
        load_faq_files([yaml_file, json_file, csv_file])
    assert info.value.problems == [
        f"{yaml_file}:4: 'answer' is missing or empty",
        f"{json_file}:4: 'question' is missing or empty; 'answer' is missing or empty",
        f"{csv_file}:5: 'question' is missing or empty",
    ]


def test_duplicate_ids_are_listed_with_every_place(tmp_path):
    one = write(tmp_path, "one.jsonl", json.dumps({"id": "dup", "question": "q", "answer": "a"}))
    two = write(tmp_path, "two.yaml", "- id: dup\n  question: q2\n  answer: a2\n")
    with pytest.raises(SourceError) as info:
        load_faq_files([one, two])
    assert info.value.problems == [f"duplicate FAQ id 'dup' at {one}:1, {two}:1"]


def test_non_utf8_file_is_named(tmp_path):
    path = write(tmp_path, "faq.csv", "id,question,answer\na,환불,네\n".encode("cp949"))
    with pytest.raises(SourceError) as info:
        load_faq_files([path])
    assert str(path) in info.value.problems[0] and "not UTF-8" in info.value.problems[0]


def test_unsupported_format_and_missing_manuals_folder(tmp_path):
    with pytest.raises(SourceError, match=r"unsupported FAQ format '\.xlsx'"):
        load_faq_files([write(tmp_path, "faq.xlsx", "x")])
    with pytest.raises(SourceError, match="manuals folder not found"):
        load_manuals(tmp_path / "nope")


def test_manuals_keep_relative_ids_and_html_headings():
    manuals = {m.id: m for m in load_manuals(FIXTURES / "manuals")}
    assert set(manuals) == {"delivery.md", "returns.html"}
    assert manuals["delivery.md"].title == "배송 안내"
    returns = manuals["returns.html"]
    assert returns.title == "반품 안내"
    assert "## 반품 배송비" in returns.text and "- 단순 변심: 왕복 6,000원" in returns.text
    assert "color" not in returns.text  # styles are not text


def test_html_to_markdown_drops_scripts():
    assert html_to_markdown("<h2>제목</h2><script>alert(1)</script><p>본문</p>") == "## 제목\n\n본문"


def test_written_faq_loads_back_the_same(tmp_path):
    entries = load_faq_files([write(tmp_path, "faq.jsonl", "\n".join(json.dumps(r, ensure_ascii=False) for r in ROWS))])
    write_faq_jsonl(entries, tmp_path / "again" / "faq.jsonl")
    again = load_faq_files([tmp_path / "again" / "faq.jsonl"])
    assert again == entries and again[0].metadata == {"owner": "cx-team"}
    assert again[0].urgent_self_service and not again[1].urgent_self_service
    assert "urgent_self_service" not in (tmp_path / "again" / "faq.jsonl").read_text("utf-8").splitlines()[1]


def test_concurrent_atomic_writes_leave_one_whole_file_and_no_partial_ones(tmp_path):
    path = tmp_path / "accepted.yaml"
    texts = [f"- id: entry-{i}\n" * 200 for i in range(8)]
    threads = [threading.Thread(target=write_text_atomic, args=(path, text)) for text in texts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert path.read_text(encoding="utf-8") in texts  # one writer's whole text, never a mix
    assert [p.name for p in tmp_path.iterdir()] == ["accepted.yaml"]
