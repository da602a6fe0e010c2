"""The agents' web pages through FastAPI's TestClient: sign-in, the inbox, a conversation, verdicts."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from knowledge.samples import DEMO_DIR
from tests.conftest import api_key
from tests.web.helpers import bearer, browser, csrf_token, with_cookie
from triage.api.app import create_app
from triage.api.auth import COOKIE
from triage.kb import KnowledgeBase
from triage.models import Message
from triage.web.i18n import EN, KO, LANG_COOKIE, duration, waiting

pytestmark = pytest.mark.clock  # waiting times and report periods are counted from now

ROW = re.compile(r'<tr data-href="/conversations/(\d+)" data-priority="(P\d)?"')
SEEDS = [  # text, channel, customer, minutes waiting
    ("앱 디자인이 예뻐졌네요. 잘 쓰고 있어요", "app_review", {"id": "w-praise"}, 30),
    ("환불 언제 돼요?", "email", {"id": "w-vip", "segment": "VIP", "tenure_days": 900}, 60),
    ("결제가 두 번 됐어요 돈 돌려주세요", "chat", {"id": "w-double"}, 5),
    ("배송이 3일째 안 와요", "sms", {"id": "w-late"}, 3 * 60 + 12),
    ("<script>alert('x')</script> 쿠폰은 어디서 써요?", "chat", {"id": "w-xss"}, 2 * 24 * 60 + 90),
    ("누가 제 계정으로 로그인해서 주문했어요!! 제가 한 거 아니에요", "chat",
     {"id": "w-hacked", "tenure_days": 3, "app_version": "5.1.0"}, 20),
]


@pytest.fixture(scope="module")
def site(small_kb, tmp_path_factory):
    """The service with the seeded messages; yields (app, keys by role, intakes by customer id)."""
    from triage.config import Settings

    settings = Settings(kb_dir=small_kb, var_dir=tmp_path_factory.mktemp("var"), taxonomy=DEMO_DIR / "taxonomy.yaml",
                        latest_app_version="5.4.0")
    app = create_app(settings, kb_loaded=KnowledgeBase.open(settings))
    keys = {"agent": api_key(settings.store_url, "agent"), "agent2": api_key(settings.store_url, "agent"),
            "bot": api_key(settings.store_url, "bot"), "admin": api_key(settings.store_url, "admin")}
    with TestClient(app) as client:
        now = datetime.now(UTC)
        intakes = {}
        for text, channel, customer, minutes in SEEDS:
            response = client.post("/v1/messages", headers=bearer(keys["agent"]), json={
                "text": text, "channel": channel, "customer": customer,
                "bot_path": ["주문·결제", "환불"] if customer["id"] == "w-vip" else [],
                "created_at": (now - timedelta(minutes=minutes, seconds=30)).isoformat()})
            assert response.status_code == 201, response.text
            intakes[customer["id"]] = response.json()
        yield app, keys, intakes


def conversation_form(page: str) -> dict[str, str]:
    """The hidden fields and the draft of a rendered conversation page."""
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', page))
    draft = re.search(r'<textarea id="draft" name="final_text"[^>]*>\n(.*?)</textarea>', page, re.S)
    assert draft, "no draft textarea on the page"
    return {**fields, "final_text": html.unescape(draft.group(1))}


def suggestion(app, keys, suggestion_id: int) -> dict:
    return browser(app).get(f"/v1/suggestions/{suggestion_id}", headers=bearer(keys["agent"])).json()


def add_conversation(app, keys, text: str, customer_id: str) -> dict:
    response = browser(app).post("/v1/messages", headers=bearer(keys["agent"]),
                                 json={"text": text, "channel": "chat", "customer": {"id": customer_id}})
    assert response.status_code == 201
    return response.json()


# --- signing in -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("method", "path"), [
    ("get", "/inbox"), ("get", "/conversations/1"), ("post", "/conversations/1/feedback"),
    ("post", "/conversations/1/resolve")])
def test_without_a_cookie_every_page_redirects_to_login_and_shows_nothing(site, method, path):
    app, keys, _ = site
    # no cookie, a made-up one, and an API key as the cookie (what the cookie held before sessions)
    for client in (browser(app), with_cookie(app, "not-a-session"), with_cookie(app, keys["agent"])):
        response = getattr(client, method)(path)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login")
        assert "결제" not in response.text
    assert browser(app).get("/").headers["location"] == "/inbox"


def test_the_api_key_header_alone_does_not_open_the_pages(site):
    app, keys, _ = site
    response = browser(app).get("/inbox", headers=bearer(keys["agent"]))
    assert response.status_code == 303 and response.headers["location"] == "/login?next=%2Finbox"


def test_a_bot_key_is_refused_at_login_with_a_clear_message(site):
    app, keys, _ = site
    client = browser(app)
    response = client.post("/login", data={"key": keys["bot"]})
    assert response.status_code == 403
    assert "봇 키로는 로그인할 수 없어요" in response.text
    assert COOKIE not in client.cookies
    unknown = client.post("/login", data={"key": "tk_unknown"})
    assert unknown.status_code == 401 and "등록되지 않았거나 폐기된 키예요" in unknown.text


def test_login_sets_a_lax_httponly_session_cookie_that_is_not_the_key(site):
    app, keys, _ = site
    client = browser(app)
    page = client.get("/login")
    assert page.status_code == 200 and 'name="key"' in page.text
    response = client.post("/login", data={"key": keys["agent"], "next": "/inbox"})
    assert response.status_code == 303 and response.headers["location"] == "/inbox"
    cookie = response.headers["set-cookie"]
    session = client.cookies[COOKIE]
    assert cookie.startswith(f"{COOKIE}={session};") and len(session) >= 40
    assert keys["agent"] not in cookie and keys["agent"][3:] not in session
    assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower() and "Path=/" in cookie
    assert "Max-Age=43200" in cookie and "Secure" not in cookie  # 12 hours; http://testserver
    assert client.get("/inbox").status_code == 200
    assert client.get("/login").headers["location"] == "/inbox"  # signed in already
    assert browser(app, keys["agent"]).cookies[COOKIE] != session  # one session per sign-in


def test_the_session_cookie_is_secure_when_the_service_is_public_over_https(site):
    app, keys, _ = site
    settings = app.state.service.settings
    original = settings.public_url
    settings.public_url = "https://triage.example.com"
    try:
        client = TestClient(app, follow_redirects=False, headers={"Origin": "https://triage.example.com"})
        response = client.post("/login", data={"key": keys["agent"]})
    finally:
        settings.public_url = original
    assert response.status_code == 303 and "; Secure" in response.headers["set-cookie"]


def test_login_goes_back_to_the_page_asked_for_but_never_off_site(site):
    app, keys, _ = site
    asked = browser(app).get("/conversations/2?lang=ko").headers["location"]
    assert asked == "/login?next=%2Fconversations%2F2%3Flang%3Dko"
    done = browser(app).post("/login", data={"key": keys["agent"], "next": "/conversations/2"})
    assert done.headers["location"] == "/conversations/2"
    for evil in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        assert browser(app).post("/login", data={"key": keys["agent"], "next": evil}).headers["location"] == "/inbox"


# --- the inbox ------------------------------------------------------------------------------------------------

def test_inbox_lists_conversations_by_priority_with_waiting_time_tag_names_and_vip(site):
    app, keys, intakes = site
    page = browser(app, keys["agent"]).get("/inbox")
    assert page.status_code == 200
    rows = ROW.findall(page.text)
    seeded = {str(i["conversation_id"]) for i in intakes.values()}
    assert seeded <= {cid for cid, _ in rows}
    priorities = [p for _, p in rows]
    assert priorities == sorted(priorities) and priorities[0] == "P1"
    double = str(intakes["w-double"]["conversation_id"])
    assert intakes["w-double"]["result"]["priority"] == "P1"
    row_html = {cid: chunk for cid, chunk in zip(
        [c for c, _ in rows], page.text.split('<tr data-href="/conversations/')[1:], strict=True)}
    vip = str(intakes["w-vip"]["conversation_id"])
    assert "★ VIP" in row_html[vip] and "★ VIP" not in row_html[double]
    assert "환불 진행" in row_html[vip]  # the tag's name, not its id
    late = str(intakes["w-late"]["conversation_id"])
    assert "3시간 12분" in row_html[late] and "P2" in row_html[late]
    assert "2일 1시간" in row_html[str(intakes["w-xss"]["conversation_id"])]
    assert "채팅" in row_html[double] and "이메일" in row_html[vip]
    assert '<kbd>j</kbd>' in page.text  # the shortcut help is on the page


def test_inbox_filters_and_sort(site):
    app, keys, intakes = site
    client = browser(app, keys["agent"])
    p1 = ROW.findall(client.get("/inbox", params={"priority": "P1"}).text)
    assert p1 and all(p == "P1" for _, p in p1)
    emails = ROW.findall(client.get("/inbox", params={"channel": "email"}).text)
    assert [c for c, _ in emails] == [str(intakes["w-vip"]["conversation_id"])]
    tagged = ROW.findall(client.get("/inbox", params={"tag": "refund_status"}).text)
    assert str(intakes["w-vip"]["conversation_id"]) in [c for c, _ in tagged]
    longest = ROW.findall(client.get("/inbox", params={"sort": "waiting"}).text)
    assert longest[0][0] == str(intakes["w-xss"]["conversation_id"])  # waiting two days
    bad = client.get("/inbox", params={"priority": "P9", "sort": "nonsense", "status": "x"})
    assert bad.status_code == 200 and ROW.findall(bad.text)  # unknown values are ignored


# --- a conversation -------------------------------------------------------------------------------------------

def test_conversation_shows_context_tag_priority_reasons_need_draft_citations_and_lint(site):
    app, keys, _ = site
    svc = app.state.service
    message = Message(text="환불 언제 돼요? 주문번호는 A-1 이에요", channel="email",
                      customer={"id": "w-lint", "segment": "VIP", "tenure_days": 900, "app_version": "5.0.0"},
                      bot_path=["주문·결제", "환불"])
    result = svc.ready_pipeline().run(message)
    result = result.model_copy(update={"lint": ["unsupported_promise: KB에 없는 약속이에요 ('100% 보장')"],
                                       "duplicate_of": "m-earlier", "flags": ["prompt_injection"]})
    intake = svc.store.record_message(message, result)
    page = browser(app, keys["agent"]).get(f"/conversations/{intake.conversation_id}")
    assert page.status_code == 200
    text = page.text
    assert escape(result.draft) in text  # the draft, in the textarea
    assert all(escape(reason) in text for reason in result.reasons)
    assert escape(result.need.real_need) in text and "고객이 정말 원하는 것" in text
    assert all(escape(c.title) in text and c.id in text for c in result.citations)
    assert "unsupported_promise" in text and "KB에 없는 약속이에요" in text and "확인이 필요한 점" in text
    assert "오래된 고객·간단히" in text and "★ VIP" in text
    assert "5.4.0으로 업데이트를 안내해 주세요" in text
    assert '<ol class="crumbs"><li>주문·결제</li><li>환불</li></ol>' in text
    assert "재문의예요" in text and "m-earlier" in text and "프롬프트 인젝션" in text
    assert f'<option value="{result.tag}" selected>' in text and "맞을 확률" in text
    assert escape(result.tag_reason) in text
    assert f'<option value="{result.priority}" selected>' in text
    for label in ("수락", "수정 후 보내기", "거절", "해결"):
        assert f">{label} " in text or f">{label}<" in text
    form = conversation_form(text)
    assert form["suggestion_id"] == str(intake.suggestion_id) and re.fullmatch(r"[0-9a-f]{32}", form["idempotency_key"])
    assert form["final_text"] == result.draft
    again = conversation_form(browser(app, keys["agent"]).get(f"/conversations/{intake.conversation_id}").text)
    assert again["idempotency_key"] != form["idempotency_key"]


def test_customer_text_is_escaped(site):
    app, keys, intakes = site
    page = browser(app, keys["agent"]).get(f"/conversations/{intakes['w-xss']['conversation_id']}").text
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    inbox = browser(app, keys["agent"]).get("/inbox").text
    assert "<script>alert" not in inbox and "&lt;script&gt;" in inbox


def test_an_unknown_conversation_is_404(site):
    app, keys, _ = site
    for missing in (99999, 10**30):
        response = browser(app, keys["agent"]).get(f"/conversations/{missing}")
        assert response.status_code == 404 and "문의를 찾을 수 없어요" in response.text
        client = browser(app, keys["agent"])
        assert client.post(f"/conversations/{missing}/resolve",
                           data={"csrf_token": csrf_token(client)}).status_code == 404


# --- verdicts -------------------------------------------------------------------------------------------------

def test_edit_with_a_changed_tag_is_stored_once_per_idempotency_key_and_goes_to_the_next(site):
    app, keys, _ = site
    intake = add_conversation(app, keys, "배송지를 바꾸고 싶어요", "w-edit")
    client = browser(app, keys["agent"])
    form = conversation_form(client.get(f"/conversations/{intake['conversation_id']}").text)
    edited = form["final_text"].replace("\n", "\r\n") + "\r\n오늘 안에 다시 연락드릴게요."  # as a browser sends it
    body = {**form, "action": "edit", "final_text": edited, "tag": "order_change_cancel", "priority": "P2"}
    first = client.post(f"/conversations/{intake['conversation_id']}/feedback", data=body)
    assert first.status_code == 303, first.text
    assert "flash=saved" in first.headers["location"]
    assert first.headers["location"].startswith(("/conversations/", "/inbox"))
    assert not first.headers["location"].startswith(f"/conversations/{intake['conversation_id']}?")
    again = client.post(f"/conversations/{intake['conversation_id']}/feedback", data=body)  # a double submit
    assert again.status_code == 303
    stored = suggestion(app, keys, intake["suggestion_id"])
    assert stored["state"] == "edited" and len(stored["feedback"]) == 1
    verdict = stored["feedback"][0]
    assert verdict["action"] == "edit" and verdict["corrected_tag"] == "order_change_cancel"
    assert verdict["final_text"] == form["final_text"] + "\n오늘 안에 다시 연락드릴게요."
    assert verdict["edit_distance"] > 0 and verdict["agent"].startswith("test-agent")
    expected_priority = None if intake["result"]["priority"] == "P2" else "P2"
    assert verdict["corrected_priority"] == expected_priority
    flash = client.get(first.headers["location"])
    assert "저장했어요" in flash.text
    decided = client.get(f"/conversations/{intake['conversation_id']}").text
    assert "수정 후 보냄" in decided and 'id="verdict"' not in decided and "오늘 안에 다시 연락드릴게요." in decided


def test_accepting_an_unchanged_draft_is_an_accept_even_with_browser_line_endings(site):
    app, keys, _ = site
    intake = add_conversation(app, keys, "비밀번호를 잊어버렸어요", "w-accept")
    client = browser(app, keys["agent"])
    form = conversation_form(client.get(f"/conversations/{intake['conversation_id']}").text)
    body = {**form, "action": "accept", "final_text": form["final_text"].replace("\n", "\r\n"),
            "tag": intake["result"]["tag"], "priority": intake["result"]["priority"]}
    assert client.post(f"/conversations/{intake['conversation_id']}/feedback", data=body).status_code == 303
    verdict = suggestion(app, keys, intake["suggestion_id"])["feedback"][0]
    assert verdict["action"] == "accept" and verdict["edit_distance"] == 0
    assert verdict["corrected_tag"] is None and verdict["corrected_priority"] is None


def test_a_second_verdict_gets_409_with_a_korean_message(site):
    app, keys, _ = site
    intake = add_conversation(app, keys, "주문 취소하고 싶어요", "w-race")
    first_agent, second_agent = browser(app, keys["agent"]), browser(app, keys["agent2"])
    page = f"/conversations/{intake['conversation_id']}"
    mine, theirs = conversation_form(first_agent.get(page).text), conversation_form(second_agent.get(page).text)
    assert first_agent.post(f"{page}/feedback", data={**mine, "action": "accept"}).status_code == 303
    late = second_agent.post(f"{page}/feedback", data={**theirs, "action": "reject"})
    assert late.status_code == 409
    assert "다른 상담원" in late.text and "먼저 처리했어요" in late.text
    assert 'id="verdict"' not in late.text and "수락됨" in late.text  # the latest state, no buttons
    assert len(suggestion(app, keys, intake["suggestion_id"])["feedback"]) == 1


def test_an_empty_reply_or_a_bad_form_is_422_and_keeps_the_text(site):
    app, keys, _ = site
    intake = add_conversation(app, keys, "포인트는 언제 적립돼요?", "w-empty")
    client = browser(app, keys["agent"])
    page = f"/conversations/{intake['conversation_id']}"
    form = conversation_form(client.get(page).text)
    empty = client.post(f"{page}/feedback", data={**form, "action": "edit", "final_text": "  "})
    assert empty.status_code == 422 and "보낼 답장이 비어 있어요" in empty.text
    wrong = client.post(f"{page}/feedback", data={**form, "action": "shout", "final_text": "안녕하세요 <b>"})
    assert wrong.status_code == 422 and "안녕하세요 &lt;b&gt;" in wrong.text
    other = client.post("/conversations/1/feedback", data={**form, "action": "accept"})  # not this one's
    assert other.status_code == 422
    assert suggestion(app, keys, intake["suggestion_id"])["state"] == "open"


def test_reject_then_resolve(site):
    app, keys, _ = site
    intake = add_conversation(app, keys, "회원 탈퇴는 어떻게 해요?", "w-resolve")
    client = browser(app, keys["admin"])
    page = f"/conversations/{intake['conversation_id']}"
    form = conversation_form(client.get(page).text)
    assert client.post(f"{page}/feedback", data={**form, "action": "reject"}).status_code == 303
    assert suggestion(app, keys, intake["suggestion_id"])["feedback"][0]["action"] == "reject"
    done = client.post(f"{page}/resolve", data={"csrf_token": form["csrf_token"]})
    assert done.status_code == 303 and done.headers["location"] == "/inbox?flash=resolved"
    assert "해결로 표시했어요" in client.get(done.headers["location"]).text
    open_rows = {c for c, _ in ROW.findall(client.get("/inbox").text)}
    assert str(intake["conversation_id"]) not in open_rows
    assert str(intake["conversation_id"]) in {c for c, _ in ROW.findall(client.get("/inbox?status=resolved").text)}
    assert "해결된 문의예요" in client.get(page).text


# --- language -------------------------------------------------------------------------------------------------

def test_lang_en_switches_the_texts_and_is_remembered(site):
    app, keys, intakes = site
    client = browser(app, keys["agent"])
    ko = client.get("/inbox").text
    assert "문의함" in ko and '<html lang="ko">' in ko and 'href="/inbox?lang=en"' in ko
    en = client.get("/inbox?lang=en")
    assert "triage_lang=en" in en.headers["set-cookie"]
    assert '<html lang="en">' in en.text and "Inbox" in en.text and "Waiting" in en.text
    assert client.cookies.get(LANG_COOKIE) == "en"
    page = client.get(f"/conversations/{intakes['w-vip']['conversation_id']}").text
    assert "Send edited" in page and "Reply draft" in page and "수정 후 보내기" not in page
    assert "Long-time customer · concise" in page
    # why the tag and the priority, in English too (tag names and the customer's words stay as written)
    assert "Base P" in page and "(rule: " in page and "기본 P" not in page and "규칙:" not in page
    assert "문의함" in client.get("/inbox?lang=ko").text


def test_both_languages_have_the_same_strings():
    assert KO.keys() == EN.keys()
    for key in KO:
        assert re.findall(r"{\w+}", KO[key]) == re.findall(r"{\w+}", EN[key]) or \
            sorted(re.findall(r"{\w+}", KO[key])) == sorted(re.findall(r"{\w+}", EN[key])), key


@pytest.mark.parametrize(("seconds", "ko", "en"), [
    (None, "", ""), (20, "방금", "just now"), (12 * 60 + 5, "12분", "12 min"), (3 * 3600, "3시간", "3 h"),
    (3 * 3600 + 12 * 60, "3시간 12분", "3 h 12 min"), (26 * 3600, "1일 2시간", "1 d 2 h"),
    (2 * 86400, "2일", "2 d"), (5 * 86400 + 7 * 3600, "5일", "5 d")])
def test_waiting_time_reads_like_a_person_would_say_it(seconds, ko, en):
    assert waiting(seconds, "ko") == ko and waiting(seconds, "en") == en


@pytest.mark.parametrize(("minutes", "ko", "en"), [
    (None, "데이터 없음", "No data"), (0.2, "1분 미만", "under 1 min"), (42.9, "42분", "42 min"),
    (60, "1시간", "1 h"), (185, "3시간 5분", "3 h 5 min"), (1440, "1일", "1 d"), (3000, "2일 2시간", "2 d 2 h"),
    (3 * 1440 + 300, "3일", "3 d"), (10 * 1440 + 61, "10일", "10 d")])
def test_one_duration_rule_for_the_inbox_and_the_reports(minutes, ko, en):
    # whole minutes rounded down; hours beside days only under three days; the caller's word for no time
    assert duration(minutes, "ko", "데이터 없음") == ko and duration(minutes, "en", "No data") == en
    if minutes is not None and minutes >= 1:
        assert waiting(minutes * 60, "ko") == ko and waiting(minutes * 60, "en") == en


# --- the report page (the export is tested in tests/triage/test_reports.py) --------------------------------------

def test_the_report_page_shows_the_bot_details_explanations_and_definitions(site):
    app, keys, _ = site
    for outcome in ({"auto_answered": True, "helpful": True}, {"auto_answered": False, "escalated": True}):
        assert browser(app).post("/v1/bot/outcomes", headers=bearer(keys["bot"]), json=outcome).status_code == 201
    intake = add_conversation(app, keys, "포인트는 언제 들어와요?", "w-report")
    verdict = browser(app).post(f"/v1/suggestions/{intake['suggestion_id']}/feedback", headers=bearer(keys["agent"]),
                                json={"action": "accept"})
    assert verdict.status_code == 201, verdict.text
    ko = browser(app, keys["agent"]).get("/reports").text
    assert "<h1>고객 지원 리포트</h1>" in ko and '<form class="filters"' in ko  # the page keeps its form
    bot = ko[ko.index('id="bot-outcomes"'):ko.index("</table>", ko.index('id="bot-outcomes"'))]
    assert '<th scope="row">전체</th><td class="num">2</td><td class="num">1</td>' in bot.replace("\n", "")
    for table in ("bot-outcomes", "acceptance-detail", "first-response-detail"):
        assert f'id="{table}"' in ko and f'<details id="{table}-by-period" open>' in ko, table  # 7 days: open
    assert ko.index('data-chart="first_response"') < ko.index('id="acceptance-detail"') < ko.index('id="definitions"')
    sentences = [key for key in KO if key.startswith(("explain_", "def_"))]
    for key in sentences:
        assert str(escape(KO[key].format(target=6.5))) in ko, key
    three_weeks = str(datetime.now(UTC).date() - timedelta(days=20))
    long = browser(app, keys["agent"]).get("/reports", params={"start": three_weeks})
    assert '<details id="acceptance-detail-by-period">' in long.text  # many periods: folded on the page
    en = browser(app, keys["agent"]).get("/reports?lang=en").text
    assert "<h1>Customer support report</h1>" in en and "<h2>Support bot outcomes</h2>" in en
    assert '<th scope="row">Total</th>' in en and "What each number counts" in en
    for key in sentences:
        assert str(escape(EN[key].format(target=6.5))) in en and str(escape(KO[key].format(target=6.5))) not in en, key
