"""The agents' web pages: sign-in, the inbox and one conversation with its suggestion.

Server-rendered Jinja (autoescaped: customer and draft text is never marked safe), a little plain JS for
keyboard shortcuts (``static/app.js``), no build step. Pages read the ``triage_session`` cookie only: a random
session id set by ``POST /login`` for an agent or admin key, kept in the database (``Store.open_web_session``)
until it expires or ``POST /logout`` deletes it. Without a valid session every page redirects to ``/login``
(303) and shows no data. Every POST must come from this site's own origin and (except ``/login``) carry the
session's CSRF token (``triage.web.security``), or it is refused with a 403 page and nothing is stored.
Verdicts go through ``Inbox.decide`` like the API's, with an idempotency key made when the page is rendered,
so a double submit stores one verdict.

    GET  /                                  → /inbox
    GET  /login, POST /login, POST /logout
    GET  /inbox                             ?priority= &tag= &channel= &status=open|resolved|all &sort=priority|waiting
    GET  /conversations/{id}
    POST /conversations/{id}/feedback       action, final_text, tag, priority, suggestion_id, idempotency_key,
                                            csrf_token (every POST but /login carries it)
    POST /conversations/{id}/resolve
    POST /conversations/{id}/deliveries/{delivery_id}/retry   a reply that could not be delivered, sent again

The language is Korean unless ``?lang=en`` (remembered in the ``triage_lang`` cookie).

Over 400 lines because every agent page lives here with the helpers they share (sign-in, inbox, conversation,
verdict forms); the content team's pages are in ``content_pages.py``.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Annotated, Any, get_args

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.datastructures import URL

from triage.api.auth import COOKIE, Caller
from triage.api.deps import Service, ServiceState
from triage.errors import ConflictError, InputError, NotFoundError, NotReadyError
from triage.models import Channel, FeedbackIn, InboxItem, SuggestionView, TriageResult
from triage.reasons import render, render_all
from triage.store.repository import MAX_ROW_ID
from triage.web.i18n import LANG_COOKIE, LANGUAGES, pick_language, strings, waiting, when
from triage.web.rendering import html
from triage.web.security import form_token, same_origin, valid_form_token

log = logging.getLogger("triage.web")

router = APIRouter(include_in_schema=False)

templates = Jinja2Templates(env=html)

PRIORITIES = ("P1", "P2", "P3", "P4")
CHANNELS: tuple[str, ...] = get_args(Channel)
STATUSES = ("open", "resolved", "all")
SORTS = ("priority", "waiting")
ACTIONS = ("accept", "edit", "reject")
PAGE_ROLES = ("agent", "admin")
INBOX_LIMIT = 200
LANG_COOKIE_SECONDS = 365 * 24 * 3600
FLASHES = {"saved": "flash_saved", "resolved": "flash_resolved", "retried": "flash_retried"}


# --- who is asking, in which language ---------------------------------------------------------------------

def signed_in(request: Request, svc: ServiceState) -> Caller | None:
    """The agent or admin behind the session cookie, or None (no cookie; a session signed out, expired or of a
    revoked key)."""
    session = request.cookies.get(COOKIE)
    owner = svc.store.web_session_owner(session) if session else None
    if owner is None or owner[1] not in PAGE_ROLES:
        return None
    return Caller(*owner)


def posted_by(request: Request, svc: ServiceState, token: str) -> Caller | Response:
    """Who sent this POST from a page, or the response refusing it: from another origin (or none named) → 403;
    no session → to /login; a missing or wrong CSRF token → 403. A refused POST changes nothing."""
    if not same_origin(request, svc.settings.public_url):
        log.warning("event=web_post_refused reason=origin path=%s", request.url.path)
        return _refused(request, None, "error_cross_site")
    caller = signed_in(request, svc)
    if caller is None:
        return _to_login(request)
    if not valid_form_token(request.cookies[COOKIE], token):
        log.warning("event=web_post_refused reason=csrf_token path=%s agent=%s", request.url.path, caller.name)
        return _refused(request, caller, "error_csrf_token")
    return caller


def language(request: Request) -> str:
    return pick_language(request.query_params.get("lang"), request.cookies.get(LANG_COOKIE))


def _remember_language(request: Request, response: Response) -> Response:
    chosen = request.query_params.get("lang")
    if chosen in LANGUAGES:
        response.set_cookie(LANG_COOKIE, chosen, max_age=LANG_COOKIE_SECONDS, path="/", samesite="lax")
    return response


def _safe_next(target: str | None) -> str:
    """Only a path on this site (no scheme, no host, no '//evil')."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/inbox"


