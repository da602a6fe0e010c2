"""The gaps API: what nobody could answer, ranked; its exports; accepting a draft into the FAQ file."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from knowledge.samples import DEMO_DIR
from knowledge.sources import load_faq_files
from triage.api.app import create_app
from triage.kb import KnowledgeBase
from triage.store import Store
from triage.store.repository import LOW_CONFIDENCE

pytestmark = pytest.mark.clock  # the gaps' window is counted back from now

UNANSWERED = ["해외 배송 되나요? 미국에 보내고 싶어요", "해외로도 보내 주시나요", "일본으로 배송 가능한가요",
              "물류센터 알바 채용 공고 어디서 봐요?", "하루마켓 알바 채용 공고는 어디서 봐요?"]


@pytest.fixture(scope="module")
def api(small_kb, tmp_path_factory):
    from triage.config import Settings

    var = tmp_path_factory.mktemp("var")
    settings = Settings(kb_dir=small_kb, var_dir=var, taxonomy=DEMO_DIR / "taxonomy.yaml")
    store = Store.open(settings.store_url)
    with TestClient(create_app(settings, kb_loaded=KnowledgeBase.open(settings), store=store)) as client:
        client.headers["Authorization"] = f"Bearer {store.create_key('content', 'agent')}"
        results = []
        for n, text in enumerate(UNANSWERED):
            taken = client.post("/v1/messages", json={"text": text, "channel": "chat", "customer": {"id": f"g{n}"}})
            assert taken.status_code == 201
            results.append(taken.json()["result"])
        # a confident auto-answer is no gap unless an agent rejects it (this small KB answers one of them)
        client.unanswered = sum(r["decision"] == "handoff" or r["confidence"] < LOW_CONFIDENCE for r in results)
        yield client, settings


def test_gaps_rank_the_unanswered_questions(api):
    client, _ = api
    body = client.get("/v1/gaps", params={"days": 7}).json()
    assert body["questions"] == client.unanswered >= 3 and body["gaps"]
    top = body["gaps"][0]
    assert top["id"] == "gap-1" and top["size"] >= 2 and top["trend"] == "new"
    assert top["draft"]["question"] and top["draft"]["source"] == "extractive" and top["conversation_ids"]
    assert sum(g["size"] for g in body["gaps"]) == client.unanswered


def test_gap_exports_and_bad_periods(api):
    client, _ = api
    markdown = client.get("/v1/gaps/export.md")
    assert markdown.status_code == 200 and markdown.text.startswith("# FAQ 공백") and "gap-1" in markdown.text
    exported = client.get("/v1/gaps/export.csv")
    assert exported.headers["content-type"].startswith("text/csv") and exported.text.startswith("id,size")
    assert client.get("/v1/gaps", params={"days": 0}).status_code == 422
    assert client.get("/v1/gaps", headers={"Authorization": ""}).status_code == 401


def test_accepting_a_draft_appends_it_for_the_next_kb_build(api):
    client, settings = api
    draft = {"entry_id": "overseas-shipping", "question": "해외 배송 되나요?", "examples": ["해외로도 보내 주시나요"],
             "answer": "지금은 국내 배송만 해요.", "tags": ["delivery_info"]}
    accepted = client.post("/v1/gaps/accept", json=draft)
    assert accepted.status_code == 201 and accepted.json()["file"] == str(settings.accepted_faq_file)
    assert [e.id for e in load_faq_files([settings.accepted_faq_file])] == ["overseas-shipping"]
    exported = client.get("/v1/gaps/accepted.yaml")  # from the store: what any replica answers
    assert exported.status_code == 200 and "id: overseas-shipping" in exported.text and "해외로도" in exported.text
    again = client.post("/v1/gaps/accept", json=draft)
    assert again.status_code == 409 and "exists already" in again.json()["error"]["message"]  # the id is taken
    bad = client.post("/v1/gaps/accept", json={**draft, "entry_id": "x y"})
    assert bad.status_code == 422
