"""Reports for CX leads from the real store on SQLite and PostgreSQL: buckets in Seoul time, volumes, the
auto-answer rate and hand-off reasons, acceptance, first response times, CES, and the exported files."""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from markupsafe import escape
from matplotlib.image import imread

from triage.config import Settings
from triage.errors import InputError
from triage.models import BotOutcomeIn, FeedbackIn, Message, TriageResult
from triage.report_charts import CHARTS, chart_png, export_report, report_csv, report_html, run_report
from triage.reports import CES_TARGET, Report, build_report, handoff_category, percentile, resolve_range
from triage.store import Store
from triage.store.tables import utcnow
from triage.web.i18n import EN, KO

pytestmark = pytest.mark.clock  # reports count days in a time zone; a period defaults to the days up to today

SEOUL = ZoneInfo("Asia/Seoul")
PNG = b"\x89PNG\r\n\x1a\n"
DRAFT = "주문하신 상품은 내일 도착해요"
customers = itertools.count()


@pytest.fixture
def store(store_url):
    store = Store.open(store_url)
    yield store
    store.close()


def kst(y: int, m: int, d: int, hh: int = 12, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SEOUL)


def add(store: Store, at: datetime, *, channel: str = "chat", customer: str | None = None, **result):
    """One customer message (a new conversation unless ``customer`` is given) with its suggestion."""
    result.setdefault("draft", DRAFT)
    message = Message(text="문의드려요", channel=channel, created_at=at,
                      customer={"id": customer or f"c-{next(customers)}"})
    return store.record_message(message, TriageResult(**result))


def colourful(png: bytes) -> bool:
    """Whether an image has any coloured pixel (a chart without data is black, grey and white)."""
    pixels = imread(io.BytesIO(png), format="png")[..., :3]
    return bool(np.any(pixels.max(axis=-1) - pixels.min(axis=-1) > 0.1))


def today_kst() -> date:
    return datetime.now(SEOUL).date()


# --- buckets and volume -----------------------------------------------------------------------------------

def test_volume_by_tag_and_channel_lands_in_the_seoul_day(store):
    add(store, kst(2026, 3, 2, 0, 0), tag="refund_status", channel="chat")  # the first moment of the range
    add(store, kst(2026, 3, 2, 23, 59), tag="refund_status", channel="email")
    near_midnight = datetime(2026, 3, 2, 15, 30, tzinfo=UTC)  # 3 March 00:30 in Seoul, still 2 March in UTC
    add(store, near_midnight, tag="delivery_delay", channel="chat")
    add(store, kst(2026, 3, 8, 9), channel="sms")  # no tag
    add(store, kst(2026, 3, 1, 23, 59), tag="refund_status")  # the day before the range
    add(store, kst(2026, 3, 9, 0, 0), tag="refund_status")  # end is excluded

    report = build_report(store, "day", "2026-03-02", "2026-03-09")

    assert [b.key for b in report.buckets] == [f"2026-03-0{d}" for d in range(2, 9)]
    days = {b.bucket: b for b in report.volume.buckets}
    assert days["2026-03-02"].messages == 2 and days["2026-03-02"].by_tag == {"refund_status": 2}
    assert days["2026-03-02"].by_channel == {"chat": 1, "email": 1}
    assert days["2026-03-03"].by_tag == {"delivery_delay": 1} and days["2026-03-03"].by_channel == {"chat": 1}
    assert days["2026-03-08"].by_tag == {"none": 1} and days["2026-03-08"].by_channel == {"sms": 1}
    assert [days[k].messages for k in sorted(days)] == [2, 1, 0, 0, 0, 0, 1]
    assert report.volume.messages == 4 and report.volume.conversations == 4
    assert report.volume.by_tag == {"refund_status": 2, "delivery_delay": 1, "none": 1}
    assert list(report.volume.by_channel) == ["chat", "email", "sms"]  # most first, then by name

    in_utc = build_report(store, "day", "2026-03-02", "2026-03-09", timezone="UTC")
    utc_days = {b.bucket: b.by_tag for b in in_utc.volume.buckets}
    # in UTC the message at 00:30 in Seoul is on 2 March, and the one at midnight in Seoul before the range
    assert utc_days["2026-03-02"] == {"refund_status": 1, "delivery_delay": 1} and utc_days["2026-03-03"] == {}


