"""Load and validate knowledge-base sources: FAQ files and manuals (DESIGN.md §4).

Every problem is collected before anything fails, so one run names every bad row as ``file:line: what``.
"""

from __future__ import annotations

import csv
import html.parser
import io
import json
import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from knowledge.errors import SourceError

FAQ_SUFFIXES = {".jsonl", ".json", ".yaml", ".yml", ".csv"}
MANUAL_SUFFIXES = {".md", ".txt", ".html", ".htm"}
KNOWN_FIELDS = {"id", "question", "answer", "examples", "tags", "url", "section", "urgent_self_service"}
# a CSV cell is text: these words are urgent_self_service's yes and no (anything else is reported)
CSV_BOOLEANS = {"true": True, "yes": True, "1": True, "y": True, "false": False, "no": False, "0": False, "n": False}


@dataclass(frozen=True)
class FaqEntry:
    id: str
    question: str
    answer: str
    examples: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    url: str | None = None
    section: str | None = None
    # the entry is the self-service answer to an urgent situation (money at risk, a lost phone, …): the bot may answer
    # such a message with it, where it hands every other entry off to a person (``triage.pipeline``)
    urgent_self_service: bool = False
    metadata: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    origin: str = field(default="", compare=False)  # "file:line", for error messages


@dataclass(frozen=True)
class Manual:
    id: str  # path relative to the manuals folder
    title: str
    text: str  # Markdown (HTML is converted, plain text kept as is)


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError([f"{path}: not UTF-8 ({exc.reason} at byte {exc.start}); save it as UTF-8"]) from exc
    except OSError as exc:
        raise SourceError([f"{path}: cannot read ({exc.strerror})"]) from exc


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``path`` whole or not at all: a reader sees the old file or the new one, never half of it. The
    partial file is named for this process and thread, so concurrent writers do not trip over each other's."""
    partial = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


# ---------------------------------------------------------------- FAQ rows with their line numbers

def jsonl_rows(text: str) -> Iterator[tuple[int, Any]]:
    """(line number, parsed object) per non-blank line; a ``SyntaxError`` stands for an unparsable line."""
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield lineno, json.loads(line)
        except json.JSONDecodeError as exc:
            yield lineno, SyntaxError(f"invalid JSON ({exc.msg} column {exc.colno})")


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def json_list_items(text: str, pos: int) -> Iterator[tuple[int, Any]]:
    """The items of the JSON list whose ``[`` is at ``pos``, each with the position it starts at; last, when the
    list cannot be read to its end, ``(position, json.JSONDecodeError)`` for an item that is not JSON or
    ``(len(text), EOFError())`` for a list that is not closed."""
    decoder = json.JSONDecoder()
    pos += 1
    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text):
            yield pos, EOFError()
            return
        if text[pos] == "]":
            return
        try:
            value, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            yield exc.pos, exc
            return
        yield pos, value
        pos = end


def _rows_json(text: str) -> Iterator[tuple[int, Any]]:
    pos = len(text) - len(text.lstrip())
    if text[pos:pos + 1] != "[":
        yield _line_of(text, pos), SyntaxError("a JSON FAQ file must hold a list of entries")
        return
    for at, value in json_list_items(text, pos):
        if isinstance(value, EOFError):
            value = SyntaxError("unterminated JSON list")
        elif isinstance(value, json.JSONDecodeError):
            value = SyntaxError(f"invalid JSON ({value.msg} column {value.colno})")
        yield _line_of(text, at), value


def yaml_rows(text: str) -> Iterator[tuple[int, Any]]:
    """(line number, parsed item) per item of a YAML list; a ``SyntaxError`` stands for invalid YAML or a
    document that is not a list."""
    for _, lineno, value in yaml_items(text):
        yield lineno, value


