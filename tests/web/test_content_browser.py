"""A content lead's visit in a real browser: sign in, the FAQ gaps (accept one suggested entry through its form;
the FAQ file then holds it), and the report with its five charts loaded. Debian's chromium through Playwright
(DESIGN.md §8); screenshots go to evals/results/ for a person to look at."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from knowledge.sources import load_faq_files
from tests.conftest import api_key, uvicorn_server
from tests.web.helpers import RESULTS, csp_errors, launch_chromium, sign_in, small_kb_service

pytestmark = [pytest.mark.integration, pytest.mark.clock]  # the pages count their periods back from now

MESSAGES = [  # text, channel, hours ago
    ("해외 배송 되나요? 미국에 보내고 싶어요", "chat", 2), ("해외로도 보내 주시나요", "email", 5),
    ("일본으로 배송 가능한가요", "chat", 30), ("해외 배송비는 얼마예요?", "app_review", 50),
    ("물류센터 알바 채용 공고 어디서 봐요?", "chat", 3), ("하루마켓 알바 채용 공고는 어디서 봐요?", "email", 28),
    ("물류센터 아르바이트 지원하고 싶어요", "chat", 70),
    ("카드 결제 취소하면 환불은 언제 돼요?", "email", 4), ("비밀번호를 잊어버렸어요", "chat", 26),
    ("배송이 3일째 안 와요", "sms", 6), ("결제할 때 E-1023 오류가 나요", "chat", 49),
]
ANSWER = "지금은 국내 배송만 해요. 해외 배송은 준비 중이고, 시작하면 공지로 알려 드릴게요."


def test_content_lead_reviews_gaps_accepts_a_draft_and_reads_the_report(small_kb, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    env, key = small_kb_service(small_kb, tmp_path)
    bot = api_key(env["TRIAGE_DATABASE_URL"], "bot")
    RESULTS.mkdir(parents=True, exist_ok=True)
    with uvicorn_server(env) as (base, _), httpx.Client(base_url=base, timeout=60,
                                                         headers={"Authorization": f"Bearer {key}"}) as api:
        now = datetime.now(UTC)
        intakes = []
        for n, (text, channel, hours) in enumerate(MESSAGES):
            response = api.post("/v1/messages", json={
                "text": text, "channel": channel, "customer": {"id": f"b-{n}"},
                "created_at": (now - timedelta(hours=hours)).isoformat()})
            assert response.status_code == 201, response.text
            intakes.append(response.json())
        for intake, action in zip(intakes[-4:], ("edit", "accept", "edit", "reject"), strict=True):
            draft = intake["result"]["draft"] or "안녕하세요."
            edited = {"final_text": draft + "\n확인 후 다시 안내드릴게요."} if action == "edit" else {}
            body = {"action": action, **edited}
            assert api.post(f"/v1/suggestions/{intake['suggestion_id']}/feedback", json=body).status_code == 201
        for intake, score in ((intakes[-4], 4), (intakes[-3], 6)):
            ces = api.post("/v1/bot/ces", headers={"Authorization": f"Bearer {bot}"},
                           json={"conversation_id": intake["conversation_id"], "score": score})
            assert ces.status_code == 201, ces.text

        with sync_playwright() as p:
            browser = launch_chromium(p)
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="ko-KR")
                page.set_default_timeout(30_000)
                blocked = csp_errors(page)

                sign_in(page, base, "/gaps", key)
                cards = page.locator("section.gap")
                expect(cards.first).to_be_visible()
                assert cards.count() >= 2
                expect(page.locator('nav.sections a[aria-current="page"]')).to_have_text("FAQ 공백")
                expect(cards.first.locator(".pill").first).to_have_text("새로 생김")
                page.screenshot(path=str(RESULTS / "gaps.png"), full_page=True)

                top = cards.first
                question = top.locator("input[name=question]").input_value()
                assert question.strip()
                top.locator("input[name=entry_id]").fill("overseas-shipping")
                top.locator("textarea[name=answer]").fill(ANSWER)
                top.locator("select[name=tag]").select_option("delivery_info")
                top.get_by_role("button", name="FAQ에 추가").click()
                expect(page.locator(".flash")).to_contain_text("FAQ 파일에 추가했어요")
                expect(page.locator(".flash")).to_contain_text("triage kb build")
                expect(page).to_have_url(re.compile(r"/gaps\?days=30&flash=faq_added#gap-1$"))
                expect(cards.first.locator(".notice")).to_contain_text("overseas-shipping")

                page.locator('nav.sections a[href="/reports"]').click()
                expect(page).to_have_url(re.compile(r"/reports$"))
                charts = page.locator("img[data-chart]")
                expect(charts).to_have_count(5)
                page.wait_for_function("() => [...document.querySelectorAll('img[data-chart]')]"
                                       ".every(i => i.complete && i.naturalWidth > 0)", timeout=60_000)
                widths = page.eval_on_selector_all("img[data-chart]",
                                                   "imgs => imgs.map(i => [i.dataset.chart, i.naturalWidth])")
                assert [name for name, _ in widths] == ["volume", "auto_answer", "acceptance", "ces", "first_response"]
                assert all(width > 0 for _, width in widths), widths
                expect(page.locator("#kpi-messages .value")).to_have_text(f"{len(MESSAGES)}건")
                expect(page.locator("#ces-warning")).to_contain_text("목표 6.5점보다 낮아요")
                page.screenshot(path=str(RESULTS / "report.png"), full_page=True)
                assert blocked == [], blocked  # script, styles and charts load under the CSP
            finally:
                browser.close()

    entries = load_faq_files([Path(env["TRIAGE_VAR_DIR"]) / "faq" / "accepted.yaml"])
    assert [(e.id, e.question, e.answer, list(e.tags)) for e in entries] == [
        ("overseas-shipping", question, ANSWER, ["delivery_info"])]