def test_weeks_start_on_monday_and_a_cut_week_is_partial(store):
    add(store, kst(2026, 3, 8, 23, 30), tag="refund_status")  # Sunday night
    add(store, kst(2026, 3, 9, 0, 10), tag="refund_status")  # Monday just after midnight
    add(store, kst(2026, 3, 3, 10), tag="refund_status")  # Tuesday: before the range's Wednesday start

    report = build_report(store, "week", "2026-03-04", "2026-03-18")

    assert [(b.key, str(b.start), str(b.end), b.partial) for b in report.buckets] == [
        ("2026-03-02", "2026-03-04", "2026-03-09", True),
        ("2026-03-09", "2026-03-09", "2026-03-16", False),
        ("2026-03-16", "2026-03-16", "2026-03-18", True)]
    assert [b.messages for b in report.volume.buckets] == [1, 1, 0]


def test_a_tag_an_agent_corrected_counts_under_the_corrected_tag(store):
    wrong = add(store, kst(2026, 3, 2, 10), tag="delivery_delay")
    store.record_feedback(wrong.suggestion_id, FeedbackIn(action="accept", tag="refund_status"), "alice",
                          scope="test-scope")
    add(store, kst(2026, 3, 2, 11), tag="delivery_delay")

    report = build_report(store, "day", "2026-03-02", "2026-03-03")

    assert report.volume.by_tag == {"delivery_delay": 1, "refund_status": 1}


# --- automation -----------------------------------------------------------------------------------------

def test_auto_answer_rate_and_hand_off_reasons_by_field(store):
    at = kst(2026, 3, 2, 10)
    for _ in range(3):
        add(store, at, decision="auto_answer", faq_id="f-1", candidate_faq_id="f-1")
    add(store, at, decision="handoff", candidate_faq_id=None, flags=["prompt_injection"],
        decision_reason="the message tries to instruct the system: never auto-answered")
    add(store, at, decision="handoff", candidate_faq_id="f-2",
        decision_reason="agents or customers turned down this entry's answer 3 times (accepted 0)")
    add(store, at, decision="handoff", candidate_faq_id=None, decision_reason="no FAQ entry matched the message")
    add(store, at, decision="handoff", candidate_faq_id=None, decision_reason="")
    add(store, at, decision="handoff", candidate_faq_id="f-3",
        decision_reason="no FAQ entry answers it confidently: best 'f-3'")
    add(store, kst(2026, 3, 3, 10))  # no decision: a suggestion, left out of the rate
    add(store, kst(2026, 3, 3, 11), decision="auto_answer", candidate_faq_id="f-1")

    report = build_report(store, "day", "2026-03-02", "2026-03-04")

    auto = report.automation
    assert (auto.suggestions, auto.auto_answer, auto.handoff) == (10, 4, 5)
    assert auto.rate == pytest.approx(4 / 9, abs=1e-4)
    assert [(b.bucket, b.suggestions, b.rate) for b in auto.buckets] == [
        ("2026-03-02", 8, pytest.approx(3 / 8, abs=1e-4)), ("2026-03-03", 2, 1.0)]
    assert {r.key: r.count for r in auto.handoff_reasons} == {
        "prompt_injection": 1, "turned_down": 1, "no_close_faq": 2, "not_confident": 1, "urgent_situation": 0}
    assert {r.key: r.share for r in auto.handoff_reasons}["no_close_faq"] == pytest.approx(0.4)
    assert auto.handoff_reasons_by_bucket["2026-03-03"] == {
        "prompt_injection": 0, "turned_down": 0, "no_close_faq": 0, "not_confident": 0, "urgent_situation": 0}
    assert all(r.label and r.explanation for r in auto.handoff_reasons)


