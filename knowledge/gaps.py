"""FAQ gaps: questions nobody could answer, clustered by meaning, ranked, each with a draft FAQ entry.

Clustering: average-linkage agglomerative clustering on cosine distance, after *centering* the vectors (the
mean vector subtracted, then re-normalized). multilingual-e5 puts every sentence within a narrow cone, so raw
cosine thresholds that fit one data set split or merge another; centred, one threshold carried over from
CLINC150 and paraKQC to DSTC11 (``triage eval gaps`` chooses it on those two and reports on DSTC11). Up to
``EXACT_LIMIT`` questions are clustered exactly; beyond that, MiniBatchKMeans first condenses them into
``MICRO_CLUSTERS`` tight groups whose centres are clustered the same way (measured in ``triage eval gaps``:
exact vs condensed on DSTC11 and the time for 10k and 100k questions).

Chosen over sentence-transformers' community detection and HDBSCAN, measured on the same sets: community
detection needs a raw-similarity threshold that did not carry over (DSTC11 NMI 0.46 at the threshold that
suited CLINC150), and HDBSCAN left 40–50% of DSTC11 as noise.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import yaml
from pydantic import BaseModel, Field

from knowledge.errors import SourceError
from knowledge.lexical import tokenize

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from knowledge.index import Snapshot

GAP_DISTANCE = 0.6  # chosen by `triage eval gaps` on CLINC150 + paraKQC (never on DSTC11, where it is reported)
# Fewer questions than this give no stable mean to centre on: they are clustered on raw cosine distance with
# RAW_GAP_DISTANCE (the best raw threshold on the same tuning sets lies between 0.10 and 0.14)
MIN_CENTERED = 50
RAW_GAP_DISTANCE = 0.11
EXACT_LIMIT = 15000  # the exact path keeps n²/2 distances: 15k questions ≈ 0.9 GB
MICRO_CLUSTERS = 2000
REPRESENTATIVES = 3
WRITTEN_DRAFTS = 10  # the LLM (when configured) drafts the top gaps only; the rest keep the extractive draft
KEY_TERMS = 5
# a cluster this close to an entry is about that entry (raw multilingual-e5 cosine: unrelated Korean pairs sit
# near 0.88, paraphrases above 0.93)
EXISTING_ENTRY_SIMILARITY = 0.93

Source = Literal["handoff", "low_confidence", "answer_rejected", "unhelpful", "answered_then_agent", "history"]
FAILED_ANSWER_SOURCES = {"low_confidence", "answer_rejected", "unhelpful", "answered_then_agent"}


@dataclass(frozen=True)
class GapQuestion:
    """A question the FAQ did not settle (text already redacted), with what an agent replied, if anything."""

    id: str
    text: str
    at: datetime
    source: Source
    faq_id: str | None = None  # the entry the service answered with or considered
    reply: str | None = None
    conversation_id: int | None = None
    language: str | None = None  # clustered apart: centred vectors of another language sit apart anyway


class FaqDraft(BaseModel):
    """A suggested FAQ entry (also the LLM's output schema; no string length limits, see models.RealNeed)."""

    question: str = Field(min_length=1, description="the question in the customers' words")
    examples: list[str] = Field(default_factory=list, description="other ways customers asked it")
    answer: str = Field(description="the answer; '[확인 필요: …]' where a fact is missing")
    source: Literal["llm", "extractive"] = "extractive"


class Gap(BaseModel):
    id: str = Field(description="stable within one run: gap-1 is the top-ranked")
    size: int = Field(description="questions in this period")
    previous_size: int = Field(description="questions in the period before, same length")
    trend: Literal["new", "rising", "steady", "falling"]
    kind: Literal["new_entry_needed", "existing_entry_fails"]
    nearest_faq_id: str | None
    nearest_faq_question: str | None
    nearest_similarity: float | None
    representatives: list[str]
    key_terms: list[str]
    sources: dict[str, int]
    draft: FaqDraft
    question_ids: list[str]
    conversation_ids: list[int]


# --- clustering -------------------------------------------------------------------------------------------

def centered(vectors: NDArray[np.float32], mean: NDArray[np.float32] | None = None) -> NDArray[np.float32]:
    shifted = vectors - (vectors.mean(axis=0) if mean is None else mean)
    norms = np.linalg.norm(shifted, axis=1, keepdims=True)
    return (shifted / np.where(norms == 0, 1, norms)).astype(np.float32)


def cluster_vectors(vectors: NDArray[np.float32], threshold: float = GAP_DISTANCE,
                    exact_limit: int = EXACT_LIMIT, micro_clusters: int = MICRO_CLUSTERS) -> NDArray[np.int64]:
    """One cluster label per vector (0 … k-1)."""
    from sklearn.cluster import AgglomerativeClustering, MiniBatchKMeans

    n = len(vectors)
    if n < 2:
        return np.zeros(n, dtype=np.int64)
    if n < MIN_CENTERED:
        x = np.asarray(vectors, dtype=np.float32)
        threshold = RAW_GAP_DISTANCE
    else:
        x = centered(np.asarray(vectors, dtype=np.float32))

    def agglomerate(points: NDArray[np.float32]) -> NDArray[np.int64]:
        model = AgglomerativeClustering(n_clusters=None, metric="cosine", linkage="average",
                                        distance_threshold=threshold)
        return model.fit(points).labels_.astype(np.int64)

    if n <= exact_limit:
        return agglomerate(x)
    condensed = MiniBatchKMeans(n_clusters=min(micro_clusters, n), random_state=0, n_init=1, batch_size=4096,
                                max_no_improvement=5).fit(x)
    centres = condensed.cluster_centers_
    centres = centres / np.maximum(np.linalg.norm(centres, axis=1, keepdims=True), 1e-12)
    return agglomerate(centres.astype(np.float32))[condensed.labels_]


def key_terms(texts: Sequence[str], document_frequency: Counter[str], documents: int,
              k: int = KEY_TERMS) -> list[str]:
    """The cluster's most telling content morphemes (Kiwi): frequent here, rare elsewhere."""
    counts: Counter[str] = Counter()
    for tokens in tokenize(list(texts)):
        counts.update(t for t in set(tokens) if _telling(t))
    scored = {t: n * math.log((1 + documents) / (1 + document_frequency[t])) for t, n in counts.items()}
    return [t for t, _ in sorted(scored.items(), key=lambda kv: (-kv[1], kv[0]))[:k]]


def _telling(token: str) -> bool:
    """Words, not numbers, order ids or English function words."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    if any(c.isdigit() for c in token) or token in ENGLISH_STOP_WORDS:
        return False
    return len(token) > 1  # one-syllable morphemes (나, 때, 되) say little on their own


# --- gaps -------------------------------------------------------------------------------------------------

DraftWriter = Callable[[list[GapQuestion], list[dict[str, str]]], FaqDraft | None]


def find_gaps(questions: Sequence[GapQuestion], vectors: NDArray[np.float32], snapshot: Snapshot | None,
              period_start: datetime, write_draft: DraftWriter | None = None,
              threshold: float = GAP_DISTANCE) -> list[Gap]:
    """Cluster the questions of this period and the one before (``period_start`` splits them), each language
    apart, and describe each cluster that has questions in this period, largest first (then fastest growing)."""
    if len(questions) == 0:
        return []
    labels = np.zeros(len(questions), dtype=np.int64)
    next_label = 0
    for language_group in sorted({q.language or "" for q in questions}):
        rows = [i for i, q in enumerate(questions) if (q.language or "") == language_group]
        labels[rows] = cluster_vectors(vectors[rows], threshold) + next_label
        next_label = int(labels[rows].max()) + 1
    frequency: Counter[str] = Counter()
    for tokens in tokenize([q.text for q in questions]):
        frequency.update(set(tokens))
    found: list[tuple[Gap, list[GapQuestion], list[dict[str, str]]]] = []
    for label in np.unique(labels):
        members = [int(i) for i in np.flatnonzero(labels == label)]
        now = [i for i in members if questions[i].at >= period_start]
        if not now:
            continue
        before = len(members) - len(now)
        centroid = vectors[now].mean(axis=0)
        order = sorted(now, key=lambda i: -float(vectors[i] @ centroid))
        texts = [questions[i].text for i in order]
        nearest = _nearest_entry(snapshot, centroid / max(float(np.linalg.norm(centroid)), 1e-12))
        sources: Counter[str] = Counter(questions[i].source for i in now)
        failed = [questions[i].faq_id for i in now if questions[i].source in FAILED_ANSWER_SOURCES
                  and questions[i].faq_id]
        common_failed = Counter(failed).most_common(1)
        existing = None
        if common_failed and common_failed[0][1] * 2 > len(now):
            existing = common_failed[0][0]  # most of these were answered with one entry, and it did not settle them
        elif nearest and nearest[1] >= EXISTING_ENTRY_SIMILARITY:
            existing = nearest[0]
        related = _related(snapshot, existing or (nearest[0] if nearest else None))
        members_now = [questions[i] for i in order]
        found.append((Gap(
            id="", size=len(now), previous_size=before, trend=_trend(len(now), before),
            kind="existing_entry_fails" if existing else "new_entry_needed",
            nearest_faq_id=existing or (nearest[0] if nearest else None),
            nearest_faq_question=_question(snapshot, existing or (nearest[0] if nearest else None)),
            nearest_similarity=round(nearest[1], 4) if nearest else None,
            representatives=texts[:REPRESENTATIVES], key_terms=key_terms(texts, frequency, len(questions)),
            sources=dict(sources), draft=extractive_draft(members_now), question_ids=[questions[i].id for i in order],
            conversation_ids=sorted({q.conversation_id for q in members_now if q.conversation_id is not None}),
        ), members_now, related))
    found.sort(key=lambda f: (-f[0].size, -(f[0].size - f[0].previous_size), f[0].representatives[0]))
    gaps = []
    for rank, (gap, members_now, related) in enumerate(found, 1):
        written = write_draft(members_now, related) if write_draft and rank <= WRITTEN_DRAFTS else None
        gaps.append(gap.model_copy(update={"id": f"gap-{rank}", "draft": written or gap.draft}))
    return gaps


def _trend(now: int, before: int) -> Literal["new", "rising", "steady", "falling"]:
    if before == 0:
        return "new"
    if now >= before * 1.25:
        return "rising"
    return "falling" if now <= before * 0.75 else "steady"


def _nearest_entry(snapshot: Snapshot | None, direction: NDArray[np.float32]) -> tuple[str, float] | None:
    if snapshot is None:
        return None
    rows = [r for r, chunk in enumerate(snapshot.chunks) if chunk.kind == "faq"]
    if not rows:
        return None
    similarities = snapshot.vectors[rows] @ direction
    best = int(np.argmax(similarities))
    return snapshot.chunks[rows[best]].entry_id, float(similarities[best])


def _question(snapshot: Snapshot | None, entry_id: str | None) -> str | None:
    entry = snapshot.entries.get(entry_id) if snapshot and entry_id else None
    return entry.question if entry else None


def _related(snapshot: Snapshot | None, entry_id: str | None) -> list[dict[str, str]]:
    entry = snapshot.entries.get(entry_id) if snapshot and entry_id else None
    return [{"id": entry.id, "question": entry.question, "answer": entry.answer}] if entry else []


def extractive_draft(members: Sequence[GapQuestion]) -> FaqDraft:
    """The most central question, up to three other phrasings, and the most typical reply agents sent (the
    reply nearest to the others in wording); no reply yet → a placeholder for the content team."""
    question = members[0].text
    examples = []
    for m in members[1:]:
        if m.text != question and m.text not in examples:
            examples.append(m.text)
        if len(examples) == 3:
            break
    replies = [m.reply for m in members if m.reply]
    answer = _typical(replies) if replies else "[확인 필요: 아직 상담원 답변이 없어요. 답변을 작성해 주세요]"
    return FaqDraft(question=question, examples=examples, answer=answer, source="extractive")


def _typical(replies: list[str]) -> str:
    """The reply sharing the most words with the other replies (ties: the shorter)."""
    words = [set(re.findall(r"\w+", r)) for r in replies]
    def overlap(i: int) -> float:
        return sum(len(words[i] & w) / max(len(words[i] | w), 1) for j, w in enumerate(words) if j != i)
    return replies[max(range(len(replies)), key=lambda i: (overlap(i), -len(replies[i])))]


# --- export and accepting a draft ---------------------------------------------------------------------------

TREND_KO = {"new": "새로 생김", "rising": "늘어남", "steady": "비슷함", "falling": "줄어듦"}
KIND_KO = {"new_entry_needed": "새 항목 필요", "existing_entry_fails": "기존 항목이 해결 못 함"}


def gaps_markdown(gaps: Sequence[Gap], title: str) -> str:
    lines = [f"# {title}", ""]
    if not gaps:
        return "\n".join([*lines, "이 기간에는 답하지 못한 질문이 없어요.", ""])
    lines += ["| # | 질문 수 (이전) | 추세 | 종류 | 가까운 FAQ | 대표 질문 | 핵심어 |", "|---|---|---|---|---|---|---|"]
    for g in gaps:
        nearest = f"{g.nearest_faq_id} ({g.nearest_similarity})" if g.nearest_faq_id else "-"
        lines.append(f"| {g.id} | {g.size} ({g.previous_size}) | {TREND_KO[g.trend]} | {KIND_KO[g.kind]} | {nearest} | "
                     f"{_cell(g.representatives[0])} | {', '.join(g.key_terms)} |")
    for g in gaps:
        lines += ["", f"## {g.id}: {g.draft.question}", "",
                  f"- 질문 {g.size}건 (이전 기간 {g.previous_size}건), {TREND_KO[g.trend]}, {KIND_KO[g.kind]}",
                  f"- 대표 질문: {' / '.join(g.representatives)}",
                  f"- 제안 답변 ({g.draft.source}): {g.draft.answer}",
                  f"- 다른 표현: {' / '.join(g.draft.examples) or '-'}",
                  f"- 대화: {', '.join(str(c) for c in g.conversation_ids) or '-'}"]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def gaps_csv(gaps: Sequence[Gap]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", "size", "previous_size", "trend", "kind", "nearest_faq_id", "nearest_similarity",
                     "representatives", "key_terms", "draft_question", "draft_examples", "draft_answer",
                     "draft_source", "conversation_ids"])
    for g in gaps:
        writer.writerow([g.id, g.size, g.previous_size, g.trend, g.kind, g.nearest_faq_id or "",
                         "" if g.nearest_similarity is None else g.nearest_similarity,
                         " | ".join(g.representatives), " ".join(g.key_terms), g.draft.question,
                         " | ".join(g.draft.examples), g.draft.answer, g.draft.source,
                         " ".join(str(c) for c in g.conversation_ids)])
    return out.getvalue()


def check_accepted_entry(draft: FaqDraft, entry_id: str) -> None:
    """A draft a content team accepts must be finished: an id of 2-64 lowercase letters, digits, '-' or '_', and
    an answer with nothing left to confirm. ``SourceError`` says what to fix."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{1,63}", entry_id):
        raise SourceError([f"id {entry_id!r} must be 2-64 lowercase letters, digits, '-' or '_'"])
    if not draft.answer.strip() or re.search(r"\[(확인 필요|to confirm)", draft.answer):
        raise SourceError([f"the entry {entry_id!r} has no finished answer (empty, or a '[확인 필요: …]' left to "
                           "fill in); write the answer before accepting it"])


def faq_yaml(entries: Sequence[Mapping[str, Any]]) -> str:
    """FAQ entries (``id``, ``question``, ``answer``, ``examples``, ``tags``) as the YAML list that
    ``triage kb build --faq`` reads; empty lists are left out."""
    rows = [{k: v for k, v in e.items() if k in ("id", "question", "answer", "examples", "tags") and v != []}
            for e in entries]
    return yaml.safe_dump(rows, allow_unicode=True, sort_keys=False, width=1000) if rows else "[]\n"
