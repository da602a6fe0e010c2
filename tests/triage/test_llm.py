"""triage.llm under the real openai client, with an httpx MockTransport, a fake clock and a recorded sleep."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from triage.config import Settings
from triage.errors import LLMError, LLMOutputError, LLMUnavailableError
from triage.llm import LLMClient, Prompt

PROMPT = Prompt(name="reply_draft", hash="abc123", system="너는 상담원이다.", user="고객 메시지: 환불이 안 돼요")


class Draft(BaseModel):
    reply: str
    confidence: float


class FakeTime:
    """A clock that only moves when told to (or when the client sleeps)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def completion(content: str, finish_reason: str = "stop", usage: dict[str, int] | None = None) -> httpx.Response:
    body: dict[str, Any] = {
        "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "served-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                     "finish_reason": finish_reason}],
    }
    if usage is not None:
        body["usage"] = {**usage, "total_tokens": sum(usage.values())}
    return httpx.Response(200, json=body)


GOOD = json.dumps({"reply": "확인해 드릴게요", "confidence": 0.8}, ensure_ascii=False)


class Server:
    """Records each request body and answers with ``respond(body)``."""

    def __init__(self, respond: Callable[[dict[str, Any]], httpx.Response]) -> None:
        self.respond = respond
        self.bodies: list[dict[str, Any]] = []
        self.timeouts: list[dict[str, float]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.bodies.append(body)
        self.timeouts.append(request.extensions.get("timeout", {}))
        return self.respond(body)


def make_client(server: Callable[[httpx.Request], httpx.Response], fake: FakeTime, **kwargs: Any) -> LLMClient:
    options: dict[str, Any] = {"max_retries": 2, "budget": 45.0, "timeout": 20.0, **kwargs}
    http_client = httpx.Client(transport=httpx.MockTransport(server))
    return LLMClient("http://llm.test/v1", "test-model", http_client=http_client, clock=fake.clock, sleep=fake.sleep,
                     **options)


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


def test_json_schema_is_asked_first(fake):
    server = Server(lambda body: completion(GOOD, usage={"prompt_tokens": 31, "completion_tokens": 9}))
    reply = make_client(server, fake).complete_json(PROMPT, Draft, max_tokens=100)
    assert reply.value == Draft(reply="확인해 드릴게요", confidence=0.8)
    body = server.bodies[0]
    assert body["response_format"] == {"type": "json_schema", "json_schema": {
        "name": "reply_draft", "schema": Draft.model_json_schema(), "strict": False}}
    assert body["model"] == "test-model" and body["max_tokens"] == 100 and body["temperature"] == 0.2
    assert body["messages"] == [{"role": "system", "content": PROMPT.system}, {"role": "user", "content": PROMPT.user}]
    call = reply.call
    assert (call.mode, call.attempts, call.prompt, call.prompt_hash) == ("json_schema", 1, "reply_draft", "abc123")
    assert (call.model, call.prompt_tokens, call.completion_tokens) == ("test-model", 31, 9)
    assert fake.sleeps == []


def test_500_on_json_schema_falls_back_to_json_object_and_remembers(fake):
    def respond(body: dict[str, Any]) -> httpx.Response:
        if body["response_format"]["type"] == "json_schema":
            return httpx.Response(500, json={"error": {"message": "json_schema not supported"}})
        return completion(GOOD)

    server = Server(respond)
    client = make_client(server, fake)
    first = client.complete_json(PROMPT, Draft)
    assert [b["response_format"]["type"] for b in server.bodies] == ["json_schema", "json_object"]
    assert "Answer with one JSON object that matches this JSON schema:" in server.bodies[1]["messages"][0]["content"]
    assert '"confidence"' in server.bodies[1]["messages"][0]["content"]
    assert (first.call.mode, first.call.attempts) == ("json_object", 2)
    assert fake.sleeps == []  # a fallback is not a retry: no backoff

    assert server.bodies[1]["response_format"] == {"type": "json_object", "schema": Draft.model_json_schema()}

    second = client.complete_json(PROMPT, Draft)
    assert len(server.bodies) == 3 and server.bodies[2]["response_format"]["type"] == "json_object"
    assert (second.call.mode, second.call.attempts) == ("json_object", 1)


def test_json_object_rejected_falls_back_to_plain_json_object_then_to_none(fake):
    def respond(body: dict[str, Any]) -> httpx.Response:
        return httpx.Response(400, json={"error": {"message": "unsupported"}}) if "response_format" in body \
            else completion(GOOD)

    server = Server(respond)
    client = make_client(server, fake)
    reply = client.complete_json(PROMPT, Draft)
    assert [b.get("response_format") for b in server.bodies[1:]] == [
        {"type": "json_object", "schema": Draft.model_json_schema()}, {"type": "json_object"}, None]
    assert all("matches this JSON schema" in b["messages"][0]["content"] for b in server.bodies[1:])
    assert (reply.call.mode, reply.call.attempts) == ("json_object", 4)
    assert fake.sleeps == []
    client.complete_json(PROMPT, Draft)
    assert len(server.bodies) == 5 and "response_format" not in server.bodies[4]


def test_a_server_that_only_rejects_the_schema_extension_gets_plain_json_object(fake):
    def respond(body: dict[str, Any]) -> httpx.Response:
        rejected = body["response_format"]["type"] == "json_schema" or "schema" in body["response_format"]
        return httpx.Response(422) if rejected else completion(GOOD)

    server = Server(respond)
    reply = make_client(server, fake).complete_json(PROMPT, Draft)
    assert server.bodies[2]["response_format"] == {"type": "json_object"} and reply.call.attempts == 3


def test_a_transient_500_on_json_schema_is_not_remembered(fake):
    server = Server(lambda body: httpx.Response(503 if body["response_format"]["type"] == "json_object" else 500))
    client = make_client(server, fake, max_retries=0)
    with pytest.raises(LLMUnavailableError):
        client.complete_json(PROMPT, Draft)
    server.respond = lambda body: completion(GOOD)
    assert client.complete_json(PROMPT, Draft).call.mode == "json_schema"


@pytest.mark.parametrize("content", [
    f"```json\n{GOOD}\n```",
    f"물론이죠! 다음은 답변입니다:\n```\n{GOOD}\n```\n도움이 되었길 바랍니다.",
])
def test_fenced_json_with_prose_is_parsed(fake, content):
    reply = make_client(Server(lambda body: completion(content)), fake).complete_json(PROMPT, Draft)
    assert reply.value.confidence == 0.8


@pytest.mark.parametrize(("content", "finish_reason", "words"), [
    ("죄송하지만 답변할 수 없습니다.", "stop", "no JSON object"),
    ('{"reply": "확인해 드릴게요", "confidence": }', "stop", "not valid JSON"),
    ('{"reply": "확인해 드릴게요", "confidence": 0.8, "note": "잘린', "length", "cut off"),
])
def test_invalid_json_is_an_output_error_not_retried(fake, content, finish_reason, words):
    server = Server(lambda body: completion(content, finish_reason))
    with pytest.raises(LLMOutputError) as caught:
        make_client(server, fake).complete_json(PROMPT, Draft)
    assert words in str(caught.value) and caught.value.raw == content
    assert "확인해" not in str(caught.value)  # the answer's text stays on .raw only
    assert len(server.bodies) == 1 and fake.sleeps == []


def test_json_failing_the_schema_is_an_output_error(fake):
    content = json.dumps({"reply": "고객님 주민번호 900101", "confidence": "high"}, ensure_ascii=False)
    with pytest.raises(LLMOutputError) as caught:
        make_client(Server(lambda body: completion(content)), fake).complete_json(PROMPT, Draft)
    assert "confidence" in str(caught.value) and "900101" not in str(caught.value)
    assert caught.value.raw == content and isinstance(caught.value, LLMError)


def test_429_with_retry_after_is_honoured(fake):
    answers = iter([httpx.Response(429, headers={"Retry-After": "1"}), completion(GOOD)])
    server = Server(lambda body: next(answers))
    reply = make_client(server, fake).complete_json(PROMPT, Draft)
    assert fake.sleeps == pytest.approx([1.0])
    assert reply.call.attempts == 2 and reply.call.mode == "json_schema"
    assert [b["response_format"]["type"] for b in server.bodies] == ["json_schema", "json_schema"]


def test_503_forever_gives_up_after_max_retries(fake):
    server = Server(lambda body: httpx.Response(503))
    with pytest.raises(LLMUnavailableError, match="3 attempt"):
        make_client(server, fake, max_retries=2).complete_json(PROMPT, Draft)
    assert len(server.bodies) == 3  # max_retries + 1
    assert fake.sleeps == [0.5, 1.0]  # exponential backoff


def test_connection_errors_are_retried(fake):
    outcomes: list[Exception | None] = [httpx.ConnectError("refused"), None]

    def handler(request: httpx.Request) -> httpx.Response:
        error = outcomes.pop(0)
        if error:
            raise error
        return completion(GOOD)

    assert make_client(handler, fake).complete_json(PROMPT, Draft).call.attempts == 2
    assert fake.sleeps == [0.5]


def test_client_errors_are_not_retried(fake):
    server = Server(lambda body: httpx.Response(401, json={"error": {"message": "bad key"}}))
    with pytest.raises(LLMUnavailableError, match="HTTP 401"):
        make_client(server, fake).complete_json(PROMPT, Draft)
    assert len(server.bodies) == 1 and fake.sleeps == []


def test_budget_smaller_than_the_backoff_gives_up_without_sleeping(fake):
    server = Server(lambda body: httpx.Response(503))
    with pytest.raises(LLMUnavailableError, match="budget"):
        make_client(server, fake, budget=0.4).complete_json(PROMPT, Draft)
    assert len(server.bodies) == 1 and fake.sleeps == []


def test_retry_after_past_the_budget_gives_up(fake):
    server = Server(lambda body: httpx.Response(429, headers={"Retry-After": "30"}))
    with pytest.raises(LLMUnavailableError, match="budget"):
        make_client(server, fake, budget=10).complete_json(PROMPT, Draft)
    assert len(server.bodies) == 1 and fake.sleeps == []


def test_request_timeout_is_cut_to_the_budget_left(fake):
    def respond(body: dict[str, Any]) -> httpx.Response:
        fake.now += 4.0  # each request takes 4 s
        return httpx.Response(503) if len(server.bodies) == 1 else completion(GOOD)

    server = Server(respond)
    make_client(server, fake, timeout=20.0, budget=10.0).complete_json(PROMPT, Draft)
    assert server.timeouts[0]["read"] == pytest.approx(10.0)
    assert server.timeouts[1]["read"] == pytest.approx(10.0 - 4.0 - 0.5)  # after one request and one backoff


def test_timeouts_open_the_circuit_and_a_trial_closes_it(fake):
    hits = {"n": 0}
    healthy = {"on": False}

    def handler(request: httpx.Request) -> httpx.Response:
        hits["n"] += 1
        if not healthy["on"]:
            raise httpx.ReadTimeout("timed out", request=request)
        return completion(GOOD)

    client = make_client(handler, fake, max_retries=0, breaker_failures=3, breaker_cooldown=60.0)
    for _ in range(3):
        with pytest.raises(LLMUnavailableError, match="timeout"):
            client.complete_json(PROMPT, Draft)
    assert hits["n"] == 3 and not client.available

    with pytest.raises(LLMUnavailableError, match="circuit open"):
        client.complete_json(PROMPT, Draft)
    assert hits["n"] == 3  # no request while open

    fake.now += 59.0
    with pytest.raises(LLMUnavailableError, match="circuit open"):
        client.complete_json(PROMPT, Draft)
    fake.now += 1.0
    assert client.available
    with pytest.raises(LLMUnavailableError, match="timeout"):  # the trial fails: open for another cooldown
        client.complete_json(PROMPT, Draft)
    assert hits["n"] == 4 and not client.available
    with pytest.raises(LLMUnavailableError, match="circuit open"):
        client.complete_json(PROMPT, Draft)

    fake.now += 60.0
    healthy["on"] = True
    assert client.complete_json(PROMPT, Draft).call.attempts == 1  # the trial succeeds: closed
    assert client.available
    client.complete_json(PROMPT, Draft)
    assert hits["n"] == 6


def test_output_errors_do_not_open_the_circuit(fake):
    server = Server(lambda body: completion("not json"))
    client = make_client(server, fake, breaker_failures=2)
    for _ in range(4):
        with pytest.raises(LLMOutputError):
            client.complete_json(PROMPT, Draft)
    assert client.available and len(server.bodies) == 4


def test_tokens_and_latency_are_recorded_and_logged_without_text(fake, caplog):
    def respond(body: dict[str, Any]) -> httpx.Response:
        fake.now += 0.25
        return completion(GOOD, usage={"prompt_tokens": 120, "completion_tokens": 45})

    caplog.set_level(logging.INFO, logger="triage.llm")
    reply = make_client(Server(respond), fake).complete_json(PROMPT, Draft)
    assert reply.call.latency_ms == pytest.approx(250.0)
    assert (reply.call.prompt_tokens, reply.call.completion_tokens) == (120, 45)
    assert "event=llm_call prompt=reply_draft mode=json_schema attempts=1 latency_ms=250 tokens=120+45" in caplog.text
    assert "환불" not in caplog.text and "확인해" not in caplog.text


def test_missing_usage_is_none(fake):
    reply = make_client(Server(lambda body: completion(GOOD)), fake).complete_json(PROMPT, Draft)
    assert (reply.call.prompt_tokens, reply.call.completion_tokens) == (None, None)


def test_failures_are_logged_by_class_name(fake, caplog):
    caplog.set_level(logging.INFO, logger="triage.llm")
    with pytest.raises(LLMOutputError):
        make_client(Server(lambda body: completion("환불 처리 불가")), fake).complete_json(PROMPT, Draft)
    assert "event=llm_failed prompt=reply_draft error=LLMOutputError" in caplog.text
    assert "환불" not in caplog.text


def test_from_settings():
    assert LLMClient.from_settings(Settings(llm_base_url=None)) is None
    settings = Settings(llm_base_url="http://127.0.0.1:9/v1", llm_model="m",
                        llm_timeout=3.0, llm_breaker_failures=5)
    client = LLMClient.from_settings(settings)
    assert client is not None
    assert (client.model, client.timeout, client.breaker_failures, client.budget) == ("m", 3.0, 5, 20.0)
    assert client.message_budget == 30.0


BROKEN_BODIES = {
    "truncated JSON": httpx.Response(200, content=b'{"id": "c1", "object": "chat.completion", "choi',
                                     headers={"content-type": "application/json"}),
    "invalid JSON": httpx.Response(200, content=b"{'choices': []}", headers={"content-type": "application/json"}),
    "wrong content type": httpx.Response(200, content=b"<html>502 Bad Gateway</html>",
                                         headers={"content-type": "text/html"}),
    "empty body": httpx.Response(200, content=b"", headers={"content-type": "application/json"}),
    "empty body, no content type": httpx.Response(200, content=b""),
    "a 200 carrying an error object": httpx.Response(200, json={"error": {"message": "model overloaded"}}),
    "no choices": httpx.Response(200, json={"id": "c1", "object": "chat.completion", "choices": []}),
}


@pytest.mark.parametrize("answer", BROKEN_BODIES.values(), ids=BROKEN_BODIES.keys())
def test_a_broken_answer_is_unavailable_at_once_and_counts_against_the_endpoint(fake, answer):
    server = Server(lambda body: answer)
    client = make_client(server, fake, breaker_failures=2)
    for _ in range(2):
        with pytest.raises(LLMUnavailableError, match="LLM endpoint answered"):
            client.complete_json(PROMPT, Draft)
    assert len(server.bodies) == 2 and fake.sleeps == []  # not retried
    assert not client.available


@pytest.mark.parametrize("error", [httpx.ReadError("connection reset by peer"),
                                   httpx.RemoteProtocolError("server disconnected without sending a response")])
def test_a_connection_reset_is_retried_then_unavailable(fake, error):
    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise error

    calls: list[httpx.Request] = []
    with pytest.raises(LLMUnavailableError, match="connection error"):
        make_client(handler, fake, max_retries=1).complete_json(PROMPT, Draft)
    assert len(calls) == 2 and fake.sleeps == [0.5]


def test_the_trial_after_the_cooldown_is_one_request_without_retries(fake):
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ReadTimeout("timed out", request=request)

    client = make_client(handler, fake, max_retries=2, breaker_failures=1, breaker_cooldown=60.0)
    with pytest.raises(LLMUnavailableError):
        client.complete_json(PROMPT, Draft)
    assert len(calls) == 3  # a closed circuit retries
    fake.now += 60.0
    with pytest.raises(LLMUnavailableError, match="after 1 attempt"):
        client.complete_json(PROMPT, Draft)
    assert len(calls) == 4 and not client.available  # the trial: one request, then open again


def test_a_deadline_cuts_the_call_and_a_spent_one_sends_nothing(fake):
    server = Server(lambda body: completion(GOOD))
    client = make_client(server, fake, timeout=20.0, budget=45.0, message_budget=30.0, breaker_failures=1)
    deadline = client.deadline(4.0)
    fake.now += 1.0
    client.complete_json(PROMPT, Draft, deadline=deadline)
    assert server.timeouts[0]["read"] == pytest.approx(3.0)
    assert client.deadline() == pytest.approx(fake.now + 30.0)
    fake.now += 3.0
    with pytest.raises(LLMUnavailableError, match="budget of this message is spent"):
        client.complete_json(PROMPT, Draft, deadline=deadline)
    assert len(server.bodies) == 1 and client.available  # no request, and nothing against the endpoint
