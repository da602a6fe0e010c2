"""Agents' replies reach the customer: email in through the inbound-mail webhook, the reply out through a real
local SMTP server (aiosmtpd) threaded into the customer's mail with a CES link; other channels through a signed
webhook to a real local receiver, retried with backoff and never delivered twice. SQLite and PostgreSQL."""

from __future__ import annotations

import email
import email.policy
import re
import time

import pytest

from knowledge.samples import DEMO_DIR
from tests.api.conftest import in_process
from tests.triage.test_mail import Recorder, smtp_server
from tests.triage.test_webhook import SECRET, Receiver
from triage.kb import KnowledgeBase

FIRST = {"from": "김하나 <Hana.Kim@example.com>", "to": "help@shop.example", "subject": "카드 환불 문의",
         "text": "카드로 결제한 거 환불 며칠 걸려요?\n주문번호 20261130-0001 이에요.",
         "message-id": "<first-1@mail.example.com>"}
QUOTED = ("네 확인했어요. 그런데 영수증도 다시 받을 수 있을까요?\n\n"
          "2026년 11월 30일 (월) 오후 2:10, 고객센터 <help@shop.example>님이 작성:\n> 카드 결제는 취소 후 3~5영업일…\n")


@pytest.fixture(scope="module")
def kb_settings(small_kb, tmp_path_factory):
    from triage.config import Settings

    settings = Settings(kb_dir=small_kb, var_dir=tmp_path_factory.mktemp("var"), taxonomy=DEMO_DIR / "taxonomy.yaml",
                        public_url="http://testserver")
    return settings, KnowledgeBase.open(settings)


def service(kb_settings, store_url, **changes):
    settings, kb = kb_settings
    return in_process(settings.model_copy(update=changes), kb, store_url)


