"""The synthetic helpdesk export ``triage bench --parts history`` imports: deterministic, N tickets in the sample's
shape, texts that differ, read by the real export reader without a bad row. No timing."""

from __future__ import annotations

import json
import re

from evals.history_bench import SAMPLE, synthetic_tickets, write_export
from triage.helpdesk.exports import read_export
from triage.helpdesk.tickets import BadRow, Ticket
from triage.stages.privacy import redact_text

KEYS = {"ticket_id", "created_at", "channel", "subject", "requester", "tags", "status", "comments"}
URL = re.compile(r"https?://\S+")


def _lines(path):
    return path.read_text(encoding="utf-8").splitlines()


def test_the_same_seed_writes_the_same_file_and_another_seed_another(tmp_path):
    a = write_export(tmp_path / "a.jsonl", 200, seed=1)
    b = write_export(tmp_path / "b.jsonl", 200, seed=1)
    c = write_export(tmp_path / "c.jsonl", 200, seed=2)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()


def test_n_tickets_in_the_samples_shape(tmp_path):
    path = write_export(tmp_path / "export.jsonl", 300)
    lines = _lines(path)
    assert len(lines) == 300
    tickets = [json.loads(line) for line in lines]
    assert all(set(t) == KEYS for t in tickets)
    assert [t["ticket_id"] for t in tickets] == [f"H-{i:07d}" for i in range(1, 301)]
    for t in tickets:
        assert set(t["requester"]) == {"id", "segment"} and re.fullmatch(r"C\d{8}", t["requester"]["id"])
        assert t["comments"][0]["author"] == "customer" and any(c["author"] == "agent" for c in t["comments"])
        assert all(set(c) == {"author", "created_at", "body"} and c["body"].strip() for c in t["comments"])
        assert all(isinstance(tag, str) for tag in t["tags"])
    times = [t["created_at"] for t in tickets]
    assert times == sorted(times)
    # a prefix of a longer export is the shorter one: tickets come one at a time, in order
    assert [json.dumps(t, ensure_ascii=False) for t in synthetic_tickets(50)] == lines[:50]


def test_the_export_reader_reads_every_ticket(tmp_path):
    path = write_export(tmp_path / "export.jsonl", 300)
    rows = list(read_export([path]))
    assert not [r for r in rows if isinstance(r, BadRow)]
    assert len(rows) == 300 and all(isinstance(r, Ticket) and r.first_customer_message for r in rows)


def test_texts_differ_and_keep_the_samples_links_and_pastes(tmp_path):
    tickets = list(synthetic_tickets(1000))
    firsts = [t["comments"][0]["body"] for t in tickets]
    assert len(set(firsts)) >= 0.97 * len(firsts)
    assert len({t["requester"]["id"] for t in tickets}) >= 0.9 * len(tickets)  # a few write twice
    sample = [json.loads(line) for line in _lines(SAMPLE)]
    sample_urls = {u for t in sample for c in t["comments"] for u in URL.findall(c["body"])}
    urls = {u for t in tickets for c in t["comments"] if c["author"] == "agent" for u in URL.findall(c["body"])}
    assert urls and urls <= sample_urls  # links still name the FAQ's entries
    # fresh personal data, as often as in a real export: the redactor finds it in some first messages, not all
    redacted = sum(redact_text(f) != f for f in firsts)
    assert 0.15 * len(firsts) < redacted < 0.6 * len(firsts)
