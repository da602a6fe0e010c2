"""FAQ gaps for content teams (an ``agent`` key): the ranked clusters, their export, accepting a draft."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from fastapi.responses import PlainTextResponse
from pydantic import Field

from knowledge.gaps import FaqDraft, faq_yaml, gaps_csv, gaps_markdown
from triage.api.deps import AgentCaller, Service
from triage.errors import InputError
from triage.faq_gaps import MAX_DAYS, GapReport
from triage.models import Id, Tag, Text

router = APIRouter(prefix="/v1/gaps", tags=["gaps"])
Days = Annotated[int, Query(ge=1, le=MAX_DAYS, description="the period: the last N days (trend: the N before)")]


class AcceptedDraft(FaqDraft):
    question: Text = Field(min_length=1, description="the question in the customers' words")
    examples: list[Text] = Field(default_factory=list, max_length=50, description="other ways customers asked it")
    answer: Text
    entry_id: Id = Field(description="the new entry's id: lowercase letters, digits, '-' or '_'")
    tags: list[Tag] = Field(default_factory=list, max_length=10, description="the entry's tag from the taxonomy, "
                                                                              "if any")


@router.get("", response_model=GapReport)
def gaps(svc: Service, _: AgentCaller, days: Days = 30) -> GapReport:
    """Questions nobody could answer, clustered by meaning, largest first, each with a suggested entry."""
    return svc.gaps(days)


@router.get("/export.md", response_class=PlainTextResponse)
def export_markdown(svc: Service, _: AgentCaller, days: Days = 30) -> PlainTextResponse:
    found = svc.gaps(days)
    title = f"FAQ 공백 {found.period_start:%Y-%m-%d} ~ {found.period_end:%Y-%m-%d}"
    return PlainTextResponse(gaps_markdown(found.gaps, title), media_type="text/markdown; charset=utf-8")


@router.get("/export.csv", response_class=PlainTextResponse)
def export_csv(svc: Service, _: AgentCaller, days: Days = 30) -> PlainTextResponse:
    return PlainTextResponse(gaps_csv(svc.gaps(days).gaps), media_type="text/csv; charset=utf-8")


@router.post("/accept", status_code=status.HTTP_201_CREATED)
def accept(draft: AcceptedDraft, svc: Service, caller: AgentCaller) -> dict[str, str]:
    """Keep a (reviewed) draft as an accepted FAQ entry, for every replica; the next `triage kb build` takes it
    from the accepted-entries file (written from the store) or from `GET /v1/gaps/accepted.yaml`. A taken id is
    409."""
    pipeline = svc.ready_pipeline()
    known = set(pipeline.kb.tagger.classes) if pipeline.kb.tagger else set()
    if unknown := [t for t in draft.tags if t not in known]:
        raise InputError(f"unknown tag(s) {', '.join(unknown)}; known tags: {', '.join(sorted(known)) or 'none'}")
    path = svc.accept_faq(draft.entry_id, draft, draft.tags, caller.name)
    return {"status": "appended", "file": str(path), "id": draft.entry_id,
            "next": f"rebuild the index with `triage kb build … --faq {path}`, then reload it"}


@router.get("/accepted.yaml", response_class=PlainTextResponse)
def accepted(svc: Service, _: AgentCaller) -> PlainTextResponse:
    """Every accepted entry, as a FAQ file for `triage kb build --faq` (the same on every replica)."""
    return PlainTextResponse(faq_yaml(svc.store.accepted_faq_entries()), media_type="application/yaml; charset=utf-8")
