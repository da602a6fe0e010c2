"""The inbox API on SQLite and on PostgreSQL: keys and roles, the queue, feedback (idempotent, first verdict
wins), learning from agents, bot outcomes and CES."""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient

from knowledge.samples import DEMO_DIR
from tests.api.conftest import in_process
from triage.api.app import create_app
from triage.kb import KnowledgeBase
from triage.store import Store

DOUBLE_CHARGE = {"id": "m-vip", "text": "결제가 두 번 됐어요 돈 돌려주세요", "channel": "chat",
                 "customer": {"id": "c-vip", "segment": "VIP", "tenure_days": 900}}
HOW_TO = {"id": "m-howto", "text": "멤버십 가격이 얼마예요?", "channel": "email", "customer": {"id": "c-2"}}
PASSWORD = {"text": "비밀번호를 잊어버렸어요 어떻게 재설정하나요?", "channel": "app_review"}


@pytest.fixture(scope="module")
def kb_settings(small_kb, tmp_path_factory):
    from triage.config import Settings

    settings = Settings(kb_dir=small_kb, var_dir=tmp_path_factory.mktemp("var"),
                        taxonomy=DEMO_DIR / "taxonomy.yaml", faq_complaint_limit=2)
    return settings, KnowledgeBase.open(settings)


@pytest.fixture
def api(kb_settings, store_url):
    """A service over a fresh store; ``api.key(role)`` makes a key, ``api.as_(role)`` gives its headers."""
    with in_process(*kb_settings, store_url) as client:
        yield client


def take(api, agent, message) -> dict:
    response = api.post("/v1/messages", json=message, headers=agent)
    assert response.status_code == 201, response.text
    return response.json()


def test_no_key_or_a_wrong_key_is_401_and_shows_no_data(api):
    take(api, api.as_("agent"), DOUBLE_CHARGE)
    for response in (api.get("/v1/inbox"), api.get("/v1/inbox", headers={"Authorization": "Bearer tk_nope"}),
                     api.post("/v1/triage", json={"text": "환불"}), api.post("/v1/bot/answer", json={"text": "환불"})):
        assert response.status_code == 401
        assert set(response.json()) == {"error"} and "두 번" not in response.text


def test_each_role_reaches_only_its_own_routes(api):
    bot, agent, admin = api.as_("bot"), api.as_("agent"), api.as_("admin")
    assert api.get("/v1/inbox", headers=bot).status_code == 403
    assert api.post("/v1/bot/answer", json={"text": "비밀번호를 잊어버렸어요"}, headers=bot).status_code == 200
    assert api.post("/v1/bot/answer", json={"text": "비밀번호를 잊어버렸어요"}, headers=agent).status_code == 403
    forbidden = api.post("/v1/admin/keys", json={"name": "x", "role": "agent"}, headers=agent)
    assert forbidden.status_code == 403 and "admin" in forbidden.json()["error"]["message"]
    assert api.get("/v1/inbox", headers=admin).status_code == 200  # admin may do everything


def test_keys_are_stored_hashed_and_can_be_revoked(api):
    admin = api.as_("admin")
    created = api.post("/v1/admin/keys", json={"name": "alice", "role": "agent"}, headers=admin).json()
    key = created["key"]
    assert all(key not in str(row) for row in api.get("/v1/admin/keys", headers=admin).json())
    assert api.get("/v1/inbox", headers={"X-API-Key": key}).status_code == 200
    assert api.post("/v1/admin/keys", json={"name": "alice", "role": "bot"}, headers=admin).status_code == 409
    assert api.delete("/v1/admin/keys/alice", headers=admin).status_code == 200
    assert api.get("/v1/inbox", headers={"X-API-Key": key}).status_code == 401


