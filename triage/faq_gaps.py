"""The FAQ gaps of a period, from the inbox store: what the service could not answer, clustered and ranked
(``knowledge.gaps``), each with a suggested entry drafted by the LLM when one is configured, else taken from
what agents actually replied."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from datetime import date, datetime, time, timedelta
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from knowledge.embedding_cache import CachedEmbedder
from knowledge.gaps import DraftWriter, FaqDraft, Gap, GapQuestion, find_gaps
from triage.config import Settings
from triage.errors import InputError, LLMError
from triage.kb import KnowledgeBase
from triage.language import detect_language
from triage.llm import LLMClient
from triage.prompting import render_prompt
from triage.reports import zone
from triage.store import Store
from triage.store.tables import utcnow

log = logging.getLogger("triage.gaps")
MAX_DAYS = 366
DRAFT_QUESTIONS = 8


class GapReport(BaseModel):
    period_start: datetime
    period_end: datetime
    previous_start: datetime = Field(description="the period before, of the same length, for the trend")
    questions: int = Field(description="unanswered questions in this period")
    previous_questions: int = Field(description="unanswered questions in the period before")
    gaps: list[Gap]


_written: OrderedDict[tuple[str, ...], FaqDraft] = OrderedDict()  # LLM drafts by their questions' ids
WRITTEN_KEPT = 500


def llm_draft_writer(llm: LLMClient) -> DraftWriter:
    """A draft writer for ``find_gaps`` that asks the LLM; any failure falls back to the extractive draft. A
    cluster of the same questions gets the draft written before, so reloading the page costs no LLM call."""
    def write(members: list[GapQuestion], related: list[dict[str, str]]) -> FaqDraft | None:
        key = tuple(sorted(m.id for m in members))
        if key in _written:
            return _written[key]
        questions = [m.text for m in members[:DRAFT_QUESTIONS]]
        replies = [m.reply for m in members if m.reply][:3]
        prompt = render_prompt("faq_suggestion", language=detect_language(" ".join(questions)), questions=questions,
                               related=related, replies=replies)
        try:
            draft = llm.complete_json(prompt, FaqDraft, max_tokens=600).value
        except LLMError as exc:
            log.warning("event=gap_draft_fallback reason=%s", type(exc).__name__)
            return None
        written = _written[key] = draft.model_copy(update={"source": "llm"})
        while len(_written) > WRITTEN_KEPT:
            _written.popitem(last=False)
        return written
    return write


def top_gaps(store: Store, kb: KnowledgeBase, settings: Settings, start: date, end: date, timezone: str,
             count: int = 5) -> list[tuple[str, int]]:
    """(representative question, size) of the largest gaps between two report days, for the CX report."""
    until = datetime.combine(end, time(), zone(timezone))
    days = max(1, min(MAX_DAYS, (end - start).days))
    found = current_gaps(store, kb, settings, days, end=until)
    return [(g.representatives[0], g.size) for g in found.gaps[:count]]


_embedders: dict[tuple[str, Path], CachedEmbedder] = {}
_embedding = threading.Lock()


def _question_embedder(kb: KnowledgeBase, settings: Settings) -> CachedEmbedder:
    """One cache per model and folder: its file is read once per process, not once per request. It encodes
    with the KB's current encoder (a reloaded KB brings a new one; the model, and so the vectors, are the same)."""
    key = (kb.embedder.name, settings.var_dir / "cache" / "gap-questions")
    if key not in _embedders:
        _embedders[key] = CachedEmbedder(kb.embedder, key[1])
    _embedders[key].inner = kb.embedder
    return _embedders[key]


def current_gaps(store: Store, kb: KnowledgeBase, settings: Settings, days: int = 30, end: datetime | None = None,
                 llm: LLMClient | None = None) -> GapReport:
    """Gaps of the last ``days`` days (to ``end``, default now), with the trend against the days before."""
    if not 1 <= days <= MAX_DAYS:
        raise InputError(f"days must be 1 to {MAX_DAYS}, not {days}")
    end = end or utcnow()
    start = end - timedelta(days=days)
    previous = start - timedelta(days=days)
    questions = store.gap_questions(previous, end)
    with _embedding:  # the question cache is shared by every request; the LLM drafts below run outside it
        embedder = _question_embedder(kb, settings)
        vectors = (embedder.encode_queries([q.text for q in questions]) if questions
                   else np.zeros((0, kb.embedder.dim), np.float32))
        embedder.save()
    writer = llm_draft_writer(llm) if llm is not None and llm.available else None
    gaps = find_gaps(questions, vectors, kb.snapshot, start, writer)
    log.info("event=gaps_found questions=%d gaps=%d", len(questions), len(gaps))
    current = sum(q.at >= start for q in questions)
    return GapReport(period_start=start, period_end=end, previous_start=previous, questions=current,
                     previous_questions=len(questions) - current, gaps=gaps)
