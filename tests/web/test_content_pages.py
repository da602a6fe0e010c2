"""The content team's and CX leads' pages through TestClient: FAQ gaps (accepting a draft into the FAQ file)
and the report (key numbers, charts, tables), signed in with the page cookie like the inbox."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from knowledge.samples import DEMO_DIR
from knowledge.sources import load_faq_files
from tests.conftest import api_key
from tests.web.helpers import bearer, browser, with_cookie
from triage.api.app import create_app
from triage.kb import KnowledgeBase
from triage.web.i18n import KST

pytestmark = pytest.mark.clock  # the pages count their periods back from now

# two topics the small FAQ does not cover, so they come back as gaps; one question carries markup
OVERSEAS = ["해외 배송 되나요? 미국에 보내고 싶어요", "해외로도 보내 주시나요", "일본으로 배송 가능한가요",
            "<script>alert('gap')</script> 해외 배송도 해 주세요"]
JOBS = ["물류센터 알바 채용 공고 어디서 봐요?", "하루마켓 알바 채용 공고는 어디서 봐요?",
        "물류센터 아르바이트 지원하고 싶어요"]
OTHERS = [("카드 결제 취소하면 환불은 언제 돼요?", "email"), ("비밀번호를 잊어버렸어요", "chat"),
          ("배송이 3일째 안 와요", "sms")]
CHARTS = ("volume", "auto_answer", "acceptance", "ces", "first_response")
FORM = re.compile(r'<form class="draft-form" method="post" action="/gaps/accept">(.*?)</form>', re.S)


@pytest.fixture(scope="module")
def site(small_kb, tmp_path_factory):
    """The service with the seeded messages, verdicts and a CES answer; yields (app, keys, settings, kb)."""
    from triage.config import Settings

    settings = Settings(kb_dir=small_kb, var_dir=tmp_path_factory.mktemp("var"), taxonomy=DEMO_DIR / "taxonomy.yaml")
    kb = KnowledgeBase.open(settings)
    app = create_app(settings, kb_loaded=kb)
    keys = {"agent": api_key(settings.store_url, "agent"), "bot": api_key(settings.store_url, "bot"),
            "admin": api_key(settings.store_url, "admin")}
    with TestClient(app) as client:
        now = datetime.now(UTC)
        intakes = []
        seeds = [(text, "chat") for text in OVERSEAS + JOBS] + OTHERS
        for n, (text, channel) in enumerate(seeds):
            response = client.post("/v1/messages", headers=bearer(keys["agent"]), json={
                "text": text, "channel": channel, "customer": {"id": f"c-{n}"},
                "created_at": (now - timedelta(hours=n + 1)).isoformat()})
            assert response.status_code == 201, response.text
            intakes.append(response.json())
        for intake, action in zip(intakes[-3:], ("edit", "accept", "reject"), strict=True):
            draft = intake["result"]["draft"] or "안녕하세요."
            edited = {"final_text": draft + "\n확인 후 다시 안내드릴게요."} if action == "edit" else {}
            verdict = client.post(f"/v1/suggestions/{intake['suggestion_id']}/feedback",
                                  headers=bearer(keys["agent"]), json={"action": action, **edited})
            assert verdict.status_code == 201, verdict.text
        ces = client.post("/v1/bot/ces", headers=bearer(keys["bot"]),
                          json={"conversation_id": intakes[-1]["conversation_id"], "score": 3})
        assert ces.status_code == 201, ces.text
        yield app, keys, settings, kb


def draft_forms(page: str) -> list[dict[str, str]]:
    """The fields of each gap's draft form, as a browser would submit them."""
    forms = []
    for body in FORM.findall(page):
        fields = {name: html.unescape(value)
                  for name, value in re.findall(r'<input[^>]* name="(\w+)"[^>]* value="([^"]*)"', body)}
        for name, value in re.findall(r'<textarea[^>]* name="(\w+)"[^>]*>\n(.*?)</textarea>', body, re.S):
            fields[name] = html.unescape(value)
        forms.append(fields)
    return forms


# --- signing in -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("method", "path"), [("get", "/gaps"), ("get", "/reports"), ("post", "/gaps/accept")])
def test_without_a_cookie_the_pages_redirect_to_login(site, method, path):
    app, keys, _, _ = site
    for client in (browser(app), with_cookie(app, keys["bot"])):
        response = getattr(client, method)(path)
        assert response.status_code == 303 and response.headers["location"].startswith("/login")
        assert "해외" not in response.text
    assert browser(app).get("/gaps?days=7").headers["location"] == "/login?next=%2Fgaps%3Fdays%3D7"


def test_the_header_links_the_three_pages(site):
    app, keys, _, _ = site
    inbox = browser(app, keys["agent"]).get("/inbox").text
    assert '<a href="/inbox" aria-current="page">문의함</a>' in inbox
    assert '<a href="/gaps">FAQ 공백</a>' in inbox and '<a href="/reports">리포트</a>' in inbox
    assert "FAQ 공백</a>" not in browser(app).get("/login").text  # no navigation before signing in


# --- FAQ gaps -------------------------------------------------------------------------------------------------

