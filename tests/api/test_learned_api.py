"""What was learned from the helpdesk history, for content teams: listed with its ticket, removable, and the tickets
answered by hand among the FAQ gaps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from knowledge.samples import DEMO_DIR
from triage.api.app import create_app
from triage.helpdesk.learned import learned_scope
from triage.kb import KnowledgeBase
from triage.store import Store
from triage.store.learned_rows import Learned


def _row(ref: str, text: str, entry: str | None, how: str, at: datetime, reply: str | None = None) -> Learned:
    return Learned(source="history", ref=ref, digest=ref, text=text, how=how, tag_how="mapped" if entry else "none",
                   entry_id=entry, tag="refund_status" if entry else None, reply=reply, at=at,
                   evidence={"top_hit": entry})


@pytest.fixture(scope="module")
def api(small_kb, tmp_path_factory):
    from triage.config import Settings

    var = tmp_path_factory.mktemp("var")
    settings = Settings(kb_dir=small_kb, var_dir=var, taxonomy=DEMO_DIR / "taxonomy.yaml")
    store = Store.open(settings.store_url)
    yesterday = datetime.now(UTC) - timedelta(days=1)
    store.save_learned(learned_scope(settings), [
        _row("T-1", "카드 환불 며칠 걸려요? <PHONE_1> 로 연락 주세요", "refund-card", "linked", yesterday),
        _row("T-2", "무통장 환불 계좌 어디서 바꿔요", "refund-bank", "pasted", yesterday),
        _row("T-3", "해외 배송도 되나요? 미국으로 보내고 싶어요", None, "reply", yesterday,
             "아쉽지만 해외 배송은 아직 하지 않아요. 국내 주소로만 보내 드려요."),
        _row("T-4", "미국으로도 배송 가능한가요", None, "reply", yesterday, "해외 배송은 준비 중이에요."),
    ])
    with TestClient(create_app(settings, kb_loaded=KnowledgeBase.open(settings), store=store)) as client:
        client.headers["Authorization"] = f"Bearer {store.create_key('content', 'agent')}"
        yield client


def test_learned_examples_are_listed_with_their_ticket_and_can_be_removed(api):
    listed = api.get("/v1/learned").json()
    assert [(r["ticket"], r["entry_id"], r["how"]) for r in listed] == [
        ("T-1", "refund-card", "linked"), ("T-2", "refund-bank", "pasted"), ("T-3", None, "reply"),
        ("T-4", None, "reply")]
    assert "<PHONE_1>" in listed[0]["text"]
    assert [r["ticket"] for r in api.get("/v1/learned", params={"entry_id": "refund-bank"}).json()] == ["T-2"]

    removed = api.post(f"/v1/learned/{listed[1]['id']}/remove")
    assert removed.status_code == 200 and removed.json()["removed_by"] == "content"
    assert [r["ticket"] for r in api.get("/v1/learned").json()] == ["T-1", "T-3", "T-4"]
    assert [r["ticket"] for r in api.get("/v1/learned", params={"removed": True}).json()] == ["T-2"]
    assert api.post("/v1/learned/999999/remove").status_code == 404
    assert api.post(f"/v1/learned/{2**40}/remove").status_code == 422  # past any row id
    assert api.get("/v1/learned", params={"entry_id": "a\x00b"}).status_code == 422
    assert api.get("/v1/learned", params={"after_id": 2**40}).status_code == 422
    assert api.get("/v1/learned", headers={"Authorization": ""}).status_code == 401


@pytest.mark.clock  # the gaps' window is counted back from now
def test_tickets_answered_by_hand_are_faq_gaps_with_the_agents_reply(api):
    gaps = api.get("/v1/gaps", params={"days": 7}).json()["gaps"]
    history = [g for g in gaps if g["sources"].get("history")]
    assert history and sum(g["sources"]["history"] for g in history) == 2
    assert any("해외" in text for g in history for text in g["representatives"])