def wait_for(check, seconds: float = 20.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_an_email_comes_in_threads_and_the_agents_reply_goes_out_by_smtp_with_a_ces_link(kb_settings, store_url):
    recorder = Recorder()
    with smtp_server(recorder) as port, service(kb_settings, store_url, smtp_host="127.0.0.1", smtp_port=port,
                                                smtp_security="none", mail_from="help@shop.example") as api:
        agent = api.as_("agent")
        first = api.post("/v1/mail/inbound", data=FIRST, headers=agent)  # form fields, as SendGrid posts
        assert first.status_code == 201, first.text
        assert api.post("/v1/mail/inbound", data=FIRST, headers=agent).json()["duplicate"] is True
        conversation_id = first.json()["conversation_id"]
        view = api.get(f"/v1/conversations/{conversation_id}", headers=agent).json()
        assert view["channel"] == "email" and view["customer"]["id"] == "email:hana.kim@example.com"

        reply = "안녕하세요, 카드 결제는 취소 후 3~5영업일 안에 승인 취소돼요. 더 궁금하신 점 있으세요?"
        decided = api.post(f"/v1/suggestions/{first.json()['suggestion_id']}/feedback",
                           json={"action": "edit", "final_text": reply}, headers=agent)
        assert decided.status_code == 201
        wait_for(lambda: recorder.envelopes)
        [envelope] = recorder.envelopes
        mail = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert envelope.rcpt_tos == ["hana.kim@example.com"]
        assert mail["Subject"] == "Re: 카드 환불 문의" and mail["In-Reply-To"] == FIRST["message-id"]
        assert FIRST["message-id"] in mail["References"] and mail["Message-ID"].endswith("@shop.example>")
        body = mail.get_content()
        assert body.startswith(reply) and "주문번호" not in body
        link = re.search(r"http://testserver(/ces/\S+)", body).group(1)
        [delivery] = wait_for(lambda: [d for d in api.get(f"/v1/conversations/{conversation_id}",
                                                          headers=agent).json()["deliveries"]
                                       if d["status"] == "sent"])
        assert delivery["route"] == "email" and delivery["attempts"] == 1

        # the customer's reply, quoting ours, joins the same conversation by In-Reply-To, without the quote
        second = api.post("/v1/mail/inbound", headers=agent, json={
            "from": "hana.kim@example.com", "subject": "Re: 카드 환불 문의", "text": QUOTED,
            "message-id": "<second-2@mail.example.com>", "in-reply-to": mail["Message-ID"]})
        assert second.status_code == 201 and second.json()["conversation_id"] == conversation_id
        texts = [m["text"] for m in api.get(f"/v1/conversations/{conversation_id}",
                                            headers=agent).json()["messages"]]
        assert texts[-1] == "네 확인했어요. 그런데 영수증도 다시 받을 수 있을까요?"

        assert api.post(f"/v1/conversations/{conversation_id}/resolve", headers=agent).status_code == 200
        page = api.get(link)
        assert page.status_code == 200 and "문의 해결이 얼마나 쉬웠나요?" in page.text
        assert api.post(link, data={"score": "7"}, headers={"Origin": "https://evil.example"}).status_code == 403
        assert api.post(link, data={"score": "7"}, headers={"Origin": "http://testserver"}).status_code == 200
        assert "고마워요" in api.get(link).text
        assert api.get("/v1/reports/summary", headers=agent).json()["ces"]["answers"] == 1
        assert api.get("/ces/not-a-token").status_code == 404
        bad = api.post("/v1/mail/inbound", json={"from": "x@example.com", "text": "hi"}, headers=agent)
        assert bad.status_code == 422 and "message-id" in bad.json()["error"]["message"]


def test_a_webhook_reply_is_signed_retried_after_a_timeout_and_delivered_once(kb_settings, store_url):
    receiver = Receiver([(200, 3.0, {}), (503, 0.0, {"Retry-After": "1"})])  # slower than the timeout, then busy
    import threading

    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        with service(kb_settings, store_url, reply_webhook_url=receiver.url, reply_webhook_secret=SECRET,
                     delivery_timeout=1.0, delivery_backoff=0.2) as api:
            agent = api.as_("agent")
            taken = api.post("/v1/messages", headers=agent, json={
                "id": "sms-1", "text": "카드 환불 언제 돼요?", "channel": "sms", "customer": {"id": "c-sms"}}).json()
            api.post(f"/v1/suggestions/{taken['suggestion_id']}/feedback", json={"action": "accept"}, headers=agent)
            path = f"/v1/conversations/{taken['conversation_id']}"
            [delivery] = wait_for(lambda: [d for d in api.get(path, headers=agent).json()["deliveries"]
                                           if d["status"] == "sent"])
            assert delivery["route"] == "webhook" and delivery["attempts"] == 3
            # three posts, one id: the receiver's first (timed out on our side) and the busy one are the same reply
            assert len(set(receiver.ids)) == 1 and len(receiver.ids) == 3
            import json

            payloads = [json.loads(body) for _, body in receiver.requests]
            assert {p["id"] for p in payloads} == set(receiver.ids)
            assert payloads[0]["channel"] == "sms" and payloads[0]["in_reply_to"] == "sms-1"
            assert payloads[0]["text"] and payloads[0]["conversation_id"] == taken["conversation_id"]

            receiver.script = [(400, 0.0, {})]
            other = api.post("/v1/messages", headers=agent, json={
                "text": "배송 언제 와요?", "channel": "app_review", "customer": {"id": "c-app"}}).json()
            api.post(f"/v1/suggestions/{other['suggestion_id']}/feedback", json={"action": "accept"}, headers=agent)
            other_path = f"/v1/conversations/{other['conversation_id']}"
            [failed] = wait_for(lambda: [d for d in api.get(other_path, headers=agent).json()["deliveries"]
                                         if d["status"] == "failed"])
            assert failed["error_code"] == "http_400" and failed["attempts"] == 1  # refused: not retried
            retried = api.post(f"/v1/deliveries/{failed['id']}/retry", headers=agent)
            assert retried.status_code == 200 and retried.json()["status"] == "queued"
            wait_for(lambda: api.get(f"/v1/deliveries/{failed['id']}", headers=agent).json()["status"] == "sent")
            assert api.post(f"/v1/deliveries/{failed['id']}/retry", headers=agent).status_code == 409
    finally:
        receiver.shutdown()
        receiver.server_close()


def test_without_a_channel_configured_the_reply_fails_with_a_reason(kb_settings, store_url):
    with service(kb_settings, store_url) as api:
        agent = api.as_("agent")
        taken = api.post("/v1/messages", headers=agent, json={"text": "환불 언제 돼요?", "channel": "sms"}).json()
        api.post(f"/v1/suggestions/{taken['suggestion_id']}/feedback", json={"action": "accept"}, headers=agent)
        [failed] = wait_for(lambda: [d for d in api.get(f"/v1/conversations/{taken['conversation_id']}",
                                                         headers=agent).json()["deliveries"]
                                     if d["status"] == "failed"])
        assert failed["error_code"] == "not_configured" and "TRIAGE_REPLY_WEBHOOK_URL" in failed["error"]


def test_an_unreadable_mail_post_says_what_to_send(kb_settings, store_url):
    with service(kb_settings, store_url) as api:
        agent = api.as_("agent")
        for body, kind in ((b"{not json", "application/json"), (b"[1, 2]", "application/json"),
                           (b"hello", "text/plain")):
            response = api.post("/v1/mail/inbound", content=body, headers={**agent, "content-type": kind})
            assert response.status_code == 422, response.text
            assert response.json()["error"]["message"]
        assert api.post("/v1/mail/inbound", json=FIRST).status_code == 401  # the key is checked first
