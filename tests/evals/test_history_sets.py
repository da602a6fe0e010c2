"""History exports built from public intent sets (``evals.history_sets``): on tiny CLINC150- and Bitext-shaped
files written here, and on the real CLINC150 file when the datasets folder is there."""

from __future__ import annotations

import csv
import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from evals.history_sets import END, history_export, summary
from evals.unseen import PHRASINGS, UnseenSet, bitext, clinc150
from knowledge.samples import SAMPLES_DIR
from triage.config import Settings

URL = re.compile(r"https?://\S+")
KEYS = {"ticket_id", "created_at", "channel", "subject", "requester", "tags", "status", "comments"}


def _jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def _fake_clinc(root: Path) -> Path:
    """20 intents in two domains, 16 train rows each; a val and a test row repeat a train row the FAQ does not
    take (they must never become history)."""
    folder = root / "clinc150_oos_eval"
    folder.mkdir(parents=True)
    intents = [f"intent_{n:02d}" for n in range(20)]
    data: dict[str, list[list[str]]] = {
        "train": [[f"{i} train phrasing {k}", i] for i in intents for k in range(16)],
        "val": [[f"{i} val phrasing {k}", i] for i in intents for k in range(2)] + [["intent_03 train phrasing 12",
                                                                                    "intent_03"]],
        "test": [[f"{i} test phrasing {k}", i] for i in intents for k in range(3)] + [["intent_07 train phrasing 15",
                                                                                     "intent_07"]],
        "oos_train": [[f"out of scope train {k}", "oos"] for k in range(8)],
        "oos_val": [[f"out of scope val {k}", "oos"] for k in range(3)],
        "oos_test": [[f"out of scope test {k}", "oos"] for k in range(3)],
    }
    (folder / "data_full.json").write_text(json.dumps(data), encoding="utf-8")
    (folder / "domains.json").write_text(json.dumps({"banking": intents[:10], "travel": intents[10:]}))
    return root