def test_gaps_page_lists_ranked_gaps_with_an_editable_draft(site):
    app, keys, _, _ = site
    before = datetime.now(KST).strftime("%Y%m%d")
    page = browser(app, keys["agent"]).get("/gaps")
    stamps = {before, datetime.now(KST).strftime("%Y%m%d")}  # drafts are named by the day (midnight may pass)
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    text = page.text
    assert '<a href="/gaps?days=30" aria-current="true">최근 30일</a>' in text
    assert 'href="/v1/gaps/export.md?days=30"' in text and 'href="/v1/gaps/export.csv?days=30"' in text
    assert re.search(r"\d{4}-\d\d-\d\d ~ \d{4}-\d\d-\d\d · 답하지 못한 질문 \d+건 · 공백 \d+개", text)
    ids = re.findall(r'<section class="card gap" id="(gap-\d+)"', text)
    assert ids[:2] == ["gap-1", "gap-2"]
    first = text[text.index('id="gap-1"'):text.index('id="gap-2"')]
    assert "새로 생김" in first and ("새 항목 필요" in first or "기존 항목이 해결 못 함" in first)
    assert "상담원 연결" in first and re.search(r'href="/conversations/\d+">#\d+</a>', first)
    assert '<ul class="chips"><li>' in first
    forms = draft_forms(text)
    assert len(forms) == len(ids)
    assert forms[0]["entry_id"] in {f"gap-{stamp}-1" for stamp in stamps}
    assert forms[0]["gap"] == "gap-1" and forms[0]["days"] == "30"
    assert forms[0]["question"] and forms[0]["answer"]
    assert '<option value="delivery_info" >' in first  # the taxonomy's leaf tags
    topics = " ".join(f["question"] + f["examples"] for f in forms[:2])
    assert "해외" in topics and ("알바" in topics or "아르바이트" in topics)


def test_the_gaps_page_escapes_customer_text(site):
    app, keys, _, _ = site
    text = browser(app, keys["agent"]).get("/gaps").text
    assert "<script>alert" not in text
    assert "&lt;script&gt;alert(&#39;gap&#39;)&lt;/script&gt;" in text


def test_accepting_a_draft_appends_it_to_the_faq_file_and_a_second_time_is_422(site):
    app, keys, settings, _ = site
    client = browser(app, keys["agent"])
    form = draft_forms(client.get("/gaps").text)[0]
    body = {**form, "entry_id": "overseas-shipping", "tag": "delivery_info",
            "answer": "지금은 국내 배송만 해요.\r\n해외 배송은 준비 중이에요.",
            "examples": form["examples"].replace("\n", "\r\n") + "\r\n\r\n  해외 직배송 돼요?  "}
    done = client.post("/gaps/accept", data=body)
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/gaps?days=30&flash=faq_added#gap-1"
    entries = load_faq_files([settings.accepted_faq_file])
    assert [e.id for e in entries] == ["overseas-shipping"]
    entry = entries[0]
    assert entry.question == form["question"] and entry.answer == "지금은 국내 배송만 해요.\n해외 배송은 준비 중이에요."
    assert entry.examples[-1] == "해외 직배송 돼요?" and "" not in entry.examples
    assert list(entry.tags) == ["delivery_info"]
    after = client.get(done.headers["location"]).text
    assert "FAQ 파일에 추가했어요: <code>" + html.escape(str(settings.accepted_faq_file)) in after
    assert "<code>triage kb build</code>로 반영하세요" in after
    assert "FAQ 파일에 이미 있어요: overseas-shipping" in after
    assert draft_forms(after)[0]["entry_id"] != "overseas-shipping"

    again = client.post("/gaps/accept", data={**body, "answer": "두 번째 답변 <b>"})
    assert again.status_code == 422
    assert "FAQ에 추가하지 못했어요" in again.text and "exists already" in again.text
    assert "두 번째 답변 &lt;b&gt;" in again.text  # what was typed is kept, escaped
    assert [e.id for e in load_faq_files([settings.accepted_faq_file])] == ["overseas-shipping"]


@pytest.mark.parametrize(("change", "message"), [
    ({"entry_id": "Bad Id"}, "must be 2-64 lowercase"), ({"question": "  "}, "질문을 입력해 주세요"),
    ({"answer": "[확인 필요: 배송 국가]"}, "[확인 필요] 부분을 채워 주세요"),
    ({"tag": "no_such_tag"}, "요청이 올바르지 않아요")])
def test_a_bad_draft_is_422_with_the_reason_and_writes_nothing(site, change, message):
    app, keys, settings, _ = site
    client = browser(app, keys["admin"])
    form = draft_forms(client.get("/gaps").text)[1]
    before = settings.accepted_faq_file.read_text(encoding="utf-8") if settings.accepted_faq_file.exists() else ""
    response = client.post("/gaps/accept", data={**form, "entry_id": "job-postings", "answer": "채용 페이지에서 봐요.",
                                                 **change})
    assert response.status_code == 422 and message in response.text
    after = settings.accepted_faq_file.read_text(encoding="utf-8") if settings.accepted_faq_file.exists() else ""
    assert after == before


