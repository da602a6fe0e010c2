"""``triage bench --parts widget``, in a real browser: how long a customer waits in the widget.

Debian's chromium (Playwright) opens ``/demo`` on ``triage serve`` (``widget_service``: the settings' KB, a
temporary SQLite store) and types ``questions`` questions into the widget one after another. Each is timed in the
page (``performance.now()``), from submitting the question to the bot's line appearing in the chat: the request,
the bot's answer and the rendering. Then the customer asks for an agent, and ``replies`` times: the customer
writes a line (it joins the inbox conversation with a new suggestion), the agent accepts it through the API, and
the time from sending the accept to the reply appearing in the open widget is measured with the wall clock both
sides share (``Date.now()`` in the page, ``time.time()`` here): the verdict's request, the long poll waking, the
rendering. Browser, server and this process share the machine's 2 cores.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from evals.metrics import nearest_rank
from evals.widget_load import QUESTIONS, widget_service
from triage.config import Settings

Log = Callable[[str], None]
CHROMIUM = "/usr/bin/chromium"
ASK_JS = """async (text) => {
  const transcript = document.getElementById("transcript");
  const before = transcript.querySelectorAll(".turn-bot").length;
  const started = performance.now();
  const seen = new Promise((resolve) => {
    const watch = new MutationObserver(() => {
      if (transcript.querySelectorAll(".turn-bot").length > before) { watch.disconnect(); resolve(); }
    });
    watch.observe(transcript, {childList: true, subtree: true});
  });
  document.getElementById("ask-input").value = text;
  document.getElementById("ask-form").requestSubmit();
  await seen;
  return performance.now() - started;
}"""
WATCH_AGENT_JS = """() => {
  const transcript = document.getElementById("transcript");
  const before = transcript.querySelectorAll(".turn-agent").length;
  window.__agentSeen = null;
  const watch = new MutationObserver(() => {
    if (transcript.querySelectorAll(".turn-agent").length > before) {
      watch.disconnect();
      window.__agentSeen = Date.now();
    }
  });
  watch.observe(transcript, {childList: true, subtree: true});
}"""


def widget_browser_latency(settings: Settings, log: Log = print, questions: int = 30,
                           replies: int = 10) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    with widget_service(settings, TRIAGE_DEMO_PAGE="true") as (base, _, store), sync_playwright() as p:
        agent_key = store.create_key("bench-agent", "agent")
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
        try:
            page = browser.new_page(viewport={"width": 390, "height": 780}, locale="ko-KR")
            page.set_default_timeout(30_000)
            page.goto(f"{base}/demo")
            page.click("#triage-widget-launcher")
            page.frame_locator("#triage-widget-frame").locator("#ask-input").wait_for()
            frame = next(f for f in page.frames if "/widget/frame" in f.url)
            log(f"widget in the browser: {questions} questions, then {replies} agent replies")
            asks = [float(frame.evaluate(ASK_JS, QUESTIONS[i % len(QUESTIONS)])) for i in range(questions)]
            frame.click("#agent-button")
            frame.locator(".turn-system").first.wait_for()
            shown = []
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {agent_key}"}, timeout=60) as api:
                for i in range(replies):
                    _write(frame, f"{QUESTIONS[i % len(QUESTIONS)]} (추가 문의 {i + 1})", i + 1)
                    [item] = api.get("/v1/inbox").json()
                    suggestion = _fresh_suggestion(api, item["conversation_id"], i + 1)
                    frame.evaluate(WATCH_AGENT_JS)
                    sent = time.time() * 1000
                    reply = {"action": "edit", "final_text": f"답변 {i + 1}: 확인해 드렸어요."}
                    api.post(f"/v1/suggestions/{suggestion}/feedback", json=reply).raise_for_status()
                    shown.append(_seen(frame) - sent)
        finally:
            browser.close()
    report = {"questions": questions, "ask_p50_ms": round(nearest_rank(asks, 0.5), 1),
              "ask_p95_ms": round(nearest_rank(asks, 0.95), 1), "ask_max_ms": round(max(asks), 1),
              "replies": replies, "reply_p50_ms": round(nearest_rank(shown, 0.5), 1),
              "reply_p95_ms": round(nearest_rank(shown, 0.95), 1), "reply_max_ms": round(max(shown), 1)}
    log(f"  {report}")
    return report


def _seen(frame: Any, timeout: float = 30.0) -> float:
    """When the page saw the agent's line (its own clock; polled here, since the frame's CSP forbids
    ``wait_for_function``'s string evaluation)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = frame.evaluate("() => window.__agentSeen")
        if seen is not None:
            return float(seen)
        time.sleep(0.02)
    raise RuntimeError("the agent's reply did not appear in the widget within 30 s")


def _write(frame: Any, text: str, n: int) -> None:
    """The customer writes to the agent; returns once the line is in the chat (stored and sent to the inbox)."""
    frame.fill("#ask-input", text)
    frame.press("#ask-input", "Enter")
    frame.locator(".turn-customer", has_text=f"(추가 문의 {n})").wait_for()


def _fresh_suggestion(api: httpx.Client, conversation_id: int, lines: int) -> int:
    """The open suggestion for the customer's latest line (triaged by then: the line was acknowledged after it)."""
    view = api.get(f"/v1/conversations/{conversation_id}").json()
    if len(view["messages"]) != lines + 1 or view["suggestion"]["state"] != "open":
        raise RuntimeError(f"conversation {conversation_id} has {len(view['messages'])} messages and suggestion "
                           f"state {view['suggestion']['state']}; expected {lines + 1} and open")
    return int(view["suggestion"]["id"])


def widget_browser_markdown(r: dict[str, Any]) -> list[str]:
    return ["", "## Chat widget in a real browser (chromium, real uvicorn on 127.0.0.1)", "",
            f"A customer types {r['questions']} questions into the widget on `/demo`, one after another: each timed in "
            "the page from submitting it to the bot's line appearing (request, bot answer, rendering). Then, after "
            f"the hand-off, {r['replies']} times the agent accepts a reply through the API: timed from sending the "
            "accept to the reply appearing in the open widget (the long poll waking). Browser, server and client "
            "share the machine's 2 cores.", "",
            "| | n | p50 ms | p95 ms | max ms |", "|---|---|---|---|---|",
            f"| customer's question → bot's answer shown | {r['questions']} | {r['ask_p50_ms']} | "
            f"**{r['ask_p95_ms']}** | {r['ask_max_ms']} |",
            f"| agent's accept → reply shown in the widget | {r['replies']} | {r['reply_p50_ms']} | "
            f"**{r['reply_p95_ms']}** | {r['reply_max_ms']} |"]
