"""Team-chat alerts against a real local HTTP receiver: retries, no duplicates, no personal data."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient

from knowledge.samples import DEMO_DIR
from tests.conftest import api_key
from triage.alerts import AlertDispatcher, alert_text, needs_alert
from triage.models import CustomerContext, Message, TriageResult
from triage.store import Store

PHONE, EMAIL = "010-2345-6789", "kim.minji@example.com"


class Receiver(ThreadingHTTPServer):
    """A Slack-like incoming webhook: answers each POST with the next scripted (status, delay, headers)."""

    def __init__(self, script: list[tuple[int, float, dict[str, str]]]) -> None:
        self.script, self.posts = list(script), []
        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/services/T000/B000/XXXX"


class Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        self.server.posts.append(json.loads(body))
        status, delay, headers = self.server.script.pop(0) if self.server.script else (200, 0.0, {})
        time.sleep(delay)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(b"ok" if status == 200 else b"error")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver(request) -> Iterator[Receiver]:
    server = Receiver(getattr(request, "param", []))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


def urgent_result() -> TriageResult:
    return TriageResult(priority="P1", tag="double_charge", context=CustomerContext(segment="VIP"),
                        reasons=["P1: 돈이 빠져나갔거나 위험한 상황이에요 ('결제가 두 번')",
                                 f"고객이 {PHONE}, {EMAIL}로 연락 달래요"])


def queue_alert(store: Store, customer: str = "c-1") -> int:
    message = Message(text=f"결제가 두 번 됐어요. {PHONE}로 전화 주세요", channel="chat",
                      customer={"id": customer, "segment": "VIP"})
    result = urgent_result()
    return store.record_message(message, result, alert_text(result, message.channel)).conversation_id


def dispatcher(store: Store, receiver: Receiver, **kwargs: float) -> AlertDispatcher:
    return AlertDispatcher(store, receiver.url, "http://inbox.example", attempts=4, backoff=0.01, **kwargs)


def test_only_p1_or_vip_needs_an_alert():
    assert needs_alert(TriageResult(priority="P1"))
    assert needs_alert(TriageResult(priority="P3", context=CustomerContext(segment="VIP")))
    assert not needs_alert(TriageResult(priority="P2", context=CustomerContext(segment="loyal")))


@pytest.mark.parametrize("receiver", [[(500, 0.0, {}), (503, 0.0, {})]], indirect=True)
def test_a_failing_webhook_is_retried_and_the_alert_arrives_once_without_personal_data(tmp_path, receiver):
    store = Store.open(f"sqlite:///{tmp_path}/t.db")
    conversation = queue_alert(store)
    queue_alert(store)  # the same customer and channel again: the same conversation, no second alert
    assert dispatcher(store, receiver).send_pending() == 1
    assert len(receiver.posts) == 3  # two failures, then delivered
    text = receiver.posts[-1]["text"]
    assert "[P1] VIP" in text and "double_charge" in text and f"/conversations/{conversation}" in text
    assert PHONE not in text and EMAIL not in text
    assert "<PHONE_1>" in text and "<EMAIL_1>" in text  # the reason that quoted them is redacted
    assert dispatcher(store, receiver).send_pending() == 0  # nothing pending: nothing re-sent
    assert len(receiver.posts) == 3
    [alert] = store.alerts()
    assert alert["status"] == "sent" and alert["attempts"] == 3


@pytest.mark.parametrize("receiver", [[(429, 0.0, {"Retry-After": "1"})]], indirect=True)
def test_429_waits_for_retry_after(tmp_path, receiver):
    store = Store.open(f"sqlite:///{tmp_path}/t.db")
    queue_alert(store)
    started = time.monotonic()
    assert dispatcher(store, receiver).send_pending() == 1
    assert time.monotonic() - started >= 1.0 and len(receiver.posts) == 2


@pytest.mark.parametrize("receiver", [[(404, 0.0, {})]], indirect=True)
def test_a_refused_webhook_is_not_retried(tmp_path, receiver):
    store = Store.open(f"sqlite:///{tmp_path}/t.db")
    queue_alert(store)
    assert dispatcher(store, receiver).send_pending() == 0
    assert len(receiver.posts) == 1
    assert store.alerts()[0]["status"] == "failed" and store.alerts()[0]["last_error"] == "HTTP 404"


@pytest.mark.parametrize("receiver", [[(200, 1.5, {})]], indirect=True)
def test_a_timeout_after_sending_is_not_retried_so_never_duplicated(tmp_path, receiver):
    store = Store.open(f"sqlite:///{tmp_path}/t.db")
    queue_alert(store)
    assert dispatcher(store, receiver, timeout=0.5).send_pending() == 0
    time.sleep(1.2)
    assert len(receiver.posts) == 1 and "not retried" in store.alerts()[0]["last_error"]


def test_an_unreachable_webhook_is_retried_then_recorded_as_failed(tmp_path):
    store = Store.open(f"sqlite:///{tmp_path}/t.db")
    queue_alert(store)
    closed = AlertDispatcher(store, "http://127.0.0.1:9/hook", "http://inbox.example", attempts=3, backoff=0.01)
    assert closed.send_pending() == 0
    [alert] = store.alerts()
    assert alert["status"] == "failed" and alert["attempts"] == 3 and "Connect" in alert["last_error"]


def test_an_alert_left_sending_by_a_crash_is_never_re_sent(tmp_path, receiver):
    store = Store.open(f"sqlite:///{tmp_path}/t.db")
    queue_alert(store)
    assert len(store.claim_alerts()) == 1  # a process claimed it, then died before finishing
    worker = dispatcher(store, receiver)
    worker.start()
    worker.stop()
    assert receiver.posts == [] and store.alerts()[0]["status"] == "failed"


def test_the_service_posts_p1_and_vip_conversations_once(small_kb, tmp_path, receiver):
    from triage.api.app import create_app
    from triage.config import Settings
    from triage.kb import KnowledgeBase

    settings = Settings(kb_dir=small_kb, var_dir=tmp_path, taxonomy=DEMO_DIR / "taxonomy.yaml",
                        alert_webhook_url=receiver.url, alert_backoff=0.01)
    headers = {"Authorization": f"Bearer {api_key(settings.store_url, 'agent')}"}
    with TestClient(create_app(settings, kb_loaded=KnowledgeBase.open(settings))) as client:
        urgent = {"text": f"결제가 두 번 됐어요 돈 돌려주세요 {PHONE}", "channel": "chat", "customer": {"id": "c-9"}}
        for _ in range(2):
            assert client.post("/v1/messages", json=urgent, headers=headers).json()["result"]["priority"] == "P1"
        calm = {"text": "멤버십 가격이 얼마예요?", "channel": "email", "customer": {"id": "c-10"}}
        assert client.post("/v1/messages", json=calm, headers=headers).json()["result"]["priority"] != "P1"
        deadline = time.monotonic() + 10
        while not receiver.posts and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
    assert len(receiver.posts) == 1 and "[P1]" in receiver.posts[0]["text"]
    assert PHONE not in json.dumps(receiver.posts, ensure_ascii=False)
