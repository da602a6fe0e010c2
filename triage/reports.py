"""Reports for CX leads, computed from the inbox store (``triage report``, ``GET /v1/reports/...``).

A report covers the days ``[start, end)`` in one timezone (Asia/Seoul unless told otherwise), split into buckets
of one day or one week (weeks start on Monday; a week cut by the range is a partial bucket). The store reads
each row once with a select bounded by the range (``triage.store.report_rows``); here they are bucketed by
their local date, because SQLite and PostgreSQL have no common date functions. What each section counts, and
by which time:

1. **Volume**: customer messages (every row of ``messages`` is one), by the message's ``created_at``. The tag
   is the one suggested *for that message* (``suggestions.tag``), or the agent's correction of it when the
   verdict carried one (``feedback_events.corrected_tag``), not the conversation's current tag (which follows
   its latest message unless an agent corrected it). The channel is the conversation's.
2. **Automation**: of the suggestions made for those messages (bucketed by the message's time), the share
   the pipeline decided ``auto_answer`` (of those with a decision). Hand-offs are grouped by the stored
   result's fields (see ``handoff_category``). The support bot's outcomes (``bot_outcomes``) are counted by
   their own ``created_at``.
3. **Acceptance**: of the suggestions for those messages that an agent decided (accepted, edited, rejected;
   open and superseded ones are left out), the share of each; edit distances of the edited ones.
4. **First response**: per conversation whose first message falls in the range (bucketed by that message),
   the minutes to the first agent reply: a feedback event that accepted or edited a draft, or rejected it
   with the agent's own ``final_text``. Conversations not replied to yet are counted as waiting.
5. **CES** (customer effort score, 1-7): answers by their ``created_at``, by the conversation's tag, against
   ``CES_TARGET``.
6. **Gaps**: questions the knowledge base does not answer, as ``(title, size)`` pairs from the caller
   (``triage.faq_gaps.top_gaps``); none given, the section says there are none yet.

Over 400 lines because every section of the report is defined and counted here, over the same rows and
buckets; the rows themselves come from the store.
"""

from __future__ import annotations

import logging
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any, Literal, get_args
from zoneinfo import ZoneInfo, available_timezones

from pydantic import BaseModel, Field

from triage.errors import InputError
from triage.models import EARLIEST, LATEST
from triage.store import Store
from triage.store.report_rows import ReportRows, read_report_rows
from triage.store.tables import utcnow
from triage.taxonomy import NEEDS_REVIEW

log = logging.getLogger("triage.reports")

Period = Literal["day", "week"]
PERIODS: tuple[str, ...] = get_args(Period)
DEFAULT_TIMEZONE = "Asia/Seoul"
DEFAULT_DAYS = 7  # period=day: the last 7 days, today included
DEFAULT_WEEKS = 8  # period=week: the last 8 weeks, this one included
MAX_BUCKETS = 400  # a little over a year of days
CES_TARGET = 6.5
NONE = "none"  # the dimension of a message without a tag or channel
DECIDED_STATES = ("accepted", "edited", "rejected")
DATE_FORMAT_HINT = "YYYY-MM-DD, e.g. 2026-03-02"
FIRST_DAY, LAST_DAY = EARLIEST.date(), LATEST.date()  # the days a report can name (the store's range)
WEEKDAYS_KO = "월화수목금토일"

# hand-off categories: key → (Korean label, a short plain explanation), in the order they are checked
HANDOFF_CATEGORIES: dict[str, tuple[str, str]] = {
    "prompt_injection": ("지시문 주입 시도", "메시지가 시스템에 지시하려 해서 자동 답변하지 않았어요."),
    "turned_down": ("상담원·고객이 거절해 온 답변",
                    "이 FAQ 답변을 상담원이 거절하거나 고객이 도움이 안 됐다고 한 일이 많아 자동 답변을 멈췄어요."),
    "no_close_faq": ("가까운 FAQ 없음", "비슷한 FAQ 항목을 찾지 못했어요. 새 FAQ가 필요할 수 있어요."),
    "not_confident": ("확신 부족", "비슷한 FAQ는 있었지만 맞는 답이라고 확신할 만큼 가깝지 않았어요."),
    "urgent_situation": ("사람이 조치해야 하는 급한 상황",
                         "돈이 위험하거나 들어오지 않음, 계정 도용, 카드·휴대폰 분실, 사기 피해처럼 상담원이 바로 "
                         "조치해야 하는 문의라 봇이 답하지 않았어요."),
}