def test_gap_periods_and_a_bad_one(site):
    app, keys, _, _ = site
    client = browser(app, keys["agent"])
    week = client.get("/gaps?days=7").text
    assert '<a href="/gaps?days=7" aria-current="true">' in week and 'export.csv?days=7"' in week
    bad = client.get("/gaps?days=abc")
    assert bad.status_code == 422 and "1~366일" in bad.text
    assert client.get("/gaps?days=0").status_code == 422


def test_an_empty_period_says_so(site, tmp_path):
    from triage.config import Settings

    _, _, settings, kb = site
    empty = Settings(kb_dir=settings.kb_dir, var_dir=tmp_path, taxonomy=DEMO_DIR / "taxonomy.yaml")
    app = create_app(empty, kb_loaded=kb)
    key = api_key(empty.store_url, "agent")
    with TestClient(app):
        gaps = browser(app, key).get("/gaps")
        assert gaps.status_code == 200 and "이 기간에는 답하지 못한 질문이 없어요" in gaps.text
        assert 'class="draft-form"' not in gaps.text
        report = browser(app, key).get("/reports")
        assert report.status_code == 200 and "데이터 없음" in report.text and "<img" not in report.text


# --- the report -----------------------------------------------------------------------------------------------

def test_report_shows_the_key_numbers_tables_and_charts(site):
    app, keys, _, _ = site
    client = browser(app, keys["agent"])
    page = client.get("/reports")
    assert page.status_code == 200, page.text
    text = page.text
    seeded = len(OVERSEAS) + len(JOBS) + len(OTHERS)
    kpi = text[text.index('id="kpi-messages"'):text.index('id="kpi-auto"')]
    assert f"{seeded}건" in kpi and f"대화 {seeded}개" in kpi
    accept = text[text.index('id="kpi-accept"'):text.index('id="kpi-first"')]
    assert "33%" in accept and "처리 3건" in accept and "수정 거리 중앙값" in accept  # 1 of 3 accepted as is
    ces = text[text.index('id="kpi-ces"'):text.index("</section>", text.index('id="kpi-ces"'))]
    assert "3.00" in ces and "목표 6.5 / 7" in ces and "목표 미달" in ces
    assert 'id="ces-warning"' in text and "목표 6.5점보다 낮아요" in text
    for table in ("by-tag", "by-channel", "handoff-reasons", "ces-by-tag", "top-gaps", "buckets"):
        assert f'id="{table}"' in text, table
    assert "가까운 FAQ 없음" in text and "채팅" in text
    assert re.search(r'<a href="/gaps\?days=7#gap-1">', text)
    images = re.findall(r'<img src="([^"]+)" alt="[^"]+" width="880" height="396" data-chart="(\w+)">', text)
    assert [name for _, name in images] == list(CHARTS)
    for url, _ in images:
        png = client.get(html.unescape(url))
        assert png.status_code == 200 and png.headers["content-type"] == "image/png", url
        assert png.content.startswith(b"\x89PNG")
    csv_url = html.unescape(re.search(r'<a href="([^"]+)" id="export-csv"', text).group(1))
    assert csv_url.startswith("/v1/reports/export.csv?period=day&start=")
    exported = client.get(csv_url)
    assert exported.status_code == 200 and exported.text.startswith("bucket,metric,dimension,value")


def test_report_by_week_and_a_chosen_range(site):
    app, keys, _, _ = site
    today = datetime.now(KST).date()
    start, end = today - timedelta(days=13), today + timedelta(days=1)
    page = browser(app, keys["agent"]).get("/reports", params={"period": "week", "start": str(start), "end": str(end)})
    assert page.status_code == 200
    assert f'value="{start}"' in page.text and f'value="{end}"' in page.text
    assert f"chart/volume.png?period=week&amp;start={start}&amp;end={end}" in page.text
    assert '<option value="week" selected>' in page.text and "~" in page.text


@pytest.mark.parametrize("params", [{"start": "2026-13-01"}, {"start": "yesterday"},
                                    {"start": "2026-03-05", "end": "2026-03-01"}, {"period": "month"}])
def test_a_bad_date_or_period_is_422_with_the_message(site, params):
    app, keys, _, _ = site
    page = browser(app, keys["agent"]).get("/reports", params=params)
    assert page.status_code == 422
    assert "리포트를 만들 수 없어요" in page.text and 'class="error"' in page.text
    assert "<img" not in page.text and 'name="start"' in page.text  # the form stays, to fix the date


def test_english_on_request(site):
    app, keys, _, _ = site
    client = browser(app, keys["agent"])
    gaps = client.get("/gaps?lang=en").text
    assert '<html lang="en">' in gaps and "FAQ gaps" in gaps and "Add to the FAQ" in gaps and "New" in gaps
    assert "FAQ에 추가" not in gaps and "Last 30 days" in gaps
    report = client.get("/reports").text  # the language is remembered
    assert "Auto-answer rate" in report and "Customer effort score (CES)" in report and "No close FAQ entry" in report
    assert "자동 답변 비율" not in report
    assert "리포트" in client.get("/reports?lang=ko").text
