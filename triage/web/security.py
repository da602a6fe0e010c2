"""What keeps the web pages' session from being used by other sites: the CSRF token every form carries, the
Origin check on every POST of the pages, and the security headers on every response.

The token is an HMAC-SHA256 keyed by the session id (the cookie's value, HttpOnly): another site can neither
read the cookie nor compute the token, and a new sign-in (a new session id) changes it. A POST whose
``Origin`` (else ``Referer``) is not this service's own origin (``public_url``, or the scheme and ``Host`` the
request came to) is refused before anything else is read; one without either header too (browsers send
``Origin`` with every POST)."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The pages load their script, styles and charts from this site only, and no other site may frame them (the
# widget's frame sets its own policy: the sites of its key may frame it).
PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # the Origin check's fallback still gets a Referer; other sites get none
}


def form_token(session_id: str) -> str:
    return hmac.new(session_id.encode(), b"triage-csrf", hashlib.sha256).hexdigest()


def valid_form_token(session_id: str, presented: str) -> bool:
    return hmac.compare_digest(form_token(session_id), presented)


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:  # not a number
        return None
    if not parts.scheme or not parts.netloc:
        return None
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    host = (parts.hostname or "").lower()
    return f"{parts.scheme.lower()}://{host}" + (f":{port}" if port and port != default else "")


def own_origins(request: Request, public_url: str) -> set[str]:
    """This service's origins: ``public_url``'s, and the scheme and ``Host`` the request came to."""
    own = {_origin(public_url)}
    host = request.headers.get("host")
    if host:
        own.add(_origin(f"{request.url.scheme}://{host}"))
    return {o for o in own if o is not None}


def same_origin(request: Request, public_url: str) -> bool:
    """The request says it comes from a page of this service (``Origin``, else ``Referer``)."""
    claimed = request.headers.get("origin") or request.headers.get("referer")
    if not claimed or claimed == "null":
        return False
    return _origin(claimed) in own_origins(request, public_url)


class SecurityHeaders:
    """ASGI middleware: the headers above on every response, and ``PAGE_CSP`` unless the route set its own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                extra = {**HEADERS, "Content-Security-Policy": PAGE_CSP}
                own = b"".join(value for name, value in headers if name.lower() == b"content-security-policy")
                if own and b"frame-ancestors 'none'" not in own:  # the route's own names the sites that may frame it
                    del extra["X-Frame-Options"]
                headers += [(name.lower().encode(), value.encode()) for name, value in extra.items()
                            if name.lower().encode() not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
