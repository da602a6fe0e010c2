"""Reading message files (``triage batch``) and labeled files (``triage calibrate``): every bad line is
named as ``file:line: field: problem`` before anything runs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from knowledge.sources import jsonl_rows, read_text
from triage.errors import InputError
from triage.models import Message


def bad_lines(problems: list[str]) -> InputError:
    return InputError(f"{len(problems)} bad line(s):\n  " + "\n  ".join(problems))


@dataclass(frozen=True)
class MessageLine:
    """One non-blank line of a message file: the message and its raw row, or what is wrong with it."""

    lineno: int
    message: Message | None
    row: Any
    problem: str | None = None

    @property
    def readable_id(self) -> str | None:
        """The line's ``id`` when it can be read, even from an invalid line (to report it by)."""
        if self.message is not None:
            return self.message.id
        raw = self.row.get("id") if isinstance(self.row, dict) else None
        return str(raw) if isinstance(raw, (str, int)) and not isinstance(raw, bool) else None


def _validation_problem(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'line'}: {e['msg']}" for e in exc.errors())


def _in_zone(row: Any, zone: ZoneInfo) -> Any:
    """The row with a ``created_at`` written without a time zone read as a time in ``zone`` (exports of local
    times); any other value is left for validation to judge."""
    value = row.get("created_at") if isinstance(row, dict) else None
    if not isinstance(value, str):
        return row
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return row
    return {**row, "created_at": moment.replace(tzinfo=zone).isoformat()} if moment.tzinfo is None else row


def message_lines(path: Path, max_chars: int, require_id: bool = True,
                  zone: ZoneInfo | None = None) -> list[MessageLine]:
    """Every non-blank line of a JSONL message file, checked: ``text`` required and at most ``max_chars``
    long, ``id`` required when ``require_id``; a ``created_at`` without a time zone is read in ``zone`` (None:
    it is invalid)."""
    lines: list[MessageLine] = []
    for lineno, row in jsonl_rows(read_text(path)):
        if isinstance(row, SyntaxError):
            lines.append(MessageLine(lineno, None, None, row.msg))
            continue
        if zone is not None:
            row = _in_zone(row, zone)
        try:
            message = Message.model_validate(row)
        except ValidationError as exc:
            lines.append(MessageLine(lineno, None, row, _validation_problem(exc)))
            continue
        problems = []
        if require_id and message.id is None:
            problems.append("id: required in a batch file")
        if len(message.text) > max_chars:
            problems.append(f"text: {len(message.text)} characters; the limit is {max_chars}")
        lines.append(MessageLine(lineno, None, row, "; ".join(problems)) if problems else
                     MessageLine(lineno, message, row))
    return lines


def line_problems(path: Path, lines: list[MessageLine]) -> list[str]:
    """``file:line: problem`` for every invalid line."""
    return [f"{path}:{line.lineno}: {line.problem}" for line in lines if line.problem is not None]


def read_message_rows(path: Path, max_chars: int, require_id: bool = True) -> list[tuple[Message, dict[str, Any]]]:
    """Every message of a JSONL file with its raw row (which may carry labels); any invalid line fails the
    whole file, naming every one."""
    lines = message_lines(path, max_chars, require_id)
    if problems := line_problems(path, lines):
        raise bad_lines(problems)
    return [(line.message, line.row) for line in lines if line.message is not None]


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
        raise bad_lines(problems)
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
