"""API keys with roles. A key comes as ``Authorization: Bearer <key>``, ``X-API-Key: <key>`` or as the password
of ``Authorization: Basic``. Roles: ``bot`` (bot endpoints), ``agent`` (inbox, feedback, triage, inbound mail),
``admin`` (everything, plus KB reload, keys and settings). No key or an unknown one → 401; a key whose role may not
do this → 403, and so does a widget key (public, ``triage.widget``: it opens only the widget's routes). Nothing
else is read before the key is checked.

The web pages' session cookie (``triage_session``, set at sign-in: a session id, never the key) also opens the
API's GET routes, which change nothing (the report page's charts and the export links); any other method needs
the key in a header, so no state-changing API route can be reached by a page of another site."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request

from triage.errors import AuthError, ForbiddenError
from triage.models import Role

COOKIE = "triage_session"
READ_METHODS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True)
class Caller:
    name: str
    role: Role


def presented_key(request: Request) -> str | None:
    """The key of ``Authorization: Bearer``, ``X-API-Key``, or the password of ``Authorization: Basic`` (what
    inbound-mail services send when the webhook URL carries ``user:key@``)."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    if header.lower().startswith("basic "):
        try:
            return base64.b64decode(header[6:].strip(), validate=True).decode().partition(":")[2] or None
        except (binascii.Error, UnicodeDecodeError):
            return None
    return request.headers.get("x-api-key") or None


def require(*roles: Role) -> Callable[[Request], Caller]:
    """A dependency that lets ``roles`` (and admin) through and returns who is calling."""
    allowed = {*roles, "admin"}

    def check(request: Request) -> Caller:
        store = request.app.state.service.store
        key = presented_key(request)
        session = request.cookies.get(COOKIE)
        if key is not None:
            owner = store.key_owner(key)
        elif session and request.method in READ_METHODS:
            owner = store.web_session_owner(session)
        elif session:
            raise AuthError(f"the web pages' sign-in cookie opens only GET routes; send the API key for "
                            f"{request.method}: 'Authorization: Bearer <key>'")
        else:
            raise AuthError("no API key: send 'Authorization: Bearer <key>' (keys: `triage keys create`)")
        if owner is None and key is not None and store.is_widget_key(key):
            raise ForbiddenError("a widget key opens only the chat widget's routes (/v1/widget/…); send an agent, "
                                 "bot or admin key here")
        if owner is None:
            raise AuthError("unknown or revoked API key" if key is not None
                            else "the web session has ended (signed out, expired or its key revoked); sign in again")
        caller = Caller(*owner)
        if caller.role not in allowed:
            raise ForbiddenError(f"the role of this key ({caller.role}) may not do this; it needs the role "
                                 f"{' or '.join(sorted(allowed))}")
        return caller

    return check