def yaml_items(text: str, keys: Sequence[str] = ()) -> Iterator[tuple[str | None, int, Any]]:
    """(key, line number, parsed item) per item of a YAML list (key None), or, when ``keys`` are given, of the
    lists a YAML mapping holds under those keys: key by key in the order given, other keys ignored, a missing or
    empty key yielding nothing. A ``SyntaxError`` item stands for invalid YAML, a document of neither shape (a
    mapping holding none of ``keys`` too), or a key whose value is not a list (on the key's line)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        values = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        yield None, (mark.line + 1 if mark else 1), SyntaxError(f"invalid YAML ({getattr(exc, 'problem', exc)})")
        return
    if root is None:
        return
    if isinstance(root, yaml.SequenceNode) and isinstance(values, list):
        for node, value in zip(root.value, values, strict=True):
            yield None, node.start_mark.line + 1, value
        return
    nodes: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    if isinstance(root, yaml.MappingNode) and isinstance(values, dict):
        nodes = {k.value: (k, v) for k, v in root.value if isinstance(k, yaml.ScalarNode)}
    if not any(key in nodes for key in keys):
        shape = f"a list, or a mapping with {' or '.join(repr(k) for k in keys)}" if keys else "a list of entries"
        yield None, root.start_mark.line + 1, SyntaxError(f"the YAML file must hold {shape}")
        return
    for key in keys:
        if key not in nodes or values.get(key) is None:
            continue
        key_node, node = nodes[key]
        if not isinstance(node, yaml.SequenceNode) or not isinstance(values[key], list):
            yield key, key_node.start_mark.line + 1, SyntaxError(f"'{key}' must hold a list")
            continue
        for item, value in zip(node.value, values[key], strict=True):
            yield key, item.start_mark.line + 1, value


def _rows_csv(text: str) -> Iterator[tuple[int, Any]]:
    reader = csv.DictReader(io.StringIO(text))
    start = 2
    for row in reader:
        extra = row.pop(None, None)  # type: ignore[call-overload]
        if extra:
            yield start, SyntaxError(f"{len(extra)} more cell(s) than the header has columns")
        else:
            parsed: dict[str, Any] = {k: v for k, v in row.items() if v not in (None, "")}
            for key in ("examples", "tags"):
                if key in parsed:
                    parsed[key] = [p.strip() for p in str(parsed[key]).split("|") if p.strip()]
            flag = str(parsed.get("urgent_self_service", "")).strip().lower()
            if flag in CSV_BOOLEANS:
                parsed["urgent_self_service"] = CSV_BOOLEANS[flag]
            yield start, parsed
        start = reader.line_num + 1


_READERS = {".jsonl": jsonl_rows, ".json": _rows_json, ".yaml": yaml_rows, ".yml": yaml_rows,
            ".csv": _rows_csv}


def _string_list(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,) if value.strip() else ()
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
        return tuple(str(v).strip() for v in value if str(v).strip())
    return None


def _entry(row: Any, origin: str, problems: list[str]) -> FaqEntry | None:
    if not isinstance(row, dict):
        problems.append(f"{origin}: expected an object with id, question and answer, got {type(row).__name__}")
        return None
    bad = []
    values: dict[str, Any] = {}
    for key in ("id", "question", "answer"):
        value = row.get(key)
        if isinstance(value, (int, float)) and key == "id" and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value.strip():
            bad.append(f"'{key}' is missing or empty")
        else:
            values[key] = value.strip()
    for key in ("examples", "tags"):
        parsed = _string_list(row.get(key))
        if parsed is None:
            bad.append(f"'{key}' must be a list of strings")
        values[key] = parsed or ()
    for key in ("url", "section"):
        value = row.get(key)
        if value is not None and not isinstance(value, str):
            bad.append(f"'{key}' must be a string")
        values[key] = value.strip() if isinstance(value, str) and value.strip() else None
    urgent = row.get("urgent_self_service")
    if urgent is not None and not isinstance(urgent, bool):
        bad.append(f"'urgent_self_service' must be true or false, got {urgent!r}")
    values["urgent_self_service"] = urgent is True
    if bad:
        problems.append(f"{origin}: " + "; ".join(bad))
        return None
    metadata = {k: v for k, v in row.items() if k not in KNOWN_FIELDS}
    return FaqEntry(**values, metadata=metadata, origin=origin)


EMPTY_HINT = "pass --allow-empty if that is meant"


def load_faq_files(paths: Iterable[Path], allow_empty: bool = False) -> list[FaqEntry]:
    """Load FAQ entries from every file; raise ``SourceError`` naming every bad row and duplicate id, and
    (unless ``allow_empty``) every file that holds no entry at all: an emptied export must not empty the KB."""
    problems: list[str] = []
    entries: list[FaqEntry] = []
    for path in paths:
        path = Path(path)
        reader = _READERS.get(path.suffix.lower())
        if reader is None:
            problems.append(f"{path}: unsupported FAQ format '{path.suffix}' (use {', '.join(sorted(FAQ_SUFFIXES))})")
            continue
        try:
            text = read_text(path)
        except SourceError as exc:
            problems.extend(exc.problems)
            continue
        rows = 0
        for lineno, row in reader(text):
            rows += 1
            origin = f"{path}:{lineno}"
            if isinstance(row, SyntaxError):
                problems.append(f"{origin}: {row.msg}")
                continue
            entry = _entry(row, origin, problems)
            if entry is not None:
                entries.append(entry)
        if not rows and not allow_empty:
            problems.append(f"{path}: no FAQ entries in the file ({EMPTY_HINT})")
    seen: dict[str, list[str]] = {}
    for entry in entries:
        seen.setdefault(entry.id, []).append(entry.origin)
    for entry_id, origins in seen.items():
        if len(origins) > 1:
            problems.append(f"duplicate FAQ id '{entry_id}' at {', '.join(origins)}")
    if problems:
        raise SourceError(problems)
    return entries


def write_faq_jsonl(entries: Iterable[FaqEntry], path: Path) -> None:
    """Write entries in the FAQ JSONL format (the inverse of loading; metadata fields kept)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        for e in entries:
            row = {"id": e.id, "question": e.question, "answer": e.answer, "examples": list(e.examples),
                   "tags": list(e.tags), "url": e.url, "section": e.section,
                   **({"urgent_self_service": True} if e.urgent_self_service else {}), **e.metadata}
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