# --- the report's shape -------------------------------------------------------------------------------------

class Bucket(BaseModel):
    key: str = Field(description="the bucket's first day (ISO date): the bucket column of the CSV")
    start: date
    end: date = Field(description="exclusive")
    label: str = Field(description="short Korean label for charts and tables")
    partial: bool = Field(description="a week the report's range cuts short")


class VolumeBucket(BaseModel):
    bucket: str
    messages: int = 0
    by_tag: dict[str, int] = Field(default_factory=dict)
    by_channel: dict[str, int] = Field(default_factory=dict)


class VolumeSection(BaseModel):
    messages: int = 0
    conversations: int = Field(default=0, description="conversations with a message in the range")
    by_tag: dict[str, int] = Field(default_factory=dict, description="most first")
    by_channel: dict[str, int] = Field(default_factory=dict, description="most first")
    to_review: int = Field(default=0, description="messages whose suggested tag was the catch-all: no tag was likely "
                                                  "enough to be right, so an agent chose one")
    review_share: float | None = Field(default=None, description="to_review / messages")
    buckets: list[VolumeBucket] = Field(default_factory=list)


class AutoAnswerBucket(BaseModel):
    bucket: str
    suggestions: int = 0
    auto_answer: int = 0
    handoff: int = 0
    rate: float | None = Field(default=None, description="auto_answer / (auto_answer + handoff); null: none")


class BotOutcomeCounts(BaseModel):
    outcomes: int = 0
    auto_answered: int = 0
    helpful: int = 0
    unhelpful: int = 0
    escalated: int = 0
    helpful_rate: float | None = Field(default=None, description="helpful / (helpful + unhelpful)")


class BotBucket(BotOutcomeCounts):
    bucket: str


class HandoffReason(BaseModel):
    key: str
    label: str
    explanation: str
    count: int
    share: float | None = Field(description="of all hand-offs")


class AutomationSection(BaseModel):
    suggestions: int = 0
    auto_answer: int = 0
    handoff: int = 0
    rate: float | None = None
    buckets: list[AutoAnswerBucket] = Field(default_factory=list)
    handoff_reasons: list[HandoffReason] = Field(default_factory=list)
    handoff_reasons_by_bucket: dict[str, dict[str, int]] = Field(default_factory=dict)
    bot: BotOutcomeCounts = Field(default_factory=BotOutcomeCounts)
    bot_buckets: list[BotBucket] = Field(default_factory=list)


class AcceptanceCounts(BaseModel):
    decided: int = 0
    accepted: int = 0
    edited: int = 0
    rejected: int = 0
    accepted_share: float | None = Field(default=None, description="accepted as is / decided")
    edited_share: float | None = None
    rejected_share: float | None = None
    used_share: float | None = Field(default=None, description="(accepted + edited) / decided")
    edit_distance_median: float | None = None
    edit_distance_mean: float | None = None


class AcceptanceBucket(AcceptanceCounts):
    bucket: str


class AcceptanceSection(AcceptanceCounts):
    buckets: list[AcceptanceBucket] = Field(default_factory=list)


class ResponseTimes(BaseModel):
    conversations: int = Field(default=0, description="conversations whose first message is in the bucket")
    answered: int = 0
    waiting: int = Field(default=0, description="not replied to yet")
    median_minutes: float | None = None
    p90_minutes: float | None = None


class ResponseBucket(ResponseTimes):
    bucket: str


class FirstResponseSection(ResponseTimes):
    buckets: list[ResponseBucket] = Field(default_factory=list)


class CesTag(BaseModel):
    tag: str
    answers: int
    average: float
    below_target: bool


class CesBucket(BaseModel):
    bucket: str
    answers: int = 0
    average: float | None = None


