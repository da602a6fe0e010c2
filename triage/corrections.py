"""Agents' tag corrections live in the store (``tag_corrections``), each with the *scope* it was made under: the
knowledge base and the taxonomy the service was serving. A correction teaches the tagger of its own scope only:
another KB, or another taxonomy over the same KB, never learns it, even where the tag ids coincide (the same id
may mean something else there, or the same words may belong under another tag).

The scope is a short code (``scope_code``) hashed from two parts, both read from the configuration, never from
the loaded files, so it is the same in every replica that shares the paths and after every restart or rebuild:

- the KB: ``demo`` for the demo KB (wherever each replica builds it under its ``var/``), else the index folder
  resolved (``index_folder``: a snapshot folder of it, ``DIR/snapshots/<stamp>`` or ``DIR/current``, names the
  same folder ``DIR``, so rebuilding the KB keeps its corrections);
- the taxonomy: ``demo`` for the shipped demo taxonomy, ``faq-tags`` for a taxonomy made from the FAQ entries'
  tags (a KB without a taxonomy file), else the taxonomy file's path resolved (editing the file keeps its
  corrections; a corrected tag the file no longer has is skipped when the tagger is trained).

Rows stored before corrections had a scope (migration 0005) have none (NULL). They belong to ``LEGACY_SCOPE``,
the demo KB with its demo taxonomy (the one deployment before), and every other scope ignores them; to have
another KB learn them, give them its scope (``UPDATE tag_corrections SET scope = '<scope>' WHERE scope IS NULL``;
the service logs its scope at start).

Earlier versions appended corrections to a JSONL file under var/; ``import_legacy_file`` moves that file's rows
into the store once, at the first start, in the scope the service is configured for (the file was that
``var/``'s own)."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from knowledge.sources import jsonl_rows, read_text

if TYPE_CHECKING:
    from triage.config import Settings
    from triage.store import Store

log = logging.getLogger("triage.corrections")

DEMO = "demo"
FAQ_TAGS = "faq-tags"
SCOPE_CHARS = 16  # hex digits of SHA-256: 64 bits, no collision between a deployment's few KBs and taxonomies


def scope_code(kb: str, taxonomy: str) -> str:
    """The scope of corrections made on the KB ``kb`` with the taxonomy ``taxonomy`` (their parts: see the
    module's docstring)."""
    return hashlib.sha256(f"{kb}\n{taxonomy}".encode()).hexdigest()[:SCOPE_CHARS]


LEGACY_SCOPE = scope_code(DEMO, DEMO)  # the scope of the corrections stored without one (NULL)


def index_folder(path: Path) -> Path:
    """The index folder ``path`` names, resolved: a snapshot folder (``DIR/snapshots/<stamp>``, also reached
    through ``DIR/current``) names ``DIR``."""
    folder = path.resolve()
    if folder.parent.name == "snapshots" and (folder / "manifest.json").is_file():
        return folder.parent.parent
    return folder


def scope_parts(settings: Settings, kb: Path | None = None, taxonomy: Path | None = None) -> tuple[str, str]:
    """The two parts of the scope: the KB (``kb``, else the configured one, else the demo) and the taxonomy
    (``taxonomy``, else the one ``triage.kb.taxonomy_file`` picks for that KB, else the FAQ tags)."""
    from triage.kb import taxonomy_file  # imported here: triage.kb loads FAISS

    if kb is not None:
        settings = settings.model_copy(update={"kb_dir": kb})
    kb_part = DEMO if settings.kb_dir is None else str(index_folder(settings.kb_dir))
    path = taxonomy_file(settings, taxonomy)
    if path is None:
        return kb_part, FAQ_TAGS
    resolved = path.resolve()
    return kb_part, DEMO if resolved == (settings.demo_sources / "taxonomy.yaml").resolve() else str(resolved)


def corrections_scope(settings: Settings, kb: Path | None = None, taxonomy: Path | None = None) -> str:
    """The scope of the corrections made, and learned, on the KB ``kb`` with the taxonomy ``taxonomy`` (None:
    the configured ones, as ``KnowledgeBase.open`` picks them)."""
    return scope_code(*scope_parts(settings, kb, taxonomy))


def import_legacy_file(store: Store, path: Path, scope: str) -> int:
    """Store the rows of an earlier version's corrections file in ``scope``, then rename it ``*.imported`` (so
    it is read once); a torn last line is skipped. How many were imported."""
    if not path.is_file():
        return 0
    rows = [(row["text"], row["tag"], row.get("message_id") if isinstance(row.get("message_id"), str) else None)
            for _, row in jsonl_rows(read_text(path))
            if isinstance(row, dict) and isinstance(row.get("text"), str) and isinstance(row.get("tag"), str)
            and len(row["tag"]) <= 64]
    imported = store.import_corrections(rows, scope)
    path.rename(path.with_name(path.name + ".imported"))
    log.info("event=corrections_imported rows=%d file=%s scope=%s", imported, path, scope)
    return imported