def _redirect(request: Request, url: str | URL) -> Response:
    return _remember_language(request, RedirectResponse(str(url), status_code=303))


def _here(request: Request) -> str:
    """This page's path and query (no scheme or host)."""
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


def _to_login(request: Request) -> Response:
    target = (URL("/login").include_query_params(next=_here(request)) if request.method == "GET"
              else URL("/login"))
    return _redirect(request, target)


def _render(request: Request, name: str, context: dict[str, Any], *, here: str,
            caller: Caller | None = None, status: int = 200) -> Response:
    """A page with the shared context: strings, language switch, who is signed in, a flash message."""
    lang = language(request)
    other = "en" if lang == "ko" else "ko"
    t = strings(lang)
    flash_key = FLASHES.get(request.query_params.get("flash", ""))
    switch = URL(here).remove_query_params(["lang", "flash"]).include_query_params(lang=other)
    session = request.cookies.get(COOKIE)
    page = {"t": t, "lang": lang, "other_lang": other, "switch_url": str(switch), "agent": caller,
            "csrf_token": form_token(session) if caller and session else "",
            "flash": t[flash_key] if flash_key else None, "error": None, **context}
    response = templates.TemplateResponse(request, name, page, status_code=status)
    response.headers["Cache-Control"] = "no-store"  # customer data: no copies in shared or back-button caches
    return _remember_language(request, response)


# --- tags ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Tags:
    """Tag names, and the tags an agent may pick (grouped by top-level category), when a taxonomy is loaded."""

    names: dict[str, str]
    groups: list[tuple[str, list[str]]]  # (category name, tag ids) for the 'change tag' select
    filterable: list[str]  # for the inbox filter: every leaf tag and the catch-all (needs_review)
    catch_all: str | None = None  # the taxonomy's tag for messages it cannot classify

    def name(self, tag: str | None) -> str:
        return self.names.get(tag, tag) if tag else ""

    def pickable(self) -> set[str]:
        return {tag for _, members in self.groups for tag in members}


def tags_of(svc: ServiceState) -> Tags:
    try:
        tagger = svc.ready_pipeline().kb.tagger
    except NotReadyError:
        return Tags({}, [], [])
    if tagger is None:
        return Tags({}, [], [])
    taxonomy = tagger.taxonomy
    names = taxonomy.names
    groups: dict[str, list[str]] = {}
    for tag_id in tagger.classes:
        groups.setdefault(names.get(taxonomy.category(tag_id), ""), []).append(tag_id)
    for members in groups.values():
        members.sort(key=lambda t: names.get(t, t))
    filterable = sorted(taxonomy.leaves, key=lambda t: names.get(t, t))
    if taxonomy.catch_all in taxonomy.tags:
        filterable.append(taxonomy.catch_all)
    return Tags(names, list(groups.items()), filterable, taxonomy.catch_all)


# --- pages ----------------------------------------------------------------------------------------------------

@router.get("/")
def home(request: Request) -> Response:
    return _redirect(request, "/inbox")


@router.get("/login")
def login_page(request: Request, svc: Service, next: str | None = None) -> Response:
    if signed_in(request, svc) is not None:
        return _redirect(request, _safe_next(next))
    return _render(request, "login.html", {"next": _safe_next(next)}, here=_here(request))


