"""The learned set a KB's next snapshot trains on: past tickets (``learned_examples``) decided into phrasings of
their entries and hand-off examples, agents' verdicts on the bot's answers, and tag examples.

A reply that neither links nor pastes an entry paraphrases the entry its answer is closest to (among the
question's search hits) when it is closer than replies usually are to an entry they were *not* about: the
threshold is the ``PARAPHRASE_QUANTILE`` of how close the linked and pasted replies are to the nearest other
entry. With fewer than ``MIN_CALIBRATING`` linked or pasted replies there is nothing to choose it on, and such
replies count as answered by hand (a missed phrasing costs less than a wrong one)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from knowledge.gaps import GapQuestion
from triage.corrections import scope_code, scope_parts
from triage.stages.history import as_utc
from triage.stages.language import detect_language

if TYPE_CHECKING:
    from datetime import datetime
    from pathlib import Path

    from knowledge.index import Snapshot
    from triage.config import Settings
    from triage.store import Store
    from triage.store.learned_rows import Learned
    from triage.store.repository import AnswerVerdict
    from triage.taxonomy import Taxonomy

PARAPHRASE_QUANTILE = 0.95
MIN_CALIBRATING = 20
KINDS = ("linked", "pasted", "paraphrased", "by_hand")
# What becomes a phrasing of its entry: links and pastes. A paraphrase is a guess from meaning: on Bitext's
# tuning history (evals/history_sets.py) 57% of them named the right entry, and adding them took the bot's
# hand-off recall on the tuning messages from 0.98 (links and pastes only) to 0.62: a wrong phrasing teaches it to
# answer what it should hand off. They are counted and shown, and stay out of what it learns.
PHRASING_KINDS = ("linked", "pasted")


def learned_scope(settings: Settings, kb: Path | None = None) -> str:
    """The scope of what is learned about the KB ``kb`` (else the configured one, else the demo): its index folder,
    whatever the taxonomy (tags are kept as taxonomy ids; those a taxonomy no longer has are skipped)."""
    return scope_code(scope_parts(settings, kb)[0], "learned")


def paraphrase_threshold(rows: Sequence[Learned]) -> float | None:
    """How close a reply must be to an entry's answer to count as saying it (None: too little to choose on)."""
    others = [r.evidence_value("other_sim") for r in rows if r.how in ("linked", "pasted")]
    sims = [s for s in others if s is not None]
    if len(sims) < MIN_CALIBRATING:
        return None
    return float(np.quantile(sims, PARAPHRASE_QUANTILE))


@dataclass(frozen=True)
class Decided:
    """One past ticket as the service learns it: its stored row, the entry that answered it and how."""

    row: Learned
    entry_id: str | None  # None: answered by hand
    kind: str  # one of KINDS

    @property
    def ref(self) -> str:
        return self.row.ref


def decide(rows: Sequence[Learned], entries: set[str]) -> tuple[list[Decided], float | None]:
    """Each row's entry and kind; entries the KB no longer has count as answered by hand."""
    threshold = paraphrase_threshold(rows)
    out = []
    for r in rows:
        entry, kind = r.entry_id, r.how
        if kind == "reply":
            closest, sim = r.evidence_value("closest"), r.evidence_value("closest_sim")
            # two signals must agree: the reply says the entry, and the question's own search finds it first
            if (threshold is not None and closest and sim is not None and sim > threshold
                    and closest == r.evidence_value("top_hit")):
                entry, kind = str(closest), "paraphrased"
        if entry not in entries:
            entry, kind = None, "by_hand"
        out.append(Decided(r, entry, kind))
    return out, threshold


@dataclass
class LearnedSet:
    """What a snapshot learns: ``phrasings`` (entry, text, ref) join their entries' units in the index and the
    entry classifier; ``labels`` (text, entry or None, ref) calibrate the answer model (cross-fitted by ref);
    ``tagged`` (text, tag, entry) train the tagger (``tag_pairs``)."""

    phrasings: list[tuple[str, str, str]] = field(default_factory=list)
    labels: list[tuple[str, str | None, str]] = field(default_factory=list)
    tagged: list[tuple[str, str, str | None]] = field(default_factory=list)  # text, tag, entry
    threshold: float | None = None
    mix: dict[str, int] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.labels)

    def tag_pairs(self, taxonomy: Taxonomy, snapshot: Snapshot) -> list[tuple[str, str]]:
        """Agents' mapped tags as training rows, except where the message's FAQ entry carries another leaf (one
        of the two is a mis-tag; the entry's phrasing already teaches its own tag) or the tag is gone."""
        leaves = set(taxonomy.leaves)
        pairs = []
        for text, tag, entry_id in self.tagged:
            entry = snapshot.entries.get(entry_id) if entry_id else None
            entry_tags = [t for t in entry.tags if t in leaves] if entry else []
            if tag in leaves and (not entry_tags or tag in entry_tags):
                pairs.append((text, tag))
        return pairs


def by_hand_questions(store: Store, scope: str, entries: set[str], start: datetime | None = None,
                      end: datetime | None = None) -> list[GapQuestion]:
    """Past tickets agents answered by hand (from ``start`` to ``end`` by their time), as FAQ-gap questions with
    the agent's reply as the draft's material: the gaps a company has on day one."""
    decided, _ = decide(store.learned_examples(scope), entries)
    out = []
    for d in decided:
        at = as_utc(d.row.at) if d.row.at else None
        if d.kind != "by_hand" or at is None or (start and at < start) or (end and at >= end):
            continue
        out.append(GapQuestion(id=f"history-{d.row.id}", text=d.row.text, at=at, source="history", reply=d.row.reply,
                               language=detect_language(d.row.text)))
    return out


def _clear_label(d: Decided) -> bool:
    """Whether a ticket is clear enough to calibrate on: a link or a paste (a paraphrase is a guess), or a reply by
    hand that is not about the very entry the question's search finds first (one that is may be that entry's
    answer in other words: agents often answer from the FAQ without pasting it)."""
    if d.kind in ("linked", "pasted"):
        return True
    closest = d.row.evidence_value("closest")
    return d.kind == "by_hand" and (closest is None or closest != d.row.evidence_value("top_hit"))


def learned_set(rows: Sequence[Learned], entries: set[str], verdicts: Sequence[AnswerVerdict] = ()) -> LearnedSet:
    """The learned set of a scope's stored tickets (``Store.learned_examples``), then of the judged bot answers
    (``Store.answer_verdicts``; a build learns from them, the tagger needs only the tickets' tags)."""
    decided, threshold = decide(rows, entries)
    out = LearnedSet(threshold=threshold)
    for d in decided:
        ref, text = f"history-{d.row.id}", d.row.text
        if _clear_label(d):
            out.labels.append((text, d.entry_id, ref))
        if d.kind in PHRASING_KINDS:
            out.phrasings.append((d.entry_id or "", text, ref))
        if d.row.tag is not None and d.row.tag_how == "mapped":
            out.tagged.append((text, d.row.tag, d.entry_id))
        out.mix[d.kind] = out.mix.get(d.kind, 0) + 1
    for n, verdict in enumerate(verdicts):
        if verdict.faq_id in entries:
            out.labels.append((verdict.question, verdict.faq_id if verdict.right else None, f"verdict-{n}"))
            if verdict.right:
                out.phrasings.append((verdict.faq_id, verdict.question, f"verdict-{n}"))
    return out
