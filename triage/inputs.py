"""Reading message files (``triage batch``) and labeled files (``triage calibrate``): every bad line is
named as ``file:line: field: problem`` before anything runs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from knowledge.sources import jsonl_rows, read_text
from triage.errors import InputError
from triage.models import Message


def _fail(problems: list[str]) -> InputError:
    return InputError(f"{len(problems)} bad line(s):\n  " + "\n  ".join(problems))


def read_message_rows(path: Path, max_chars: int, require_id: bool = True) -> list[tuple[Message, dict[str, Any]]]:
    """Every message of a JSONL file with its raw row (which may carry labels); ``text`` required and at
    most ``max_chars`` long, ``id`` required when ``require_id``."""
    problems: list[str] = []
    rows: list[tuple[Message, dict[str, Any]]] = []
    for lineno, row in jsonl_rows(read_text(path)):
        where = f"{path}:{lineno}"
        if isinstance(row, SyntaxError):
            problems.append(f"{where}: {row.msg}")
            continue
        try:
            message = Message.model_validate(row)
        except ValidationError as exc:
            fields = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'line'}: {e['msg']}" for e in exc.errors())
            problems.append(f"{where}: {fields}")
            continue
        if require_id and message.id is None:
            problems.append(f"{where}: id: required in a batch file")
        if len(message.text) > max_chars:
            problems.append(f"{where}: text: {len(message.text)} characters; the limit is {max_chars}")
        rows.append((message, row))
    if problems:
        raise _fail(problems)
    return rows


def read_messages(path: Path, max_chars: int) -> list[Message]:
    """Every message of a batch file (``id`` and ``text`` required, text at most ``max_chars`` long)."""
    return [message for message, _ in read_message_rows(path, max_chars)]


def _labeled_rows(path: Path, field: str, problem: Callable[[dict[str, Any]], str | None]) -> list[tuple[str, Any]]:
    """(text, row[field]) per line; ``problem`` names what is wrong with a row's label, if anything."""
    problems: list[str] = []
    rows: list[tuple[str, Any]] = []
    for lineno, row in jsonl_rows(read_text(path)):
        where = f"{path}:{lineno}"
        if isinstance(row, SyntaxError):
            problems.append(f"{where}: {row.msg}")
        elif not isinstance(row, dict) or not str(row.get("text") or "").strip():
            problems.append(f"{where}: 'text' is missing or empty")
        elif (wrong := problem(row)) is not None:
            problems.append(f"{where}: {wrong}")
        else:
            rows.append((str(row["text"]), row[field]))
    if problems:
        raise _fail(problems)
    return rows


def read_labels(path: Path) -> list[tuple[str, str | None]]:
    """(text, expected_faq_id) pairs; ``expected_faq_id`` null means nothing in the KB answers it."""
    return _labeled_rows(path, "expected_faq_id", lambda row: None if "expected_faq_id" in row else
                         "'expected_faq_id' is missing (use null for no answer)")


def read_tag_labels(path: Path, known_tags: set[str]) -> list[tuple[str, str]]:
    """(text, expected_tag) pairs of a labeled JSONL file; every unknown tag is named with its line."""
    def problem(row: dict[str, Any]) -> str | None:
        tag = row.get("expected_tag")
        if not isinstance(tag, str):
            return "'expected_tag' is missing"
        return None if tag in known_tags else f"expected_tag '{tag}' is not in the taxonomy"

    return _labeled_rows(path, "expected_tag", problem)
