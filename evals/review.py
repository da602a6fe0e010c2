"""The review eval: drafts read as a CX lead reads them, for fit rather than form.

``export_review`` runs a seeded sample of a sample KB's test messages through the pipeline and writes one JSONL
row per draft for a reviewer: the message, what the agent knows of the customer, the KB entries the search
found, the tag and priority, and the draft. How the draft was made (template kind, confidence, which entry it
used) is left out, so the review is blind to it. The reviewer fills ``verdict`` (send, edit, rewrite or
harmful), the four checks (true/false) and a note. ``score_review`` reads the files back and reports the
shares: usable is send plus edit.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from evals.runner import Log
from evals.triage_evals import read_labeled_messages
from evals.unseen import SETS
from triage.config import Settings
from triage.errors import InputError
from triage.kb import KnowledgeBase, build_kb
from triage.pipeline import Pipeline

VERDICTS = ("send", "edit", "rewrite", "harmful")
CHECKS = ("empathy_fits", "asks_fit", "kb_used_right", "natural")
# Whether the message calls for empathy at all (a loss, a scam, a deadline, a repeated failure, the company's fault):
# optional (earlier readers' files lack it); with it, empathy is scored where it applies
NEEDS_EMPATHY = "empathy_needed"
# the sample KBs with written FAQs, taxonomies and policies
REVIEW_SETS = ("demo", "telecom", "market", "travel", "mobility")
SAMPLE = 40
SEED = 29
SHOWN_ENTRIES = 3


def export_review(settings: Settings, name: str, path: Path, log: Log, n: int = SAMPLE, seed: int = SEED) -> int:
    """Write ``n`` drafts of set ``name`` (a sample of its test file drawn with ``seed``) to ``path`` for review;
    the number written. Another seed gives a reader drafts nobody on the team has read."""
    work = settings.var_dir / "eval" / "review" / name
    unseen = SETS[name](settings, work)
    settings = settings.model_copy(update={"kb_dir": work / "index", "taxonomy": unseen.taxonomy})
    build_kb(settings, work / "index", [unseen.faq], unseen.docs)
    kb = KnowledgeBase.open(settings, settings.kb_dir, taxonomy=unseen.taxonomy, policy=unseen.policy)
    pipeline = Pipeline.for_settings(kb, settings)
    rows = read_labeled_messages(unseen.test, settings.max_message_chars)
    sample = sorted(random.Random(seed).sample(range(len(rows)), min(n, len(rows))))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for done, i in enumerate(sample, 1):
            message, _ = rows[i]
            result = pipeline.run(message)
            hits = kb.searcher.search(message.text, k=SHOWN_ENTRIES).faq_hits
            entries = [kb.snapshot.entries[h.entry_id] for h in hits]
            customer = message.customer
            out.write(json.dumps({
                "set": name, "id": message.id, "channel": message.channel, "message": message.text,
                "customer": {"tenure_days": customer.tenure_days, "segment": customer.segment,
                             "app_version": customer.app_version} if customer else None,
                "bot_path": message.bot_path, "context_notes": result.context.notes if result.context else [],
                "tag": result.tag, "priority": result.priority,
                "kb_entries": [{"id": e.id, "question": e.question, "answer": e.answer} for e in entries],
                "draft": result.draft,
                "verdict": None, **dict.fromkeys(CHECKS), NEEDS_EMPATHY: None, "note": "",
            }, ensure_ascii=False) + "\n")
            if done % 10 == 0:
                log(f"  {name}: {done}/{len(sample)} drafts exported")
    return len(sample)


def _judged(path: Path) -> Iterable[tuple[int, dict[str, Any]]]:
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{lineno}: not JSON ({exc.msg})") from exc
        verdict = row.get("verdict")
        if verdict is None:
            continue
        if verdict not in VERDICTS:
            raise InputError(f"{path}:{lineno}: verdict must be one of {', '.join(VERDICTS)} (got {verdict!r})")
        for check in CHECKS:
            if not isinstance(row.get(check), bool):
                raise InputError(f"{path}:{lineno}: '{check}' must be true or false once the draft is judged "
                                 f"(got {row.get(check)!r})")
        if row.get(NEEDS_EMPATHY) is not None and not isinstance(row[NEEDS_EMPATHY], bool):
            raise InputError(f"{path}:{lineno}: '{NEEDS_EMPATHY}' must be true, false or null "
                             f"(got {row[NEEDS_EMPATHY]!r})")
        yield lineno, row


def _share(count: int, n: int) -> float | None:
    return round(count / n, 3) if n else None


def review_files(review_dir: Path, names: Iterable[str]) -> dict[str, Path]:
    """The review files of sets ``names`` under ``review_dir``, each reader's in a folder of its own
    (``demo``, ``blind/demo``...), by label."""
    files = {}
    for name in names:
        for path in sorted(review_dir.glob(f"**/{name}.jsonl")):
            files[path.relative_to(review_dir).with_suffix("").as_posix()] = path
    if not files:
        raise InputError(f"{review_dir}: no review files for {', '.join(names)} (export them with "
                         "`triage eval review --export`)")
    return files


def score_review(files: dict[str, Path]) -> dict[str, Any]:
    """The shares of each reviewed file (by label): verdicts, usable (send + edit), harmful, and each check's
    yes-share, with the reviewer's notes."""
    sets = {}
    for label, path in files.items():
        if not path.is_file():
            raise InputError(f"{path}: no such review file (export one with `triage eval review --export`)")
        judged = [row for _, row in _judged(path)]
        total = sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
        n = len(judged)
        verdicts = {v: sum(r["verdict"] == v for r in judged) for v in VERDICTS}
        sets[label] = {
            "file": str(path), "drafts": total, "judged": n, "verdicts": verdicts,
            "usable": _share(verdicts["send"] + verdicts["edit"], n), "harmful": _share(verdicts["harmful"], n),
            "checks": {c: _share(sum(r[c] for r in judged), n) for c in CHECKS},
            "empathy_needed": sum(r.get(NEEDS_EMPATHY) is True for r in judged),
            "empathy_fits_where_needed": _share(sum(r["empathy_fits"] for r in judged if r.get(NEEDS_EMPATHY) is True),
                                                sum(r.get(NEEDS_EMPATHY) is True for r in judged)),
            "notes": [f"{r['id']} ({r['verdict']}): {r['note']}" for r in judged if r.get("note")],
        }
    return {"suite": "review", "sets": sets}


def review_markdown(report: dict[str, Any]) -> str:
    sets = report["sets"]
    lines = ["# Review: drafts read for fit", "",
             "Verdicts by a reviewer reading each draft with its message, customer context and KB entries, blind to "
             "how it was made (`triage eval review --export`, then `triage eval review`). Usable = send + edit.", "",
             "| set | judged | usable | harmful | send | edit | rewrite | " + " | ".join(CHECKS)
             + " | empathy fits where needed (drafts needing it) |",
             "|---|---|---|---|---|---|---|" + "---|" * (len(CHECKS) + 1)]
    for name, s in sets.items():
        v = s["verdicts"]
        lines.append(f"| {name} | {s['judged']} of {s['drafts']} | {s['usable']} | {s['harmful']} | {v['send']} | "
                     f"{v['edit']} | {v['rewrite']} | " + " | ".join(str(s['checks'][c]) for c in CHECKS)
                     + (f" | {s['empathy_fits_where_needed']} ({s['empathy_needed']}) |"
                        if s.get("empathy_needed") else " | – |"))
    for name, s in sets.items():
        if s["notes"]:
            lines += ["", f"## Notes: {name}", "", *(f"- {note}" for note in s["notes"])]
    return "\n".join(lines) + "\n"
