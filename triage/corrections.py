"""Agents' tag corrections: appended to a JSONL file as they arrive (flushed and fsynced before the call
returns, so an acknowledged correction survives a crash) and learned from again at every start."""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path

from knowledge.sources import jsonl_rows, read_text
from triage.privacy import redact_text

_lock = threading.Lock()


def append_correction(path: Path, text: str, tag: str, message_id: str | None = None) -> None:
    """Store a correction; personal data in the text is replaced by placeholders first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"text": redact_text(text), "tag": tag, "message_id": message_id,
                       "at": datetime.now(UTC).isoformat()}, ensure_ascii=False)
    with _lock, path.open("a", encoding="utf-8") as f:
        f.write(line + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_corrections(path: Path, known_tags: set[str]) -> list[tuple[str, str]]:
    """(text, tag) of every stored correction whose tag still exists; a torn last line is skipped."""
    if not path.is_file():
        return []
    rows = []
    for _, row in jsonl_rows(read_text(path)):
        if isinstance(row, dict) and isinstance(row.get("text"), str) and row.get("tag") in known_tags:
            rows.append((row["text"], row["tag"]))
    return rows