def test_inbox_puts_the_urgent_vip_first_and_filters(api):
    agent = api.as_("agent")
    take(api, agent, HOW_TO)
    vip = take(api, agent, DOUBLE_CHARGE)
    take(api, agent, PASSWORD)
    items = api.get("/v1/inbox", headers=agent).json()
    assert items[0]["conversation_id"] == vip["conversation_id"]
    top = items[0]
    assert top["priority"] == "P1" and top["vip"] and top["first_line"].startswith("결제가 두 번")
    assert top["waiting_seconds"] >= 0 and top["channel"] == "chat"
    priorities = [i["priority"] for i in items]
    assert priorities == sorted(priorities)
    emails = api.get("/v1/inbox", params={"channel": "email"}, headers=agent).json()
    assert [i["channel"] for i in emails] == ["email"]
    assert api.get("/v1/inbox", params={"priority": "P1"}, headers=agent).json()[0]["vip"]
    by_tag = api.get("/v1/inbox", params={"tag": top["tag"]}, headers=agent).json()
    assert {i["tag"] for i in by_tag} == {top["tag"]}
    bad = api.get("/v1/inbox", params={"sort": "loudest"}, headers=agent)
    assert bad.status_code == 422 and "sort" in bad.json()["error"]["message"]


def test_a_second_message_joins_the_conversation_and_supersedes_the_old_suggestion(api):
    agent = api.as_("agent")
    first = take(api, agent, HOW_TO)
    second = take(api, agent, {**HOW_TO, "id": "m-howto-2", "text": "답변이 없네요. 멤버십 가격 알려주세요"})
    assert second["conversation_id"] == first["conversation_id"]
    view = api.get(f"/v1/conversations/{first['conversation_id']}", headers=agent).json()
    assert len(view["messages"]) == 2 and view["suggestion"]["id"] == second["suggestion_id"]
    stale = api.post(f"/v1/suggestions/{first['suggestion_id']}/feedback", json={"action": "accept"}, headers=agent)
    assert stale.status_code == 409 and "superseded" in stale.json()["error"]["message"]


def test_feedback_is_idempotent_and_the_first_verdict_wins(api):
    intake = take(api, api.as_("agent"), DOUBLE_CHARGE)
    url = f"/v1/suggestions/{intake['suggestion_id']}/feedback"
    alice, bob = api.as_("agent"), api.as_("agent")
    first = api.post(url, json={"action": "accept"}, headers={**alice, "Idempotency-Key": "k-1"})
    assert first.status_code == 201 and first.json()["action"] == "accept" and first.json()["edit_distance"] == 0
    again = api.post(url, json={"action": "accept"}, headers={**alice, "Idempotency-Key": "k-1"})
    assert again.status_code == 200 and again.json()["replayed"] and again.json()["id"] == first.json()["id"]
    late = api.post(url, json={"action": "reject"}, headers={**bob, "Idempotency-Key": "k-2"})
    assert late.status_code == 409 and "accepted" in late.json()["error"]["message"]
    view = api.get(f"/v1/suggestions/{intake['suggestion_id']}", headers=alice).json()
    assert view["state"] == "accepted" and len(view["feedback"]) == 1
    reused = api.post(f"/v1/suggestions/{intake['suggestion_id'] + 99}/feedback", json={"action": "accept"},
                      headers={**alice, "Idempotency-Key": "k-1"})
    assert reused.status_code in (404, 422)


def test_two_agents_accepting_at_once_one_wins_the_other_gets_409(api):
    intake = take(api, api.as_("agent"), DOUBLE_CHARGE)
    url = f"/v1/suggestions/{intake['suggestion_id']}/feedback"
    agents = [api.as_("agent") for _ in range(6)]
    barrier, codes = threading.Barrier(len(agents)), []

    def accept(headers):
        barrier.wait()
        codes.append(api.post(url, json={"action": "accept"}, headers=headers).status_code)

    threads = [threading.Thread(target=accept, args=(h,)) for h in agents]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [201] + [409] * (len(agents) - 1)
    assert len(api.get(f"/v1/suggestions/{intake['suggestion_id']}", headers=agents[0]).json()["feedback"]) == 1


def test_an_edit_with_a_corrected_tag_is_learned_and_kept_as_a_reference_reply(api):
    agent = api.as_("agent")
    message = {"text": "멤버십 해지하면 남은 기간 환불돼요? 연락처 010-2345-6789", "channel": "chat"}
    intake = take(api, agent, message)
    before = intake["result"]["tag"]
    target = "refund_status" if before != "refund_status" else "membership_points"
    reply = "남은 기간만큼 환불돼요. 010-2345-6789로 안내 문자 드릴게요. 더 궁금한 점 있으세요?"
    done = api.post(f"/v1/suggestions/{intake['suggestion_id']}/feedback", headers=agent,
                    json={"action": "accept", "final_text": reply, "tag": target, "priority": "P2"}).json()
    assert done["action"] == "edit" and done["edit_distance"] > 0  # accept with another text is an edit
    assert done["corrected_tag"] == target and done["corrected_priority"] == "P2"
    again = api.post("/v1/triage", json={"text": message["text"]}, headers=agent).json()
    assert again["tag"] == target  # learned at once
    conversation = api.get(f"/v1/conversations/{intake['conversation_id']}", headers=agent).json()
    assert conversation["tag"] == target and conversation["priority"] == "P2"
    kept = api.get("/v1/reference-replies", params={"tag": target}, headers=agent).json()
    assert kept and kept[0]["reply"].startswith("남은 기간만큼") and "010-2345-6789" not in str(kept)


