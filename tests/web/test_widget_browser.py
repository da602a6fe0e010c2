"""The whole loop in a real browser (Debian's chromium through Playwright): a customer on the demo shop page asks
the support bot through a quick reply and by typing, gets an answer with its source, marks it unhelpful and asks
for an agent; in a second browser context an agent opens that conversation in the inbox and accepts the draft;
the reply appears in the customer's widget; the agent resolves the conversation, the customer answers the CES
question, and the report counts it. Screenshots go to evals/results/ (``TRIAGE_SCREENSHOTS`` elsewhere)."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.conftest import uvicorn_server
from tests.web.helpers import RESULTS, csp_errors, launch_chromium, sign_in, small_kb_service

pytestmark = pytest.mark.integration

UNANSWERABLE = "회사 주차장 위치가 어디예요?"
WAIT_MS = 20_000  # for every expectation too (Playwright's default is 5 s): a loaded CI machine answers slower


@pytest.fixture(scope="module")
def widget_kb(embedder, tmp_path_factory):
    """A snapshot of its own: other modules recalibrate the shared small KB, which moves what the bot answers."""
    from tests.conftest import build_small_kb

    return build_small_kb(tmp_path_factory.mktemp("widget-kb") / "index", embedder)


def test_customer_bot_agent_and_back_to_the_customer(widget_kb, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    env, key = small_kb_service(widget_kb, tmp_path, TRIAGE_DEMO_PAGE="true")
    RESULTS.mkdir(parents=True, exist_ok=True)
    with uvicorn_server(env) as (base, _), sync_playwright() as p:
        browser = launch_chromium(p)
        expect.set_options(timeout=WAIT_MS)
        try:
            # a customer on a phone-width screen
            customer = browser.new_context(viewport={"width": 390, "height": 780}, locale="ko-KR").new_page()
            customer.set_default_timeout(WAIT_MS)
            blocked = csp_errors(customer)
            customer.goto(f"{base}/demo?section=payment")
            launcher = customer.locator("#triage-widget-launcher")
            expect(launcher).to_have_attribute("aria-expanded", "false")
            launcher.click()
            widget = customer.frame_locator("#triage-widget-frame")
            quick = widget.locator("button.quick-reply").first
            expect(quick).to_be_visible()
            quick.click()
            answer = widget.locator(".turn-bot").first
            expect(answer.locator(".turn-sources")).to_contain_text("카드")  # the entry it answered from
            expect(answer.locator(".helpful-no")).to_be_visible()

            widget.locator("#ask-input").fill(UNANSWERABLE)
            widget.locator("#ask-input").press("Enter")
            expect(widget.locator(".turn-bot")).to_have_count(2)
            expect(widget.locator(".turn-bot").nth(1)).to_contain_text("상담원")  # honest: a person will help
            answer.locator(".helpful-no").click()
            expect(answer).to_contain_text("고마워요")
            customer.screenshot(path=str(RESULTS / "widget-bot.png"))

            widget.locator("#agent-button").click()
            expect(widget.locator(".turn-system")).to_contain_text("상담원에게 대화를 넘겼어요")

            # the agent, in another browser context
            agent = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ko-KR").new_page()
            agent.set_default_timeout(WAIT_MS)
            agent_blocked = csp_errors(agent)
            sign_in(agent, base, "/inbox", key)
            expect(agent.locator("#inbox tbody tr")).to_have_count(1)  # the chat, as one conversation
            agent.locator("#inbox tbody tr a").first.click()
            expect(agent).to_have_url(re.compile(r"/conversations/\d+$"))
            conversation_url = agent.url
            expect(agent.locator(".chat")).to_contain_text("도움이 안 됐어요")  # the chat, with the rating
            expect(agent.locator(".messages")).to_contain_text(UNANSWERABLE)
            reply = agent.locator("#draft").input_value().strip()
            assert reply
            agent.locator("button[name=action][value=accept]").click()
            expect(agent.locator(".flash")).to_contain_text("저장했어요")

            agent_turn = widget.locator(".turn-agent")
            expect(agent_turn).to_contain_text(reply.splitlines()[0])  # the reply reaches the open widget
            customer.screenshot(path=str(RESULTS / "widget-agent-reply.png"))

            agent.goto(conversation_url)
            expect(agent.locator("#deliveries")).to_contain_text("전달됨")
            agent.locator("button[form=resolve]").first.click()
            ces = widget.locator("#ces")
            expect(ces).to_be_visible()
            widget.locator("button.ces-score[data-score='6']").click()
            expect(widget.locator(".ces-thanks")).not_to_be_empty()
            customer.screenshot(path=str(RESULTS / "widget-ces.png"))

            # a returning customer sees the conversation again on the same browser
            customer.reload()
            customer.locator("#triage-widget-launcher").click()
            expect(customer.frame_locator("#triage-widget-frame").locator(".turn-agent")).to_have_count(1)
            assert blocked == [] and agent_blocked == [], blocked + agent_blocked
        except Exception:
            if "customer" in locals():  # where the customer's screen stood when a step failed
                customer.screenshot(path=str(RESULTS / "widget-failed.png"))
            raise
        finally:
            expect.set_options(timeout=5_000)
            browser.close()

        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}) as api:
            report = api.get("/v1/reports/summary").json()
        assert report["ces"]["answers"] == 1 and report["ces"]["average"] == 6.0
