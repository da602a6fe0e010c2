"""It keeps serving, through real servers: the service under uvicorn on 127.0.0.1, pointed at a misbehaving
OpenAI-compatible server (evals.fake_llm_server, real HTTP in a thread of this process).

- a 20,000-character message does not stall the requests behind it;
- an LLM that accepts connections and never answers delays only its own messages: the bot keeps answering;
- every broken LLM answer gives the template draft, and the message is stored.

The time bounds are liveness bounds, far above a normal answer and far below the stalls they guard against
(before: 20-45 s behind the long message or the hanging LLM).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from evals.fake_llm_server import BROKEN, FakeLLMServer, fake_llm_server
from knowledge.samples import DEMO_DIR
from tests.conftest import api_key, uvicorn_server
from triage.pipeline import READ_CHARS

pytestmark = pytest.mark.integration

HANG_S = 20  # the service's per-request, per-call and per-message LLM budget: a hanging call lasts this long
PROMPT_ANSWER_S = 8  # a bot answer that waited for the hanging LLM or the long message would take longer
LONG = ("주문한 지 일주일이 지났는데 배송이 아직 안 왔어요. 연락도 없고 너무 답답해요! 환불해 주세요. "
        "쿠폰도 적용이 안 됐고 결제는 두 번 된 것 같아요. ") * 400
LONG = LONG[:20_000]


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeLLMServer]:
    with fake_llm_server("ok") as server:
        yield server


@pytest.fixture(scope="module")
def service(small_kb, tmp_path_factory, llm) -> Iterator[httpx.Client]:
    var = tmp_path_factory.mktemp("var")
    env = {"TRIAGE_KB_DIR": str(small_kb), "TRIAGE_VAR_DIR": str(var),
           "TRIAGE_TAXONOMY": str(DEMO_DIR / "taxonomy.yaml"), "TRIAGE_LLM_BASE_URL": llm.url(),
           "TRIAGE_LLM_MODEL": "fake", "TRIAGE_LLM_TIMEOUT": str(HANG_S), "TRIAGE_LLM_BUDGET": str(HANG_S),
           "TRIAGE_LLM_MESSAGE_BUDGET": str(HANG_S),
           "TRIAGE_LLM_BREAKER_FAILURES": "1000"}  # every message reaches the misbehaving server
    key = api_key(f"sqlite:///{var}/triage.db", "admin")
    with uvicorn_server(env) as (base, _):
        client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=120)
        bot_answer(client)  # the first request loads Kiwi's model (seconds): not what these tests measure
        yield client


class InFlight:
    """Requests sent from threads, their answers and how long each took."""

    def __init__(self, client: httpx.Client, path: str, bodies: list[dict[str, Any]]) -> None:
        self.answers: list[tuple[httpx.Response, float]] = []
        self._threads = [threading.Thread(target=self._send, args=(client, path, b)) for b in bodies]
        for t in self._threads:
            t.start()

    def _send(self, client: httpx.Client, path: str, body: dict[str, Any]) -> None:
        started = time.monotonic()
        response = client.post(path, json=body)
        self.answers.append((response, time.monotonic() - started))

    @property
    def running(self) -> int:
        return sum(t.is_alive() for t in self._threads)

    def join(self) -> list[tuple[httpx.Response, float]]:
        for t in self._threads:
            t.join(timeout=150)
        return self.answers


def bot_answer(client: httpx.Client, text: str = "새벽배송 마감 시간 알려주세요") -> float:
    started = time.monotonic()
    response = client.post("/v1/bot/answer", json={"text": text, "section": "delivery"})
    elapsed = time.monotonic() - started
    assert response.status_code == 200 and response.json()["candidate_faq_id"] == "dawn-delivery-cutoff"
    return elapsed


def test_a_long_message_does_not_stall_the_requests_behind_it(service, llm):
    llm.mode = "ok"
    long = InFlight(service, "/v1/messages", [{"id": "long-1", "text": LONG, "channel": "email"}])
    time.sleep(0.3)  # the long message is in the server first
    waits = [bot_answer(service) for _ in range(3)]
    print(f"bot answers behind the long message: {[round(w, 3) for w in waits]} s")
    answers = long.join()
    assert max(waits) < PROMPT_ANSWER_S, waits
    [(response, _)] = answers
    assert response.status_code == 201
    intake = response.json()
    assert any(f"its first {READ_CHARS} were read" in w for w in intake["result"]["warnings"])
    stored = service.get(f"/v1/conversations/{intake['conversation_id']}").json()
    assert stored["messages"][-1]["text"] == LONG  # the whole text is kept for the agent


def test_a_hanging_llm_never_delays_the_bot(service, llm):
    llm.mode = "hang"
    before = llm.requests["hang"]
    triage = InFlight(service, "/v1/triage", [{"id": f"h{i}", "text": "카드 결제가 계속 실패해요"} for i in range(3)])
    deadline = time.monotonic() + 10
    while llm.requests["hang"] - before < 3 and time.monotonic() < deadline:  # all three wait for the LLM
        time.sleep(0.1)
    assert llm.requests["hang"] - before == 3
    waits = [bot_answer(service) for _ in range(5)]
    assert triage.running == 3, "the triage calls should still be waiting for the LLM"
    assert max(waits) < PROMPT_ANSWER_S, waits
    for response, elapsed in triage.join():
        assert response.status_code == 200 and elapsed < HANG_S + 30
        drafting = response.json()["drafting"]
        assert drafting["source"] == "template" and drafting["fallback_reason"] == "LLM failed: LLMUnavailableError"


@pytest.mark.parametrize("mode", BROKEN)
def test_a_broken_llm_answer_gives_the_template_draft_and_the_message_is_stored(service, llm, mode):
    llm.mode = mode
    before = llm.requests[mode]
    message = {"text": "카드 결제 취소하면 환불은 언제 돼요?", "channel": "chat"}

    triaged = service.post("/v1/triage", json={**message, "id": f"t-{mode}"})
    assert triaged.status_code == 200
    assert triaged.json()["drafting"]["source"] == "template" and triaged.json()["drafting"]["fallback_reason"]

    for path in ("/v1/messages", "/v1/bot/handoff"):
        response = service.post(path, json={**message, "id": f"{path.rsplit('/', 1)[1]}-{mode}"})
        assert response.status_code == 201, response.text
        stored = service.get(f"/v1/suggestions/{response.json()['suggestion_id']}").json()
        assert stored["message"]["text"] == message["text"]
        assert stored["result"]["drafting"]["source"] == "template" and stored["result"]["draft"]
        assert stored["result"]["drafting"]["fallback_reason"] == "LLM failed: LLMUnavailableError"
    assert llm.requests[mode] - before >= 3  # each message reached the broken server
