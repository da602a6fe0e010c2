"""Public evaluation sets turned into a KB (FAQ entries) plus calibration and test queries.

The data stay in ``../shared/datasets`` (``TRIAGE_DATASETS_DIR``); nothing is copied into the repository.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from knowledge.sources import FaqEntry
from triage.inputs import read_labels

SEED = 13


@dataclass
class Query:
    text: str
    expected: str | None  # the FAQ entry that answers it, None when nothing in the KB does


@dataclass
class EvalSet:
    name: str
    entries: list[FaqEntry]
    calibration: list[Query]  # thresholds are fitted here only
    test: list[Query]  # figures are reported here only
    docs_dir: Path | None = None
    note: str = ""
    target_precision: float = 0.95


def _require(path: Path) -> Path:
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: set TRIAGE_DATASETS_DIR to the shared datasets folder")
    return path


def clinc150(datasets: Path) -> EvalSet:
    """One entry per intent whose examples are its train utterances; calibrate on val (+ oos_val), report on
    test (+ oos_test)."""
    data = json.loads(_require(datasets / "clinc150_oos_eval" / "data_full.json").read_text())
    by_intent: dict[str, list[str]] = defaultdict(list)
    for text, intent in data["train"]:
        by_intent[intent].append(text)
    entries = [FaqEntry(id=intent, question=texts[0], answer=f"[{intent}]", examples=tuple(texts[1:]))
               for intent, texts in sorted(by_intent.items())]

    def queries(split: str) -> list[Query]:
        return [Query(t, i) for t, i in data[split]] + [Query(t, None) for t, _ in data[f"oos_{split}"]]

    # data_oos_plus has 250 out-of-scope train rows (data_full's 100 among them); none are test rows
    oos_train = json.loads((datasets / "clinc150_oos_eval" / "data_oos_plus.json").read_text())["oos_train"]
    calibration = queries("val") + [Query(t, None) for t, _ in oos_train]
    return EvalSet("clinc150", entries, calibration, queries("test"),
                   note="KB: 150 intents x 100 train utterances; calibration: val + oos_val + oos_train "
                        "(250, data_oos_plus); test: test + oos_test")


def parakqc(datasets: Path) -> EvalSet:
    """Korean paraphrase groups: the first sentence of a group is the entry, the other nine are queries.
    20% of groups are held out as questions with no answer. Queries split 1:2 into calibration and test
    (answerable: 3 of 9 per group; held-out groups: half of them)."""
    groups: dict[int, list[str]] = defaultdict(list)
    with open(_require(datasets / "ko_parakqc" / "paraKQC_v1.jsonl"), encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            groups[int(row["group_id"])].append(row["text"])
    ids = sorted(groups)
    random.Random(SEED).shuffle(ids)
    held_out = ids[: len(ids) // 5]
    kb_groups = sorted(ids[len(ids) // 5:])
    entries = [FaqEntry(id=f"g{g}", question=groups[g][0], answer=f"[group {g}]") for g in kb_groups]
    calibration: list[Query] = []
    test: list[Query] = []
    for g in kb_groups:
        for n, text in enumerate(groups[g][1:]):
            (calibration if n % 3 == 0 else test).append(Query(text, f"g{g}"))
    for n, g in enumerate(held_out):
        (calibration if n % 2 == 0 else test).extend(Query(t, None) for t in groups[g])
    return EvalSet("parakqc", entries, calibration, test,
                   note=f"KB: {len(entries)} groups (first sentence each); "
                        f"{len(held_out)} groups held out as no-answer")


def labeled_file(path: Path) -> list[Query]:
    return [Query(text, expected) for text, expected in read_labels(path)]