class CesSection(BaseModel):
    target: float = CES_TARGET
    answers: int = 0
    average: float | None = None
    below_target: bool | None = None
    by_tag: list[CesTag] = Field(default_factory=list, description="lowest average first")
    buckets: list[CesBucket] = Field(default_factory=list)


class Gap(BaseModel):
    title: str
    size: int


class GapsSection(BaseModel):
    items: list[Gap] = Field(default_factory=list, description="largest first; empty: none found yet")


class Report(BaseModel):
    period: Period
    timezone: str
    start: date
    end: date = Field(description="exclusive: the day after the last one reported")
    generated_at: datetime
    empty: bool = Field(description="no messages, bot outcomes or CES answers in the range")
    buckets: list[Bucket]
    tag_names: dict[str, str] = Field(default_factory=dict, description="tag id → display name, when known")
    volume: VolumeSection
    automation: AutomationSection
    acceptance: AcceptanceSection
    first_response: FirstResponseSection
    ces: CesSection
    gaps: GapsSection

    def tag_name(self, tag: str) -> str:
        if tag == NONE:
            return "(태그 없음)"
        return self.tag_names.get(tag, tag)


# --- input --------------------------------------------------------------------------------------------------

def parse_date(value: date | str | None, name: str) -> date | None:
    """A ``YYYY-MM-DD`` string (or a date) → a date; anything else is an ``InputError`` naming the format."""
    if value is None or isinstance(value, date):
        return value
    text = value.strip()
    if not text:
        return None
    try:
        if len(text) != len("2026-03-02"):
            raise ValueError(text)
        day = date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{name}: {value!r} is not a date; use {DATE_FORMAT_HINT}") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise InputError(f"{name}: {text} is out of range; reports cover {FIRST_DAY} to {LAST_DAY}")
    return day


@cache
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name`` (e.g. 'Asia/Seoul', 'UTC'); anything else (a region such as 'America', a
    path) is an ``InputError``."""
    if name not in _zone_names():
        raise InputError(f"timezone: unknown timezone {name!r}; use an IANA name such as 'Asia/Seoul'")
    return ZoneInfo(name)


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def resolve_range(period: str, start: date | str | None = None, end: date | str | None = None,
                  today: date | None = None) -> tuple[date, date]:
    """The report's days ``[start, end)``. Defaults: for ``day`` the last 7 days, for ``week`` the last 8
    weeks (from a Monday), both ending with today; a start alone runs to today, an end alone goes back the
    default length from it."""
    if period not in PERIODS:
        raise InputError(f"period: {period!r} is not a period; use 'day' or 'week'")
    first, last = parse_date(start, "start"), parse_date(end, "end")
    today = today or datetime.now(UTC).date()
    if last is None:
        last = max(today + timedelta(days=1), first + timedelta(days=1)) if first else today + timedelta(days=1)
    if first is None:
        if period == "day":
            first = last - timedelta(days=DEFAULT_DAYS)
        else:
            first = week_start(last - timedelta(days=1)) - timedelta(weeks=DEFAULT_WEEKS - 1)
    if last <= first:
        raise InputError(f"end ({last}) must be after start ({first}): the range is [start, end), end excluded")
    buckets = len(bucket_starts(period, first, last))  # type: ignore[arg-type]
    if buckets > MAX_BUCKETS:
        raise InputError(f"{first}..{last} makes {buckets} {period} buckets; at most {MAX_BUCKETS}: "
                         "shorten the range or use period=week")
    return first, last


def bucket_starts(period: Period, start: date, end: date) -> list[date]:
    step = timedelta(days=1 if period == "day" else 7)
    day = start if period == "day" else week_start(start)
    starts = []
    while day < end:
        starts.append(day)
        day += step
    return starts


def make_buckets(period: Period, start: date, end: date) -> list[Bucket]:
    buckets = []
    for first in bucket_starts(period, start, end):
        if period == "day":
            buckets.append(Bucket(key=first.isoformat(), start=first, end=first + timedelta(days=1),
                                  label=f"{first.month}/{first.day}({WEEKDAYS_KO[first.weekday()]})",
                                  partial=False))
        else:
            lo, hi = max(first, start), min(first + timedelta(days=7), end)
            buckets.append(Bucket(key=first.isoformat(), start=lo, end=hi, label=f"{first.month}/{first.day}~",
                                  partial=(lo, hi) != (first, first + timedelta(days=7))))
    return buckets


# --- numbers ------------------------------------------------------------------------------------------------

def percentile(values: Iterable[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) with linear interpolation between the nearest ranks (numpy's default);
    ``q=0.5`` is the median. None for no values."""
    xs = sorted(values)
    if not xs:
        return None
    position = (len(xs) - 1) * q
    lo = math.floor(position)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (position - lo)


