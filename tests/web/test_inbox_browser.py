"""An agent's morning in a real browser: sign in, the inbox (P1 on top), open it with the keyboard, edit the
draft, accept; the API then shows an edit by that agent. Debian's chromium through Playwright (DESIGN.md §8);
screenshots go to evals/results/ for a person to look at."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.conftest import uvicorn_server
from tests.web.helpers import RESULTS, csp_errors, launch_chromium, sign_in, small_kb_service

pytestmark = [pytest.mark.integration, pytest.mark.clock]  # waiting times are counted from now

APPENDED = "오늘 오후 6시까지 처리 결과를 다시 알려 드릴게요."
MESSAGES = [  # text, channel, customer, bot path, minutes waiting
    ("앱 디자인 예쁘게 바뀌었네요. 잘 쓰고 있어요", "app_review", {"id": "b-praise"}, [], 2 * 24 * 60),
    ("환불 언제 돼요? 벌써 일주일째예요", "email", {"id": "b-vip", "segment": "VIP", "tenure_days": 900}, [], 120),
    ("배송이 3일째 안 와요", "sms", {"id": "b-late"}, [], 3 * 60 + 12),
    ("앱이 자꾸 꺼져요. 업데이트해야 하나요?", "app_review",
     {"id": "b-crash", "tenure_days": 3, "app_version": "5.1.0"}, [], 24 * 60),
    ("결제가 두 번 됐어요 돈 돌려주세요", "chat", {"id": "b-double", "tenure_days": 40},
     ["주문·결제", "결제 오류"], 25),
    ("쿠폰은 어디서 써요?", "chat", {"id": "b-coupon"}, [], 40),
    ("비밀번호를 잊어버렸어요", "chat", {"id": "b-password"}, ["로그인", "비밀번호 찾기"], 10),
    ("회원 탈퇴는 어떻게 해요?", "email", {"id": "b-leave"}, [], 5 * 60),
]


def test_agent_signs_in_opens_the_top_conversation_edits_and_accepts(small_kb, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    env, key = small_kb_service(small_kb, tmp_path, TRIAGE_LATEST_APP_VERSION="5.4.0")
    RESULTS.mkdir(parents=True, exist_ok=True)
    with uvicorn_server(env) as (base, _), httpx.Client(base_url=base, timeout=30,
                                                         headers={"Authorization": f"Bearer {key}"}) as api:
        now = datetime.now(UTC)
        for text, channel, customer, bot_path, minutes in MESSAGES:
            response = api.post("/v1/messages", json={
                "text": text, "channel": channel, "customer": customer, "bot_path": bot_path,
                "created_at": (now - timedelta(minutes=minutes)).isoformat()})
            assert response.status_code == 201, response.text

        with sync_playwright() as p:
            browser = launch_chromium(p)
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="ko-KR")
                page.set_default_timeout(15_000)
                blocked = csp_errors(page)

                sign_in(page, base, "/inbox", key)

                rows = page.locator("#inbox tbody tr")
                expect(rows).to_have_count(len(MESSAGES))
                top = rows.first
                assert top.get_attribute("data-priority") == "P1"
                expect(top).to_contain_text("결제가 두 번 됐어요")
                expect(page.locator("#inbox tbody tr", has_text="환불 언제 돼요")).to_contain_text("VIP")
                expect(page.locator("#inbox tbody tr", has_text="배송이 3일째")).to_contain_text("3시간 12분")
                page.screenshot(path=str(RESULTS / "inbox.png"))

                page.keyboard.press("?")
                expect(page.locator("#help")).to_be_visible()
                page.keyboard.press("Escape")
                expect(page.locator("#help")).to_be_hidden()

                page.keyboard.press("j")
                expect(top).to_have_class(re.compile(r"\bselected\b"))
                page.keyboard.press("Enter")
                expect(page).to_have_url(re.compile(r"/conversations/\d+$"))
                expect(page.locator(".messages")).to_contain_text("결제가 두 번 됐어요")
                draft = page.locator("#draft")
                original = draft.input_value()
                assert original.strip(), "the conversation has no draft"
                suggestion_id = int(page.locator("input[name=suggestion_id]").get_attribute("value") or "0")
                page.screenshot(path=str(RESULTS / "conversation.png"), full_page=True)

                page.keyboard.press("e")  # focus the draft, cursor at the end
                expect(draft).to_be_focused()
                page.keyboard.press("a")  # typing, not a shortcut: nothing is submitted
                page.keyboard.press("Backspace")
                page.keyboard.press("Enter")
                page.keyboard.insert_text(APPENDED)
                page.keyboard.press("Escape")  # leave the field; shortcuts work again
                page.keyboard.press("a")  # accept: the changed text is sent (and stored as an edit)
                expect(page.locator(".flash")).to_contain_text("저장했어요")
                # on to the next conversation in inbox order
                expect(page).to_have_url(re.compile(r"/conversations/\d+\?flash=saved$"))
                second_id = int(page.locator("input[name=suggestion_id]").get_attribute("value") or "0")
                assert second_id != suggestion_id
                page.once("dialog", lambda dialog: dialog.dismiss())
                page.keyboard.press("r")  # reject asks first; dismissed: nothing is sent
                page.keyboard.press("t")
                expect(page.locator("#tag-select")).to_be_focused()
                page.keyboard.press("Escape")
                page.keyboard.press("e")
                page.keyboard.insert_text(" 감사합니다.")
                page.keyboard.press("Control+Enter")  # send the edit from inside the textarea
                expect(page.locator(".flash")).to_contain_text("저장했어요")
                assert blocked == [], blocked  # script, styles and charts load under the CSP
            finally:
                browser.close()

        stored = api.get(f"/v1/suggestions/{suggestion_id}").json()
        second = api.get(f"/v1/suggestions/{second_id}").json()
    from triage.store import Store

    store = Store.open(env["TRIAGE_DATABASE_URL"])
    try:
        owner = store.key_owner(key)
    finally:
        store.close()
    assert owner is not None
    agent_name = owner[0]
    assert stored["state"] == "edited" and len(stored["feedback"]) == 1
    verdict = stored["feedback"][0]
    assert verdict["action"] == "edit" and verdict["agent"] == agent_name
    assert verdict["final_text"] == original + "\n" + APPENDED
    assert verdict["edit_distance"] > 0
    assert second["state"] == "edited" and [f["action"] for f in second["feedback"]] == ["edit"]
    assert second["feedback"][0]["final_text"].endswith(" 감사합니다.")