@router.post("/login")
def login(request: Request, svc: Service, key: Annotated[str, Form()] = "",
          next: Annotated[str, Form()] = "/inbox") -> Response:
    t = strings(language(request))
    if not same_origin(request, svc.settings.public_url):  # no other site may sign anyone in (to its own key)
        log.warning("event=web_post_refused reason=origin path=/login")
        return _render(request, "login.html", {"next": "/inbox", "error": t["error_cross_site"]}, here="/login",
                       status=403)
    key = key.strip()
    owner = svc.store.key_owner(key) if key else None
    if owner is None or owner[1] not in PAGE_ROLES:
        problem, status = ((t["login_missing_key"], 400) if not key else
                           (t["login_unknown_key"], 401) if owner is None else (t["login_bot_key"], 403))
        log.info("event=web_login_refused status=%d", status)
        return _render(request, "login.html", {"next": _safe_next(next), "error": problem}, here="/login",
                       status=status)
    lifetime = svc.settings.web_session_lifetime
    session = svc.store.open_web_session(key, lifetime)
    if session is None:  # revoked between the two reads
        return _render(request, "login.html", {"next": _safe_next(next), "error": t["login_unknown_key"]},
                       here="/login", status=401)
    if request.cookies.get(COOKIE):
        svc.store.close_web_session(request.cookies[COOKIE])  # signing in again ends the previous session
    log.info("event=web_login agent=%s role=%s", owner[0], owner[1])
    response = _redirect(request, _safe_next(next))
    # Lax, not Strict: a link to a conversation in a team-chat alert opens signed in; Lax keeps the cookie off
    # other sites' POSTs, and the Origin check and the CSRF token refuse those from this site's other ports
    response.set_cookie(COOKIE, session, max_age=int(lifetime.total_seconds()), httponly=True, samesite="lax",
                        path="/", secure=_secure(request, svc))
    return response


@router.post("/logout")
def logout(request: Request, svc: Service, csrf_token: Annotated[str, Form()] = "") -> Response:
    caller = posted_by(request, svc, csrf_token)
    if isinstance(caller, Response):
        return caller
    svc.store.close_web_session(request.cookies[COOKIE])  # the cookie's value opens nothing any more
    log.info("event=web_logout agent=%s", caller.name)
    response = _redirect(request, "/login")
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax", secure=_secure(request, svc))
    return response


def _secure(request: Request, svc: ServiceState) -> bool:
    """Cookies only over HTTPS when the service is reached through HTTPS (at public_url or directly)."""
    return svc.settings.public_url.lower().startswith("https://") or request.url.scheme == "https"


@router.get("/inbox")
def inbox_page(request: Request, svc: Service) -> Response:
    caller = signed_in(request, svc)
    if caller is None:
        return _to_login(request)
    lang = language(request)
    t = strings(lang)
    tags = tags_of(svc)
    query = request.query_params
    chosen = {
        "priority": query.get("priority") if query.get("priority") in PRIORITIES else None,
        "channel": query.get("channel") if query.get("channel") in CHANNELS else None,
        "tag": (query.get("tag") or None) if len(query.get("tag") or "") <= 64 else None,
        "status": query.get("status") if query.get("status") in STATUSES else "open",
        "sort": query.get("sort") if query.get("sort") in SORTS else "priority",
    }
    items = svc.store.inbox(status=chosen["status"], priority=chosen["priority"], tag=chosen["tag"],  # type: ignore[arg-type]
                            channel=chosen["channel"], sort=chosen["sort"], limit=INBOX_LIMIT)  # type: ignore[arg-type]
    rows = [{"item": item, "waiting": waiting(item.waiting_seconds, lang), "tag_name": tags.name(item.tag),
             "channel": _channel(item.channel, t)} for item in items]
    return _render(request, "inbox.html", {
        "rows": rows, "chosen": chosen, "tags": tags, "priorities": PRIORITIES, "channels": CHANNELS,
        "statuses": STATUSES, "sorts": SORTS, "limit": INBOX_LIMIT,
        "channel_names": {c: _channel(c, t) for c in CHANNELS},
    }, here=_here(request), caller=caller)


@router.get("/conversations/{conversation_id}")
def conversation_page(request: Request, conversation_id: int, svc: Service) -> Response:
    caller = signed_in(request, svc)
    if caller is None:
        return _to_login(request)
    return _conversation(request, svc, caller, conversation_id)


