"""Email in: the inbound-mail webhook that services such as SendGrid Inbound Parse, Mailgun routes or Postmark
post to (form fields or JSON; an ``agent`` key, also as the password of HTTP Basic auth in the webhook's URL).
The mail joins its thread, is triaged without the quoted earlier mail, and the raw mail is kept."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response, status
from starlette.concurrency import run_in_threadpool

from triage.api.deps import AgentCaller, Service
from triage.channels.mail import parse_inbound
from triage.errors import InputError

router = APIRouter(prefix="/v1/mail", tags=["mail"])


@router.post("/inbound", status_code=status.HTTP_201_CREATED,
             responses={200: {"description": "this mail (its Message-ID) was taken before; nothing new"}})
async def inbound(request: Request, response: Response, svc: Service, _: AgentCaller) -> dict[str, Any]:
    """A customer's email: threaded into their open email conversation (by In-Reply-To and References, else by
    address), triaged and queued with a suggestion. Posting the same mail again changes nothing."""
    kind = request.headers.get("content-type", "")
    if kind.startswith("application/json"):
        try:
            body = await request.json()
        except ValueError as exc:  # not JSON, or not UTF-8
            raise InputError(f"body: not valid JSON ({exc})") from exc
        if not isinstance(body, dict):
            raise InputError("body: send the mail's fields as a JSON object (from, to, subject, text, html, "
                             "message-id, in-reply-to, references)")
        fields = {str(k): v for k, v in body.items() if isinstance(v, str)}
    elif kind.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        form = await request.form()
        fields = {k: v for k, v in form.items() if isinstance(v, str)}  # attachments are not read
    else:
        raise InputError(f"send the mail as form fields or JSON (got Content-Type {kind or 'none'!r})")
    mail = parse_inbound(fields)
    taken = await run_in_threadpool(svc.take_mail, mail)
    if taken.get("duplicate"):
        response.status_code = status.HTTP_200_OK
    return taken
