"""Search a snapshot: embed the message once, score every KB entry, return ranked hits with their evidence.

A FAQ entry has several vectors (question + examples); its dense score combines its closest phrasing with
the mean of its closest few (a soft k-NN vote that rewards entries many phrasings agree on). Manual passages
are scored alone. BM25 over Kiwi morphemes is reported per hit as ``lexical`` (0..1, relative to the best).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from knowledge.index import Snapshot

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from knowledge.embedders import Embedder

CANDIDATE_UNITS = 100  # nearest units fetched from FAISS before grouping them by entry
VOTE_K = 3  # phrasings averaged into the vote
VOTE_WEIGHT = 0.0  # weight of that mean against the single closest phrasing


@dataclass
class Hit:
    entry_id: str
    kind: str  # "faq" | "doc"
    title: str
    text: str  # the FAQ answer, or the manual passage
    matched: str  # the phrasing or passage that matched best
    chunk_id: str
    score: float  # ranking score (dense + section boost)
    dense: float  # cosine similarity of the best phrasing
    lexical: float  # BM25 of the best unit of this entry, relative to the best unit overall (0..1)
    section: str | None = None
    url: str | None = None
    tags: tuple[str, ...] = ()


@dataclass
class SearchResult:
    query: str
    hits: list[Hit]
    timings_ms: dict[str, float] = field(default_factory=dict)
    vector: NDArray[np.float32] | None = None

    @property
    def faq_hits(self) -> list[Hit]:
        return [h for h in self.hits if h.kind == "faq"]


class Searcher:
    def __init__(self, snapshot: Snapshot, embedder: Embedder, section_boost: float = 0.03) -> None:
        self.snapshot = snapshot
        self.embedder = embedder
        self.section_boost = section_boost
        self._kinds = np.array([c.kind for c in snapshot.chunks])

    def embed(self, text: str) -> NDArray[np.float32]:
        return self.embedder.encode_queries([text])[0]

    def search(self, text: str, k: int = 5, section: str | None = None,
               vector: NDArray[np.float32] | None = None) -> SearchResult:
        timings: dict[str, float] = {}
        started = time.perf_counter()
        if vector is None:
            vector = self.embed(text)
        timings["embed"] = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        hits = self._rank(text, vector, section)[:k]
        timings["search"] = (time.perf_counter() - started) * 1000
        return SearchResult(query=text, hits=hits, timings_ms=timings, vector=vector)

    def _rank(self, text: str, vector: NDArray[np.float32], section: str | None) -> list[Hit]:
        snap = self.snapshot
        n = min(CANDIDATE_UNITS, len(snap.chunks))
        sims, rows = snap.dense.search(vector.reshape(1, -1).astype(np.float32), n)
        by_entry: dict[str, list[tuple[float, int]]] = {}
        for sim, row in zip(sims[0], rows[0], strict=True):
            if row >= 0:
                by_entry.setdefault(snap.chunks[row].entry_id, []).append((float(sim), int(row)))
        lexical = snap.lexical.scores(text)
        best_lexical = float(lexical.max()) if lexical.size else 0.0
        hits = []
        for entry_id, scored in by_entry.items():
            scored.sort(reverse=True)
            best_sim, best_row = scored[0]
            chunk = snap.chunks[best_row]
            dense = best_sim
            if chunk.kind == "faq" and VOTE_WEIGHT:
                all_sims = np.sort(snap.vectors[snap.entry_rows[entry_id]] @ vector)[::-1]
                dense = (1 - VOTE_WEIGHT) * best_sim + VOTE_WEIGHT * float(all_sims[:VOTE_K].mean())
            rows_of_entry = snap.entry_rows[entry_id] if chunk.kind == "faq" else [best_row]
            lex = float(lexical[rows_of_entry].max()) / best_lexical if best_lexical > 0 else 0.0
            score = dense + (self.section_boost if section and chunk.section == section else 0.0)
            entry = snap.entries.get(entry_id)
            hits.append(Hit(
                entry_id=entry_id, kind=chunk.kind, title=chunk.title,
                text=entry.answer if entry else chunk.text, matched=chunk.text, chunk_id=chunk.id,
                score=score, dense=dense, lexical=lex, section=chunk.section, url=chunk.url,
                tags=entry.tags if entry else (),
            ))
        hits.sort(key=lambda h: h.score, reverse=True)
        return hits


def describe(result: SearchResult) -> dict[str, Any]:
    """A compact, log-safe view of a result (ids and scores only, never the text)."""
    return {"hits": [(h.entry_id, round(h.score, 4)) for h in result.hits[:3]], **result.timings_ms}
