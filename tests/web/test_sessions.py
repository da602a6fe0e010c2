"""Web sessions through TestClient and the store: the cookie is a session id kept in the database (not the key),
signing out or revoking the key ends it in every replica, every page POST needs this site's Origin and the
session's CSRF token, the cookie opens no API write, security headers on every response, docs behind a setting.
The same in a real browser against a real server: ``test_sessions_browser.py``."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from knowledge.samples import DEMO_DIR
from tests.conftest import api_key
from tests.web.helpers import ORIGIN, bearer, browser, csrf_token, with_cookie
from triage.api.app import create_app
from triage.api.auth import COOKIE
from triage.config import Settings
from triage.kb import KnowledgeBase
from triage.store import Store
from triage.store.repository import hash_key
from triage.store.tables import WebSession

SECURITY_HEADERS = {
    "x-frame-options": "DENY", "x-content-type-options": "nosniff", "referrer-policy": "same-origin"}
CROSS_SITE = "다른 사이트에서 보낸 요청이라 처리하지 않았어요"
BAD_TOKEN = "보안 토큰이 없거나 맞지 않아서 처리하지 않았어요"


@pytest.fixture(scope="module")
def service(small_kb, tmp_path_factory):
    """Two replicas of the service on one SQLite database; yields (replica, other replica, keys, settings)."""
    settings = Settings(kb_dir=small_kb, var_dir=tmp_path_factory.mktemp("var"), taxonomy=DEMO_DIR / "taxonomy.yaml")
    kb = KnowledgeBase.open(settings)
    keys = {role: api_key(settings.store_url, role) for role in ("agent", "admin")}
    return create_app(settings, kb_loaded=kb), create_app(settings, kb_loaded=kb), keys, settings


def new_conversation(app, keys, customer: str) -> dict:
    body = {"text": "배송지를 바꾸고 싶어요", "channel": "chat", "customer": {"id": customer}}
    response = browser(app).post("/v1/messages", headers=bearer(keys["agent"]), json=body)
    assert response.status_code == 201, response.text
    return response.json()


def verdict_form(client: TestClient, conversation_id: int) -> dict[str, str]:
    page = client.get(f"/conversations/{conversation_id}").text
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', page))
    assert {"suggestion_id", "idempotency_key", "csrf_token"} <= fields.keys()
    return {**fields, "action": "edit", "final_text": "공격자가 쓴 답장이에요"}


def feedback_of(app, keys, suggestion_id: int) -> list[dict]:
    stored = browser(app).get(f"/v1/suggestions/{suggestion_id}", headers=bearer(keys["agent"])).json()
    return stored["feedback"]  # type: ignore[no-any-return]


# --- the store ------------------------------------------------------------------------------------------------

def test_a_session_is_a_hash_bound_to_its_key_and_ends_at_sign_out_expiry_or_revocation(store_url):
    store = Store.open(store_url)
    try:
        key = store.create_key("session-agent", "agent")
        session = store.open_web_session(key, timedelta(hours=1))
        assert session and store.web_session_owner(session) == ("session-agent", "agent")
        with store.session() as s:
            assert s.scalars(select(WebSession.id_hash)).all() == [hashlib.sha256(session.encode()).hexdigest()]
        store.close_web_session(session)
        assert store.web_session_owner(session) is None

        expired = store.open_web_session(key, timedelta(0))
        assert expired and store.web_session_owner(expired) is None
        kept = store.open_web_session(key, timedelta(hours=1))  # opening one deletes the expired ones
        assert kept and store.web_session_owner(kept) == ("session-agent", "agent")
        with store.session() as s:
            assert s.scalars(select(WebSession.id_hash)).all() == [hash_key(kept)]

        store.revoke_key("session-agent")
        assert store.web_session_owner(kept) is None
        with store.session() as s:
            assert s.scalar(select(func.count()).select_from(WebSession)) == 0
        assert store.open_web_session(key, timedelta(hours=1)) is None  # a revoked key opens none
        assert store.open_web_session("tk_unknown", timedelta(hours=1)) is None
    finally:
        store.close()


# --- sessions through the pages ---------------------------------------------------------------------------------

def test_signing_out_revokes_the_session_in_every_replica(service):
    app, replica, keys, _ = service
    intake = new_conversation(app, keys, "s-signout")
    client = browser(app, keys["agent"])
    session = client.cookies[COOKIE]
    form = verdict_form(client, intake["conversation_id"])
    assert with_cookie(replica, session).get("/inbox").status_code == 200  # the database holds it, not a process

    out = client.post("/logout", data={"csrf_token": form["csrf_token"]})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert f'{COOKIE}=""' in out.headers["set-cookie"] and "Max-Age=0" in out.headers["set-cookie"]

    for copy in (with_cookie(app, session), with_cookie(replica, session)):  # the copied cookie, replayed
        page = copy.get(f"/conversations/{intake['conversation_id']}")
        assert page.status_code == 303 and page.headers["location"].startswith("/login")
        posted = copy.post(f"/conversations/{intake['conversation_id']}/feedback", data=form)
        assert posted.status_code == 303 and posted.headers["location"] == "/login"
        api = copy.get("/v1/inbox")
        assert api.status_code == 401 and set(api.json()) == {"error"}
        assert "signed out" in api.json()["error"]["message"]
    assert feedback_of(app, keys, intake["suggestion_id"]) == []


def test_revoking_the_key_ends_its_sessions(service):
    app, _, keys, settings = service
    key = api_key(settings.store_url, "agent")
    client = browser(app, key)
    assert client.get("/inbox").status_code == 200
    name = next(k["name"] for k in browser(app).get("/v1/admin/keys", headers=bearer(keys["admin"])).json()
                if key.startswith(k["prefix"]) and not k["revoked"])
    assert browser(app).delete(f"/v1/admin/keys/{name}", headers=bearer(keys["admin"])).status_code == 200
    assert client.get("/inbox").headers["location"] == "/login?next=%2Finbox"


def test_a_page_post_without_this_sites_origin_or_the_sessions_token_is_refused_and_stores_nothing(service):
    app, _, keys, _ = service
    intake = new_conversation(app, keys, "s-csrf")
    client = browser(app, keys["agent"])
    form = verdict_form(client, intake["conversation_id"])
    other_token = csrf_token(browser(app, keys["agent"]))  # another session's token
    target = f"/conversations/{intake['conversation_id']}/feedback"
    for headers, body, message in [
        ({"Origin": "http://127.0.0.1:9999"}, form, CROSS_SITE),  # another port of the same host
        ({"Origin": "http://testserver.evil.example"}, form, CROSS_SITE),
        ({"Origin": "null"}, form, CROSS_SITE),
        ({"Origin": "", "Referer": "http://127.0.0.1:9999/attack.html"}, form, CROSS_SITE),
        ({"Origin": ""}, form, CROSS_SITE),  # neither header
        ({}, {k: v for k, v in form.items() if k != "csrf_token"}, BAD_TOKEN),
        ({}, {**form, "csrf_token": other_token}, BAD_TOKEN),
        ({}, {**form, "csrf_token": "0" * 64}, BAD_TOKEN),
    ]:
        refused = client.post(target, data=body, headers=headers)
        assert refused.status_code == 403 and message in refused.text, (headers, refused.text)
        assert "공격자가 쓴 답장이에요" not in refused.text
    resolve = client.post(f"/conversations/{intake['conversation_id']}/resolve", data={"csrf_token": other_token})
    assert resolve.status_code == 403
    logout = client.post("/logout")
    assert logout.status_code == 403 and client.get("/inbox").status_code == 200  # still signed in
    assert feedback_of(app, keys, intake["suggestion_id"]) == []
    assert browser(app).get(f"/v1/conversations/{intake['conversation_id']}",
                            headers=bearer(keys["agent"])).json()["status"] == "open"

    # the same form from the page itself goes through, with a same-origin Referer when there is no Origin
    done = client.post(target, data=form, headers={"Origin": "", "Referer": f"{ORIGIN}/conversations/1"})
    assert done.status_code == 303 and "flash=saved" in done.headers["location"]
    assert [f["final_text"] for f in feedback_of(app, keys, intake["suggestion_id"])] == ["공격자가 쓴 답장이에요"]


def test_signing_in_from_another_site_is_refused(service):
    app, _, keys, _ = service
    client = browser(app)
    refused = client.post("/login", data={"key": keys["agent"]}, headers={"Origin": "http://127.0.0.1:9999"})
    assert refused.status_code == 403 and CROSS_SITE in refused.text
    assert COOKIE not in client.cookies and "set-cookie" not in refused.headers


def test_the_session_cookie_opens_api_reads_but_no_api_write(service):
    app, _, keys, _ = service
    intake = new_conversation(app, keys, "s-api")
    client = browser(app, keys["agent"])
    assert client.get("/v1/inbox").status_code == 200  # the report's charts and the export links read this way
    write = client.post(f"/v1/suggestions/{intake['suggestion_id']}/feedback",
                        json={"action": "edit", "final_text": "쿠키로 보낸 답장"})
    assert write.status_code == 401 and set(write.json()) == {"error"}
    assert "opens only GET routes" in write.json()["error"]["message"]
    assert client.post(f"/v1/conversations/{intake['conversation_id']}/resolve").status_code == 401
    assert feedback_of(app, keys, intake["suggestion_id"]) == []


# --- headers and docs -------------------------------------------------------------------------------------------

def test_every_response_carries_the_security_headers(service):
    app, _, keys, _ = service
    client = browser(app, keys["agent"])
    for path, status in [("/inbox", 200), ("/login?next=/gaps", 303), ("/static/app.js", 200), ("/healthz", 200),
                         ("/v1/nothing-here", 404)]:
        response = client.get(path)
        assert response.status_code == status, path
        assert {k: response.headers.get(k) for k in SECURITY_HEADERS} == SECURITY_HEADERS, path
        csp = response.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe" not in csp, path
    denied = browser(app).get("/v1/inbox")
    assert denied.status_code == 401 and denied.headers["x-frame-options"] == "DENY"
    assert "<script>" not in client.get("/inbox").text  # no inline script: the CSP allows none


def test_api_docs_are_off_unless_the_setting_or_the_demo_turns_them_on(service, small_kb, tmp_path):
    _, _, keys, settings = service
    assert Settings(var_dir=tmp_path).serves_api_docs  # the demo KB
    assert not Settings(kb_dir=small_kb, var_dir=tmp_path).serves_api_docs
    assert Settings(kb_dir=small_kb, var_dir=tmp_path, api_docs=True).serves_api_docs

    hidden = browser(create_app(settings))  # settings.api_docs unset, a KB of its own: off
    assert hidden.get("/docs").status_code == 404 and hidden.get("/redoc").status_code == 404
    assert hidden.get("/openapi.json").status_code == 401
    assert hidden.get("/openapi.json", headers=bearer(keys["agent"])).status_code == 403
    schema = hidden.get("/openapi.json", headers=bearer(keys["admin"]))
    assert schema.status_code == 200 and "/v1/triage" in schema.json()["paths"]

    shown = browser(create_app(settings.model_copy(update={"api_docs": True})))
    assert "/v1/triage" in shown.get("/openapi.json").json()["paths"]
    assert "/openapi.json" not in shown.get("/openapi.json").json()["paths"]
    for path in ("/docs", "/redoc"):
        page = shown.get(path)
        assert page.status_code == 200 and "/openapi.json" in page.text
        csp = page.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self' https://cdn.jsdelivr.net" in csp
        scripts = re.findall(r"<script>(.*?)</script>", page.text, re.S)  # FastAPI's start-up script
        assert scripts or path == "/redoc"
        for script in scripts:
            digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
            assert f"'sha256-{digest}'" in csp
        assert "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
