"""What the service learned from the helpdesk history, for content teams (an ``agent`` key): the learned
examples of the KB served, with the ticket each came from, and removing one (the next build leaves it out)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from triage.api.deps import AgentCaller, Service
from triage.helpdesk.learned import learned_scope
from triage.models import INT32_MAX, Id, RowId
from triage.store.learned_rows import Learned

router = APIRouter(prefix="/v1/learned", tags=["learned"])


class LearnedOut(BaseModel):
    id: int
    ticket: str
    text: str
    entry_id: str | None
    how: str
    tag: str | None
    tag_how: str
    at: datetime | None
    removed_at: datetime | None = None
    removed_by: str | None = None


def _out(row: Learned) -> LearnedOut:
    return LearnedOut(id=row.id, ticket=row.ref, text=row.text, entry_id=row.entry_id, how=row.how, tag=row.tag,
                      tag_how=row.tag_how, at=row.at, removed_at=row.removed_at, removed_by=row.removed_by)


@router.get("", response_model=list[LearnedOut])
def learned(svc: Service, _: AgentCaller,
            entry_id: Annotated[Id | None, Query(description="only this FAQ entry's")] = None,
            removed: Annotated[bool, Query(description="the removed ones instead")] = False,
            after_id: Annotated[int, Query(ge=0, le=INT32_MAX, description="page: the rows after this id")] = 0,
            limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> list[LearnedOut]:
    """The past tickets learned from (redacted), oldest first: the entry agents answered each with (linked,
    pasted; `reply`: decided at build time as a paraphrase or by hand) and the mapped tag."""
    rows = svc.store.learned_examples(learned_scope(svc.settings), removed=removed, entry_id=entry_id,
                                      after_id=after_id, limit=limit)
    return [_out(r) for r in rows]


@router.post("/{example_id}/remove", response_model=LearnedOut)
def remove(svc: Service, caller: AgentCaller, example_id: RowId) -> LearnedOut:
    """Take a learned example out of what the next `triage kb build` (or import) learns; it stays out when its
    ticket is imported again. Unknown id: 404."""
    return _out(svc.store.remove_learned(learned_scope(svc.settings), example_id, caller.name))
