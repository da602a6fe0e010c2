"""The taxonomy: the tags a message can get, in the shapes teams already keep them.

A taxonomy file (DESIGN.md §4) holds tags ``{id, name, parent, description, priority, examples}``: ``parent``
is empty for a top-level category, ``priority`` is the tag's base priority (P1–P4, P3 when not given), and
exactly one tag, the *catch-all*, holds what cannot be classified right away: the tag with id ``needs_review``
or the one marked ``catch_all: true``. Messages get a *leaf* tag (one no other tag names as its parent); a flat
taxonomy is all leaves. Three shapes, told apart by the file itself:

- a YAML list of tags;
- a YAML mapping with ``categories:`` (top-level tags) and ``tags:`` lists, a tag's ``parent`` naming a category
  or another tag; ``policy:`` may name the deployment's priority policy file (relative to the taxonomy file, see
  ``taxonomy_policy``); other top-level keys (``version``, ``name``...) are ignored;
- a CSV export (``.csv``, or a first line naming the ``id`` and ``name`` columns) with a header row
  ``id,name,parent,description,priority,examples`` and optionally ``catch_all`` (true/1/yes) and ``ask_for``;
  ``examples`` and ``ask_for`` are separated by ``|`` or by line breaks inside the quoted cell. Other columns are
  ignored.

A tag's optional ``ask_for`` lists what an agent needs from a customer to settle such a message (``[거래번호, 송금
일시]``, ``[]`` for nothing); a tag without it uses its parent's. Reply drafts ask for these, never for what
the message gives.

Other keys of a tag are ignored in every shape. Every problem is reported at once, as ``file:line: what``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml

from knowledge.sources import read_text, yaml_items
from triage.errors import TaxonomyError

if TYPE_CHECKING:
    from knowledge.index import Snapshot

Priority = Literal["P1", "P2", "P3", "P4"]
PRIORITIES: tuple[Priority, ...] = ("P1", "P2", "P3", "P4")
NEEDS_REVIEW = "needs_review"  # the catch-all's id unless a tag is marked catch_all
COLUMNS = ("id", "name", "parent", "description", "priority", "examples")
TRUE, FALSE = {"true", "1", "yes", "y"}, {"false", "0", "no", "n", ""}


@dataclass(frozen=True)
class Tag:
    id: str
    name: str
    parent: str | None
    description: str = ""
    priority: Priority = "P3"
    examples: tuple[str, ...] = ()
    ask_for: tuple[str, ...] | None = None  # what an agent needs from the customer (None: the parent's)


class Taxonomy:
    """Tags by id; ``catch_all`` is the id of the tag for messages that cannot be classified right away (no leaf,
    never predicted)."""

    def __init__(self, tags: Iterable[Tag], origin: str = "taxonomy", catch_all: str = NEEDS_REVIEW) -> None:
        self.origin = origin
        self.catch_all = catch_all
        self.tags = {t.id: t for t in tags}
        parents = {t.parent for t in self.tags.values() if t.parent}
        self.leaves = [t for t in self.tags if t not in parents and t != catch_all]

    def category(self, tag_id: str) -> str:
        """The top-level ancestor of a tag (itself when it has no parent)."""
        tag = self.tags[tag_id]
        while tag.parent is not None:
            tag = self.tags[tag.parent]
        return tag.id

    def priority(self, tag_id: str) -> Priority:
        return self.tags[tag_id].priority

    def name(self, tag_id: str) -> str:
        return self.tags[tag_id].name

    def ask_for(self, tag_id: str) -> tuple[str, ...]:
        """What to ask a customer whose message has this tag: the tag's own ``ask_for``, else its nearest
        ancestor's (nothing for an unknown tag)."""
        tag = self.tags.get(tag_id)
        while tag is not None and tag.ask_for is None and tag.parent is not None:
            tag = self.tags.get(tag.parent)
        return tag.ask_for or () if tag is not None else ()

    @property
    def names(self) -> dict[str, str]:
        """Tag id → display name, for every tag."""
        return {t.id: t.name for t in self.tags.values()}