def share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def _most_first(counts: Mapping[str, int]) -> dict[str, int]:
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


HANDOFF_CATEGORY = {"prompt_injection": "prompt_injection", "distrusted_entry": "turned_down",
                    "declined_by_customer": "turned_down",
                    "no_match": "no_close_faq", "not_confident": "not_confident", "ambiguous": "not_confident",
                    "not_calibrated": "not_confident", "urgent_situation": "urgent_situation"}


def handoff_category(result: Mapping[str, Any]) -> str:
    """Why a suggestion was handed off: its ``handoff_reason`` code in the report's categories. Results stored
    before the code existed: ``flags`` holds ``prompt_injection``; the decision reason says agents or customers
    turned the entry down; ``candidate_faq_id`` is null (no FAQ entry came close); otherwise an entry came close
    but not close enough (``not_confident``)."""
    if (code := result.get("handoff_reason")) in HANDOFF_CATEGORY:
        return HANDOFF_CATEGORY[code]
    if "prompt_injection" in (result.get("flags") or []):
        return "prompt_injection"
    if "turned down" in (result.get("decision_reason") or ""):
        return "turned_down"
    if not result.get("candidate_faq_id"):
        return "no_close_faq"
    return "not_confident"


def acceptance_counts(states: Counter[str], edit_distances: Sequence[int]) -> dict[str, Any]:
    decided = sum(states[s] for s in DECIDED_STATES)
    accepted, edited, rejected = states["accepted"], states["edited"], states["rejected"]
    return {"decided": decided, "accepted": accepted, "edited": edited, "rejected": rejected,
            "accepted_share": share(accepted, decided), "edited_share": share(edited, decided),
            "rejected_share": share(rejected, decided), "used_share": share(accepted + edited, decided),
            "edit_distance_median": _round(percentile(edit_distances, 0.5)),
            "edit_distance_mean": _round(sum(edit_distances) / len(edit_distances)) if edit_distances else None}


def response_times(minutes: Sequence[float], conversations: int) -> dict[str, Any]:
    return {"conversations": conversations, "answered": len(minutes), "waiting": conversations - len(minutes),
            "median_minutes": _round(percentile(minutes, 0.5)), "p90_minutes": _round(percentile(minutes, 0.9))}


def bot_counts(rows: Sequence[tuple[bool, bool | None, bool]]) -> dict[str, Any]:
    helpful = sum(1 for _, h, _ in rows if h is True)
    unhelpful = sum(1 for _, h, _ in rows if h is False)
    return {"outcomes": len(rows), "auto_answered": sum(1 for a, _, _ in rows if a), "helpful": helpful,
            "unhelpful": unhelpful, "escalated": sum(1 for _, _, e in rows if e),
            "helpful_rate": share(helpful, helpful + unhelpful)}


# --- the report ---------------------------------------------------------------------------------------------

class _Bucketer:
    def __init__(self, period: Period, tz: ZoneInfo, start: date, end: date) -> None:
        self.period, self.tz = period, tz
        self.lo = datetime.combine(start, time(), tz).astimezone(UTC)
        self.hi = datetime.combine(end, time(), tz).astimezone(UTC)

    def __call__(self, moment: datetime) -> str:
        day = moment.astimezone(self.tz).date()
        return (day if self.period == "day" else week_start(day)).isoformat()


