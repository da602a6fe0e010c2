"""Web sessions in a real browser against a real server: while an agent is signed in, a page served from another
port of the same host auto-submits a verdict form to the service (the cookie goes along: same site). It is
refused and nothing is stored; the agent's own verdict from the page goes through; after signing out, the copied
cookie opens nothing; the API docs are not public. Debian's chromium through Playwright (DESIGN.md §8)."""

from __future__ import annotations

import html
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from tests.conftest import uvicorn_server
from tests.web.helpers import csp_errors, launch_chromium, sign_in, small_kb_service
from triage.api.auth import COOKIE

pytestmark = pytest.mark.integration

ATTACK_TEXT = "공격자 페이지가 쓴 답장이에요"


@contextmanager
def attacker_site(target: str, fields: dict[str, str]) -> Iterator[str]:
    """Another HTTP server on 127.0.0.1 (another port) whose page posts ``fields`` to ``target`` on load."""
    inputs = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                     for k, v in fields.items())
    page = (f'<!doctype html><meta charset="utf-8"><body onload="document.forms[0].submit()">'
            f'<form method="post" action="{html.escape(target)}">{inputs}</form>').encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_a_cross_site_form_post_is_refused_and_signing_out_revokes_the_cookie(small_kb, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    env, key = small_kb_service(small_kb, tmp_path)
    with uvicorn_server(env) as (base, _), httpx.Client(base_url=base, timeout=30,
                                                         headers={"Authorization": f"Bearer {key}"}) as api:
        intake = api.post("/v1/messages", json={"text": "배송지를 바꾸고 싶어요", "channel": "chat",
                                                "customer": {"id": "x-victim"}}).json()
        conversation = f"/conversations/{intake['conversation_id']}"

        with sync_playwright() as p:
            browser = launch_chromium(p)
            try:
                context = browser.new_context(locale="ko-KR")
                page = context.new_page()
                page.set_default_timeout(15_000)
                blocked = csp_errors(page)
                sign_in(page, base, conversation, key)
                headers = page.goto(f"{base}{conversation}").all_headers()  # type: ignore[union-attr]
                assert "frame-ancestors 'none'" in headers["content-security-policy"]
                assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"
                assert headers["referrer-policy"] == "same-origin"

                # the attacker knows the form's fields (but not the session's token) and posts its own text
                fields = {"action": "edit", "final_text": ATTACK_TEXT,
                          "suggestion_id": page.locator("input[name=suggestion_id]").get_attribute("value") or "",
                          "idempotency_key": "attack-1"}
                with attacker_site(f"{base}{conversation}/feedback", fields) as evil:
                    assert evil.split(":")[2] != base.split(":")[2]  # same host, another port: same site
                    page.goto(evil)
                    expect(page).to_have_url(f"{base}{conversation}/feedback")
                    expect(page.locator("h1")).to_contain_text("다른 사이트에서 보낸 요청이라 처리하지 않았어요")
                    expect(page.locator("h1")).to_contain_text("아무것도 저장되지 않았어요")
                assert api.get(f"/v1/suggestions/{intake['suggestion_id']}").json()["feedback"] == []

                # the agent's own verdict from the page goes through
                page.goto(f"{base}{conversation}")
                page.get_by_role("button", name="수락").click()
                expect(page.locator(".flash")).to_contain_text("저장했어요")
                stored = api.get(f"/v1/suggestions/{intake['suggestion_id']}").json()
                assert stored["state"] == "accepted" and [f["action"] for f in stored["feedback"]] == ["accept"]
                assert ATTACK_TEXT not in str(stored)

                session = next(c["value"] for c in context.cookies() if c["name"] == COOKIE)
                assert key not in session
                page.get_by_role("button", name="로그아웃").click()
                expect(page).to_have_url(re.compile(r"/login$"))
                assert COOKIE not in {c["name"] for c in context.cookies()}
                assert blocked == [], blocked  # the pages ran under their CSP without a violation

                # the copied cookie, replayed: in another browser and over plain HTTP
                thief = browser.new_context()
                thief.add_cookies([{"name": COOKIE, "value": session, "url": base}])
                stolen = thief.new_page()
                stolen.goto(f"{base}/inbox")
                expect(stolen).to_have_url(re.compile(r"/login\?next=%2Finbox$"))
                thief.close()
            finally:
                browser.close()

        with httpx.Client(base_url=base, timeout=30, cookies={COOKIE: session}) as replay:
            page_response = replay.get(conversation)
            assert page_response.status_code == 303 and page_response.headers["location"].startswith("/login")
            api_response = replay.get(f"/v1/suggestions/{intake['suggestion_id']}")
            assert api_response.status_code == 401 and set(api_response.json()) == {"error"}
        # a KB of its own and TRIAGE_API_DOCS unset: no public docs; the schema for an admin key only
        assert httpx.get(f"{base}/docs").status_code == 404 and httpx.get(f"{base}/redoc").status_code == 404
        assert httpx.get(f"{base}/openapi.json").status_code == 401
        assert api.get("/openapi.json").status_code == 403  # an agent key
