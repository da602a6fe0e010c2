"""The drafting stage against a real OpenAI-compatible server (llama-cpp-python + SmolLM2-135M on 127.0.0.1).

The 135M model writes poor replies, so the draft may come from the LLM or fall back to the template; either
way the result must say which, with a reason for a fallback, and no personal data may reach the server.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.integration.llm_server import llama_cpp_server
from triage.llm import LLMClient
from triage.models import Message
from triage.pipeline import Pipeline

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FAQ = [
    {"id": "refund-time", "question": "When will I get my refund?",
     "answer": "Card refunds reach your card 3 to 5 business days after the cancellation.",
     "examples": ["how long does a refund take", "refund not received yet"], "tags": ["refund"]},
    {"id": "reset-password", "question": "I forgot my password",
     "answer": "Tap 'Forgot password' on the login screen and follow the link we email you.",
     "examples": ["can't remember my password", "reset password"], "tags": ["account"]},
]


@pytest.fixture(scope="module")
def llm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with llama_cpp_server(tmp_path_factory.mktemp("llm") / "server.log") as base_url:
        yield base_url


@pytest.fixture(scope="module")
def kb(embedder, tmp_path_factory):
    from knowledge.index import build_snapshot
    from tests.conftest import demo_model
    from triage.config import Settings
    from triage.kb import KnowledgeBase

    work = tmp_path_factory.mktemp("english-kb")
    (work / "faq.jsonl").write_text("\n".join(json.dumps(r) for r in FAQ), encoding="utf-8")
    build_snapshot(work / "index", embedder, [work / "faq.jsonl"], finish=demo_model)
    return KnowledgeBase.open(Settings(kb_dir=work / "index", var_dir=work / "var"))


def test_a_draft_through_a_real_server_records_its_path_and_keeps_personal_data_out(llm_server, kb):
    bodies: list[str] = []
    http = httpx.Client(event_hooks={"request": [lambda r: bodies.append(r.content.decode())]})
    llm = LLMClient(llm_server, "smollm2", timeout=120, budget=240, http_client=http)
    result = Pipeline(kb, llm=llm).run(Message(
        id="m1", text="I cancelled my order last week and the refund is still not on my card. "
                      "Call me at 010-2345-6789."))
    info = result.drafting
    assert bodies, "the LLM was never called"
    assert all("010-2345-6789" not in b and "2345" not in b for b in bodies)
    assert any("<PHONE_1>" in b for b in bodies)
    assert result.draft and result.need is not None and result.real_need
    assert "010-2345-6789" not in result.draft
    if info.source == "llm":
        assert info.prompt == "reply_draft" and info.prompt_hash and info.model == "smollm2"
        assert info.prompt_tokens and info.completion_tokens and info.latency_ms and info.latency_ms > 0
        assert set(info.cited_ids) <= {"refund-time", "reset-password"} and result.lint == []
    else:
        assert info.fallback_reason and info.fallback_reason.startswith(("LLM failed", "the LLM draft failed lint"))
