"""The store's rows for what the service learned about a KB's traffic (``learned_examples``): past helpdesk
tickets read by ``triage history import``, each with the FAQ entry agents answered it with and their tag. A
mixin of ``Store``: each method is one transaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from triage.errors import NotFoundError
from triage.store.tables import MAX_ROW_ID, LearnedExample, contact_row, utcnow

if TYPE_CHECKING:
    from triage.stages.history import CustomerContact


@dataclass(frozen=True)
class Learned:
    """One learned example as it is stored and read (``LearnedExample``'s fields but the bookkeeping)."""

    source: str
    ref: str
    digest: str
    text: str
    how: str
    tag_how: str
    entry_id: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    tag: str | None = None
    reply: str | None = None
    channel: str | None = None
    at: datetime | None = None
    id: int = 0
    removed_at: datetime | None = None
    removed_by: str | None = None

    def evidence_value(self, key: str) -> Any:
        return self.evidence.get(key)


FIELDS = ("source", "ref", "digest", "text", "how", "tag_how", "entry_id", "evidence", "tag", "reply", "channel", "at")


def _learned(row: LearnedExample) -> Learned:
    return Learned(**{f: getattr(row, f) for f in (*FIELDS, "id", "removed_at", "removed_by")})


class LearnedRows:
    if TYPE_CHECKING:
        def session(self, write: bool = False) -> AbstractContextManager[Session]: ...

    def learned_digests(self, scope: str, source: str, refs: Iterable[str]) -> dict[str, str]:
        """The stored digest of each of ``refs`` that is stored already."""
        refs = list(refs)
        if not refs:
            return {}
        with self.session() as s:
            rows = s.execute(select(LearnedExample.ref, LearnedExample.digest).where(
                LearnedExample.scope == scope, LearnedExample.source == source, LearnedExample.ref.in_(refs))).all()
        return {ref: digest for ref, digest in rows}

    def save_learned(self, scope: str, rows: Sequence[Learned],
                     contacts: Sequence[CustomerContact] = ()) -> tuple[int, int]:
        """Store ``rows`` in one transaction: new refs are added, with ``contacts`` (the new ones' past contacts);
        a ref stored with another digest is updated in place (a content team's removal stays). Returns (added,
        updated)."""
        added = updated = 0
        with self.session(write=True) as s:
            stored = {r.ref: r for r in s.scalars(select(LearnedExample).where(
                LearnedExample.scope == scope, LearnedExample.source.in_({r.source for r in rows}),
                LearnedExample.ref.in_([r.ref for r in rows])))} if rows else {}
            for row in rows:
                values: dict[str, Any] = {f: getattr(row, f) for f in FIELDS}
                if (old := stored.get(row.ref)) is None:
                    s.add(LearnedExample(scope=scope, created_at=utcnow(), **values))
                    added += 1
                elif old.digest != row.digest:
                    for key, value in values.items():
                        setattr(old, key, value)
                    updated += 1
            s.add_all(contact_row(customer, contact) for customer, contact in contacts)
        return added, updated

    def learned_examples(self, scope: str, *, removed: bool = False, entry_id: str | None = None,
                         after_id: int = 0, limit: int | None = None) -> list[Learned]:
        """The scope's learned examples in the order they were stored (the removed ones instead with
        ``removed``), of one entry with ``entry_id``."""
        query = select(LearnedExample).where(
            LearnedExample.scope == scope, LearnedExample.id > after_id,
            LearnedExample.removed_at.is_not(None) if removed else LearnedExample.removed_at.is_(None))
        if entry_id is not None:
            query = query.where(LearnedExample.entry_id == entry_id)
        with self.session() as s:
            return [_learned(r) for r in s.scalars(query.order_by(LearnedExample.id).limit(limit))]

    def learned_counts(self, scope: str) -> dict[str, int]:
        """How many of the scope's examples were read each way (``how``), removed ones apart."""
        with self.session() as s:
            rows = s.execute(select(LearnedExample.how, func.count()).where(
                LearnedExample.scope == scope, LearnedExample.removed_at.is_(None))
                .group_by(LearnedExample.how)).all()
            removed = s.scalar(select(func.count()).where(
                LearnedExample.scope == scope, LearnedExample.removed_at.is_not(None))) or 0
        return {**{how: n for how, n in rows}, "removed": removed}

    def remove_learned(self, scope: str, example_id: int, by: str) -> Learned:
        """Take a learned example out of what the next snapshot learns (kept, marked removed, with who)."""
        with self.session(write=True) as s:
            row = s.get(LearnedExample, example_id) if 0 < example_id <= MAX_ROW_ID else None
            if row is None or row.scope != scope:
                raise NotFoundError(f"no learned example {example_id} for this knowledge base")
            if row.removed_at is None:
                row.removed_at, row.removed_by = utcnow(), by
            return _learned(row)
