"""The chat widget's API on SQLite and on PostgreSQL: the customer's whole loop (ask, rate, hand-off, the agent's
reply in the chat, resolution, CES) and what a public key must not open (other origins, other sessions, agent
routes, bursts)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from knowledge.samples import DEMO_DIR
from tests.api.conftest import in_process
from triage.api.app import create_app
from triage.kb import KnowledgeBase
from triage.store import Store

SITE = "https://shop.example"


@pytest.fixture(scope="module")
def kb_settings(embedder, tmp_path_factory):
    """A snapshot of its own: other modules recalibrate the shared small KB, which moves what the bot answers."""
    from tests.conftest import build_small_kb
    from triage.config import Settings

    kb = build_small_kb(tmp_path_factory.mktemp("widget-kb") / "index", embedder)
    settings = Settings(kb_dir=kb, var_dir=tmp_path_factory.mktemp("var"), taxonomy=DEMO_DIR / "taxonomy.yaml",
                        widget_session_rate="40/minute", widget_ip_rate="1000/minute")
    return settings, KnowledgeBase.open(settings)


@pytest.fixture
def api(kb_settings, store_url):
    with in_process(*kb_settings, store_url) as client:
        client.widget = client.store.create_widget_key("shop", [SITE])  # type: ignore[attr-defined]
        yield client


def start(api, key: str | None = None, **body) -> dict[str, str]:
    key = key or api.widget
    response = api.post(f"/v1/widget/{key}/sessions", json={"page": "/cart", "section": "payment", **body})
    assert response.status_code == 201, response.text
    return {"X-Widget-Session": response.json()["token"]}


def test_a_customer_asks_rates_hands_off_gets_the_agents_reply_and_answers_ces(api):
    w = f"/v1/widget/{api.widget}"
    config = api.get(f"{w}/config", params={"section": "payment"}).json()
    assert config["greeting"] and config["menu"], config
    assert all(item["ask"] for item in config["menu"])  # the section's questions as quick replies

    me = start(api)
    asked = api.post(f"{w}/ask", json={"text": config["menu"][0]["ask"], "path": [config["menu"][0]["label"]]},
                     headers=me).json()
    mine, bot = asked["turns"]
    assert mine["role"] == "customer" and bot["role"] == "bot" and asked["state"] == "bot"
    assert bot["answered"] and bot["sources"] and bot["sources"][0]["title"]

    unknown = api.post(f"{w}/ask", json={"text": "회사 주차장 위치가 어디예요?"},
                       headers=me).json()["turns"][1]
    assert not unknown["answered"] and unknown["sources"] == [] and "답하기 어려워요" in unknown["text"]

    rated = api.post(f"{w}/turns/{bot['id']}/feedback", json={"helpful": False}, headers=me)
    assert rated.status_code == 200 and rated.json()["helpful"] is False
    assert api.post(f"{w}/turns/{bot['id']}/feedback", json={"helpful": True}, headers=me).status_code == 409
    gaps = api.store.gap_questions(*_today())
    assert any(q.source == "unhelpful" for q in gaps)

    handed = api.post(f"{w}/handoff", json={}, headers=me).json()
    assert handed["state"] == "agent" and handed["turns"][-1]["role"] == "system"
    agent = api.as_("agent")
    [item] = api.get("/v1/inbox", headers=agent).json()
    conversation = api.get(f"/v1/conversations/{item['conversation_id']}", headers=agent).json()
    assert conversation["channel"] == "chat"
    message = conversation["messages"][0]
    assert config["menu"][0]["ask"] in message["text"] and "주차장" in message["text"]  # the chat so far
    assert conversation["suggestion"]["message"]["text"] == message["text"]
    result = conversation["suggestion"]["result"]  # the answer the customer turned down is not offered again
    assert result["handoff_reason"] == "declined_by_customer" and "3~5영업일" not in result["draft"]
    assert [t["role"] for t in conversation["chat"]] == ["customer", "bot", "customer", "bot", "system"]

    seen = api.get(f"{w}/turns", params={"after": handed["turns"][-1]["id"], "wait": 0}, headers=me).json()
    assert seen["turns"] == [] and seen["state"] == "agent"
    reply = "카드 결제는 취소 후 3~5영업일 안에 승인 취소돼요. 더 궁금하신 점 있으세요?"
    decided = api.post(f"/v1/suggestions/{item['suggestion_id']}/feedback",
                       json={"action": "edit", "final_text": reply}, headers=agent)
    assert decided.status_code == 201, decided.text
    got = api.get(f"{w}/turns", params={"after": handed["turns"][-1]["id"], "wait": 5}, headers=me).json()
    assert [(t["role"], t["text"]) for t in got["turns"]] == [("agent", reply)]
    [delivery] = api.get(f"/v1/conversations/{item['conversation_id']}", headers=agent).json()["deliveries"]
    assert delivery["route"] == "widget" and delivery["status"] == "sent"

    later = api.post(f"{w}/ask", json={"text": "감사합니다 하나만 더요, 영수증도 받을 수 있나요?"}, headers=me).json()
    assert [t["role"] for t in later["turns"]] == ["customer"] and later["state"] == "agent"
    assert api.get(f"/v1/conversations/{item['conversation_id']}", headers=agent).json()["messages"][-1][
        "text"].startswith("감사합니다")

    assert api.post(f"{w}/ces", json={"score": 6}, headers=me).status_code == 409  # not resolved yet
    assert api.post(f"/v1/conversations/{item['conversation_id']}/resolve", headers=agent).status_code == 200
    closed = api.get(f"{w}/session", headers=me).json()
    assert closed["state"] == "resolved" and closed["ces"] == {"asked": True, "score": None}
    assert closed["turns"][-1]["role"] == "system" and "종료" in closed["turns"][-1]["text"]
    assert api.post(f"{w}/ces", json={"score": 6}, headers=me).status_code == 201
    assert api.post(f"{w}/ces", json={"score": 2}, headers=me).status_code == 409
    assert api.get(f"{w}/session", headers=me).json()["ces"]["score"] == 6
    report = api.get("/v1/reports/summary", headers=agent).json()
    assert report["ces"]["answers"] == 1 and report["ces"]["average"] == 6.0


def test_a_returning_customer_sees_the_chat_and_english_browsers_get_english(api):
    w = f"/v1/widget/{api.widget}"
    me = start(api, lang="en")
    api.post(f"{w}/handoff", json={}, headers=me)
    again = api.get(f"{w}/session", headers=me).json()
    assert again["state"] == "agent" and "agent" in again["turns"][-1]["text"]
    assert "help" in api.get(f"{w}/config", params={"lang": "en"}).json()["greeting"].lower()


def test_a_public_key_opens_nothing_else(api):
    w = f"/v1/widget/{api.widget}"
    me = start(api)
    api.post(f"{w}/ask", json={"text": "카드 환불 언제 돼요?"}, headers=me)

    evil = api.get(f"{w}/session", headers={**me, "Origin": "https://evil.example"})
    assert evil.status_code == 403 and "카드" not in evil.text
    assert api.options(f"{w}/ask", headers={"Origin": "https://evil.example"}).status_code == 403
    ok = api.options(f"{w}/ask", headers={"Origin": SITE, "Access-Control-Request-Method": "POST"})
    assert ok.status_code == 204 and ok.headers["access-control-allow-origin"] == SITE
    assert api.get(f"{w}/session", headers={**me, "Origin": SITE}).headers["access-control-allow-origin"] == SITE

    other_key = api.store.create_widget_key("other-shop", ["https://other.example"])
    stranger = api.get(f"/v1/widget/{other_key}/session", headers=me)  # this token under another key
    assert stranger.status_code == 401 and "카드" not in stranger.text
    assert api.get(f"{w}/session", headers={"X-Widget-Session": "forged"}).status_code == 401
    assert api.get("/v1/widget/wk_unknown/config").status_code == 401

    for key in (api.widget, api.as_("bot")["Authorization"][7:]):
        for route in ("/v1/inbox", "/v1/conversations/1"):
            response = api.get(route, headers={"Authorization": f"Bearer {key}"})
            assert response.status_code == 403, (key[:3], route)
            assert "카드" not in response.text

    codes = [api.get(f"{w}/session", headers=me).status_code for _ in range(42)]
    assert codes.count(429) >= 2 and 200 in codes
    limited = api.get(f"{w}/session", headers=me)
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    assert limited.json()["error"]["code"] == "rate_limited" and "카드" not in limited.text


def _today():
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    return now - timedelta(days=1), now + timedelta(days=1)


def test_the_frame_may_be_framed_only_by_the_keys_sites_and_the_demo_shop_is_off_for_a_configured_kb(api):
    frame = api.get("/widget/frame", params={"key": api.widget, "section": "payment"},
                    headers={"Accept-Language": "en-US,en;q=0.9"})
    assert frame.status_code == 200 and 'lang="en"' in frame.text
    policy = frame.headers["content-security-policy"]
    assert f"frame-ancestors 'self' {SITE}" in policy and "script-src 'self'" in policy
    assert "x-frame-options" not in frame.headers  # the policy names who may frame it
    assert 'lang="ko"' in api.get("/widget/frame", params={"key": api.widget}).text
    unknown = api.get("/widget/frame", params={"key": "wk_nope"})
    assert unknown.status_code == 403 and unknown.headers["x-frame-options"] == "DENY"
    assert api.get("/demo").status_code == 404  # a configured KB: off unless TRIAGE_DEMO_PAGE


def test_customer_text_stays_text_in_the_agents_pages(api):
    w = f"/v1/widget/{api.widget}"
    me = start(api)
    script = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    api.post(f"{w}/ask", json={"text": script}, headers=me)
    api.post(f"{w}/handoff", json={}, headers=me)
    key = api.store.create_key("page-agent", "agent")
    page = TestClient(api.app, headers={"Origin": "http://testserver"})
    assert page.post("/login", data={"key": key}, follow_redirects=False).status_code == 303
    [item] = api.get("/v1/inbox", headers={"Authorization": f"Bearer {key}"}).json()
    html = page.get(f"/conversations/{item['conversation_id']}").text
    assert script not in html and "&lt;script&gt;alert(" in html and "&lt;img src=x onerror" in html


def test_the_deployments_menu_replaces_the_top_questions(kb_settings, store_url, tmp_path):
    settings, kb = kb_settings
    menu = tmp_path / "menu.yaml"
    menu.write_text("default:\n  - label: 배송\n    children:\n      - label: 새벽배송 마감\n"
                    "        ask: 새벽배송은 몇 시까지 주문해요?\n", encoding="utf-8")
    store = Store.open(store_url)
    key = store.create_widget_key("menu-shop", [SITE])
    with TestClient(create_app(settings.model_copy(update={"widget_menu": menu}), kb_loaded=kb,
                               store=store)) as client:
        [top] = client.get(f"/v1/widget/{key}/config", params={"section": "payment"}).json()["menu"]
    store.close()
    assert top["label"] == "배송" and top["children"][0]["ask"] == "새벽배송은 몇 시까지 주문해요?"


def test_the_hand_off_leaves_out_what_the_bot_already_settled(api):
    w = f"/v1/widget/{api.widget}"
    me = start(api)
    settled = api.post(f"{w}/ask", json={"text": "카드 결제 취소하면 환불은 언제 돼요?"}, headers=me).json()["turns"][1]
    assert settled["answered"]
    api.post(f"{w}/turns/{settled['id']}/feedback", json={"helpful": True}, headers=me)
    api.post(f"{w}/ask", json={"text": "회사 주차장 위치가 어디예요?"}, headers=me)
    api.post(f"{w}/handoff", json={}, headers=me)
    agent = api.as_("agent")
    [item] = api.get("/v1/inbox", headers=agent).json()
    [message] = api.get(f"/v1/conversations/{item['conversation_id']}", headers=agent).json()["messages"]
    assert message["text"] == "회사 주차장 위치가 어디예요?" and message["page"] == "/cart"