def test_an_unknown_corrected_tag_is_refused_and_nothing_is_stored(api):
    agent = api.as_("agent")
    intake = take(api, agent, HOW_TO)
    bad = api.post(f"/v1/suggestions/{intake['suggestion_id']}/feedback", headers=agent,
                   json={"action": "reject", "tag": "no_such_tag"})
    assert bad.status_code == 422 and "no_such_tag" in bad.json()["error"]["message"]
    assert api.get(f"/v1/suggestions/{intake['suggestion_id']}", headers=agent).json()["state"] == "open"


def test_rejected_auto_answers_stop_the_entry_from_auto_answering(api):
    agent, bot = api.as_("agent"), api.as_("bot")
    answered = api.post("/v1/bot/answer", json={"text": PASSWORD["text"]}, headers=bot).json()
    assert answered["decision"] == "auto_answer"
    faq = answered["faq_id"]
    for n in range(2):  # faq_complaint_limit=2 in this module's settings
        intake = take(api, agent, {**PASSWORD, "id": f"pw-{n}"})
        assert intake["result"]["decision"] == "auto_answer"
        api.post(f"/v1/suggestions/{intake['suggestion_id']}/feedback", json={"action": "reject"}, headers=agent)
    after = api.post("/v1/bot/answer", json={"text": PASSWORD["text"]}, headers=bot).json()
    assert after["decision"] == "handoff" and "turned down" in after["decision_reason"]
    assert after["candidate_faq_id"] == faq


def test_unhelpful_bot_answers_count_against_the_entry_too(api):
    bot = api.as_("bot")
    faq = api.post("/v1/bot/answer", json={"text": "새벽배송 마감 시간이 언제예요?"}, headers=bot).json()["faq_id"]
    for _ in range(2):
        outcome = {"faq_id": faq, "auto_answered": True, "helpful": False, "escalated": True}
        assert api.post("/v1/bot/outcomes", json=outcome, headers=bot).status_code == 201
    after = api.post("/v1/bot/answer", json={"text": "새벽배송 마감 시간이 언제예요?"}, headers=bot).json()
    assert after["decision"] == "handoff"


def test_handoff_resolve_and_ces(api):
    bot, agent = api.as_("bot"), api.as_("agent")
    handoff = api.post("/v1/bot/handoff", headers=bot, json={**HOW_TO, "bot_path": ["멤버십", "가격"]})
    assert handoff.status_code == 201
    conversation = handoff.json()["conversation_id"]
    assert api.post(f"/v1/conversations/{conversation}/resolve", headers=agent).json() == {"status": "resolved"}
    view = api.get(f"/v1/conversations/{conversation}", headers=agent).json()
    assert view["status"] == "resolved" and view["waiting_seconds"] is None
    assert conversation not in [i["conversation_id"] for i in api.get("/v1/inbox", headers=agent).json()]
    resolved = api.get("/v1/inbox", params={"status": "resolved"}, headers=agent).json()
    assert [i["conversation_id"] for i in resolved] == [conversation]
    assert api.post("/v1/bot/ces", json={"conversation_id": conversation, "score": 7}, headers=bot).status_code == 201
    bad = api.post("/v1/bot/ces", json={"conversation_id": conversation, "score": 8}, headers=bot)
    assert bad.status_code == 422 and "score" in bad.json()["error"]["message"]
    missing = api.post("/v1/bot/ces", json={"conversation_id": 999_999, "score": 5}, headers=bot)
    assert missing.status_code == 404


