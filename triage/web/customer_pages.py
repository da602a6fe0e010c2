"""The pages customers see, without signing in: the widget's frame (embedded by the company's site through
``static/widget.js``), the demo shop that carries the widget (demo KB only), and the CES question an email reply
links to.

    GET  /widget/frame      ?key= &section= &lang= &page=   the chat inside the widget's iframe
    GET  /demo              ?section= &lang=                a demo shop page with the widget on it
    GET  /ces/{token}, POST /ces/{token}                    "how easy was it?" (1-7), once per conversation

The frame may be framed only by the key's sites (``frame-ancestors``, the browser enforces it) and this service's
own pages; a POST to the CES page must come from this site (Origin check), like the agents' pages.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from triage.api.deps import Service
from triage.errors import AuthError, ConflictError
from triage.web.i18n import LANGUAGES, strings
from triage.web.rendering import html
from triage.web.security import same_origin

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(env=html)

DEMO_KEY = "demo"  # the demo shop's widget key (created on the first visit; it is public like every widget key)
SECTIONS = {"ko": [("order", "주문"), ("delivery", "배송"), ("return", "교환·반품"), ("payment", "결제"),
                   ("account", "계정"), ("membership", "멤버십"), ("app", "앱"), ("gift", "선물하기")],
            "en": [("order", "Orders"), ("delivery", "Delivery"), ("return", "Returns"), ("payment", "Payment"),
                   ("account", "Account"), ("membership", "Membership"), ("app", "App"), ("gift", "Gifts")]}
FRAME_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
             "form-action 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'self' {origins}")


def browser_language(request: Request) -> str:
    """``?lang=``, else English when the browser puts English first, else Korean."""
    chosen = request.query_params.get("lang")
    if chosen in LANGUAGES:
        return chosen
    first = request.headers.get("accept-language", "").split(",")[0].strip().lower()
    return "en" if first.startswith("en") else "ko"


@router.get("/widget/frame")
def widget_frame(request: Request, svc: Service, key: str = "", section: str = "", page: str = "") -> Response:
    lang = browser_language(request)
    try:
        origins = svc.widget.gate.origins(key)
    except AuthError as exc:
        return HTMLResponse(f"<!doctype html><p>{strings(lang)['widget_error']}</p>", status_code=403,
                            headers={"X-Triage-Error": str(exc)[:200]})
    t = {k.removeprefix("widget_"): v for k, v in strings(lang).items() if k.startswith("widget_")}
    response = templates.TemplateResponse(request, "widget.html", {
        "lang": lang, "key": key, "section": section[:128], "page": page[:128], "t": t})
    response.headers["Content-Security-Policy"] = FRAME_CSP.format(origins=" ".join(origins)).strip()
    return response


@router.get("/demo")
def demo(request: Request, svc: Service, section: str = "") -> Response:
    """A shop page with the support widget, for a new user to talk to the bot at once (the demo KB's, or any KB's
    with ``demo_page`` on)."""
    if not svc.settings.serves_demo_page:
        return HTMLResponse("<!doctype html><p>The demo shop is off: it is served with the demo knowledge base, or "
                            "with TRIAGE_DEMO_PAGE=true.</p>", status_code=404)
    lang = browser_language(request)
    key = svc.store.ensure_widget_key(DEMO_KEY, [svc.settings.public_url.rstrip("/")])
    known = dict(SECTIONS[lang])
    return templates.TemplateResponse(request, "demo.html", {
        "widget_key": key, "section": section if section in known else "", "lang": lang,
        "sections": SECTIONS[lang]})


@router.get("/ces/{token}")
def ces_question(token: str, request: Request, svc: Service) -> Response:
    return _ces_page(request, svc, token)


@router.post("/ces/{token}")
def ces_answer(token: str, request: Request, svc: Service, score: Annotated[int, Form(ge=1, le=7)]) -> Response:
    if not same_origin(request, svc.settings.public_url):
        return HTMLResponse("<!doctype html><p>Refused: this form is answered on its own page.</p>", status_code=403)
    invited = svc.store.ces_invited(token)
    if invited is not None and invited[1] is None:
        with suppress(ConflictError):  # answered meanwhile (a double submit): the first answer stands
            svc.store.record_ces(invited[0], score, once=True)
    return _ces_page(request, svc, token)


def _ces_page(request: Request, svc: Service, token: str) -> Response:
    lang = browser_language(request)
    invited = svc.store.ces_invited(token)
    t = strings(lang)
    state = "unknown" if invited is None else "thanks" if invited[1] is not None else "ask"
    return templates.TemplateResponse(request, "ces.html", {"lang": lang, "t": t, "state": state, "token": token},
                                      status_code=404 if invited is None else 200)