def test_hand_off_categories_read_fields_before_text():
    assert handoff_category({"flags": ["prompt_injection"], "candidate_faq_id": None,
                             "decision_reason": "turned down"}) == "prompt_injection"
    assert handoff_category({"candidate_faq_id": None, "decision_reason": "not confident: nothing turned down"}) \
        == "turned_down"  # no field records a distrusted entry: its reason is the only trace
    assert handoff_category({"candidate_faq_id": None, "decision_reason": "confidence 0.2 < 0.9"}) == "no_close_faq"
    assert handoff_category({"candidate_faq_id": "f-1", "decision_reason": None}) == "not_confident"
    assert handoff_category({}) == "no_close_faq"


def test_bot_outcomes_are_counted_by_their_own_time(store):
    at = kst(2026, 3, 3, 0, 10)  # 2 March in UTC
    for helpful, escalated in ((True, False), (True, False), (False, True), (None, False)):
        store.record_bot_outcome(BotOutcomeIn(faq_id="f-1", auto_answered=True, helpful=helpful, escalated=escalated,
                                              created_at=at))
    store.record_bot_outcome(BotOutcomeIn(auto_answered=False, escalated=True, created_at=at))
    store.record_bot_outcome(BotOutcomeIn(auto_answered=True, helpful=False, created_at=at + timedelta(days=1)))

    report = build_report(store, "day", "2026-03-02", "2026-03-04")

    bot = report.automation.bot
    assert (bot.outcomes, bot.auto_answered, bot.helpful, bot.unhelpful, bot.escalated) == (5, 4, 2, 1, 2)
    assert bot.helpful_rate == pytest.approx(2 / 3, abs=1e-4)
    assert [b.outcomes for b in report.automation.bot_buckets] == [0, 5]
    assert not report.empty and report.volume.messages == 0
    assert build_report(store, "day", "2026-03-02", "2026-03-03").automation.bot.outcomes == 0
    assert build_report(store, "day", "2026-03-04", "2026-03-05").automation.bot.outcomes == 1


# --- acceptance -----------------------------------------------------------------------------------------

def test_acceptance_shares_and_edit_distances(store):
    at = kst(2026, 3, 2, 10)
    for action in ("accept", "accept"):
        store.record_feedback(add(store, at).suggestion_id, FeedbackIn(action=action), "alice")
    distances = []
    for extra in ("!", "!!", "123456789"):
        decided = store.record_feedback(add(store, at).suggestion_id,
                                        FeedbackIn(action="edit", final_text=DRAFT + extra), "alice")
        distances.append(decided.record.edit_distance)
    store.record_feedback(add(store, at).suggestion_id, FeedbackIn(action="reject", final_text="직접 답했어요"), "bob")
    add(store, at, customer="c-twice")  # superseded by the next message of the same conversation
    add(store, at + timedelta(minutes=5), customer="c-twice")  # still open

    report = build_report(store, "day", "2026-03-02", "2026-03-03")

    acc = report.acceptance
    assert distances == [1, 2, 9]
    assert (acc.decided, acc.accepted, acc.edited, acc.rejected) == (6, 2, 3, 1)
    assert (acc.accepted_share, acc.edited_share, acc.rejected_share) == pytest.approx((2 / 6, 3 / 6, 1 / 6),
                                                                                        abs=1e-4)
    assert acc.used_share == pytest.approx(5 / 6, abs=1e-4)
    assert acc.edit_distance_median == 2 and acc.edit_distance_mean == 4
    assert acc.buckets[0].decided == 6 and acc.buckets[0].edit_distance_median == 2


# --- first response ------------------------------------------------------------------------------------

