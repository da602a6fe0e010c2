"""The chat widget's routes, for customers' browsers: ``/v1/widget/{key}/…`` with the public widget key in the
path (so a CORS preflight can be answered for its origins) and the customer's session token in the
``X-Widget-Session`` header. A widget key opens these routes only; every request is held to the key's origins
and rate-limited per session and per IP address (``triage.widget.WidgetGate``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response, status

from triage.api.deps import Service
from triage.errors import ForbiddenError
from triage.models import INT32_MAX, WidgetTurn
from triage.store.chat_rows import ChatSession
from triage.web.security import own_origins
from triage.widget import (
    POLL_SECONDS,
    WidgetAsk,
    WidgetAskResult,
    WidgetCes,
    WidgetConfig,
    WidgetRating,
    WidgetSessionIn,
    WidgetSessionView,
)

router = APIRouter(prefix="/v1/widget/{key}", tags=["widget"])
SESSION_HEADER = "x-widget-session"
PREFLIGHT_SECONDS = 600


def _cors(response: Response, origin: str | None, allowed: list[str]) -> None:
    if origin is not None and origin in allowed:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"


def gate(key: str, request: Request, response: Response, svc: Service,
         x_widget_session: Annotated[str | None, Header(max_length=128)] = None) -> str | None:
    """Origin, then rate limits (per IP, and per session when a token is sent); the token."""
    origin = request.headers.get("origin")
    allowed = svc.widget.gate.check_origin(key, origin, own_origins(request, svc.settings.public_url))
    svc.widget.gate.hit(request.client.host if request.client else "unknown", x_widget_session)
    _cors(response, origin, allowed)
    return x_widget_session


Token = Annotated[str | None, Depends(gate)]


def chat(key: str, token: Token, svc: Service) -> ChatSession:
    return svc.widget.session(key, token)


Chat = Annotated[ChatSession, Depends(chat)]


@router.options("/{rest:path}", include_in_schema=False)
def preflight(key: str, request: Request, svc: Service) -> Response:
    """CORS preflight for a company calling the widget API from its own site (one of the key's origins)."""
    origin = request.headers.get("origin")
    if origin is None or origin not in svc.widget.gate.origins(key):
        raise ForbiddenError(f"this widget key may not be used from {origin or 'an unnamed origin'}")
    return Response(status_code=status.HTTP_204_NO_CONTENT, headers={
        "Access-Control-Allow-Origin": origin, "Vary": "Origin",
        "Access-Control-Allow-Methods": "GET, POST", "Access-Control-Allow-Headers": "content-type, x-widget-session",
        "Access-Control-Max-Age": str(PREFLIGHT_SECONDS)})


@router.get("/config", response_model=WidgetConfig)
def config(svc: Service, _: Token, section: Annotated[str | None, Query(max_length=128)] = None,
           lang: Annotated[str, Query(pattern="^(ko|en)$")] = "ko") -> WidgetConfig:
    """The greeting and the quick replies of ``section``."""
    return svc.widget.config(section, lang)


@router.post("/sessions", status_code=status.HTTP_201_CREATED)
def open_session(key: str, body: WidgetSessionIn, svc: Service, _: Token) -> dict[str, str]:
    """A new customer session; its token, shown once (the browser keeps it for the customer's return)."""
    return {"token": svc.store.open_chat_session(key, body.lang, body.page, body.section)}


@router.get("/session", response_model=WidgetSessionView)
def session(svc: Service, customer: Chat) -> WidgetSessionView:
    """The chat so far, its state (bot, agent, resolved) and whether the CES question is asked."""
    return svc.widget.view(customer)


@router.post("/ask", response_model=WidgetAskResult)
def ask(body: WidgetAsk, svc: Service, customer: Chat) -> WidgetAskResult:
    """The customer's line: answered by the bot from the KB, or passed to the agent after a hand-off."""
    return svc.widget.ask(customer, body)


@router.post("/turns/{turn_id}/feedback", response_model=WidgetTurn)
def rate(turn_id: Annotated[int, Path(ge=1, le=INT32_MAX)], body: WidgetRating, svc: Service,
         customer: Chat) -> WidgetTurn:
    """'Did this help?' on a bot answer (once); an unhelpful one also feeds the FAQ gaps."""
    return svc.widget.rate(customer, turn_id, body.helpful)


@router.post("/handoff", response_model=WidgetSessionView)
def handoff(svc: Service, customer: Chat) -> WidgetSessionView:
    """The customer asks for a person: the chat, the quick replies pressed and the page go to the inbox."""
    return svc.widget.hand_over(customer)


@router.get("/turns", response_model=WidgetSessionView)
async def turns(svc: Service, customer: Chat, after: Annotated[int, Query(ge=0, le=INT32_MAX)] = 0,
                wait: Annotated[float, Query(ge=0, le=POLL_SECONDS)] = POLL_SECONDS) -> WidgetSessionView:
    """A long poll: the lines after ``after`` at once, else within ``wait`` seconds (an agent's reply, the
    notice that the conversation is resolved)."""
    return await svc.widget.wait(customer, after, wait)


@router.post("/ces", status_code=status.HTTP_201_CREATED)
def ces(body: WidgetCes, svc: Service, customer: Chat) -> dict[str, str]:
    """The CES answer after the conversation is resolved (once)."""
    svc.widget.answer_ces(customer, body.score)
    return {"status": "recorded"}
