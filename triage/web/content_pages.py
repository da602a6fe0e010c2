"""The content team's and CX leads' pages: the FAQ gaps (with accepting a suggested entry) and the report.

Same rules as the agents' pages (``triage.web.pages``): the session cookie of an agent or admin, else a redirect
to ``/login``; the Origin check and the CSRF token on the POST; autoescaped templates (gap questions are customer
text); Korean unless ``?lang=en``. The numbers come from the same functions as the API, so the page, its exports
and its charts (embedded from ``/v1/reports/chart/…``: the API's GET routes accept the session cookie) agree.

    GET  /gaps?days=30                          ranked gaps of the last N days, each with an editable draft
    POST /gaps/accept                           entry_id, question, examples, answer, tag, days, gap, csrf_token
    GET  /reports?period=day|week&start=&end=   the CX report (start, end: YYYY-MM-DD, end excluded)
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from markupsafe import Markup, escape
from pydantic import ValidationError
from starlette.datastructures import URL

from knowledge.errors import SourceError
from knowledge.gaps import FaqDraft, Gap
from triage.api.auth import Caller
from triage.api.deps import Service, ServiceState
from triage.errors import ConflictError, InputError, NotReadyError
from triage.faq_gaps import MAX_DAYS, GapReport
from triage.reports import DEFAULT_TIMEZONE, PERIODS, resolve_range, zone
from triage.web.i18n import KST, strings
from triage.web.pages import Tags, _redirect, _render, _to_login, language, posted_by, signed_in, tags_of
from triage.web.rendering import report_context

log = logging.getLogger("triage.web")

router = APIRouter(include_in_schema=False)

GAP_PERIODS = (7, 30, 90)
DEFAULT_GAP_DAYS = 30
CHART_NAMES = ("volume", "auto_answer", "acceptance", "ces", "first_response")
PLACEHOLDER = "[확인 필요"  # what an extractive or LLM draft leaves where a fact is missing
SOURCES = ("handoff", "answer_rejected", "low_confidence", "unhelpful", "answered_then_agent", "history")


# --- FAQ gaps -----------------------------------------------------------------------------------------------

@router.get("/gaps")
def gaps_page(request: Request, svc: Service, days: str | None = None) -> Response:
    caller = signed_in(request, svc)
    if caller is None:
        return _to_login(request)
    period = _days(days)
    if period is None:
        t = strings(language(request))
        return _render(request, "error.html", {"message": t["gaps_bad_days"].format(max=MAX_DAYS)},
                       here="/gaps", caller=caller, status=422)
    flash = None
    if request.query_params.get("flash") == "faq_added":
        flash = _added_message(strings(language(request)), svc.settings.accepted_faq_file)
    return _gaps(request, svc, caller, period, flash=flash)


@router.post("/gaps/accept")
def accept_gap(request: Request, svc: Service, entry_id: Annotated[str, Form()] = "",
               question: Annotated[str, Form()] = "", examples: Annotated[str, Form()] = "",
               answer: Annotated[str, Form()] = "", tag: Annotated[str, Form()] = "",
               days: Annotated[str, Form()] = "", gap: Annotated[str, Form()] = "",
               csrf_token: Annotated[str, Form()] = "") -> Response:
    caller = posted_by(request, svc, csrf_token)
    if isinstance(caller, Response):
        return caller
    t = strings(language(request))
    period = _days(days) or DEFAULT_GAP_DAYS
    entry_id, question, answer = entry_id.strip(), _lines(question).strip(), _lines(answer).strip()
    phrasings = [line.strip() for line in _lines(examples).split("\n") if line.strip()]
    kept = {"gap": gap, "entry_id": entry_id, "question": question, "examples": "\n".join(phrasings),
            "answer": answer, "tag": tag}

    def again(message: str) -> Response:
        return _gaps(request, svc, caller, period, error=message, status=422, kept=kept)

    if tag and tag not in _leaf_tags(tags_of(svc)):
        return again(t["error_bad_form"])
    if PLACEHOLDER in answer:
        return again(t["gap_error_placeholder"])
    try:
        draft = FaqDraft(question=question, examples=phrasings, answer=answer)
    except ValidationError:
        return again(t["gap_error_question"])
    try:
        svc.accept_faq(entry_id, draft, [tag] if tag else [], caller.name)
    except SourceError as exc:
        return again(t["gap_error"].format(message="; ".join(exc.problems)))
    except ConflictError as exc:
        return again(t["gap_error"].format(message=str(exc)))
    log.info("event=web_faq_accepted entry=%s agent=%s", entry_id, caller.name)
    target = URL("/gaps").include_query_params(days=period, flash="faq_added")
    anchor = f"#{gap}" if gap.startswith("gap-") and _number(gap[4:]) else ""
    return _redirect(request, f"{target}{anchor}")


def _gaps(request: Request, svc: ServiceState, caller: Caller, days: int, *, error: str | None = None,
          flash: Markup | None = None, status: int = 200, kept: dict[str, str] | None = None) -> Response:
    lang = language(request)
    t = strings(lang)
    here = str(URL("/gaps").include_query_params(days=days))
    try:
        found = svc.gaps(days)
    except NotReadyError:
        return _render(request, "error.html", {"message": t["error_not_ready"]}, here=here, caller=caller,
                       status=503)
    tags = tags_of(svc)
    accepted = svc.accepted_faq()
    stamp = datetime.now(KST).strftime("%Y%m%d")
    cards = []
    for rank, gap in enumerate(found.gaps, 1):
        mine = kept if kept and kept["gap"] == gap.id else None
        cards.append({"gap": gap, "rank": rank, "sources": _sources(gap, t),
                      "already": accepted.get(gap.draft.question),
                      "form": mine or _draft_form(gap, _free_id(f"gap-{stamp}-{rank}", accepted.values()))})
    return _render(request, "gaps.html", {
        "report": found, "cards": cards, "days": days, "periods": GAP_PERIODS,
        "summary": _gap_summary(found, t), "leaf_tags": [(tag, tags.name(tag)) for tag in _leaf_tags(tags)],
        "placeholder": PLACEHOLDER, "error": error, "flash": flash,
        "exports": {"md": f"/v1/gaps/export.md?days={days}", "csv": f"/v1/gaps/export.csv?days={days}"},
    }, here=here, caller=caller, status=status)


def _days(value: str | None) -> int | None:
    """The period in days (30 when not given); None for anything but a whole number of 1 to MAX_DAYS."""
    if value is None or not value.strip():
        return DEFAULT_GAP_DAYS
    value = value.strip()
    return int(value) if _number(value) and 1 <= int(value) <= MAX_DAYS else None


def _number(value: str) -> bool:
    return value.isascii() and value.isdigit() and len(value) <= 6


def _lines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")  # browsers send a textarea's lines as CRLF


def _leaf_tags(tags: Tags) -> list[str]:
    """The taxonomy's leaf tags (what an entry's ``tags`` may hold), by display name."""
    return [tag for tag in tags.filterable if tag != tags.catch_all]


def _free_id(base: str, taken: Any) -> str:
    used = set(taken)
    if base not in used:
        return base
    n = 2
    while f"{base}-{n}" in used:
        n += 1
    return f"{base}-{n}"


def _draft_form(gap: Gap, entry_id: str) -> dict[str, str]:
    draft = gap.draft
    return {"gap": gap.id, "entry_id": entry_id, "question": draft.question, "examples": "\n".join(draft.examples),
            "answer": draft.answer, "tag": ""}


def _sources(gap: Gap, t: dict[str, str]) -> list[tuple[str, int]]:
    known = [(t[f"source_{s}"], gap.sources[s]) for s in SOURCES if gap.sources.get(s)]
    return known + [(s, n) for s, n in gap.sources.items() if s not in SOURCES and n]


def _gap_summary(found: GapReport, t: dict[str, str]) -> str:
    # GapReport.questions counts both periods (the trend's too): this period's are the gaps' sizes
    return t["gaps_summary"].format(start=_day(found.period_start), end=_day(found.period_end),
                                    questions=sum(g.size for g in found.gaps), gaps=len(found.gaps))


def _day(moment: datetime) -> str:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(KST).strftime("%Y-%m-%d")


def _added_message(t: dict[str, str], path: Path) -> Markup:
    """The flash after accepting, with the file and the command as code (both escaped)."""
    return escape(t["gap_added"]).format(path=Markup("<code>{}</code>").format(str(path)),
                                         command=Markup("<code>triage kb build</code>"))


# --- the report ---------------------------------------------------------------------------------------------

@router.get("/reports")
def reports_page(request: Request, svc: Service, period: str = "day", start: str | None = None,
                 end: str | None = None) -> Response:
    caller = signed_in(request, svc)
    if caller is None:
        return _to_login(request)
    lang = language(request)
    t = strings(lang)
    here = str(URL("/reports").include_query_params(
        **{k: v for k, v in {"period": period, "start": start, "end": end}.items() if v}))
    form = {"period": period, "start": start or "", "end": end or ""}
    try:
        # the default range ends with today in the report's timezone (the API's resolves it by the UTC date)
        first, last = resolve_range(period, start, end, today=datetime.now(zone(DEFAULT_TIMEZONE)).date())
        report = svc.report(period, str(first), str(last), DEFAULT_TIMEZONE)  # type: ignore[arg-type]
    except InputError as exc:
        return _render(request, "report.html", {
            "r": None, "standalone": False, "form": form, "periods": PERIODS,
            "error": t["report_bad_input"].format(message=str(exc))}, here=here, caller=caller, status=422)
    form = {"period": report.period, "start": report.start.isoformat(), "end": report.end.isoformat()}
    query = str(URL("").include_query_params(**form))
    charts = {name: f"/v1/reports/chart/{name}.png{query}" for name in CHART_NAMES}
    return _render(request, "report.html", {
        **report_context(report, lang, charts), "standalone": False, "form": form, "periods": PERIODS,
        "csv_url": f"/v1/reports/export.csv{query}",
        "gaps_url": f"/gaps?days={max(1, min(MAX_DAYS, (report.end - report.start).days))}",
    }, here=here, caller=caller)
