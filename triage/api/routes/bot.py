"""Support-bot routes (a ``bot`` key): answers from the KB, hand-offs into the inbox, outcomes and CES."""

from __future__ import annotations

from fastapi import APIRouter, status

from triage.api.deps import BotCaller, Service, check_length
from triage.models import BotAnswerRequest, BotOutcomeIn, CesIn, Intake, Message, TriageResult

router = APIRouter(prefix="/v1/bot", tags=["bot"])


@router.post("/answer", response_model=TriageResult, response_model_exclude_none=False)
def bot_answer(request: BotAnswerRequest, svc: Service, _: BotCaller) -> TriageResult:
    """Auto-answer from the KB with citations, or hand off to a human."""
    check_length(request.text, svc.settings)
    message = Message(id=request.id, text=request.text)  # no customer: the bot's questions are not contacts
    return svc.bot_answer(message, request.section)


@router.post("/handoff", response_model=Intake, status_code=status.HTTP_201_CREATED)
def bot_handoff(message: Message, svc: Service, _: BotCaller) -> Intake:
    """The bot passes a conversation to a human: it joins the inbox with a suggestion for the agent."""
    check_length(message.text, svc.settings)
    return svc.take_message(message)


@router.post("/outcomes", status_code=status.HTTP_201_CREATED)
def bot_outcome(outcome: BotOutcomeIn, svc: Service, _: BotCaller) -> dict[str, int]:
    """How a bot conversation ended: auto-answered or not, the customer's 'did this help?', escalated.
    Unhelpful auto-answers count against their FAQ entry."""
    outcome_id = svc.store.record_bot_outcome(outcome)
    if outcome.helpful is False and outcome.auto_answered and outcome.faq_id:
        svc.follower.recheck(outcome.faq_id)
    return {"id": outcome_id}


@router.post("/ces", status_code=status.HTTP_201_CREATED)
def customer_effort(answer: CesIn, svc: Service, _: BotCaller) -> dict[str, str]:
    """The customer's effort score (1 very hard … 7 very easy) for a conversation."""
    svc.store.record_ces(answer.conversation_id, answer.score, answer.created_at)
    return {"status": "recorded"}
