"""The CX leads' report as files: PNG charts (matplotlib, Agg), a one-page HTML (the ``/reports`` page's
template, ``triage/web/templates/report.html``, rendered standalone in Korean), a CSV of the numbers and the JSON.

``run_report`` is the ``triage report`` command's body: it reads the store, writes every file into one folder
and returns the page's path. Charts are drawn without pyplot (one ``Figure`` each, under a lock), so the API
can draw them from several threads; Korean labels use NanumGothic when it is installed and fall back to
matplotlib's default font (Korean then shows as boxes) when it is not.
"""

from __future__ import annotations

import csv
import io
import logging
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import matplotlib
from markupsafe import Markup
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from triage.config import Settings
from triage.errors import InputError, TriageError
from triage.reports import CES_TARGET, DEFAULT_TIMEZONE, Report, build_report
from triage.store import Store
from triage.web import STATIC_DIR
from triage.web.i18n import strings
from triage.web.rendering import html, report_context

log = logging.getLogger("triage.reports")

FONT_DIR = Path("/usr/share/fonts/truetype/nanum")
KOREAN_FONTS = (("NanumGothic.ttf", "NanumGothicBold.ttf"), ("NanumBarunGothic.ttf", "NanumBarunGothicBold.ttf"),
                ("NanumSquareR.ttf", "NanumSquareB.ttf"))  # (regular, bold), first found wins
FALLBACK_FAMILY = "DejaVu Sans"
TEMPLATE = "report.html"  # the /reports page's, rendered standalone
NO_DATA = "데이터 없음"
TOP_TAGS = 8  # the volume chart stacks this many tags and puts the rest in '기타'
DPI = 110
SIZE = (8.0, 3.6)
COLORS = {"accepted": "#2e7d32", "edited": "#f9a825", "rejected": "#c62828", "line": "#1565c0",
          "p90": "#ef6c00", "ok": "#1565c0", "below": "#c62828", "target": "#424242", "other": "#9e9e9e"}
CHARTS: dict[str, str] = {  # name → Korean title
    "volume": "태그별 문의량",
    "auto_answer": "자동 답변 비율",
    "acceptance": "추천 답변 처리 결과",
    "ces": "태그별 고객 노력 점수(CES)",
    "first_response": "첫 응답 시간(분)",
}

_draw_lock = threading.Lock()
_font_family: str | None = None
_bold_file: Path | None = None
_font_checked = False


def korean_font() -> str | None:
    """The family name of an installed Korean font (registered with matplotlib once), or None. Called under
    ``_draw_lock``."""
    global _font_family, _bold_file, _font_checked
    if not _font_checked:
        _font_checked = True
        for regular, bold in KOREAN_FONTS:
            path = FONT_DIR / regular
            if not path.is_file():
                continue
            try:
                font_manager.fontManager.addfont(str(path))
                if (FONT_DIR / bold).is_file():
                    _bold_file = FONT_DIR / bold
                _font_family = font_manager.FontProperties(fname=str(path)).get_name()
                break
            except (OSError, RuntimeError, ValueError):
                log.warning("event=report_font_unusable file=%s", regular)
        if _font_family is None:
            log.warning("event=report_font_missing dir=%s fallback=%s", FONT_DIR, FALLBACK_FAMILY)
    return _font_family


@contextmanager
def _drawing() -> Iterator[None]:
    """Korean font first (with glyph fallback), no unicode minus; one chart at a time (rcParams are global)."""
    with _draw_lock:
        family = korean_font()
        families = [family, FALLBACK_FAMILY] if family else [FALLBACK_FAMILY]
        with matplotlib.rc_context({"font.family": families, "axes.unicode_minus": False}), \
                warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Glyph .* missing")  # no Korean font: boxes, not noise
            yield


# --- charts ------------------------------------------------------------------------------------------------