# ---------------------------------------------------------------- manuals

class _HtmlToMarkdown(html.parser.HTMLParser):
    """Keep headings as Markdown headings (so the header-aware splitter sees them) and the visible text."""

    _BLOCKS = frozenset({"p", "div", "li", "tr", "br", "section", "article", "table", "ul", "ol"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif len(tag) == 2 and tag[0] == "h" and tag[1] in "123456":
            self.parts.append("\n\n" + "#" * int(tag[1]) + " ")
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        elif (tag[0] == "h" and tag[1:] in ("1", "2", "3", "4", "5", "6")) or tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_markdown(text: str) -> str:
    parser = _HtmlToMarkdown()
    parser.feed(text)
    lines = [" ".join(line.split()) for line in "".join(parser.parts).splitlines()]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


def _title(text: str, fallback: str) -> str:
    for line in text.splitlines():
        if line.startswith("#"):
            return line.lstrip("#").strip() or fallback
        if line.strip():
            return line.strip()[:80]
    return fallback


def load_manuals(folder: Path, allow_empty: bool = False) -> list[Manual]:
    """Every .md/.txt/.html file under ``folder``, sorted by path; raise ``SourceError`` for unreadable ones
    and (unless ``allow_empty``) for a folder without any."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SourceError([f"{folder}: manuals folder not found"])
    problems: list[str] = []
    manuals: list[Manual] = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in MANUAL_SUFFIXES):
        try:
            text = read_text(path)
        except SourceError as exc:
            problems.extend(exc.problems)
            continue
        if path.suffix.lower() in (".html", ".htm"):
            text = html_to_markdown(text)
        rel = path.relative_to(folder).as_posix()
        if not text.strip():
            problems.append(f"{path}: empty document")
            continue
        manuals.append(Manual(id=rel, title=_title(text, rel), text=text))
    if not manuals and not problems and not allow_empty:
        problems.append(f"{folder}: no manuals ({' '.join(sorted(MANUAL_SUFFIXES))}) in the folder ({EMPTY_HINT})")
    if problems:
        raise SourceError(problems)
    return manuals