def _fake_bitext(root: Path) -> Path:
    categories = {"cancel_order": "ORDER", "change_order": "ORDER", "track_order": "ORDER", "get_refund": "REFUND",
                  "track_refund": "REFUND", "check_invoice": "INVOICE", "get_invoice": "INVOICE",
                  "delete_account": "ACCOUNT", "edit_account": "ACCOUNT", "review": "FEEDBACK"}
    folder = root / "bitext_cs_intent"
    folder.mkdir(parents=True)
    for name, count in (("train.csv", 15), ("dev.csv", 2), ("test.csv", 2)):
        with (folder / name).open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["utterance", "intent", "category"])
            for intent, category in categories.items():
                for k in range(count):
                    writer.writerow([f"{name[:-4]} {intent.replace('_', ' ')} please, case {k}", intent, category])
    responses = root / "bitext_cs_responses"
    responses.mkdir()
    with (responses / "bitext_cs_instruction_response_4514.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["instruction", "intent", "category", "response"])
        for intent, category in categories.items():
            for k in range(4):
                writer.writerow([f"help with {intent}", intent, category,
                                 f"Reply {k} on {intent}: I understand how important this is. Sign in, open the "
                                 f"{intent} section, and follow the instructions number {k} shown there."])
    return root


@pytest.fixture()
def fake_clinc(tmp_path: Path) -> tuple[UnseenSet, Settings, Path]:
    settings = Settings(datasets_dir=_fake_clinc(tmp_path / "datasets"), var_dir=tmp_path / "var")
    work = tmp_path / "work"
    work.mkdir()
    return clinc150(settings, work), settings, work


def _check_export(unseen: UnseenSet, work: Path, path: Path, excluded: set[str]) -> list[dict[str, Any]]:
    """The checks every export passes; returns the truth rows."""
    tickets, truth = _jsonl(path), _jsonl(work / "history_truth.jsonl")
    assert [t["ticket_id"] for t in tickets] == [r["ticket_id"] for r in truth]
    assert [t["ticket_id"] for t in tickets] == [f"H-{n:06d}" for n in range(1, len(tickets) + 1)]
    faq = {row["id"]: row for row in _jsonl(unseen.faq)}
    phrasings = {p for row in faq.values() for p in [row["question"], *row["examples"]]}
    split_texts = {row["text"] for split in (unseen.tuning, unseen.test) for row in _jsonl(split)}
    urls = {row["url"] for row in faq.values()}
    created = [datetime.fromisoformat(t["created_at"]) for t in tickets]
    assert created == sorted(created) and len(set(created)) == len(created)
    assert END - timedelta(days=190) < created[0] and created[-1] < END
    for ticket, facts in zip(tickets, truth, strict=True):
        assert set(ticket) == KEYS
        assert ticket["channel"] in {"chat", "email"} and ticket["status"] in {"solved", "closed"}
        assert ticket["created_at"].endswith("+00:00")
        message = facts["message"]
        assert message not in phrasings and message not in split_texts and message not in excluded
        first = ticket["comments"][0]
        assert first["author"] == "customer" and first["created_at"] == ticket["created_at"]
        assert message.lower() in first["body"].lower()
        times = [c["created_at"] for c in ticket["comments"]]
        assert times == sorted(times)
        agent = [c["body"] for c in ticket["comments"] if c["author"] == "agent"]
        assert agent
        linked = {u.rstrip(".,") for body in agent for u in URL.findall(body)}
        assert linked <= urls
        answer = agent[-2] if facts["closing"] else agent[-1]
        entry = faq.get(facts["entry"]) if facts["entry"] else None
        if entry is None:  # by hand: no entry linked or pasted in the reply
            assert facts["kind"] == "by_hand" and not linked
            assert not any(row["answer"] in answer for row in faq.values())
        elif facts["kind"] == "linked":
            assert entry["url"] in answer
        elif facts["kind"] == "pasted" and not facts["edited"]:
            assert entry["answer"] in answer
        elif facts["kind"] == "paraphrased":
            assert entry["answer"] not in answer and entry["url"] not in answer
        if facts["wrong_first"]:
            assert facts["wrong_first"] != facts["entry"] and len(agent) >= 2
            assert ticket["comments"][2]["author"] == "customer"
    return truth


def test_clinc150_export(fake_clinc: tuple[UnseenSet, Settings, Path]) -> None:
    unseen, settings, work = fake_clinc
    assert unseen.held_out and len(unseen.held_out) == 4
    faq = {row["id"]: row for row in _jsonl(unseen.faq)}
    assert not set(faq) & unseen.held_out
    assert all(row["url"] == f"https://help.example.com/clinc150/{i}" and i.replace("_", " ") in row["answer"]
               for i, row in faq.items())
    path = history_export(unseen, settings, work, tickets=120)
    assert path == work / "history.jsonl"
    data = json.loads((settings.datasets_dir / "clinc150_oos_eval" / "data_full.json").read_text())
    excluded = {t for split in ("val", "test", "oos_val", "oos_test") for t, _ in data[split]}
    excluded |= {t for t, i in data["train"] if int(t.rsplit(" ", 1)[1]) < PHRASINGS}  # the FAQ's and taxonomy's
    truth = _check_export(unseen, work, path, excluded)
    assert len(truth) == 120
    by_hand = [r for r in truth if r["entry"] is None]
    assert 0.2 <= len(by_hand) / len(truth) <= 0.3
    assert any(r["out_of_scope"] for r in by_hand) and any(r["held_out"] for r in by_hand)
    assert all(r["tag"] in unseen.held_out for r in by_hand if r["held_out"])
    tickets = {t["ticket_id"]: t for t in _jsonl(path)}
    for r in by_hand:  # out of scope: no tag or a free-form one
        if r["out_of_scope"]:
            assert r["tag"] == "needs_review" and set(tickets[r["ticket_id"]]["tags"]) <= {"vip", "followup", "urgent"}
    assert {r["kind"] for r in truth} == {"by_hand", "linked", "pasted", "paraphrased"}
    counts = summary(work)
    assert counts["tickets"] == 120 and counts["by_hand"] == len(by_hand)

    again = work / "again"
    assert history_export(unseen, settings, again, tickets=120).read_bytes() == path.read_bytes()
    assert (again / "history_truth.jsonl").read_bytes() == (work / "history_truth.jsonl").read_bytes()


def test_bitext_export_uses_reference_replies(tmp_path: Path) -> None:
    settings = Settings(datasets_dir=_fake_bitext(tmp_path / "datasets"), var_dir=tmp_path / "var")
    work = tmp_path / "work"
    unseen = bitext(settings, work)
    faq = {row["id"]: row for row in _jsonl(unseen.faq)}
    assert all(row["answer"].startswith(f"Reply 0 on {i}:") for i, row in faq.items())
    path = history_export(unseen, settings, work, tickets=60)
    truth = _check_export(unseen, work, path, set())
    tickets = {t["ticket_id"]: t for t in _jsonl(path)}
    for r in truth:
        agent = [c["body"] for c in tickets[r["ticket_id"]]["comments"] if c["author"] == "agent"]
        answer = agent[-2] if r["closing"] else agent[-1]
        if r["kind"] == "paraphrased":  # another agent's reply to the same intent
            assert re.search(rf"Reply [123] on {r['entry']}:", answer)
        elif r["kind"] == "by_hand":  # held out: a reference reply of its own intent
            assert f"on {r['tag']}:" in answer


def test_telecom_and_sets_without_history(fake_clinc: tuple[UnseenSet, Settings, Path]) -> None:
    _, settings, work = fake_clinc
    telecom = UnseenSet("telecom", work / "faq.yaml", work / "c.jsonl", work / "t.jsonl")
    shipped = SAMPLES_DIR / "telecom" / "history" / "tickets.jsonl"
    assert history_export(telecom, settings, work) == shipped and shipped.is_file()
    with pytest.raises(ValueError, match="no history export for the set 'parakqc'"):
        history_export(UnseenSet("parakqc", work / "faq.jsonl", work / "c.jsonl", work / "t.jsonl"), settings, work)


def test_real_clinc150(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path / "var")
    if not (settings.datasets_dir / "clinc150_oos_eval" / "data_full.json").is_file():
        pytest.skip(f"no public datasets at {settings.datasets_dir}")
    unseen = clinc150(settings, tmp_path)
    path = history_export(unseen, settings, tmp_path)
    data = json.loads((settings.datasets_dir / "clinc150_oos_eval" / "data_full.json").read_text())
    excluded = {t for split in ("val", "test", "oos_val", "oos_test") for t, _ in data[split]}
    truth = _check_export(unseen, tmp_path, path, excluded)
    counts = summary(tmp_path)
    assert counts["tickets"] == 1500 and 0.22 <= counts["by_hand_share"] <= 0.28
    in_scope = len(truth) - counts["out_of_scope"]  # out-of-scope tickets have no right tag
    assert 0.7 <= counts["tag_noise"]["correct"] / in_scope <= 0.8
    assert 0.07 <= counts["tag_noise"]["sibling"] / in_scope <= 0.13
    assert 0.07 <= counts["wrong_first"] / (len(truth) - counts["by_hand"]) <= 0.13
