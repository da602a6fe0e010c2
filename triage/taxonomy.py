"""The taxonomy: the tags a message can get.

Taxonomy file (DESIGN.md §4): a YAML list of tags ``{id, name, parent, description, priority, examples}``;
``parent`` is null for a top-level category, ``priority`` is the tag's base priority (P1–P4), and one tag
``needs_review`` holds what cannot be classified right away. Messages get a *leaf* tag (one no other tag
names as its parent); a flat taxonomy is all leaves.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from knowledge.sources import read_text, yaml_rows
from triage.errors import TaxonomyError

if TYPE_CHECKING:
    from knowledge.index import Snapshot

Priority = Literal["P1", "P2", "P3", "P4"]
PRIORITIES: tuple[Priority, ...] = ("P1", "P2", "P3", "P4")
NEEDS_REVIEW = "needs_review"


@dataclass(frozen=True)
class Tag:
    id: str
    name: str
    parent: str | None
    description: str = ""
    priority: Priority = "P3"
    examples: tuple[str, ...] = ()


class Taxonomy:
    def __init__(self, tags: Iterable[Tag], origin: str = "taxonomy") -> None:
        self.origin = origin
        self.tags = {t.id: t for t in tags}
        parents = {t.parent for t in self.tags.values() if t.parent}
        self.leaves = [t for t in self.tags if t not in parents and t != NEEDS_REVIEW]

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

    @property
    def names(self) -> dict[str, str]:
        """Tag id → display name, for every tag."""
        return {t.id: t.name for t in self.tags.values()}


def _strings(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return ()
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(v.strip() for v in value if v.strip())
    return None


def load_taxonomy(path: Path) -> Taxonomy:
    """Read and validate a taxonomy file; every problem is reported at once as ``file:line: what``."""
    if not path.is_file():
        raise TaxonomyError([f"{path}: no such taxonomy file"])
    problems: list[str] = []
    tags: list[Tag] = []
    lines: dict[str, list[int]] = {}
    for lineno, row in yaml_rows(read_text(path)):
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
        if priority not in PRIORITIES:
            problems.append(f"{where}: '{tag_id}': priority must be one of P1, P2, P3, P4 (got {priority!r})")
        if examples is None:
            problems.append(f"{where}: '{tag_id}': examples must be a list of strings")
        parent = row.get("parent")
        tags.append(Tag(tag_id, str(row.get("name") or tag_id), str(parent) if parent is not None else None,
                        str(row.get("description") or ""), priority if priority in PRIORITIES else "P3",
                        examples or ()))
    for tag_id, seen_on in lines.items():
        if len(seen_on) > 1:
            problems.append(f"{path}:{seen_on[1]}: duplicate id '{tag_id}' (also on line(s) "
                            f"{', '.join(map(str, seen_on[:1] + seen_on[2:]))})")
    known = set(lines)
    for tag in tags:
        if tag.parent is not None and tag.parent not in known:
            problems.append(f"{path}:{lines[tag.id][0]}: '{tag.id}': unknown parent '{tag.parent}'")
    problems += _cycles(tags, lines, path)
    if NEEDS_REVIEW not in known:
        problems.append(f"{path}: no '{NEEDS_REVIEW}' tag: add one for messages that cannot be classified "
                        "right away")
    taxonomy = Taxonomy(tags, str(path))
    if not problems and len(taxonomy.leaves) < 2:
        problems.append(f"{path}: at least two tags besides '{NEEDS_REVIEW}' are needed to classify")
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