def test_first_response_time_from_the_first_message_to_the_first_reply(store):
    now = kst(2026, 3, 2, 15)  # the verdicts carry this time: every reply lands at 15:00
    # replied after 30 minutes: the customer wrote again meanwhile, the reply is on the newer suggestion
    add(store, now - timedelta(minutes=30), customer="c-a")
    second = add(store, now - timedelta(minutes=5), customer="c-a")
    store.record_feedback(second.suggestion_id, FeedbackIn(action="edit", final_text=DRAFT + " 감사합니다",
                                                           created_at=now), "alice")
    store.record_feedback(add(store, now - timedelta(minutes=90)).suggestion_id,
                          FeedbackIn(action="accept", created_at=now), "al")
    own_reply = add(store, now - timedelta(minutes=10))  # a rejection with the agent's own reply is a reply
    store.record_feedback(own_reply.suggestion_id, FeedbackIn(action="reject", final_text="제가 확인해 볼게요",
                                                              created_at=now), "al")
    silent = add(store, now - timedelta(minutes=20))  # a rejection without a reply is not
    store.record_feedback(silent.suggestion_id, FeedbackIn(action="reject", created_at=now), "al")
    add(store, now - timedelta(minutes=40))  # nobody answered yet

    report = build_report(store, "day", "2026-03-01", "2026-03-03")

    frt = report.first_response
    assert (frt.conversations, frt.answered, frt.waiting) == (5, 3, 2)
    assert frt.median_minutes == pytest.approx(30)
    assert frt.p90_minutes == pytest.approx(30 + 0.8 * 60)  # linear between 30 and 90
    assert sum(b.conversations for b in frt.buckets) == 5 and sum(b.answered for b in frt.buckets) == 3


def test_a_conversation_that_began_before_the_range_is_not_counted(store):
    add(store, kst(2026, 3, 1, 23), customer="c-old")
    add(store, kst(2026, 3, 2, 1), customer="c-old")  # in the range, but the conversation began the day before

    report = build_report(store, "day", "2026-03-02", "2026-03-03")

    assert report.volume.messages == 1 and report.first_response.conversations == 0


# --- CES ----------------------------------------------------------------------------------------------

def test_ces_by_tag_against_the_target(store):
    scores = {"refund_status": (7, 6), "delivery_delay": (5, 6), "login_problem": (7,)}
    for tag, values in scores.items():
        for score in values:
            intake = add(store, kst(2026, 3, 2, 10), tag=tag)
            store.record_ces(intake.conversation_id, score, kst(2026, 3, 3, 9))  # counted on the day it was given

    report = build_report(store, "day", "2026-03-03", "2026-03-04")

    ces = report.ces
    assert ces.target == 6.5 and ces.answers == 5
    assert ces.average == pytest.approx(6.2) and ces.below_target is True
    assert [(t.tag, t.answers, t.average, t.below_target) for t in ces.by_tag] == [
        ("delivery_delay", 2, 5.5, True), ("refund_status", 2, 6.5, False), ("login_problem", 1, 7.0, False)]
    assert ces.buckets[0].answers == 5
    assert build_report(store, "day", "2026-03-02", "2026-03-03").ces.answers == 0


# --- edges --------------------------------------------------------------------------------------------

def test_an_empty_period_is_a_valid_report_of_zeros(store):
    report = build_report(store, "week", "2026-03-02", "2026-03-16")

    assert report.empty and len(report.buckets) == 2
    assert report.volume.messages == 0 and report.volume.by_tag == {}
    assert [b.messages for b in report.volume.buckets] == [0, 0]
    assert report.automation.rate is None and report.acceptance.accepted_share is None
    assert report.first_response.median_minutes is None and report.ces.average is None
    assert report.ces.below_target is None and report.gaps.items == []
    assert Report.model_validate_json(report.model_dump_json()) == report


def test_a_single_message(store):
    add(store, kst(2026, 3, 2, 9), tag="refund_status", decision="handoff", candidate_faq_id=None)

    report = build_report(store, "day", "2026-03-02", "2026-03-03")

    assert report.volume.messages == 1 and report.automation.rate == 0.0
    assert report.automation.handoff_reasons[2].key == "no_close_faq" and report.automation.handoff_reasons[2].count
    assert (report.first_response.conversations, report.first_response.waiting) == (1, 1)
    assert report.first_response.median_minutes is None and report.acceptance.decided == 0


def test_gaps_from_the_caller_largest_first(store):
    report = build_report(store, "day", "2026-03-02", "2026-03-03", gaps=[("쿠폰 중복", 4), ("새벽배송 지역", 12)])

    assert [(g.title, g.size) for g in report.gaps.items] == [("새벽배송 지역", 12), ("쿠폰 중복", 4)]


