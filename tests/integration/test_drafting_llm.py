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


@pytest.fixture(scope="module")
def korean_safety(embedder, tmp_path_factory):
    """The drafting tests' Korean KB with a protective entry and a taxonomy with ``ask_for``."""
    from knowledge.index import build_snapshot, load_snapshot
    from knowledge.search import Searcher
    from tests.conftest import demo_model
    from tests.triage.test_drafting import ASKING_TAXONOMY, SAFETY_FAQ
    from triage.taxonomy import load_taxonomy

    folder = tmp_path_factory.mktemp("korean-safety")
    (folder / "faq.yaml").write_text(SAFETY_FAQ, encoding="utf-8")
    (folder / "taxonomy.yaml").write_text(ASKING_TAXONOMY, encoding="utf-8")
    build_snapshot(folder / "index", embedder, [folder / "faq.yaml"], None, finish=demo_model)
    snapshot = load_snapshot(folder / "index", embedder)
    return snapshot, load_taxonomy(folder / "taxonomy.yaml"), Searcher(snapshot, embedder)


def test_the_real_server_gets_the_asks_and_the_protective_flag_and_the_draft_opens_with_the_step(
        llm_server, korean_safety):
    from triage.models import TriageResult
    from triage.stages.drafting import Drafter

    snapshot, taxonomy, searcher = korean_safety
    bodies: list[str] = []
    http = httpx.Client(event_hooks={"request": [lambda r: bodies.append(r.content.decode())]})
    drafter = Drafter(snapshot, LLMClient(llm_server, "smollm2", timeout=120, budget=240, http_client=http),
                      taxonomy)

    def draft(text: str, tag: str):
        bodies.clear()
        search = searcher.search(text, k=5)
        result = TriageResult(id="m", decision="handoff", handoff_reason="not_confident", confidence=0.3,
                              candidate_faq_id=search.faq_hits[0].entry_id, tag=tag, language="ko")
        out = drafter.draft(text, result, search)
        replies = [json.loads(b)["messages"][0]["content"] for b in bodies if "You write first drafts" in b]
        return out, replies

    hacked, replies = draft("누가 제 계정에 로그인해서 모르는 주문을 했어요. 비밀번호 qwer1234! 였는데 바꿔야 하나요?",
                            "account_hacked")
    assert replies, "the reply prompt never reached the server"
    assert all("qwer1234" not in b for b in bodies)
    assert any("protective step" in r for r in replies)
    # the KB's protective step opens the draft, after one sentence of empathy, whichever path wrote the rest
    opening = hacked.draft.split("\n\n")[0]
    step = opening.find("가장 급한 것부터 안내해 드릴게요.\n바로 비밀번호를 바꾸고")
    assert step >= 0 and opening[:step].count("\n") <= 1  # at most the empathy sentence before it
    assert "account-hacked" in hacked.info.cited_ids and "qwer1234" not in hacked.draft
    if hacked.info.source == "llm":
        assert hacked.lint == []  # the fit rules (no_protective_step, asks_for_given, …) passed
    else:
        assert hacked.info.fallback_reason

    refund, replies = draft("어제 송금받기로 한 환불이 아직 안 들어왔어요", "refund_status")
    # the taxonomy's ask_for, in every attempt, without 송금 일시: "어제" gives it
    assert replies and all("Ask only for: 거래번호." in r for r in replies)
    assert refund.draft and "송금 일시" not in refund.draft
    if refund.info.source == "llm":
        assert refund.lint == []
