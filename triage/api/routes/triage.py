"""Triage routes (an ``agent`` key): the full pipeline as a preview, and tag corrections."""

from __future__ import annotations

from fastapi import APIRouter

from triage.api.deps import Agent, Service, check_length
from triage.models import Message, TagCorrection, TriageResult

router = APIRouter(prefix="/v1/triage", tags=["triage"], dependencies=[Agent])


@router.post("", response_model=TriageResult)
def triage(message: Message, svc: Service) -> TriageResult:
    """The full pipeline for one message: answer or hand-off, tag, priority, real need and a reply draft
    for an agent to review (with lint findings)."""
    check_length(message.text, svc.settings)
    return svc.triage(message)


@router.post("/corrections", status_code=201)
def correct_tag(correction: TagCorrection, svc: Service) -> dict[str, str]:
    """An agent fixes a message's tag: stored, and learned at once for the next prediction (by every other
    process and replica within about a second)."""
    check_length(correction.text, svc.settings)
    svc.correct_tag(correction.text, correction.tag, correction.message_id)
    return {"status": "learned", "tag": correction.tag}