def chart_png(report: Report, name: str) -> bytes:
    """One chart as PNG bytes; ``name`` is one of ``CHARTS``. A chart without data says so."""
    if name not in CHARTS:
        raise InputError(f"no chart named {name!r}; charts: {', '.join(CHARTS)}")
    with _drawing():
        fig = Figure(figsize=SIZE, dpi=DPI, layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        ax.set_title(CHARTS[name], loc="left", **_title_font())
        if not DRAW[name](report, ax):
            ax.cla()
            ax.set_title(CHARTS[name], loc="left", **_title_font())
            ax.set_axis_off()
            ax.text(0.5, 0.5, NO_DATA, ha="center", va="center", fontsize=16, color="#757575",
                    transform=ax.transAxes)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _title_font() -> dict[str, Any]:
    """The bold Korean font file itself when there is one (its weight, 600, is not matplotlib's 'bold')."""
    if _bold_file is not None:
        return {"fontproperties": font_manager.FontProperties(fname=_bold_file, size=12)}
    return {"fontsize": 12, "fontweight": "bold"}


def _labels(report: Report) -> list[str]:
    return [b.label for b in report.buckets]


def _axis(ax: Any, report: Report) -> None:
    ax.set_xticks(range(len(report.buckets)), _labels(report), rotation=45 if len(report.buckets) > 10 else 0,
                  ha="right" if len(report.buckets) > 10 else "center", fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", alpha=0.3)


def _volume(report: Report, ax: Any) -> bool:
    if report.volume.messages == 0:
        return False
    tags = list(report.volume.by_tag)[:TOP_TAGS]
    colours = matplotlib.colormaps["tab10"]
    series: list[tuple[str, list[int], Any]] = [
        (report.tag_name(t), [b.by_tag.get(t, 0) for b in report.volume.buckets], colours(i % 10))
        for i, t in enumerate(tags)]
    rest = [b.messages - sum(b.by_tag.get(t, 0) for t in tags) for b in report.volume.buckets]
    if any(rest):
        series.append(("기타", rest, COLORS["other"]))
    _stacked_bars(ax, report, series, "메시지 수")
    return True


def _auto_answer(report: Report, ax: Any) -> bool:
    rates = [b.rate for b in report.automation.buckets]
    if all(r is None for r in rates):
        return False
    ys = [float("nan") if r is None else r * 100 for r in rates]
    ax.plot(range(len(ys)), ys, marker="o", color=COLORS["line"], label="자동 답변 비율")
    ax.set_ylim(0, 100)
    ax.set_ylabel("%", rotation=0, labelpad=10)
    _axis(ax, report)
    return True


def _acceptance(report: Report, ax: Any) -> bool:
    if report.acceptance.decided == 0:
        return False
    series = [(label, [getattr(b, field) for b in report.acceptance.buckets], COLORS[field])
              for field, label in (("accepted", "그대로 수락"), ("edited", "수정 후 사용"), ("rejected", "거절"))]
    _stacked_bars(ax, report, series, "추천 답변 수")
    return True


def _stacked_bars(ax: Any, report: Report, series: list[tuple[str, list[int], Any]], ylabel: str) -> None:
    """One bar per bucket, stacked by series (label, values per bucket, colour), legend on the right."""
    bottom = [0] * len(report.buckets)
    for label, values, colour in series:
        ax.bar(range(len(report.buckets)), values, bottom=bottom, label=label, color=colour, width=0.7)
        bottom = [a + b for a, b in zip(bottom, values, strict=True)]
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    _axis(ax, report)


def _ces(report: Report, ax: Any) -> bool:
    tags = report.ces.by_tag
    if not tags:
        return False
    names = [f"{report.tag_name(t.tag)} (n={t.answers})" for t in tags]
    ax.barh(range(len(tags)), [t.average for t in tags],
            color=[COLORS["below"] if t.below_target else COLORS["ok"] for t in tags], height=0.6)
    ax.set_yticks(range(len(tags)), names, fontsize=8)
    ax.invert_yaxis()  # lowest first, at the top
    ax.axvline(CES_TARGET, color=COLORS["target"], linestyle="--", linewidth=1.2)
    ax.text(CES_TARGET, -0.6, f"목표 {CES_TARGET}", ha="center", va="bottom", fontsize=8, color=COLORS["target"])
    ax.set_xlim(1, 7)
    ax.set_xlabel("평균 점수 (1 매우 어려움 ~ 7 매우 쉬움)")
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="x", alpha=0.3)
    return True


def _first_response(report: Report, ax: Any) -> bool:
    buckets = report.first_response.buckets
    if all(b.median_minutes is None for b in buckets):
        return False
    xs = range(len(buckets))

    def nan(values: Iterable[float | None]) -> list[float]:
        return [float("nan") if v is None else v for v in values]

    ax.plot(xs, nan(b.median_minutes for b in buckets), marker="o", color=COLORS["line"], label="중앙값")
    ax.plot(xs, nan(b.p90_minutes for b in buckets), marker="s", linestyle="--", color=COLORS["p90"],
            label="90번째 백분위")
    ax.set_ylim(bottom=0)
    ax.set_ylabel("분", rotation=0, labelpad=10)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    _axis(ax, report)
    return True


DRAW: dict[str, Callable[[Report, Any], bool]] = {
    "volume": _volume, "auto_answer": _auto_answer, "acceptance": _acceptance, "ces": _ces,
    "first_response": _first_response,
}


# --- CSV ---------------------------------------------------------------------------------------------------

def csv_rows(report: Report) -> Iterator[tuple[str, str, str, object]]:
    """``(bucket, metric, dimension, value)``: every number of the report, per bucket and for the whole range
    (bucket ``all``); an undefined rate or time is an empty value."""
    for v in report.volume.buckets:
        yield v.bucket, "messages", "", v.messages
        for tag, n in v.by_tag.items():
            yield v.bucket, "messages_by_tag", tag, n
        for channel, n in v.by_channel.items():
            yield v.bucket, "messages_by_channel", channel, n
    for a in report.automation.buckets:
        yield from _fields(a.bucket, a, ("suggestions", "auto_answer", "handoff"), prefix="")
        yield a.bucket, "auto_answer_rate", "", _blank(a.rate)
        for reason, n in report.automation.handoff_reasons_by_bucket.get(a.bucket, {}).items():
            yield a.bucket, "handoff_reason", reason, n
    for b in report.automation.bot_buckets:
        yield from _fields(b.bucket, b, ("outcomes", "auto_answered", "helpful", "unhelpful", "escalated",
                                         "helpful_rate"), prefix="bot_")
    for c in report.acceptance.buckets:
        yield from _fields(c.bucket, c, ACCEPTANCE_FIELDS, prefix="suggestions_")
    for r in report.first_response.buckets:
        yield from _fields(r.bucket, r, RESPONSE_FIELDS, prefix="first_response_")
    for e in report.ces.buckets:
        yield e.bucket, "ces_answers", "", e.answers
        yield e.bucket, "ces_average", "", _blank(e.average)
    # the whole range
    yield "all", "messages", "", report.volume.messages
    yield "all", "conversations", "", report.volume.conversations
    for tag, n in report.volume.by_tag.items():
        yield "all", "messages_by_tag", tag, n
    for channel, n in report.volume.by_channel.items():
        yield "all", "messages_by_channel", channel, n
    auto = report.automation
    yield from _fields("all", auto, ("suggestions", "auto_answer", "handoff"), prefix="")
    yield "all", "auto_answer_rate", "", _blank(auto.rate)
    for handoff in auto.handoff_reasons:
        yield "all", "handoff_reason", handoff.key, handoff.count
    yield from _fields("all", auto.bot, ("outcomes", "auto_answered", "helpful", "unhelpful", "escalated",
                                         "helpful_rate"), prefix="bot_")
    yield from _fields("all", report.acceptance, ACCEPTANCE_FIELDS, prefix="suggestions_")
    yield from _fields("all", report.first_response, RESPONSE_FIELDS, prefix="first_response_")
    yield "all", "ces_answers", "", report.ces.answers
    yield "all", "ces_average", "", _blank(report.ces.average)
    yield "all", "ces_target", "", report.ces.target
    for t in report.ces.by_tag:
        yield "all", "ces_answers_by_tag", t.tag, t.answers
        yield "all", "ces_average_by_tag", t.tag, t.average
        yield "all", "ces_below_target_by_tag", t.tag, int(t.below_target)
    for gap in report.gaps.items:
        yield "all", "gap_size", gap.title, gap.size


ACCEPTANCE_FIELDS = ("decided", "accepted", "edited", "rejected", "accepted_share", "edited_share",
                     "rejected_share", "used_share", "edit_distance_median", "edit_distance_mean")
RESPONSE_FIELDS = ("conversations", "answered", "waiting", "median_minutes", "p90_minutes")


def _fields(bucket: str, model: Any, names: Iterable[str], prefix: str) -> Iterator[tuple[str, str, str, object]]:
    for name in names:
        value = getattr(model, name)
        metric = name if not prefix or name.startswith(prefix) else prefix + name
        yield bucket, metric, "", _blank(value)


def _blank(value: object) -> object:
    return "" if value is None else value


def report_csv(report: Report) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("bucket", "metric", "dimension", "value"))
    writer.writerows(csv_rows(report))
    return buffer.getvalue()