def build_report(store: Store, period: str = "day", start: date | str | None = None, end: date | str | None = None,
                 *, timezone: str = DEFAULT_TIMEZONE, gaps: Iterable[tuple[str, int]] | None = None,
                 tag_names: Mapping[str, str] | None = None, today: date | None = None,
                 catch_all: str = NEEDS_REVIEW) -> Report:
    """The report over ``[start, end)`` (see the module's docstring for what each section counts).
    ``today`` (in ``timezone``) anchors the default range; ``catch_all``: the taxonomy's (the review share counts
    it). Bad input raises ``InputError``."""
    tz = zone(timezone)
    today = today or datetime.now(tz).date()
    first, last = resolve_range(period, start, end, today)
    p: Period = period  # type: ignore[assignment]
    buckets = make_buckets(p, first, last)
    bucket_of = _Bucketer(p, tz, first, last)
    keys = [b.key for b in buckets]
    rows = read_report_rows(store, bucket_of.lo, bucket_of.hi)
    volume, automation, acceptance, conversation_ids = _messages(rows, bucket_of, keys, catch_all)
    first_response = _first_response(rows, bucket_of, keys)
    automation.bot, automation.bot_buckets = _bot_outcomes(rows, bucket_of, keys)
    ces = _ces(rows, bucket_of, keys)
    volume.conversations = conversation_ids
    gap_items = sorted((Gap(title=str(t), size=int(n)) for t, n in gaps or ()), key=lambda g: (-g.size, g.title))
    report = Report(
        period=p, timezone=timezone, start=first, end=last, generated_at=utcnow(), buckets=buckets,
        empty=volume.messages == 0 and automation.bot.outcomes == 0 and ces.answers == 0,
        tag_names=dict(tag_names or {}), volume=volume, automation=automation, acceptance=acceptance,
        first_response=first_response, ces=ces, gaps=GapsSection(items=gap_items))
    log.info("event=report_built period=%s start=%s end=%s buckets=%d messages=%d", p, first, last, len(buckets),
             volume.messages)
    return report


def _messages(rows: ReportRows, bucket_of: _Bucketer, keys: list[str], catch_all: str) -> tuple[
        VolumeSection, AutomationSection, AcceptanceSection, int]:
    """Volume, automation and acceptance: one row per customer message in the range, with its suggestion
    and the verdict on it (a suggestion has at most one feedback event: the first verdict wins)."""
    messages: dict[str, int] = Counter()
    by_tag: dict[str, Counter[str]] = defaultdict(Counter)
    by_channel: dict[str, Counter[str]] = defaultdict(Counter)
    decisions: dict[str, Counter[str]] = defaultdict(Counter)
    states: dict[str, Counter[str]] = defaultdict(Counter)
    distances: dict[str, list[int]] = defaultdict(list)
    conversations: set[int] = set()
    seen_suggestions: set[int] = set()
    to_review = 0
    for row in rows.messages:
        if row.suggestion_id is not None and row.suggestion_id in seen_suggestions:
            continue  # a second feedback row for the same suggestion (cannot happen today: first verdict wins)
        key = bucket_of(row.at)
        conversations.add(row.conversation_id)
        messages[key] += 1
        by_tag[key][row.corrected_tag or row.tag or NONE] += 1
        to_review += row.tag == catch_all
        by_channel[key][row.channel or NONE] += 1
        if row.suggestion_id is None:
            continue
        seen_suggestions.add(row.suggestion_id)
        decisions[key]["suggestions"] += 1
        if row.decision in ("auto_answer", "handoff"):
            decisions[key][row.decision] += 1
        states[key][row.state or NONE] += 1
        if row.action == "edit" and row.edit_distance is not None:
            distances[key].append(row.edit_distance)

    reasons: dict[str, Counter[str]] = defaultdict(Counter)  # hand-off categories per bucket
    for at, result in rows.handoffs:
        reasons[bucket_of(at)][handoff_category(result)] += 1
    total_tags: Counter[str] = sum(by_tag.values(), Counter())
    total_channels: Counter[str] = sum(by_channel.values(), Counter())
    volume = VolumeSection(
        messages=sum(messages.values()), by_tag=_most_first(total_tags), by_channel=_most_first(total_channels),
        to_review=to_review, review_share=share(to_review, sum(messages.values())),
        buckets=[VolumeBucket(bucket=k, messages=messages[k], by_tag=_most_first(by_tag[k]),
                              by_channel=_most_first(by_channel[k])) for k in keys])

    def auto(counts: Counter[str]) -> dict[str, Any]:
        return {"suggestions": counts["suggestions"], "auto_answer": counts["auto_answer"],
                "handoff": counts["handoff"],
                "rate": share(counts["auto_answer"], counts["auto_answer"] + counts["handoff"])}

    all_decisions: Counter[str] = sum(decisions.values(), Counter())
    reason_totals: Counter[str] = sum(reasons.values(), Counter())
    handoffs = sum(reason_totals.values())
    automation = AutomationSection(
        **auto(all_decisions), buckets=[AutoAnswerBucket(bucket=k, **auto(decisions[k])) for k in keys],
        handoff_reasons=[HandoffReason(key=c, label=label, explanation=why, count=reason_totals[c],
                                       share=share(reason_totals[c], handoffs))
                         for c, (label, why) in HANDOFF_CATEGORIES.items()],
        handoff_reasons_by_bucket={k: {c: reasons[k][c] for c in HANDOFF_CATEGORIES} for k in keys})
    all_states: Counter[str] = sum(states.values(), Counter())
    acceptance = AcceptanceSection(
        **acceptance_counts(all_states, [d for k in keys for d in distances[k]]),
        buckets=[AcceptanceBucket(bucket=k, **acceptance_counts(states[k], distances[k])) for k in keys])
    return volume, automation, acceptance, len(conversations)


