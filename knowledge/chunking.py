"""Turn FAQ entries and manuals into the units that get embedded.

A FAQ entry becomes one unit per phrasing (its question and each example), all pointing at the entry, so a
message matches the entry through whichever phrasing is closest. A manual is split by Markdown headers, then
recursively into passages with separators that end Korean and English sentences; each passage starts with
its header path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from langchain_text_splitters import MarkdownHeaderTextSplitter, RecursiveCharacterTextSplitter

from knowledge.sources import FaqEntry, Manual

CHUNK_CHARS = 500
CHUNK_OVERLAP = 60
# Paragraphs, lines, then sentence ends: Korean 해요체/합니다체 endings, then generic punctuation.
SENTENCE_SEPARATORS = ["\n\n", "\n", "요. ", "다. ", "죠. ", ". ", "? ", "! ", "。", ", ", " ", ""]
HEADERS = [("#", "h1"), ("##", "h2"), ("###", "h3")]


@dataclass(frozen=True)
class Chunk:
    id: str  # FAQ: "<entry id>@<n>" (n=0 is the question); manual: "<path>#<n>"
    entry_id: str  # the FAQ entry id, or the manual's path
    kind: str  # "faq" or "doc"
    text: str  # what gets embedded and shown
    title: str  # FAQ question, or the manual's header path
    section: str | None = None
    url: str | None = None
    learned: bool = False  # a phrasing learned from the company's traffic, not from its FAQ (``learned_chunks``)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if not self.learned:  # written only when set: snapshots without learned phrasings read as before
            data.pop("learned")
        return data


def faq_chunks(entries: list[FaqEntry]) -> list[Chunk]:
    chunks = []
    for entry in entries:
        phrasings = list(dict.fromkeys([entry.question, *entry.examples]))
        for n, text in enumerate(phrasings):
            chunks.append(Chunk(id=f"{entry.id}@{n}", entry_id=entry.id, kind="faq", text=text,
                                title=entry.question, section=entry.section, url=entry.url))
    return chunks


def learned_chunks(entries: list[FaqEntry], learned: Sequence[tuple[str, str, str]]) -> list[Chunk]:
    """Phrasings learned from past tickets and verdicts (entry id, text, ref) as units of their entry, each
    ``<entry>@<ref>``; none for entries the KB no longer has, nor for a text the entry already has."""
    by_id = {e.id: e for e in entries}
    seen = {(e.id, text) for e in entries for text in (e.question, *e.examples)}
    chunks = []
    for entry_id, text, ref in learned:
        entry = by_id.get(entry_id)
        if entry is None or (entry_id, text) in seen or not text.strip():
            continue
        seen.add((entry_id, text))
        chunks.append(Chunk(id=f"{entry_id}@{ref}", entry_id=entry_id, kind="faq", text=text, title=entry.question,
                            section=entry.section, url=entry.url, learned=True))
    return chunks


def manual_chunks(manuals: list[Manual]) -> list[Chunk]:
    header_splitter = MarkdownHeaderTextSplitter(HEADERS, strip_headers=True)
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=CHUNK_CHARS, chunk_overlap=CHUNK_OVERLAP, separators=SENTENCE_SEPARATORS, keep_separator="end"
    )
    chunks = []
    for manual in manuals:
        n = 0
        for part in header_splitter.split_text(manual.text):
            path = [str(part.metadata[h]) for _, h in HEADERS if h in part.metadata]
            title = " > ".join(path) if path else manual.title
            for piece in splitter.split_text(part.page_content):
                if not piece.strip():
                    continue
                # The header path goes with the passage: "반품 배송비" gives "- 단순 변심: 6,000원" its meaning.
                chunks.append(Chunk(id=f"{manual.id}#{n}", entry_id=manual.id, kind="doc",
                                    text=f"{title}\n{piece.strip()}", title=title))
                n += 1
    return chunks