@pytest.mark.parametrize(("kwargs", "says"), [
    ({"period": "month"}, "use 'day' or 'week'"),
    ({"start": "2026-03-05", "end": "2026-03-05"}, "must be after start"),
    ({"start": "2026-03-05", "end": "2026-03-01"}, "must be after start"),
    ({"start": "2026/03/02"}, "YYYY-MM-DD"),
    ({"end": "2026-3-2"}, "YYYY-MM-DD"),
    ({"start": "2026-02-30"}, "YYYY-MM-DD"),
    ({"start": "2020-01-01", "end": "2026-01-01"}, "at most"),
])
def test_bad_input_is_an_input_error(kwargs, says):
    with pytest.raises(InputError, match=says):
        resolve_range(kwargs.get("period", "day"), kwargs.get("start"), kwargs.get("end"), date(2026, 3, 5))


def test_an_unknown_timezone_is_an_input_error(store):
    with pytest.raises(InputError, match="timezone"):
        build_report(store, timezone="Mars/Olympus")


def test_default_ranges_end_today():
    today = date(2026, 3, 5)  # a Thursday
    assert resolve_range("day", today=today) == (date(2026, 2, 27), date(2026, 3, 6))
    assert resolve_range("week", today=today) == (date(2026, 1, 12), date(2026, 3, 6))  # 8 weeks from a Monday
    assert resolve_range("day", start="2026-03-01", today=today) == (date(2026, 3, 1), date(2026, 3, 6))
    assert resolve_range("day", end="2026-03-03", today=today) == (date(2026, 2, 24), date(2026, 3, 3))


def test_percentiles_match_numpy():
    for values in ([5.0], [1.0, 2.0], [3.0, 1.0, 2.0, 10.0], list(np.random.default_rng(0).exponential(30, 101))):
        for q in (0.5, 0.9):
            assert percentile(values, q) == pytest.approx(float(np.percentile(values, q * 100)))
    assert percentile([], 0.5) is None


# --- export -------------------------------------------------------------------------------------------

def fill(store: Store, now: datetime) -> None:
    """Four conversations with verdicts and CES answers, and a bot outcome, in the hour before ``now``."""
    for i, (tag, channel) in enumerate((("refund_status", "chat"), ("delivery_delay", "email"),
                                        ("refund_status", "sms"), ("login_problem", "chat"))):
        intake = add(store, now - timedelta(minutes=20 + 10 * i), tag=tag, channel=channel,
                     decision="auto_answer" if i % 2 else "handoff", candidate_faq_id="f-1" if i else None)
        store.record_feedback(intake.suggestion_id, FeedbackIn(action=("accept", "edit", "reject", "accept")[i],
                                                               final_text=DRAFT + "?" if i == 1 else None,
                                                               created_at=now), "alice")
        store.record_ces(intake.conversation_id, 5 + i % 3, now)
    store.record_bot_outcome(BotOutcomeIn(faq_id="f-1", auto_answered=True, helpful=True, created_at=now))


