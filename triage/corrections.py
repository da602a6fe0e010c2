"""Agents' tag corrections live in the store (``tag_corrections``). Earlier versions appended them to a JSONL file
under var/; ``import_legacy_file`` moves that file's rows into the store once, at the first start."""

from __future__ import annotations

import logging
from pathlib import Path

from knowledge.sources import jsonl_rows, read_text
from triage.store import Store

log = logging.getLogger("triage.corrections")


def import_legacy_file(store: Store, path: Path) -> int:
    """Store the rows of an earlier version's corrections file, then rename it ``*.imported`` (so it is read
    once); a torn last line is skipped. How many were imported."""
    if not path.is_file():
        return 0
    rows = [(row["text"], row["tag"], row.get("message_id") if isinstance(row.get("message_id"), str) else None)
            for _, row in jsonl_rows(read_text(path))
            if isinstance(row, dict) and isinstance(row.get("text"), str) and isinstance(row.get("tag"), str)
            and len(row["tag"]) <= 64]
    imported = store.import_corrections(rows)
    path.rename(path.with_name(path.name + ".imported"))
    log.info("event=corrections_imported rows=%d file=%s", imported, path)
    return imported
