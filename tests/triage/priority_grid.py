"""The inputs on which the demo's priority rules were recorded before they moved into a policy file, and the
recorder itself (``python -m tests.triage.priority_grid`` writes ``tests/fixtures/priority_before_policy.json``).

The grid: every tag of the demo taxonomy (and ``needs_review`` with and without competing tags) × every
situation of ``triage.stages.signals.SITUATIONS`` and none × segment none/VIP/loyal/new × a stored earlier contact or
not × the customer saying they asked before or not × anger or not. The labeled rows: every message of the
demo's calibration and dev sets that has a customer, under its expected tag, without and with a stored earlier
contact. Each row is recorded, in the order of the cases, as ``"P2:0,5"``: its priority and its reasons
(indexes into one list of distinct reasons), to keep the file small; ``keys`` is a digest of the cases' keys, so
a changed grid or sample file is noticed instead of comparing the wrong rows.

It was run once, at commit 0257215, with the hard-coded rules ``assign_priority`` had then; do not run it again
to "update" the fixture: the fixture is the proof that the policy-driven code reproduces those rules.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from knowledge.samples import DEMO_DIR
from triage.models import Customer
from triage.stages.priority import RepeatContact
from triage.stages.signals import SITUATIONS, Signals
from triage.taxonomy import NEEDS_REVIEW, Taxonomy, load_taxonomy

FIXTURE = Path(__file__).parents[1] / "fixtures" / "priority_before_policy.json"
REPEAT = RepeatContact(72, "chat", "m-17")  # "72시간 안에 같은 문의가 다시 왔어요 (이전 chat 문의 m-17)"
SAYS_REPEAT = "세 번째 문의"
ANGER = "당장"
SEGMENTS = (None, "VIP", "loyal", "new")
COMPETING = ((), ("payment_failed", "delivery_info"), ("double_charge", "feedback"), ("feedback",),
             ("delivery_info", "membership_points"))
CUES = {"money_at_risk": "두 번 결제", "account_taken": "해킹", "card_lost": "카드 분실", "outage": "먹통",
        "blocked": "오류", "how_to": "어떻게", "info_or_praise": "좋겠어요"}


@dataclass(frozen=True)
class Case:
    key: str
    tag: str
    signals: Signals
    customer: Customer | None
    repeat_of: RepeatContact | None
    competing: tuple[str, ...]


def demo_taxonomy() -> Taxonomy:
    return load_taxonomy(DEMO_DIR / "taxonomy.yaml")


def _situations() -> list[tuple[str, str | None, Any, str | None]]:
    none: list[tuple[str, str | None, Any, str | None]] = [("none", None, None, None)]
    # the situations the fixture was recorded over: those added since refine one of them and follow its rule (a
    # policy file that does not name them gives them that rule; tests/triage/test_urgent.py)
    return none + [(name, name, level, CUES[name]) for name, _, level in SITUATIONS if name in CUES]


def grid_cases(taxonomy: Taxonomy) -> Iterator[Case]:
    tags = [(t, ()) for t in taxonomy.tags if t != NEEDS_REVIEW] + [(NEEDS_REVIEW, c) for c in COMPETING]
    for (tag, competing), (sit_key, name, level, cue), segment, repeat, says, anger in itertools.product(
            tags, _situations(), SEGMENTS, (False, True), (False, True), (False, True)):
        key = "/".join([tag + ("+" + "+".join(competing) if competing else ""), sit_key, segment or "-",
                        "repeat" if repeat else "-", "says" if says else "-", "anger" if anger else "-"])
        signals = Signals(name, level, cue, ANGER if anger else None, SAYS_REPEAT if says else None)
        yield Case(key, tag, signals, Customer(segment=segment) if segment else None, REPEAT if repeat else None,
                   competing)


def labeled_cases() -> Iterator[Case]:
    for name in ("calibration.jsonl", "dev.jsonl"):
        for line in (DEMO_DIR / name).read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if not row.get("customer") or not row.get("expected_tag"):
                continue
            customer, signals = Customer.model_validate(row["customer"]), Signals.read(row["text"])
            for repeat in (None, REPEAT):
                yield Case(f"{row['id']}/{'repeat' if repeat else '-'}", row["expected_tag"], signals, customer,
                           repeat, ())


def cases(taxonomy: Taxonomy) -> list[Case]:
    return [*grid_cases(taxonomy), *labeled_cases()]


def keys_digest(recorded: list[Case]) -> str:
    return hashlib.sha256("\n".join(c.key for c in recorded).encode()).hexdigest()[:16]


def record(decide: Callable[[Case], tuple[str, list[str]]], taxonomy: Taxonomy) -> dict[str, Any]:
    """``decide``'s (priority, reasons) for every case, with the distinct reasons listed once."""
    reasons: dict[str, int] = {}
    rows: list[str] = []
    recorded = cases(taxonomy)
    for case in recorded:
        priority, said = decide(case)
        rows.append(f"{priority}:" + ",".join(str(reasons.setdefault(r, len(reasons))) for r in said))
    return {"keys": keys_digest(recorded), "reasons": list(reasons), "rows": rows}


def read_fixture() -> tuple[str, list[tuple[str, list[str]]]]:
    """The recorded keys digest and each row's (priority, reasons)."""
    data = json.loads(FIXTURE.read_text(encoding="utf-8"))
    reasons: list[str] = data["reasons"]
    rows = []
    for row in data["rows"]:
        priority, _, ids = row.partition(":")
        rows.append((priority, [reasons[int(i)] for i in ids.split(",") if i]))
    return data["keys"], rows


def main() -> None:
    from triage.stages.priority import assign_priority

    taxonomy = demo_taxonomy()

    def decide(case: Case) -> tuple[str, list[str]]:
        got = assign_priority(case.tag, taxonomy, case.signals, case.customer, case.repeat_of, case.competing)
        return got.priority, got.reasons

    data = record(decide, taxonomy)
    data = {"recorded_at": "0257215", "note": "tests/triage/priority_grid.py: the hard-coded rules before the "
            "priority policy file", **data}
    FIXTURE.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"{len(data['rows'])} rows, {len(data['reasons'])} distinct reasons → {FIXTURE}")


if __name__ == "__main__":
    main()
