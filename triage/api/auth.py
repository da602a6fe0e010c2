"""API keys with roles. A key comes as ``Authorization: Bearer <key>``, ``X-API-Key: <key>`` or, for the web
pages, the ``triage_key`` cookie set at sign-in. Roles: ``bot`` (bot endpoints), ``agent`` (inbox, feedback,
triage), ``admin`` (everything, plus KB reload, keys and settings). No key or an unknown one → 401; a key whose
role may not do this → 403. Nothing else is read before the key is checked."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request

from triage.errors import AuthError, ForbiddenError
from triage.models import Role

COOKIE = "triage_key"


@dataclass(frozen=True)
class Caller:
    name: str
    role: Role


def presented_key(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return request.headers.get("x-api-key") or request.cookies.get(COOKIE) or None


def require(*roles: Role) -> Callable[[Request], Caller]:
    """A dependency that lets ``roles`` (and admin) through and returns who is calling."""
    allowed = {*roles, "admin"}

    def check(request: Request) -> Caller:
        key = presented_key(request)
        if key is None:
            raise AuthError("no API key: send 'Authorization: Bearer <key>' (keys: `triage keys create`)")
        owner = request.app.state.service.store.key_owner(key)
        if owner is None:
            raise AuthError("unknown or revoked API key")
        caller = Caller(*owner)
        if caller.role not in allowed:
            raise ForbiddenError(f"the role of this key ({caller.role}) may not do this; it needs the role "
                                 f"{' or '.join(sorted(allowed))}")
        return caller

    return check
