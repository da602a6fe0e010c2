"""What every route depends on: the service's state, the caller's role, message length."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from triage.api.auth import Caller, require
from triage.config import Settings
from triage.errors import MessageTooLongError
from triage.service import ServiceState

__all__ = ["ServiceState"]


def get_service(request: Request) -> ServiceState:
    return request.app.state.service  # type: ignore[no-any-return]


Service = Annotated[ServiceState, Depends(get_service)]
BotCaller = Annotated[Caller, Depends(require("bot"))]
AgentCaller = Annotated[Caller, Depends(require("agent"))]
AdminCaller = Annotated[Caller, Depends(require("admin"))]
Agent = Depends(require("agent"))  # for routes that need the role but not the caller


def check_length(text: str, settings: Settings) -> None:
    if len(text) > settings.max_message_chars:
        raise MessageTooLongError(f"text has {len(text)} characters; the limit is {settings.max_message_chars}"
                                  " (send the latest message, not the whole thread)")
