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
import yaml
from pydantic import BaseModel, Field

from knowledge.embedding_cache import CachedEmbedder
from knowledge.errors import SourceError
from knowledge.gaps import DraftWriter, FaqDraft, Gap, GapQuestion, faq_yaml, find_gaps
from knowledge.sources import write_text_atomic
from triage.config import Settings
from triage.errors import ConflictError, InputError, LLMError
from triage.helpdesk.learned import by_hand_questions, learned_scope
from triage.kb import KnowledgeBase
from triage.llm import LLMClient
from triage.prompting import render_prompt
from triage.reports import zone
from triage.stages.language import detect_language
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
    questions = store.gap_questions(previous, end) + by_hand_questions(
        store, learned_scope(settings), set(kb.snapshot.entries), previous, end)
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


# --- accepted entries: the store holds them; the FAQ file the next `triage kb build` takes is written from it ---

def accept_entry(store: Store, path: Path, entry_id: str, draft: FaqDraft, tags: list[str],
                 by: str | None = None) -> Path:
    """Keep an entry a content team accepted (``SourceError``: unfinished; ``ConflictError``: the id is taken),
    then write every accepted entry to ``path``; that path."""
    store.accept_faq_entry(entry_id, draft, tags, by)
    log.info("event=faq_accepted entry=%s", entry_id)
    return write_accepted_file(store, path)


def write_accepted_file(store: Store, path: Path) -> Path:
    """Every accepted entry, as a FAQ file at ``path`` (replaced whole, never half written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, faq_yaml(store.accepted_faq_entries()))
    return path


def import_accepted_file(store: Store, path: Path) -> int:
    """The entries of an accepted-entries file that the store lacks (an earlier version appended them to a file
    under each replica's ``var/``): stored, oldest first; how many. Read at every start, so a file edited by hand
    is taken too; an entry that is unfinished or not an entry is left out, with a log line."""
    if not path.is_file():
        return 0
    try:
        rows = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    except (OSError, yaml.YAMLError) as exc:
        log.error("event=accepted_faq_unreadable file=%s error=%s", path, exc)
        return 0
    known = {e["id"] for e in store.accepted_faq_entries()}
    imported = 0
    for row in rows if isinstance(rows, list) else []:
        if not isinstance(row, dict) or str(row.get("id")) in known:
            continue
        try:
            draft = FaqDraft(question=str(row.get("question") or ""), answer=str(row.get("answer") or ""),
                             examples=[str(x) for x in row.get("examples") or []])
            store.accept_faq_entry(str(row.get("id")), draft, [str(t) for t in row.get("tags") or []])
            imported += 1
        except (ValueError, SourceError, ConflictError) as exc:
            log.warning("event=accepted_faq_skipped file=%s id=%s reason=%s", path, row.get("id"), exc)
    if imported:
        log.info("event=accepted_faq_imported rows=%d file=%s", imported, path)
    return imported