@router.post("/conversations/{conversation_id}/feedback")
def feedback(request: Request, conversation_id: int, svc: Service,
             action: Annotated[str, Form()] = "", final_text: Annotated[str, Form()] = "",
             tag: Annotated[str, Form()] = "", priority: Annotated[str, Form()] = "",
             suggestion_id: Annotated[str, Form()] = "", idempotency_key: Annotated[str, Form()] = "",
             csrf_token: Annotated[str, Form()] = "") -> Response:
    caller = posted_by(request, svc, csrf_token)
    if isinstance(caller, Response):
        return caller
    t = strings(language(request))
    kept = {"final_text": final_text, "tag": tag, "priority": priority}

    def again(message: str, status: int, keep: bool = True) -> Response:
        return _conversation(request, svc, caller, conversation_id, error=message, status=status,
                             kept=kept if keep else None)

    try:
        suggestion = svc.store.suggestion(int(suggestion_id)) if _row_id(suggestion_id) else None
    except NotFoundError:
        suggestion = None
    if (action not in ACTIONS or suggestion is None or suggestion.conversation_id != conversation_id
            or len(idempotency_key) > 128):
        return again(t["error_bad_form"], 422)
    result = suggestion.result
    text = final_text.replace("\r\n", "\n").replace("\r", "\n")  # browsers send a textarea's lines as CRLF
    if action != "reject" and not text.strip():
        return again(t["error_empty_reply"], 422)
    if action == "edit" and text == result.draft:
        action = "accept"  # "send edited" without an edit is an accept (and the store keeps no reference reply)
    verdict = FeedbackIn(
        action=action,  # type: ignore[arg-type]
        final_text=None if action == "reject" else text,
        tag=tag if tag and tag != result.tag else None,
        priority=priority if priority in PRIORITIES and priority != result.priority else None)  # type: ignore[arg-type]
    queue_before = svc.store.inbox(status="open", sort="priority", limit=500)
    try:
        record = svc.decide(suggestion.id, verdict, caller.name, idempotency_key or None)
    except ConflictError:
        return again(_conflict_message(svc, suggestion.id, caller, t), 409, keep=False)
    except NotFoundError:
        return _not_found(request, caller)
    except InputError as exc:
        return again(t["error_input"].format(message=str(exc)), 422)
    except NotReadyError:
        return again(t["error_not_ready"], 503)
    log.info("event=web_feedback suggestion=%d action=%s agent=%s replayed=%s", suggestion.id, record.action,
             caller.name, record.replayed)
    following = _next_conversation(queue_before, svc.store.inbox(status="open", sort="priority", limit=500),
                                   conversation_id)
    target = f"/conversations/{following}" if following is not None else "/inbox"
    return _redirect(request, URL(target).include_query_params(flash="saved"))


@router.post("/conversations/{conversation_id}/resolve")
def resolve(request: Request, conversation_id: int, svc: Service, csrf_token: Annotated[str, Form()] = "") -> Response:
    caller = posted_by(request, svc, csrf_token)
    if isinstance(caller, Response):
        return caller
    try:
        svc.store.resolve(conversation_id)
    except NotFoundError:
        return _not_found(request, caller)
    log.info("event=web_resolved conversation=%d agent=%s", conversation_id, caller.name)
    return _redirect(request, URL("/inbox").include_query_params(flash="resolved"))


@router.post("/conversations/{conversation_id}/deliveries/{delivery_id}/retry")
def retry_delivery(request: Request, conversation_id: int, delivery_id: int, svc: Service,
                   csrf_token: Annotated[str, Form()] = "") -> Response:
    """Send a failed reply again (same id)."""
    caller = posted_by(request, svc, csrf_token)
    if isinstance(caller, Response):
        return caller
    if not _row_id(str(delivery_id)) or delivery_id not in {d.id for d in svc.store.deliveries(conversation_id)}:
        return _not_found(request, caller)
    try:
        svc.store.retry_delivery(delivery_id)
    except ConflictError as exc:
        return _conversation(request, svc, caller, conversation_id, error=str(exc), status=409)
    svc.deliveries.kick()
    log.info("event=web_delivery_retried delivery=%d agent=%s", delivery_id, caller.name)
    return _redirect(request, URL(f"/conversations/{conversation_id}").include_query_params(flash="retried"))


# --- helpers --------------------------------------------------------------------------------------------------

def _row_id(value: str) -> bool:
    """A form field holding a number the database can hold."""
    return value.isdigit() and 0 < int(value) <= MAX_ROW_ID


def _channel(channel: str | None, t: dict[str, str]) -> str:
    return t.get(f"channel_{channel}", channel or t["channel_none"]) if channel else t["channel_none"]


def _not_found(request: Request, caller: Caller) -> Response:
    t = strings(language(request))
    return _render(request, "error.html", {"message": t["error_not_found"]}, here="/inbox", caller=caller,
                   status=404)


