"""One message through every stage: embed and search once, then each stage reads the same hits."""

from __future__ import annotations

import time

from knowledge.search import SearchResult
from triage.answering import Decision
from triage.kb import KnowledgeBase
from triage.models import Citation, Message, TriageResult

CITATIONS = 3


def citations(result: SearchResult, decision: Decision) -> list[Citation]:
    """The entry used (or the candidate) first, then the best manual passage, then the next FAQ entries."""
    faq = result.faq_hits
    if decision.hit is not None:
        faq = [decision.hit] + [h for h in faq if h.entry_id != decision.hit.entry_id]
    hits = faq[:1] + result.doc_hits[:1] + faq[1:]
    # the score shown is the cosine similarity, comparable across FAQ entries and manual passages
    return [Citation(id=h.chunk_id if h.kind == "doc" else h.entry_id, title=h.title, url=h.url,
                     score=round(h.dense, 4)) for h in hits[:CITATIONS]]


class Pipeline:
    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb

    def run(self, message: Message, section: str | None = None) -> TriageResult:
        started = time.perf_counter()
        result = self.kb.searcher.search(message.text, k=8, section=section or message.page)
        timings = dict(result.timings_ms)
        t = time.perf_counter()
        decision = self.kb.answerer.decide(result)
        timings["answer"] = (time.perf_counter() - t) * 1000
        timings["total"] = (time.perf_counter() - started) * 1000
        answered = decision.decision == "auto_answer" and decision.hit is not None
        warnings = [] if self.kb.calibrated else ["this index has no calibration of its own: "
                                                  "using the demo KB's answer model (run `triage calibrate`)"]
        return TriageResult(
            id=message.id,
            decision=decision.decision,
            decision_reason=decision.reason,
            faq_id=decision.hit.entry_id if answered and decision.hit else None,
            candidate_faq_id=decision.hit.entry_id if decision.hit else None,
            confidence=round(decision.confidence, 4),
            answer=decision.hit.text if answered and decision.hit else None,
            citations=citations(result, decision),
            warnings=warnings,
            timings_ms={k: round(v, 2) for k, v in timings.items()},
        )
