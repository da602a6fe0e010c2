"""Agents' routes (an ``agent`` key): the inbox, a conversation, a suggestion, feedback, resolving."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response, status

from triage.api.deps import AgentCaller, Service, check_length
from triage.models import (
    Channel,
    ConversationView,
    DeliveryView,
    FeedbackIn,
    FeedbackRecord,
    Id,
    InboxItem,
    Intake,
    Message,
    Priority,
    RowId,
    SuggestionView,
    Tag,
)
from triage.store.repository import InboxSort

router = APIRouter(prefix="/v1", tags=["inbox"])
MAX_OFFSET = 1_000_000  # far past any inbox an agent pages through; bounds the database's skip


@router.post("/messages", response_model=Intake, status_code=status.HTTP_201_CREATED)
def take_message(message: Message, svc: Service, _: AgentCaller) -> Intake:
    """A customer message from a channel (email, chat, SMS, app review): triaged and queued in the inbox."""
    check_length(message.text, svc.settings)
    return svc.take_message(message)


@router.get("/inbox", response_model=list[InboxItem])
def inbox(svc: Service, _: AgentCaller,
          status_: Annotated[str, Query(alias="status", pattern="^(open|resolved|all)$")] = "open",
          priority: Priority | None = None, tag: Tag | None = None, channel: Channel | None = None,
          sort: InboxSort = "priority", limit: Annotated[int, Query(ge=1, le=500)] = 50,
          offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0) -> list[InboxItem]:
    """Conversations, most urgent and longest waiting first (``sort=waiting``: longest waiting first)."""
    return svc.store.inbox(status=status_, priority=priority, tag=tag, channel=channel, sort=sort,
                           limit=limit, offset=offset)


@router.get("/conversations/{conversation_id}", response_model=ConversationView)
def conversation(conversation_id: int, svc: Service, _: AgentCaller) -> ConversationView:
    return svc.store.conversation(conversation_id)


@router.post("/conversations/{conversation_id}/resolve")
def resolve(conversation_id: int, svc: Service, _: AgentCaller) -> dict[str, str]:
    svc.store.resolve(conversation_id)
    return {"status": "resolved"}


@router.get("/suggestions/{suggestion_id}", response_model=SuggestionView)
def suggestion(suggestion_id: int, svc: Service, _: AgentCaller) -> SuggestionView:
    return svc.store.suggestion(suggestion_id)


@router.post("/suggestions/{suggestion_id}/feedback", response_model=FeedbackRecord,
             status_code=status.HTTP_201_CREATED,
             responses={200: {"description": "a replay of an earlier request with the same Idempotency-Key"},
                        409: {"description": "another agent decided this suggestion first"}})
def feedback(suggestion_id: int, verdict: FeedbackIn, svc: Service, caller: AgentCaller, response: Response,
             idempotency_key: Annotated[str | None, Header(max_length=128)] = None) -> FeedbackRecord:
    """Accept, edit or reject a suggestion, optionally with the right tag and priority. The first verdict
    wins; another agent's later one gets 409. Retrying with the same ``Idempotency-Key`` header is safe."""
    record = svc.decide(suggestion_id, verdict, caller.name, idempotency_key)
    if record.replayed:
        response.status_code = status.HTTP_200_OK
    return record


@router.get("/deliveries/{delivery_id}", response_model=DeliveryView)
def delivery(delivery_id: RowId, svc: Service, _: AgentCaller) -> DeliveryView:
    """An agent's reply on its way to the customer: queued, sending, sent, or failed with the reason."""
    return svc.store.delivery(delivery_id)


@router.post("/deliveries/{delivery_id}/retry", response_model=DeliveryView)
def retry_delivery(delivery_id: RowId, svc: Service, _: AgentCaller) -> DeliveryView:
    """Send a failed reply again (with the same id, so a receiver that got it recognises it)."""
    view = svc.store.retry_delivery(delivery_id)
    svc.deliveries.kick()
    return view


@router.get("/reference-replies")
def reference_replies(svc: Service, _: AgentCaller, faq_id: Id | None = None, tag: Tag | None = None,
                      limit: Annotated[int, Query(ge=1, le=200)] = 20) -> list[dict[str, object]]:
    """Replies agents edited before sending, kept as examples (personal data redacted)."""
    return svc.store.reference_replies(faq_id, tag, limit)