def _refused(request: Request, caller: Caller | None, reason: str) -> Response:
    t = strings(language(request))
    return _render(request, "error.html", {"message": t[reason]}, here="/inbox", caller=caller, status=403)


def _conflict_message(svc: ServiceState, suggestion_id: int, caller: Caller, t: dict[str, str]) -> str:
    try:
        now = svc.store.suggestion(suggestion_id)
    except NotFoundError:
        return t["error_conflict"]
    if now.state == "superseded":
        return t["error_superseded"]
    state = t[f"state_{now.state}"]
    if now.decided_by and now.decided_by != caller.name:
        return t["error_conflict_by"].format(who=now.decided_by, state=state)
    return t["error_conflict"] if not now.decided_by else t["decided_state"].format(state=state)


def _next_conversation(before: list[InboxItem], after: list[InboxItem], current: int) -> int | None:
    """The next conversation in inbox order (as the agent saw it) that still waits for a reply."""
    still_waiting = {i.conversation_id for i in after if i.waiting_seconds is not None and i.conversation_id != current}
    order = [i.conversation_id for i in before]
    following = order[order.index(current) + 1:] if current in order else order
    following += [i.conversation_id for i in after if i.conversation_id not in order]  # arrived meanwhile
    return next((c for c in following if c in still_waiting), None)


def _conversation(request: Request, svc: ServiceState, caller: Caller, conversation_id: int, *,
                  error: str | None = None, status: int = 200, kept: dict[str, str] | None = None) -> Response:
    lang = language(request)
    t = strings(lang)
    try:
        view = svc.store.conversation(conversation_id)
    except NotFoundError:
        return _not_found(request, caller)
    tags = tags_of(svc)
    suggestion = view.suggestion
    result = suggestion.result if suggestion else None
    draft = kept["final_text"] if kept else (result.draft or "" if result else "")
    chosen_tag = kept["tag"] if kept and kept["tag"] else (result.tag if result else None)
    chosen_priority = kept["priority"] if kept and kept["priority"] else (result.priority if result else None)
    here = f"/conversations/{conversation_id}"
    return _render(request, "conversation.html", {
        "view": view, "suggestion": suggestion, "result": result, "tags": tags, "draft": draft,
        "chosen_tag": chosen_tag, "chosen_priority": chosen_priority, "priorities": PRIORITIES,
        "decision": _decision(suggestion, t), "idempotency_key": uuid.uuid4().hex,
        "waiting": waiting(view.waiting_seconds, lang), "channel": _channel(view.channel, t),
        "when": lambda at: when(at, lang), "lint": [_lint(finding) for finding in (result.lint if result else [])],
        "error": error, "safe_url": _safe_url, **_reasons(result, lang),
    }, here=here, caller=caller, status=status)


def _reasons(result: TriageResult | None, lang: str) -> dict[str, Any]:
    """Why the tag and the priority, in the page's language (a result stored before they had codes: as stored)."""
    if result is None:
        return {"tag_reason": None, "priority_reasons": []}
    return {"tag_reason": render(result.tag_why, lang) if result.tag_why else result.tag_reason,
            "priority_reasons": render_all(result.priority_why, lang) if result.priority_why else result.reasons}


def _decision(suggestion: SuggestionView | None, t: dict[str, str]) -> dict[str, Any] | None:
    """How the suggestion was decided (None while it is open): a sentence and the reply that was sent."""
    if suggestion is None or suggestion.state == "open":
        return None
    state = t[f"state_{suggestion.state}"]
    sentence = (t["decided_by"].format(who=suggestion.decided_by, state=state) if suggestion.decided_by
                else t["decided_state"].format(state=state))
    sent = next((f.final_text for f in reversed(suggestion.feedback) if f.final_text), None)
    return {"sentence": sentence, "sent": sent, "state": suggestion.state}


def _lint(finding: str) -> tuple[str, str]:
    """'code: message' → (code, message)."""
    code, sep, message = finding.partition(": ")
    return (code, message) if sep and code.isidentifier() else ("", finding)


def _safe_url(url: str | None) -> str | None:
    """Only web links become hrefs (autoescaping does not stop 'javascript:' URLs)."""
    return url if url and url.lower().startswith(("https://", "http://")) else None

