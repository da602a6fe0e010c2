"""triage.llm against a real OpenAI-compatible server (llama-cpp-python + SmolLM2-135M on 127.0.0.1).

The 135M model writes poor text: these tests assert the protocol and the shapes, never the wording. Every
completion reuses one prompt and one JSON schema, so the server's prompt cache makes all but the first fast.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, ConfigDict, field_validator

from evals.local_server import free_port
from tests.integration.llm_server import llama_cpp_server
from triage.errors import LLMOutputError, LLMUnavailableError
from triage.llm import LLMClient, Prompt

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PROMPT = Prompt(name="integration_ticket", hash="0" * 12, system="You triage customer support messages.",
                user="My card payment failed twice.")


class Ticket(BaseModel):
    category: str
    urgent: bool


class CodedTicket(Ticket):
    # the same JSON schema as Ticket (so the same prompt), plus a rule the model cannot guess
    model_config = ConfigDict(title="Ticket")

    @field_validator("category")
    @classmethod
    def _coded(cls, value: str) -> str:
        if not re.fullmatch(r"CAT-\d{6}", value):
            raise ValueError("category must look like CAT-123456")
        return value


@pytest.fixture(scope="module")
def llm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with llama_cpp_server(tmp_path_factory.mktemp("llm") / "server.log") as base_url:
        yield base_url


class Wire:
    """What went over the wire: (response_format type, has a "schema", status) per request."""

    def __init__(self) -> None:
        self.exchanges: list[tuple[str | None, bool, int]] = []

    def client(self) -> httpx.Client:
        return httpx.Client(event_hooks={"response": [self._record]})

    def _record(self, response: httpx.Response) -> None:
        body: dict[str, Any] = json.loads(response.request.content)
        fmt = body.get("response_format") or {}
        self.exchanges.append((fmt.get("type"), "schema" in fmt, response.status_code))


def test_complete_json_returns_a_validated_object_then_output_errors(llm_server):
    wire = Wire()
    client = LLMClient(llm_server, "smollm2", timeout=60, budget=90, http_client=wire.client())
    reply = client.complete_json(PROMPT, Ticket, max_tokens=96)
    assert isinstance(reply.value, Ticket)
    if wire.exchanges[0][2] == 200:  # a server that supports json_schema
        assert reply.call.mode == "json_schema" and reply.call.attempts == 1
    else:  # llama-cpp-python 0.3.x: 500, then json_object with the schema constraining decoding
        assert wire.exchanges == [("json_schema", False, 500), ("json_object", True, 200)]
        assert reply.call.mode == "json_object" and reply.call.attempts == 2
    assert reply.call.prompt_tokens and reply.call.prompt_tokens > 20
    assert reply.call.completion_tokens and 0 < reply.call.completion_tokens <= 96
    assert 0 < reply.call.latency_ms < 90_000
    assert (reply.call.model, reply.call.prompt, reply.call.prompt_hash) == ("smollm2", PROMPT.name, PROMPT.hash)

    # The answer cut off after 5 tokens is not JSON: an output error, sent in the mode remembered above.
    sent = len(wire.exchanges)
    with pytest.raises(LLMOutputError, match="cut off at max_tokens") as cut:
        client.complete_json(PROMPT, Ticket, max_tokens=5)
    assert cut.value.raw.lstrip().startswith("{")
    assert [(fmt, status) for fmt, _, status in wire.exchanges[sent:]] == [(wire.exchanges[sent - 1][0], 200)]

    # Valid JSON of the right shape that fails a rule the schema cannot express: an output error too.
    assert CodedTicket.model_json_schema() == Ticket.model_json_schema()
    with pytest.raises(LLMOutputError, match="fails the CodedTicket schema at: category") as coded:
        client.complete_json(PROMPT, CodedTicket, max_tokens=96)
    assert isinstance(json.loads(coded.value.raw), dict)
    assert client.available  # output errors do not count against the endpoint


def test_timeouts_open_the_circuit(llm_server):
    client = LLMClient(llm_server, "smollm2", timeout=0.001, budget=5, max_retries=0, breaker_failures=2)
    for _ in range(2):
        with pytest.raises(LLMUnavailableError, match="timeout"):
            client.complete_json(PROMPT, Ticket, max_tokens=8)
    assert not client.available
    started = time.monotonic()
    with pytest.raises(LLMUnavailableError, match="circuit open"):
        client.complete_json(PROMPT, Ticket, max_tokens=8)
    assert time.monotonic() - started < 0.05


def test_a_closed_port_fails_within_the_budget():
    client = LLMClient(f"http://127.0.0.1:{free_port()}/v1", "smollm2", timeout=2, budget=3, max_retries=2)
    started = time.monotonic()
    with pytest.raises(LLMUnavailableError, match="connection error"):
        client.complete_json(PROMPT, Ticket, max_tokens=8)
    assert time.monotonic() - started < 3