# ---------------------------------------------------------------- reading the three shapes

Row = tuple[int, Any, bool]  # (line, the tag's fields or a SyntaxError, whether it is a category)


def _yaml_rows(text: str) -> Iterator[Row]:
    for key, lineno, row in yaml_items(text, ("categories", "tags")):
        yield lineno, row, key == "categories"


def _is_csv(path: Path, text: str) -> bool:
    """A ``.csv`` file, or one of another name (not ``.yaml``/``.yml``) whose first line names id and name columns."""
    if path.suffix.lower() in (".csv", ".yaml", ".yml"):
        return path.suffix.lower() == ".csv"
    first = next((line for line in text.splitlines() if line.strip()), "")
    header = {cell.strip().lower() for cell in next(csv.reader([first]), [])}
    return {"id", "name"} <= header


def _csv_rows(text: str) -> Iterator[Row]:
    """One row per CSV record, on the line it starts on; header names are matched without case or spaces."""
    reader = csv.reader(io.StringIO(text))
    header = [cell.strip().lower() for cell in next(reader, [])]
    if "id" not in header:
        yield 1, SyntaxError("the first row must be the header: " + ",".join(COLUMNS) + " (and optionally "
                             f"catch_all); got {','.join(header) or 'nothing'}"), False
        return
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield start, SyntaxError(f"invalid CSV ({exc})"), False
            return
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) > len(header):
            yield start, SyntaxError(f"{len(cells) - len(header)} more cell(s) than the header has columns"), False
            continue
        row: dict[str, Any] = {k: v.strip() for k, v in zip(header, cells, strict=False) if v.strip()}
        for listed in ("examples", "ask_for"):
            if listed in row:
                row[listed] = [e.strip() for e in row[listed].replace("\n", "|").split("|") if e.strip()]
        yield start, row, False