def test_run_report_writes_the_page_charts_csv_and_json(store, store_url, tmp_path):
    fill(store, kst(2026, 3, 5, 15))
    settings = Settings(var_dir=tmp_path / "var", database_url=store_url)
    lines: list[str] = []

    page = run_report(settings, "day", "2026-03-02", "2026-03-09", None, lines.append)

    folder = tmp_path / "var" / "reports" / "day-2026-03-02-2026-03-09"
    assert page == folder / "report.html"
    assert {p.name for p in folder.iterdir()} == {"report.html", "report.csv", "report.json",
                                                 *(f"{name}.png" for name in CHARTS)}
    for name in CHARTS:
        png = (folder / f"{name}.png").read_bytes()
        assert png.startswith(PNG) and len(png) > 5000 and colourful(png), name  # bars and lines drawn
    html = page.read_text(encoding="utf-8")
    # the /reports page's template, standalone: charts beside it, styles inline, no navigation, form or links
    for name in CHARTS:
        assert f'<img src="{name}.png"' in html and f'data-chart="{name}"' in html
    assert '<html lang="ko">' in html and "<h1>고객 지원 리포트</h1>" in html and 'id="kpi-first"' in html
    assert "자동 답변 비율" in html and "목표 미달" in html and 'id="ces-warning"' in html
    assert "배송 지연" in html  # the demo taxonomy's name for delivery_delay
    assert "<style>" in html and ".kpis {" in html and "<link" not in html and "<script" not in html
    assert "<nav" not in html and "<form" not in html and "<a " not in html and "로그아웃" not in html
    assert "에 만든 리포트예요." in html  # when it was made
    # what only the old export had: the bot's outcomes, the detail tables, the explanations and the definitions
    assert total_row(html, "bot-outcomes") == ["1", "1", "1", "0", "100%", "0"]
    assert total_row(html, "acceptance-detail") == ["4", "2 (50%)", "1 (25%)", "1 (25%)", "1.0자", "1.0자"]
    assert total_row(html, "first-response-detail")[:3] == ["4", "3", "1"]  # a bare rejection is no reply
    for table in ("bot-outcomes", "acceptance-detail", "first-response-detail"):
        assert f'<details id="{table}-by-period" open>' in html  # a file may be printed: nothing folded
    assert "<td>3/5 (목)</td>" in period_rows(html, "acceptance-detail")
    for key in explanations_and_definitions():
        assert explained(KO, key) in html, key
    assert html.index('id="buckets"') < html.index('id="acceptance-detail"') < html.index('id="definitions"')
    rows = list(csv.DictReader(io.StringIO((folder / "report.csv").read_text(encoding="utf-8"))))
    assert list(rows[0]) == ["bucket", "metric", "dimension", "value"]
    by = {(r["bucket"], r["metric"], r["dimension"]): r["value"] for r in rows}
    assert by[("all", "messages", "")] == "4" and by[("all", "messages_by_tag", "refund_status")] == "2"
    assert by[("all", "auto_answer_rate", "")] == "0.5" and by[("all", "handoff_reason", "no_close_faq")] == "1"
    assert by[("all", "suggestions_accepted", "")] == "2" and by[("all", "bot_helpful", "")] == "1"
    assert sum(int(r["value"]) for r in rows if r["metric"] == "messages" and r["bucket"] != "all") == 4
    assert len([r for r in rows if r["metric"] == "messages"]) == 7 + 1  # one per day, and the whole range
    assert float(by[("all", "ces_average", "")]) == pytest.approx(5.75)
    report = Report.model_validate(json.loads((folder / "report.json").read_text(encoding="utf-8")))
    assert report.volume.messages == 4 and report.acceptance.decided == 4
    assert any("page" in line for line in lines) and any("4 messages" in line for line in lines)


def test_run_report_covers_the_seven_days_through_today_by_default(store, store_url, tmp_path):
    fill(store, utcnow())
    settings = Settings(var_dir=tmp_path / "var", database_url=store_url)
    before = today_kst()
    page = run_report(settings, "day", None, None, None, lambda _: None)
    days = {before, today_kst()}  # midnight may pass meanwhile

    assert page in {tmp_path / "var" / "reports" / f"day-{d - timedelta(days=6)}-{d + timedelta(days=1)}"
                    / "report.html" for d in days}
    report = Report.model_validate(json.loads((page.parent / "report.json").read_text(encoding="utf-8")))
    assert report.end - timedelta(days=1) in days and len(report.buckets) == 7
    assert report.volume.messages == 4 and report.acceptance.decided == 4 and report.ces.answers == 4


def test_an_empty_period_exports_charts_that_say_no_data(store, tmp_path):
    report = build_report(store, "day", "2026-03-02", "2026-03-04", gaps=[("<script>x</script> 문의", 3)])

    page = export_report(report, tmp_path / "out")

    html = page.read_text(encoding="utf-8")
    assert "데이터 없음" in html and "이 기간에는 문의도, 챗봇 결과도, CES 응답도 없어요" in html
    assert "<img" not in html  # like the page: no charts for an empty period
    assert "<script>" not in html and "&lt;script&gt;" in html  # autoescaped
    for name in CHARTS:
        png = (tmp_path / "out" / f"{name}.png").read_bytes()
        assert png.startswith(PNG) and not colourful(png)  # only the title and "데이터 없음", in grey
    rows = report_csv(report).splitlines()
    assert rows[0] == "bucket,metric,dimension,value"
    assert "2026-03-02,messages,,0" in rows and "all,auto_answer_rate,," in rows