def _first_response(rows: ReportRows, bucket_of: _Bucketer, keys: list[str]) -> FirstResponseSection:
    minutes: dict[str, list[float]] = defaultdict(list)
    counts: Counter[str] = Counter()
    for cid, first in rows.first_messages.items():
        key = bucket_of(first)
        counts[key] += 1
        after = [at for at in rows.replies.get(cid, ()) if at >= first]
        if after:
            minutes[key].append((min(after) - first).total_seconds() / 60)
    return FirstResponseSection(
        **response_times([m for k in keys for m in minutes[k]], sum(counts.values())),
        buckets=[ResponseBucket(bucket=k, **response_times(minutes[k], counts[k])) for k in keys])


def _bot_outcomes(rows: ReportRows, bucket_of: _Bucketer, keys: list[str]) -> tuple[BotOutcomeCounts,
                                                                                    list[BotBucket]]:
    per_bucket: dict[str, list[tuple[bool, bool | None, bool]]] = defaultdict(list)
    for at, auto_answered, helpful, escalated in rows.bot_outcomes:
        per_bucket[bucket_of(at)].append((auto_answered, helpful, escalated))
    return (BotOutcomeCounts(**bot_counts([r for k in keys for r in per_bucket[k]])),
            [BotBucket(bucket=k, **bot_counts(per_bucket[k])) for k in keys])


def _ces(rows: ReportRows, bucket_of: _Bucketer, keys: list[str]) -> CesSection:
    per_tag: dict[str, list[int]] = defaultdict(list)
    per_bucket: dict[str, list[int]] = defaultdict(list)
    for at, score, tag in rows.ces:
        per_tag[tag or NONE].append(score)
        per_bucket[bucket_of(at)].append(score)
    scores = [x for xs in per_tag.values() for x in xs]
    average = _round(sum(scores) / len(scores)) if scores else None
    by_tag = [CesTag(tag=tag, answers=len(xs), average=round(sum(xs) / len(xs), 2),
                     below_target=sum(xs) / len(xs) < CES_TARGET) for tag, xs in per_tag.items()]
    by_tag.sort(key=lambda t: (t.average, -t.answers, t.tag))
    return CesSection(answers=len(scores), average=average,
                      below_target=None if average is None else sum(scores) / len(scores) < CES_TARGET,
                      by_tag=by_tag,
                      buckets=[CesBucket(bucket=k, answers=len(per_bucket[k]),
                                         average=_round(sum(per_bucket[k]) / len(per_bucket[k]))
                                         if per_bucket[k] else None) for k in keys])