# --- HTML --------------------------------------------------------------------------------------------------

def report_html(report: Report, charts: Mapping[str, str], lang: str = "ko") -> str:
    """The one-page report: the ``/reports`` page's template, standalone (its styles inline, no navigation,
    form or links to other pages); ``charts`` maps chart names to the image files next to the page."""
    generated = report.generated_at.astimezone(ZoneInfo(report.timezone)).strftime("%Y-%m-%d %H:%M")
    css = Markup((STATIC_DIR / "style.css").read_text(encoding="utf-8"))  # the site's own stylesheet, trusted
    return html.get_template(TEMPLATE).render(**report_context(report, lang, charts), standalone=True,
                                              t=strings(lang), lang=lang, css=css, generated=generated)


# --- the command -------------------------------------------------------------------------------------------

def default_out_dir(settings: Settings, report: Report) -> Path:
    return settings.var_dir / "reports" / f"{report.period}-{report.start}-{report.end}"


def export_report(report: Report, out_dir: Path, log_line: Callable[[str], None] = lambda _: None) -> Path:
    """Write ``report.html`` (with its PNG charts beside it), ``report.csv`` and ``report.json`` into
    ``out_dir``; returns the page's path."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot write the report into {out_dir}: {exc.strerror}") from exc
    charts: dict[str, str] = {}
    for name in CHARTS:
        path = out_dir / f"{name}.png"
        path.write_bytes(chart_png(report, name))
        charts[name] = path.name
        log_line(f"chart {path}")
    (out_dir / "report.csv").write_text(report_csv(report), encoding="utf-8")
    (out_dir / "report.json").write_text(report.model_dump_json(indent=2), encoding="utf-8")
    log_line(f"numbers {out_dir / 'report.csv'}, {out_dir / 'report.json'}")
    page = out_dir / "report.html"
    page.write_text(report_html(report, charts), encoding="utf-8")
    log_line(f"page {page}")
    return page


def tag_names_for(settings: Settings) -> dict[str, str]:
    """Tag id → display name from the configured taxonomy (the demo's for the demo KB); {} when unknown."""
    from triage.kb import taxonomy_file
    from triage.taxonomy import load_taxonomy

    path = taxonomy_file(settings)
    if path is None:
        return {}
    try:
        return load_taxonomy(path).names
    except TriageError:
        return {}


def run_report(settings: Settings, period: str = "day", start: date | str | None = None,
               end: date | str | None = None, out_dir: Path | None = None,
               log: Callable[[str], None] = print, *, timezone: str = DEFAULT_TIMEZONE,
               gaps: Iterable[tuple[str, int]] | None = None) -> Path:
    """``triage report``: the report over ``[start, end)`` from the store at ``settings.store_url``, written
    into ``out_dir`` (default ``<var>/reports/<period>-<start>-<end>/``). Returns the HTML page's path;
    ``log`` gets one progress line per step. Bad input raises ``InputError``."""
    store = Store.open(settings.store_url)
    try:
        log(f"reading {settings.store_url.split('://', 1)[0]} store")
        report = build_report(store, period, start, end, timezone=timezone, gaps=gaps,
                              tag_names=tag_names_for(settings))
    finally:
        store.close()
    log(f"{report.period} report {report.start} .. {report.end} (end excluded, {report.timezone}): "
        f"{len(report.buckets)} buckets, {report.volume.messages} messages"
        + (" - no data in this range" if report.empty else ""))
    return export_report(report, out_dir or default_out_dir(settings, report), log)