def test_missing_things_are_404(api):
    agent = api.as_("agent")
    assert api.get("/v1/suggestions/424242", headers=agent).status_code == 404
    assert api.get("/v1/conversations/424242", headers=agent).json()["error"]["code"] == "not_found"
    assert api.post("/v1/suggestions/424242/feedback", json={"action": "accept"}, headers=agent).status_code == 404


def test_admin_settings_hide_secrets(api):
    body = api.get("/v1/admin/settings", headers=api.as_("admin")).json()
    assert body["database_url"] in (None, "(set)") and "faq_complaint_limit" in body


def test_ids_beyond_any_integer_column_are_404_not_500(api):
    agent = api.as_("agent")
    huge = 99_999_999_999_999_999_999
    assert api.get(f"/v1/conversations/{huge}", headers=agent).status_code in (404, 422)
    assert api.get(f"/v1/suggestions/{2**40}", headers=agent).status_code == 404
    assert api.post(f"/v1/conversations/{2**40}/resolve", headers=agent).status_code == 404


def test_an_edit_that_changes_nothing_is_an_accept_and_a_key_belongs_to_its_agent(api):
    agent, other = api.as_("agent"), api.as_("agent")
    intake = take(api, agent, DOUBLE_CHARGE)
    url = f"/v1/suggestions/{intake['suggestion_id']}/feedback"
    same = api.post(url, json={"action": "edit", "final_text": intake["result"]["draft"]},
                    headers={**agent, "Idempotency-Key": "own"}).json()
    assert same["action"] == "accept" and same["edit_distance"] == 0
    stolen = api.post(url, json={"action": "edit", "final_text": "x"}, headers={**other, "Idempotency-Key": "own"})
    assert stolen.status_code == 422 and "Idempotency-Key" in stolen.json()["error"]["message"]
    state = api.get("/v1/inbox", params={"status": "all"}, headers=agent).json()
    assert next(i for i in state if i["suggestion_id"] == intake["suggestion_id"])["suggestion_state"] == "accepted"


def test_admin_reloads_the_kb_and_a_broken_snapshot_keeps_the_current_one(api, kb_settings, tmp_path):
    admin = api.as_("admin")
    assert api.post("/v1/admin/kb/reload", headers=api.as_("agent")).status_code == 403
    reloaded = api.post("/v1/admin/kb/reload", headers=admin)
    assert reloaded.status_code == 200 and reloaded.json()["counts"]["entries"] == 6
    service = api.app.state.service
    service.settings = kb_settings[0].model_copy(update={"kb_dir": tmp_path / "missing"})
    try:
        broken = api.post("/v1/admin/kb/reload", headers=admin)
        assert broken.status_code >= 400 and "error" in broken.json()
        answer = api.post("/v1/bot/answer", json={"text": "비밀번호를 잊어버렸어요"}, headers=api.as_("bot"))
        assert answer.status_code == 200 and answer.json()["candidate_faq_id"] == "password-reset"
    finally:
        service.settings = kb_settings[0]


def test_verdicts_and_bot_outcomes_are_stored_while_the_kb_is_loading(tmp_path):
    from triage.config import Settings
    from triage.models import Message, TriageResult

    settings = Settings(kb_dir=tmp_path / "no-index-yet", var_dir=tmp_path)
    store = Store.open(settings.store_url)
    intake = store.record_message(Message(text="환불 언제 돼요"), TriageResult(decision="auto_answer", draft="초안"))
    agent = {"Authorization": f"Bearer {store.create_key('agent', 'agent')}"}
    bot = {"Authorization": f"Bearer {store.create_key('bot', 'bot')}"}
    with TestClient(create_app(settings, store=store)) as client:
        assert client.post("/v1/bot/answer", json={"text": "환불"}, headers=bot).status_code == 503
        outcome = {"faq_id": "refund", "auto_answered": True, "helpful": False}
        assert client.post("/v1/bot/outcomes", json=outcome, headers=bot).status_code == 201
        url = f"/v1/suggestions/{intake.suggestion_id}/feedback"
        assert client.post(url, json={"action": "reject"}, headers=agent).status_code == 201
        fixed = client.post(url, json={"action": "accept", "tag": "refund_status"}, headers=agent)
        assert fixed.status_code == 503  # a corrected tag is checked against the taxonomy, which is not loaded
    assert store.suggestion(intake.suggestion_id).state == "rejected"
    store.close()
