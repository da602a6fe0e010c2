"""Read a company's exported helpdesk tickets into ``Ticket`` rows, whatever tool exported them.

Formats (``fmt="auto"`` tells them apart by the file's suffix and its first record):

- ``jsonl``: the project's own shape, one ticket per line: ``ticket_id``, ``created_at``, ``channel``, ``subject``,
  ``requester`` {``id``, ``segment``}, ``tags``, ``status``, ``comments`` [{``author`` (a role), ``created_at``,
  ``body``}].
- ``zendesk``: Zendesk tickets with their comments, as JSON (``{"tickets": [...]}`` or a list) or JSONL: ``id``,
  ``requester_id``, ``via.channel``, ``comments`` [{``author_id``, ``body`` or ``plain_body``, ``public``}]. A comment
  is the customer's when its author is the ticket's requester, else the agent's; private notes are skipped.
- ``csv``: one row per message (Channel Talk, Freshdesk, Zendesk and the like), its columns found by common names.

A ``--map`` file (``load_mapping``) renames fields for any format and adds author roles. Every record that cannot
be read becomes a ``BadRow`` naming its ``file:line`` and what to fix; the rest still comes through. Bodies are
returned as exported: the importer redacts them, and nothing here logs them.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import chain
from pathlib import Path
from typing import Any, Literal, cast, get_args

import yaml
from pydantic_core import PydanticCustomError

from knowledge.sources import json_list_items
from triage.errors import InputError
from triage.helpdesk.tickets import BadRow, Comment, Ticket
from triage.models import storable

Format = Literal["auto", "jsonl", "zendesk", "csv"]
Role = Literal["customer", "agent", "ignore"]  # "ignore": bot and system messages, neither side of the talk
Shape = Literal["jsonl", "zendesk", "csv"]

TICKET_FIELDS = ("ticket_id", "created_at", "channel", "subject", "requester_id", "segment", "tags", "status",
                 "comments")
# read in each comment of a JSON ticket, or in each row of a CSV (where ``created_at`` is the message's time too)
COMMENT_FIELDS = ("author", "author_id", "body", "public", "comment_created_at")
MAP_KEYS = (*TICKET_FIELDS, *COMMENT_FIELDS, "roles")

_DEFAULTS: dict[Shape, dict[str, tuple[str, ...]]] = {
    "jsonl": {
        "ticket_id": ("ticket_id", "id"), "created_at": ("created_at",), "channel": ("channel", "via.channel"),
        "subject": ("subject",), "requester_id": ("requester.id", "requester_id"),
        "segment": ("requester.segment", "segment"), "tags": ("tags",), "status": ("status",),
        "comments": ("comments",), "author": ("author", "role"), "author_id": ("author_id",), "body": ("body",),
        "public": ("public",), "comment_created_at": ("created_at",),
    },
    "zendesk": {
        "ticket_id": ("id",), "created_at": ("created_at",), "channel": ("via.channel",),
        "subject": ("subject", "raw_subject"), "requester_id": ("requester_id",), "segment": (), "tags": ("tags",),
        "status": ("status",), "comments": ("comments",), "author": (), "author_id": ("author_id", "author.id"),
        "body": ("body", "plain_body"), "public": ("public",), "comment_created_at": ("created_at",),
    },
    # column names, matched ignoring case, spaces and punctuation; the first one present wins
    "csv": {
        "ticket_id": ("ticket_id", "ticket id", "ticket number", "chatId", "conversation_id", "id"),
        "created_at": ("created_at", "createdAt", "created", "created time", "timestamp", "sent_at", "time", "date"),
        "channel": ("channel", "via", "source", "medium"), "subject": ("subject", "title"),
        "requester_id": ("requester_id", "requester", "customer_id", "user_id", "contact_id"),
        "segment": ("segment", "customer_segment", "tier"), "tags": ("tags", "tag", "labels"),
        "status": ("status", "state"), "comments": (),
        "author": ("author", "role", "author_role", "author_type", "personType", "sender_type", "sender"),
        "author_id": ("author_id", "sender_id", "personId"),
        "body": ("body", "message", "text", "plainText", "content", "comment"),
        "public": ("public", "is_public"), "comment_created_at": (),
    },
}


def _norm(name: str) -> str:
    """A name as matched: lower case, without spaces and punctuation ("Ticket ID", "ticket_id" → "ticketid")."""
    return re.sub(r"[\W_]+", "", name.casefold())


_DEFAULT_ROLES: dict[str, Role] = {
    **{_norm(r): "customer" for r in ("customer", "end-user", "requester", "user", "client", "contact", "visitor",
                                      "고객")},
    **{_norm(r): "agent" for r in ("agent", "admin", "manager", "staff", "operator", "support", "상담사", "상담원")},
    **{_norm(r): "ignore" for r in ("bot", "system", "automation", "automated", "workflow", "trigger")},
}
_FALSE = {"false", "no", "0", "n", "private", "internal"}


class _Bad(Exception):
    """A record that cannot be read; its text says what to fix."""


@dataclass(frozen=True)
class FieldMap:
    """An export's names that differ from the defaults (a ``--map`` file): a field → the export's name (a dot path
    into JSON tickets and comments, a column in CSV), and roles (normalized) → customer, agent or ignore."""

    fields: Mapping[str, str] = field(default_factory=dict)
    roles: Mapping[str, Role] = field(default_factory=dict)

    def names(self, shape: Shape) -> dict[str, tuple[str, ...]]:
        return {**_DEFAULTS[shape], **{k: (v,) for k, v in self.fields.items()}}


# ---------------------------------------------------------------- the mapping file

def load_mapping(path: Path) -> FieldMap:
    """Read a ``--map`` YAML file: ``field: name`` lines (fields: ``MAP_KEYS``; ``author``, ``author_id``, ``body``,
    ``public`` and ``comment_created_at`` are read in each comment, the rest in the ticket) and ``roles:
    {customer: [...], agent: [...], ignore: [...]}``, added to the usual role names. Every problem is named as
    ``file:line`` in one ``InputError``."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the mapping file ({exc}); give a UTF-8 YAML file") from exc
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(f"{path}:{mark.line + 1 if mark else 1}: invalid YAML "
                         f"({getattr(exc, 'problem', None) or exc})") from exc
    if root is None:
        return FieldMap()
    if not isinstance(root, yaml.MappingNode):
        raise InputError(f"{path}:{root.start_mark.line + 1}: a mapping file holds 'field: name' lines, "
                         "e.g. 'ticket_id: Ticket ID'")
    problems: list[str] = []
    fields: dict[str, str] = {}
    roles: dict[str, Role] = {}
    seen: set[str] = set()
    for key_node, value_node in root.value:
        where = f"{path}:{key_node.start_mark.line + 1}"
        key = key_node.value if isinstance(key_node, yaml.ScalarNode) else repr(key_node.value)
        if key in seen:
            problems.append(f"{where}: '{key}' is given twice")
        elif key == "roles":
            problems += _read_roles(path, value_node, roles)
        elif key not in MAP_KEYS:
            problems.append(f"{where}: unknown key '{key}'; the keys are {', '.join(MAP_KEYS)}")
        elif not _scalar(value_node):
            problems.append(f"{where}: '{key}' needs the export's field or column name")
        else:
            fields[key] = value_node.value.strip()
        seen.add(key)
    if problems:
        raise InputError(f"{len(problems)} problem(s) in the mapping file:\n" + "\n".join(f"  {p}" for p in problems))
    return FieldMap(fields, roles)