def _strings(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return ()
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(v.strip() for v in value if v.strip())
    return None


def _flag(value: Any) -> bool | None:
    """``catch_all`` as given in YAML (a boolean) or a CSV cell (true/1/yes, false/0/no); None when neither."""
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    text = str(value).strip().lower()
    return True if text in TRUE else False if text in FALSE else None


def taxonomy_policy(path: Path) -> Path | None:
    """The priority policy file a mapping-form taxonomy names (``policy: policy.yaml``), relative to it."""
    if not path.is_file() or path.suffix.lower() not in (".yaml", ".yml"):
        return None
    try:
        data = yaml.safe_load(read_text(path))
    except yaml.YAMLError:
        return None  # load_taxonomy names the problem
    named = data.get("policy") if isinstance(data, dict) else None
    return path.parent / named if isinstance(named, str) and named.strip() else None


# ---------------------------------------------------------------- loading and validating

def load_taxonomy(path: Path) -> Taxonomy:
    """Read and validate a taxonomy file of any shape; every problem is reported at once as ``file:line: what``."""
    if not path.is_file():
        raise TaxonomyError([f"{path}: no such taxonomy file"])
    text = read_text(path)
    rows = list(_csv_rows(text) if _is_csv(path, text) else _yaml_rows(text))
    problems: list[str] = []
    tags: list[Tag] = []
    lines: dict[str, list[int]] = {}
    marked: list[str] = []
    for lineno, row, category in rows:
        where = f"{path}:{lineno}"
        if isinstance(row, SyntaxError):
            problems.append(f"{where}: {row.msg}")
            continue
        if not isinstance(row, dict):
            problems.append(f"{where}: each tag must be a mapping with id, name, parent, description, priority")
            continue
        tag_id = str(row.get("id") or "").strip()
        if not tag_id:
            problems.append(f"{where}: 'id' is missing or empty")
            continue
        lines.setdefault(tag_id, []).append(lineno)
        priority = row.get("priority", "P3")
        examples = _strings(row.get("examples"))
        ask_for = _strings(row.get("ask_for"))
        flag = _flag(row.get("catch_all"))
        parent = row.get("parent")
        if priority not in PRIORITIES:
            problems.append(f"{where}: '{tag_id}': priority must be one of P1, P2, P3, P4 (got {priority!r})")
        if examples is None:
            problems.append(f"{where}: '{tag_id}': examples must be a list of strings")
        if ask_for is None:
            problems.append(f"{where}: '{tag_id}': ask_for must be a list of strings (what to ask the customer)")
        if flag is None:
            problems.append(f"{where}: '{tag_id}': catch_all must be true or false (got {row['catch_all']!r})")
        if category and parent is not None:
            problems.append(f"{where}: '{tag_id}': a category is top-level: move it under 'tags' to give it "
                            f"a parent ('{parent}')")
            parent = None
        if flag or tag_id == NEEDS_REVIEW:
            marked.append(tag_id)
        tags.append(Tag(tag_id, str(row.get("name") or tag_id), str(parent) if parent is not None else None,
                        str(row.get("description") or ""), priority if priority in PRIORITIES else "P3",
                        examples or (), ask_for if "ask_for" in row else None))
    for tag_id, seen_on in lines.items():
        if len(seen_on) > 1:
            problems.append(f"{path}:{seen_on[1]}: duplicate id '{tag_id}' (also on line(s) "
                            f"{', '.join(map(str, seen_on[:1] + seen_on[2:]))})")
    known = set(lines)
    for tag in tags:
        if tag.parent is not None and tag.parent not in known:
            problems.append(f"{path}:{lines[tag.id][0]}: '{tag.id}': unknown parent '{tag.parent}'")
    problems += _cycles(tags, lines, path)
    catch_alls = list(dict.fromkeys(marked))
    if not catch_alls and (tags or not problems):  # (a file that holds no tags says so already)
        first = min((lineno for lineno, _, _ in rows), default=1)
        problems.append(f"{path}:{first}: no catch-all tag: add a tag '{NEEDS_REVIEW}' (or mark one "
                        "'catch_all: true') for messages that cannot be classified right away")
    for tag_id in catch_alls[1:]:
        problems.append(f"{path}:{lines[tag_id][0]}: '{tag_id}': a second catch-all (the first is "
                        f"'{catch_alls[0]}' on line {lines[catch_alls[0]][0]}): keep one tag '{NEEDS_REVIEW}' "
                        "or marked 'catch_all: true'")
    taxonomy = Taxonomy(tags, str(path), catch_alls[0] if catch_alls else NEEDS_REVIEW)
    if not problems and len(taxonomy.leaves) < 2:
        problems.append(f"{path}: at least two tags besides '{taxonomy.catch_all}' are needed to classify")
    if problems:
        raise TaxonomyError(problems)
    return taxonomy


def _cycles(tags: list[Tag], lines: dict[str, list[int]], path: Path) -> list[str]:
    parent = {t.id: t.parent for t in tags}
    problems = []
    for tag in tags:
        seen, node = {tag.id}, tag.parent
        while node is not None:
            if node in seen:
                problems.append(f"{path}:{lines[tag.id][0]}: '{tag.id}': its parents form a cycle")
                break
            seen.add(node)
            node = parent.get(node)
    return problems


def taxonomy_from_faq(snapshot: Snapshot) -> Taxonomy | None:
    """A flat taxonomy (all P3) from the FAQ entries' tags, for a KB that brings no taxonomy file."""
    names = sorted({t for e in snapshot.entries.values() for t in e.tags} - {NEEDS_REVIEW})
    if len(names) < 2:
        return None
    return Taxonomy([*(Tag(n, n, None) for n in names), Tag(NEEDS_REVIEW, "검토 필요", None)],
                    f"tags of {snapshot.path}")