def test_no_gaps_says_there_are_none_yet(store, tmp_path):
    page = export_report(build_report(store, "day", "2026-03-02", "2026-03-03"), tmp_path / "out")

    html = page.read_text(encoding="utf-8")
    gaps = html[html.index("<h2>답하지 못한 질문 상위</h2>"):].split("</section>")[0]
    assert 'id="top-gaps"' not in html and gaps.endswith('<p class="empty-cell">아직 찾은 지식 공백이 없어요.</p>')


def test_the_exported_page_speaks_english_on_request(store):
    add(store, kst(2026, 3, 2, 10), tag="refund_status")
    report = build_report(store, "day", "2026-03-02", "2026-03-03")

    html = report_html(report, {name: f"{name}.png" for name in CHARTS}, "en")

    assert '<html lang="en">' in html and "Auto-answer rate" in html and "3/2 (Mon)" in html
    assert "자동 답변 비율" not in html and "Generated " in html
    assert "<h1>Customer support report</h1>" in html and "No knowledge gaps found yet." in html
    assert "<h2>Support bot outcomes</h2>" in html and 'id="first-response-detail"' in html
    for key in explanations_and_definitions():
        assert explained(EN, key) in html and explained(KO, key) not in html, key


def explanations_and_definitions() -> list[str]:
    return [key for key in KO if key.startswith(("explain_", "def_"))]


def explained(strings: dict[str, str], key: str) -> str:
    """A sentence of the page's as it appears in the HTML (quotes escaped)."""
    return str(escape(strings[key].format(target=CES_TARGET)))


def total_row(html: str, table: str) -> list[str]:
    """The cells of a detail table's whole-range row ('전체' / 'Total')."""
    found = re.search(rf'<table class="data" id="{table}">.*?<th scope="row">[^<]+</th>(.*?)</tr>', html, re.S)
    assert found, table
    return re.findall(r'<td class="num">([^<]*)</td>', found.group(1))


def period_rows(html: str, table: str) -> str:
    start = html.index(f'<details id="{table}-by-period"')
    return html[start:html.index("</details>", start)]


def test_an_unknown_chart_is_an_input_error(store):
    with pytest.raises(InputError, match="volume"):
        chart_png(build_report(store, "day", "2026-03-02", "2026-03-03"), "pie")


def test_charts_still_draw_without_a_korean_font(store, monkeypatch, tmp_path):
    import triage.report_charts as charts

    monkeypatch.setattr(charts, "FONT_DIR", tmp_path / "no-fonts")
    monkeypatch.setattr(charts, "_font_checked", False)
    monkeypatch.setattr(charts, "_font_family", None)
    monkeypatch.setattr(charts, "_bold_file", None)
    add(store, kst(2026, 3, 2, 10), tag="refund_status")

    png = chart_png(build_report(store, "day", "2026-03-02", "2026-03-03"), "volume")

    assert png.startswith(PNG) and colourful(png) and charts.korean_font() is None


def test_the_review_share_counts_the_messages_suggested_to_the_catch_all(store):
    sent = add(store, kst(2026, 3, 2, 10), tag="needs_review")
    store.record_feedback(sent.suggestion_id, FeedbackIn(action="accept", tag="refund_status"), "alice",
                          scope="test-scope")
    add(store, kst(2026, 3, 2, 11), tag="delivery_delay")
    add(store, kst(2026, 3, 2, 12), tag="other", customer=None)

    report = build_report(store, "day", "2026-03-02", "2026-03-03")
    other = build_report(store, "day", "2026-03-02", "2026-03-03", catch_all="other")

    # the agent's correction counts under its tag, yet the message was still sent to review
    assert report.volume.by_tag["refund_status"] == 1
    assert (report.volume.to_review, report.volume.review_share) == (1, pytest.approx(1 / 3, abs=0.01))
    assert other.volume.to_review == 1  # the taxonomy's own catch-all
    assert "태그 검토로 보낸 메시지 33" in report_html(report, {name: f"{name}.png" for name in CHARTS}, "ko")