def _scalar(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag != "tag:yaml.org,2002:null" and bool(node.value.strip())


def _read_roles(path: Path, node: yaml.Node, roles: dict[str, Role]) -> list[str]:
    if not isinstance(node, yaml.MappingNode):
        return [f"{path}:{node.start_mark.line + 1}: 'roles' holds lists under customer, agent and ignore"]
    problems = []
    for role_node, names_node in node.value:
        where = f"{path}:{role_node.start_mark.line + 1}"
        role = role_node.value
        items = names_node.value if isinstance(names_node, yaml.SequenceNode) else [names_node]
        if role not in get_args(Role):
            problems.append(f"{where}: unknown role '{role}'; use customer, agent or ignore")
        elif not items or not all(_scalar(item) for item in items):
            problems.append(f"{where}: '{role}' needs the export's role names, e.g. [end-user, 고객]")
        else:
            roles.update({_norm(item.value): cast(Role, role) for item in items})
    return problems


# ---------------------------------------------------------------- reading

def read_export(paths: Sequence[Path], fmt: Format = "auto", mapping: Path | None = None) -> Iterator[Ticket | BadRow]:
    """Tickets of the exports at ``paths``, file by file, in their order, with a ``BadRow`` for each record that
    cannot be read.

    JSONL is streamed line by line, so an export of any size runs in little memory. A ``.json`` file (Zendesk's
    ``{"tickets": [...]}`` or a list) is read whole. A CSV's rows are grouped by ticket id within the file, in the
    order of each ticket's first row (its ``origin``), so one CSV's tickets are held in memory until its end.

    A missing file, an unknown ``fmt`` or a bad mapping raises ``InputError`` here; a file whose format cannot be
    told, or a CSV header without the needed columns, raises it when the reader reaches that file.
    """
    if fmt not in get_args(Format):
        raise InputError(f"unknown export format {fmt!r}; use one of {', '.join(get_args(Format))}")
    files = [Path(p) for p in paths]
    for path in files:
        if not path.is_file():
            raise InputError(f"{path}: no such file; give the path of a helpdesk export (.jsonl, .json or .csv)")
    fields = load_mapping(mapping) if mapping is not None else FieldMap()
    return (_storable(row) for path in files for row in _read_file(path, fmt, fields))


def _storable(row: Ticket | BadRow) -> Ticket | BadRow:
    """A ticket every database can store, or a bad row: a NUL character or a lone surrogate anywhere in its text
    (``triage.models.storable``) would fail the whole batch's transaction on PostgreSQL."""
    if isinstance(row, BadRow):
        return row
    texts = [row.ticket_id, row.channel, row.subject, row.requester_id, row.segment, row.status, *row.tags,
             *(c.body for c in row.comments)]
    for text in texts:
        try:
            storable(text or "")
        except PydanticCustomError as exc:
            return BadRow(row.origin, f"ticket {row.ticket_id!r}: its text {exc.message()}; fix the export")
    return row


def _read_file(path: Path, fmt: Format, fmap: FieldMap) -> Iterator[Ticket | BadRow]:
    suffix = path.suffix.lower()
    if fmt == "csv" or (fmt == "auto" and suffix in (".csv", ".tsv")):
        yield from _read_csv(path, fmap)
        return
    lines = suffix in (".jsonl", ".ndjson", ".jsonlines") or (suffix != ".json" and fmt != "auto")
    first = "" if lines or suffix == ".json" else _first_char(path)  # an unknown suffix: look inside
    if suffix == ".json" or first == "[":
        records = _json_records(path)
    elif lines or first in ("{", ""):
        records = _jsonl_records(path)
    else:
        raise InputError(f"{path}: unknown export format; use a .jsonl, .json or .csv file, or give the format "
                         "(jsonl, zendesk or csv)")
    yield from _read_tickets(path, records, None if fmt == "auto" else fmt, fmap)


def _first_char(path: Path) -> str:
    with path.open("rb") as f:
        return f.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")[:1].decode("ascii", "replace")


def _jsonl_records(path: Path) -> Iterator[tuple[int, Any]]:
    """(line, parsed value or ``_Bad``) per non-blank line, read one line at a time."""
    with path.open("rb") as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.removeprefix(b"\xef\xbb\xbf") if lineno == 1 else raw
            if not line.strip():
                continue
            try:
                yield lineno, json.loads(line)
            except UnicodeDecodeError:
                yield lineno, _Bad("not UTF-8 text; save the export as UTF-8")
            except json.JSONDecodeError as exc:
                yield lineno, _Bad(f"not JSON ({exc.msg} at column {exc.colno}); fix or remove the line")


def _json_records(path: Path) -> Iterator[tuple[int, Any]]:
    """(line, ticket or ``_Bad``) of a whole JSON file: the items of a list or of a ``{"tickets": [...]}`` object,
    or each object of a file of objects (JSONL named .json)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 (byte {exc.start}); save the export as UTF-8") from exc
    lines = _Lines(text)
    decoder = json.JSONDecoder()
    pos = _skip(text, 0, " \t\r\n")
    while pos < len(text):
        if text[pos] == "[":
            yield from _json_items(text, pos, lines)
            return
        try:
            value, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            start = _tickets_at(text, pos, decoder)  # a cut-short export still gives its tickets before the cut
            if start is not None:
                yield from _json_items(text, start, lines)
            else:
                yield lines.at(exc.pos), _Bad(f"not JSON ({exc.msg}); the rest of the file cannot be read: fix it")
            return
        wrapper = isinstance(value, dict) and isinstance(value.get("tickets"), list)
        start = _tickets_at(text, pos, decoder) if wrapper else None
        if start is not None:
            yield from _json_items(text, start, lines)
        else:
            yield lines.at(pos), value
        pos = _skip(text, end, " \t\r\n")


def _json_items(text: str, pos: int, lines: _Lines) -> Iterator[tuple[int, Any]]:
    """The items of the JSON list starting at ``pos``, each with its line."""
    for at, value in json_list_items(text, pos):
        if isinstance(value, EOFError):
            value = _Bad("the JSON list is not closed; the file may be cut short")
        elif isinstance(value, json.JSONDecodeError):
            value = _Bad(f"not JSON ({value.msg}); the rest of the file cannot be read: fix it")
        yield lines.at(at), value


def _tickets_at(text: str, pos: int, decoder: json.JSONDecoder) -> int | None:
    """Where the list under "tickets" starts in the JSON object at ``pos`` (None if it has none before an error)."""
    pos += 1
    try:
        while True:
            pos = _skip(text, pos, " \t\r\n,")
            key, pos = decoder.raw_decode(text, pos)
            pos = _skip(text, pos, " \t\r\n")
            if not isinstance(key, str) or text[pos:pos + 1] != ":":
                return None
            pos = _skip(text, pos + 1, " \t\r\n")
            if key == "tickets" and text[pos:pos + 1] == "[":
                return pos
            _, pos = decoder.raw_decode(text, pos)
    except json.JSONDecodeError:
        return None


def _skip(text: str, pos: int, chars: str) -> int:
    while pos < len(text) and text[pos] in chars:
        pos += 1
    return pos


class _Lines:
    """Line numbers of positions in a text, counted forward (positions asked for mostly increase)."""

    def __init__(self, text: str) -> None:
        self.text, self.pos, self.line = text, 0, 1

    def at(self, pos: int) -> int:
        if pos < self.pos:
            self.pos, self.line = 0, 1
        self.line += self.text.count("\n", self.pos, pos)
        self.pos = pos
        return self.line


def _read_tickets(path: Path, records: Iterator[tuple[int, Any]], shape: Shape | None,
                  fmap: FieldMap) -> Iterator[Ticket | BadRow]:
    """Tickets of JSON records; without a ``shape``, the first readable record decides it."""
    seen: list[tuple[int, Any]] = []
    if shape is None:
        for line, value in records:
            seen.append((line, value))
            if not isinstance(value, _Bad):
                shape = _detect(path, line, value, fmap)
                break
    names = fmap.names(shape or "jsonl")
    roles = {**_DEFAULT_ROLES, **fmap.roles}
    for line, value in chain(seen, records):
        origin = f"{path}:{line}"
        if isinstance(value, _Bad):
            yield BadRow(origin, str(value))
            continue
        # a page of Zendesk's Incremental Export API saved as one line holds its tickets
        wrapped = isinstance(value, dict) and isinstance(value.get("tickets"), list)
        for record in value["tickets"] if wrapped else [value]:
            try:
                yield _json_ticket(record, origin, names, roles)
            except _Bad as exc:
                yield BadRow(origin, str(exc))


def _detect(path: Path, line: int, record: Any, fmap: FieldMap) -> Shape:
    if "author" in fmap.fields or "author_id" in fmap.fields:
        return "jsonl" if "author" in fmap.fields else "zendesk"
    if isinstance(record, dict):
        if isinstance(record.get("tickets"), list):
            return "zendesk"
        comments = _get(record, (fmap.fields.get("comments", "comments"),))
        first = comments[0] if isinstance(comments, list) and comments else None
        if isinstance(first, dict) and ("author" in first or "author_id" in first):
            return "jsonl" if "author" in first else "zendesk"
        if "ticket_id" in record or isinstance(record.get("requester"), dict) or "ticket_id" in fmap.fields:
            return "jsonl"
        if "requester_id" in record or "via" in record:
            return "zendesk"
    found = ", ".join(sorted(map(str, record)))[:200] if isinstance(record, dict) else type(record).__name__
    raise InputError(f"{path}:{line}: cannot tell the export's format from its first ticket (found: {found}); "
                     "expected the project's JSONL (ticket_id, comments with author and body) or a Zendesk export "
                     "(id, requester_id, comments with author_id and body). Give the format (jsonl, zendesk or csv) "
                     "or name the fields in a --map file")


def _json_ticket(record: Any, origin: str, names: dict[str, tuple[str, ...]], roles: Mapping[str, Role]) -> Ticket:
    if not isinstance(record, dict):
        raise _Bad(f"expected a ticket object, got {type(record).__name__}")
    ticket_id = _id(_get(record, names["ticket_id"]))
    if ticket_id is None:
        raise _Bad(f"the ticket has no id (looked for {', '.join(names['ticket_id'])}); add it, or name its field "
                   "in a --map file (ticket_id: …)")
    requester = _id(_get(record, names["requester_id"]))
    raw = _get(record, names["comments"])
    if not isinstance(raw, list):
        raise _Bad(f"ticket {ticket_id} has no list of comments (looked for {', '.join(names['comments'])}); export "
                   "the tickets with their comments, or name the field in a --map file (comments: …)")
    comments = []
    for n, item in enumerate(raw, 1):
        if not isinstance(item, dict):
            raise _Bad(f"ticket {ticket_id}: comment {n} is not an object")
        body = _get(item, names["body"])
        if _private(_get(item, names["public"])) or not isinstance(body, str) or not body.strip():
            continue
        try:
            who = _who(_get(item, names["author"]), _get(item, names["author_id"]), requester, roles)
        except _Bad as exc:
            raise _Bad(f"ticket {ticket_id}: comment {n}: {exc}") from None
        if who != "ignore":
            comments.append(Comment(who, body, _time(_get(item, names["comment_created_at"]))))
    if not comments:
        raise _Bad(f"ticket {ticket_id} has no customer or agent comment with a body")
    return Ticket(ticket_id=ticket_id, comments=tuple(comments), created_at=_time(_get(record, names["created_at"])),
                  channel=_text(_get(record, names["channel"])), subject=_text(_get(record, names["subject"])),
                  requester_id=requester, segment=_text(_get(record, names["segment"])),
                  tags=_tags(_get(record, names["tags"])), status=_text(_get(record, names["status"])), origin=origin)


# ---------------------------------------------------------------- CSV: one row per message

@dataclass
class _Draft:
    """A CSV ticket while its rows are read."""

    origin: str
    values: dict[str, str] = field(default_factory=dict)  # the first non-empty value of each ticket field
    tags: dict[str, None] = field(default_factory=dict)  # every row's tags, in order, once
    comments: list[Comment] = field(default_factory=list)


def _read_csv(path: Path, fmap: FieldMap) -> Iterator[Ticket | BadRow]:
    roles = {**_DEFAULT_ROLES, **fmap.roles}
    drafts: dict[str, _Draft] = {}
    start = 1
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            first = f.readline()
            delimiter = max(",;\t", key=first.count)  # a comma unless the header has more semicolons or tabs
            reader = csv.reader(chain([first], f), delimiter=delimiter)
            header = next(reader, [])
            cols = _columns(path, header, fmap)
            start = reader.line_num + 1
            for row in reader:
                origin = f"{path}:{start}"
                start = reader.line_num + 1
                if any(cell.strip() for cell in row):
                    bad = _csv_row(row, len(header), cols, origin, roles, drafts)
                    if bad:
                        yield BadRow(origin, bad)
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 (byte {exc.start}); save the export as UTF-8") from exc
    except csv.Error as exc:
        raise InputError(f"{path}:{start}: cannot read the CSV ({exc})") from exc
    for ticket_id, draft in drafts.items():
        if not draft.comments:
            yield BadRow(draft.origin, f"ticket {ticket_id} has no customer or agent message with a body")
            continue
        v = draft.values.get
        yield Ticket(ticket_id=ticket_id, comments=tuple(draft.comments), created_at=_time(v("created_at")),
                     channel=v("channel"), subject=v("subject"), requester_id=v("requester_id"),
                     segment=v("segment"), tags=tuple(draft.tags), status=v("status"), origin=draft.origin)


def _columns(path: Path, header: list[str], fmap: FieldMap) -> dict[str, int]:
    """Field → column index, from the header; an ``InputError`` when a needed column is missing."""
    index: dict[str, int] = {}
    for i, name in enumerate(header):
        index.setdefault(_norm(name), i)
    cols = {}
    for key, candidates in fmap.names("csv").items():
        found = next((index[_norm(c)] for c in candidates if _norm(c) in index), None)
        if found is not None:
            cols[key] = found
    if "comment_created_at" not in cols and "created_at" in cols:
        cols["comment_created_at"] = cols["created_at"]
    missing = [key for key in ("ticket_id", "body") if key not in cols]
    if "author" not in cols and not ("author_id" in cols and "requester_id" in cols):
        missing.append("author")
    # a mapped column must be there (a typo would lose the field), but for dot paths, which name JSON fields
    missing += [key for key, name in fmap.fields.items()
                 if key not in cols and key not in missing and key != "comments" and "." not in name]
    if missing:
        wanted = "; ".join(f"{key} (looked for {', '.join(fmap.names('csv')[key])})" for key in missing)
        raise InputError(f"{path}: cannot read the CSV header: no column for {wanted}. Its columns are: "
                         f"{', '.join(header) or '(none)'}. Name the columns in a --map file, e.g. "
                         f"'{missing[0]}: <column>'")
    return cols


def _csv_row(row: list[str], width: int, cols: dict[str, int], origin: str, roles: Mapping[str, Role],
             drafts: dict[str, _Draft]) -> str | None:
    """Add one message row to its ticket; the problem, if the row cannot be read."""
    if len(row) > width:
        return f"{len(row) - width} more cell(s) than the header has columns (a delimiter inside an unquoted cell?)"

    def cell(key: str) -> str:
        i = cols.get(key)
        return row[i] if i is not None and i < len(row) else ""

    ticket_id = cell("ticket_id").strip()
    if not ticket_id:
        return "the row has no ticket id; fill it in or remove the row"
    draft = drafts.setdefault(ticket_id, _Draft(origin))
    for key in ("created_at", "channel", "subject", "requester_id", "segment", "status"):
        if cell(key).strip():
            draft.values.setdefault(key, cell(key).strip())
    draft.tags.update(dict.fromkeys(_tags(cell("tags"))))
    body = cell("body")
    if _private(cell("public")) or not body.strip():
        return None
    try:
        who = _who(cell("author"), cell("author_id"), cell("requester_id").strip() or draft.values.get("requester_id"),
                   roles)
    except _Bad as exc:
        return f"ticket {ticket_id}: {exc}"
    if who != "ignore":
        draft.comments.append(Comment(who, body, _time(cell("comment_created_at"))))
    return None


# ---------------------------------------------------------------- values

def _get(record: dict[str, Any], names: tuple[str, ...]) -> Any:
    """The first non-null value under one of ``names`` (a key, or a dot path into nested objects)."""
    for name in names:
        value: Any = record.get(name)
        if value is None and "." in name:
            value = record
            for part in name.split("."):
                value = value.get(part) if isinstance(value, dict) else None
        if value is not None:
            return value
    return None


def _who(role: Any, author_id: Any, requester_id: str | None, roles: Mapping[str, Role]) -> Role:
    """customer, agent or ignore: by the author's role, else by whether the author is the ticket's requester."""
    if role is not None and role != "":
        who = roles.get(_norm(str(role))) if isinstance(role, (str, int)) else None
        if who is None:
            shown = str(role)[:40] if isinstance(role, (str, int)) else f"a {type(role).__name__}"
            raise _Bad(f"unknown author role '{shown}'; list it under roles (customer, agent or ignore) in a --map "
                       "file")
        return who
    author = _id(author_id)
    if author is None:
        raise _Bad("no author (neither a role nor an author id); add it, or name its field in a --map file")
    if requester_id is None:
        raise _Bad("no requester id to tell the customer's messages from the agents'; add it, or name its field in "
                   "a --map file (requester_id: …)")
    return "customer" if author == requester_id else "agent"


def _private(value: Any) -> bool:
    return value is False or (isinstance(value, (str, int)) and str(value).strip().casefold() in _FALSE)


def _id(value: Any) -> str | None:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return _text(value)


def _text(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    return str(value).strip() or None


def _tags(value: Any) -> tuple[str, ...]:
    parts = re.split(r"[,;|]", value) if isinstance(value, str) else value if isinstance(value, list) else []
    return tuple(dict.fromkeys(t for p in parts if (t := _text(p))))


_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S %z", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y.%m.%d %H:%M:%S")


def _time(value: Any) -> datetime | None:
    """ISO 8601 (with or without a zone), "YYYY-MM-DD HH:MM:SS" and the like, or epoch seconds or milliseconds;
    None when missing or unreadable. A time without a zone stays naive."""
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"\d{9,}(\.\d+)?", text):  # shorter digit strings are ISO basic dates (20240105)
            value = float(text)
        else:
            try:
                return datetime.fromisoformat(text)
            except ValueError:
                pass
            for pattern in _TIME_FORMATS:
                try:
                    return datetime.strptime(text, pattern)
                except ValueError:
                    pass
            return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return datetime.fromtimestamp(value / 1000 if abs(value) >= 1e11 else value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None

