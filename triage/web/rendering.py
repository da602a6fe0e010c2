"""HTML rendering shared by the web pages and the exported report file (``triage report``).

One Jinja environment over ``triage/web/templates``: autoescaped (customer text is never marked safe), strict
about undefined names. The report template (``report.html``) serves both the ``/reports`` page and the export;
``report_context`` gives it the report's numbers and labels in either language. Prompts are rendered elsewhere
(``triage.prompting``, plain text without HTML escaping).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

import jinja2

from triage.reports import NONE, Bucket, Report
from triage.web import TEMPLATES_DIR
from triage.web.i18n import duration, strings

html = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES_DIR), autoescape=True,
                          undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)

WEEKDAYS = {"ko": "월화수목금토일", "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")}


class Formats:
    """Numbers as the report shows them, in its language ('데이터 없음' / 'No data' for none)."""

    def __init__(self, lang: str, t: dict[str, str]) -> None:
        self.lang, self.t = lang, t

    def percent(self, value: float | None, empty: str | None = None) -> str:
        return self._none(empty) if value is None else f"{value * 100:.0f}%"

    def number(self, value: float | int | None, digits: int = 1, empty: str | None = None) -> str:
        if value is None:
            return self._none(empty)
        return f"{value:,}" if isinstance(value, int) else f"{value:,.{digits}f}"

    def duration(self, minutes: float | None, empty: str | None = None) -> str:
        return duration(minutes, self.lang, self._none(empty))

    def tag(self, report: Report, tag: str) -> str:
        return self.t["tag_none"] if tag == NONE else report.tag_names.get(tag, tag)

    def channel(self, channel: str) -> str:
        return self.t.get(f"channel_{channel}", channel) if channel != NONE else self.t["channel_unknown"]

    def reason(self, key: str, fallback: str, help_fallback: str) -> tuple[str, str]:
        return self.t.get(f"reason_{key}", fallback), self.t.get(f"reason_{key}_help", help_fallback)

    def _none(self, empty: str | None) -> str:
        return self.t["no_data"] if empty is None else empty


def report_context(report: Report, lang: str, charts: Mapping[str, str]) -> dict[str, Any]:
    """What ``report.html`` needs of a report, in ``lang``; ``charts`` maps each chart's name to its image URL
    (the API's on the page, the PNG file beside the exported page)."""
    t = strings(lang)
    return {
        "r": report, "f": Formats(lang, t), "last_day": report.end - timedelta(days=1),
        "charts": [(name, url, t[f"chart_{name}"]) for name, url in charts.items()],
        "rows": _bucket_rows(report),
        "labels": {b.key: _bucket_label(b, report.period, lang, t) for b in report.buckets},
    }


def _bucket_rows(report: Report) -> list[dict[str, Any]]:
    return [{"bucket": b, "volume": report.volume.buckets[i], "auto": report.automation.buckets[i],
             "bot": report.automation.bot_buckets[i], "acceptance": report.acceptance.buckets[i],
             "first": report.first_response.buckets[i], "ces": report.ces.buckets[i]}
            for i, b in enumerate(report.buckets)]


def _bucket_label(bucket: Bucket, period: str, lang: str, t: dict[str, str]) -> str:
    """'3/2 (월)' for a day, '3/2~' for a week (its Monday), '(일부)' when the range cuts the week short."""
    first = date.fromisoformat(bucket.key)
    if period == "day":
        return f"{first.month}/{first.day} ({WEEKDAYS.get(lang, WEEKDAYS['ko'])[first.weekday()]})"
    return f"{first.month}/{first.day}~" + (f" {t['partial']}" if bucket.partial else "")
