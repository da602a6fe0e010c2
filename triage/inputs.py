"""Reading message files (``triage batch``) and labeled files (``triage calibrate``): every bad line is
named as ``file:line: field: problem`` before anything runs."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from knowledge.sources import jsonl_rows, read_text
from triage.errors import InputError
from triage.models import Message


def _fail(problems: list[str]) -> InputError:
    return InputError(f"{len(problems)} bad line(s):\n  " + "\n  ".join(problems))


def read_messages(path: Path, max_chars: int) -> list[Message]:
    """Every message of a JSONL file (``id`` and ``text`` required, text at most ``max_chars`` long)."""
    problems: list[str] = []
    messages: list[Message] = []
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
        if message.id is None:
            problems.append(f"{where}: id: required in a batch file")
        if len(message.text) > max_chars:
            problems.append(f"{where}: text: {len(message.text)} characters; the limit is {max_chars}")
        messages.append(message)
    if problems:
        raise _fail(problems)
    return messages


def read_labels(path: Path) -> list[tuple[str, str | None]]:
    """(text, expected_faq_id) pairs; ``expected_faq_id`` null means nothing in the KB answers it."""
    problems: list[str] = []
    rows: list[tuple[str, str | None]] = []
    for lineno, row in jsonl_rows(read_text(path)):
        where = f"{path}:{lineno}"
        if isinstance(row, SyntaxError):
            problems.append(f"{where}: {row.msg}")
        elif not isinstance(row, dict) or not str(row.get("text") or "").strip():
            problems.append(f"{where}: 'text' is missing or empty")
        elif "expected_faq_id" not in row:
            problems.append(f"{where}: 'expected_faq_id' is missing (use null for no answer)")
        else:
            rows.append((str(row["text"]), row["expected_faq_id"]))
    if problems:
        raise _fail(problems)
    return rows


def read_tag_labels(path: Path, known_tags: set[str]) -> list[tuple[str, str]]:
    """(text, expected_tag) pairs of a labeled JSONL file; every unknown tag is named with its line."""
    problems: list[str] = []
    rows: list[tuple[str, str]] = []
    for lineno, row in jsonl_rows(read_text(path)):
        where = f"{path}:{lineno}"
        if isinstance(row, SyntaxError):
            problems.append(f"{where}: {row.msg}")
        elif not isinstance(row, dict) or not str(row.get("text") or "").strip():
            problems.append(f"{where}: 'text' is missing or empty")
        elif not isinstance(row.get("expected_tag"), str):
            problems.append(f"{where}: 'expected_tag' is missing")
        elif row["expected_tag"] not in known_tags:
            problems.append(f"{where}: expected_tag '{row['expected_tag']}' is not in the taxonomy")
        else:
            rows.append((str(row["text"]), row["expected_tag"]))
    if problems:
        raise _fail(problems)
    return rows
