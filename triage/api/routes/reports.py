"""Reports for CX leads (an ``agent`` or ``admin`` key): the numbers as JSON, as CSV, and each chart as PNG.

    GET /v1/reports/summary?period=day|week&start=YYYY-MM-DD&end=YYYY-MM-DD&timezone=Asia/Seoul
    GET /v1/reports/export.csv?...        (bucket, metric, dimension, value)
    GET /v1/reports/chart/{name}.png?...  volume, auto_answer, acceptance, ces, first_response

``start`` and ``end`` are days in ``timezone``, ``end`` excluded; without them the last 7 days (``day``) or 8
weeks (``week``), today included. A bad date, an unknown timezone or ``end`` ≤ ``start`` is 422.
``triage.report_charts`` (matplotlib: about a second to import) is imported on the first CSV or chart request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from triage.api.deps import AgentCaller, Service, ServiceState
from triage.errors import NotFoundError
from triage.reports import DATE_FORMAT_HINT, DEFAULT_TIMEZONE, Period, Report, parse_date

router = APIRouter(prefix="/v1/reports", tags=["reports"])


@dataclass(frozen=True)
class ReportQuery:
    period: Period
    start: str | None
    end: str | None
    timezone: str


def report_query(
    _: AgentCaller,  # the key first: nothing else is looked at without one
    period: Annotated[Period, Query(description="day, or week (weeks start on Monday)")] = "day",
    start: Annotated[str | None, Query(description=f"first day, {DATE_FORMAT_HINT}")] = None,
    end: Annotated[str | None, Query(description=f"the day after the last one, {DATE_FORMAT_HINT}")] = None,
    timezone: Annotated[str, Query(description="IANA timezone the days are counted in")] = DEFAULT_TIMEZONE,
) -> ReportQuery:
    parse_date(start, "start")  # a bad date → 422 naming the format
    parse_date(end, "end")
    return ReportQuery(period, start, end, timezone)


Query_ = Annotated[ReportQuery, Depends(report_query)]


def _report(svc: ServiceState, q: ReportQuery, with_gaps: bool = True) -> Report:
    return svc.report(q.period, q.start, q.end, q.timezone, with_gaps)


def _filename(report: Report, suffix: str) -> str:
    return f"report-{report.period}-{report.start}-{report.end}{suffix}"


@router.get("/summary", response_model=Report)
def summary(svc: Service, q: Query_) -> Report:
    """Volume by tag and channel, auto-answer rate and hand-off reasons, the bot's outcomes, suggestion
    acceptance, first response times, CES by tag against the 6.5 target, per day or week."""
    return _report(svc, q)


@router.get("/export.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}}, "description": "bucket,metric,dimension,value"}})
def export_csv(svc: Service, q: Query_) -> Response:
    """Every number of the report, one row per bucket and metric (bucket ``all``: the whole range)."""
    from triage.report_charts import report_csv

    report = _report(svc, q)
    return Response(report_csv(report), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{_filename(report, ".csv")}"'})


@router.get("/chart/{name}.png", response_class=Response,
            responses={200: {"content": {"image/png": {}}}, 404: {"description": "no chart of that name"}})
def chart(name: str, svc: Service, q: Query_) -> Response:
    """One chart of the report as PNG: volume, auto_answer, acceptance, ces or first_response."""
    from triage.report_charts import CHARTS, chart_png

    if name not in CHARTS:
        raise NotFoundError(f"no chart named {name!r}; charts: {', '.join(CHARTS)}")
    report = _report(svc, q, with_gaps=False)  # no chart shows the gaps
    return Response(chart_png(report, name), media_type="image/png",
                    headers={"Content-Disposition": f'inline; filename="{_filename(report, "-" + name + ".png")}"'})
