"""One JSON answer from an OpenAI-compatible chat endpoint (OpenAI, vLLM, Ollama, llama.cpp), failing fast.

Every LLM feature has a template fallback, so ``LLMClient.complete_json`` either returns a validated pydantic
object or raises ``LLMUnavailableError`` / ``LLMOutputError`` (``triage.errors``) quickly.

Structured output, a fallback chain per endpoint:
  1. ``response_format`` ``json_schema`` (the pydantic schema, ``strict: false``);
  2. if the server rejects it (HTTP 400/422, or 500/501: llama-cpp-python's server answers 500), at once and
     without backoff ``json_object`` with the schema appended to the system message and also sent as
     ``response_format["schema"]`` (an extension of llama-cpp-python, Together and Fireworks, which then
     constrain decoding to the schema: the only way a small local model keeps to it);
  3. if that is rejected (400/422), plain ``json_object``, the schema still in the system message;
  4. if that is rejected too, no ``response_format`` at all, the schema still in the system message.
  Steps 2 to 4 are reported as mode ``json_object``. The first step that gets an answer is remembered, so
  later calls of this client start there.
  The answer is cut to its outermost ``{...}`` (code fences, prose), parsed and validated; a failure is an
  ``LLMOutputError``, not retried here (the caller regenerates or falls back to the template).

Retries (the openai client's own are off): 429, 5xx, timeouts and connection errors, at most ``max_retries``
times, after 0.5 s, 1 s, 2 s ... (or the server's ``Retry-After``), and never past ``budget`` seconds for the
whole call, nor past the caller's ``deadline`` (one message's LLM calls share one budget, see
``LLMClient.deadline``): each request's timeout is cut to the time left, and a sleep that would overrun it
gives up.

An answer that is not a chat completion (a body that is not JSON or is cut off, another content type, an empty
body, a 200 carrying an ``error`` object and no choices) is an ``LLMUnavailableError`` at once, not retried.

Circuit breaker: ``breaker_failures`` consecutive calls ending in ``LLMUnavailableError`` open the circuit;
while open, calls fail at once without a request. After ``breaker_cooldown`` seconds one trial call goes
through as a single request (no retries) while the others keep failing at once: an answer closes the circuit,
a failure re-opens it for another cooldown. A dead endpoint thus costs one timeout per cooldown, not one per
message. Output errors prove the endpoint alive and close it.

Logs carry names, counts and timings only, never prompt or answer text.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, cast

import httpx
import openai
from openai.types.chat import ChatCompletion
from pydantic import BaseModel, ValidationError

from triage.errors import LLMOutputError, LLMUnavailableError

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletionMessageParam

    from triage.config import Settings

log = logging.getLogger("triage.llm")

# The fallback chain, one entry per level: the mode reported, and the statuses that move on to the next level
MODES: tuple[Literal["json_schema", "json_object"], ...] = ("json_schema", "json_object", "json_object", "json_object")
REJECTED: tuple[set[int], ...] = ({400, 422, 500, 501}, {400, 422}, {400, 422}, set())
BACKOFF_FIRST, BACKOFF_CAP = 0.5, 8.0
DUMMY_API_KEY = "not-needed"  # local servers want no key, the openai client wants one


@dataclass(frozen=True)
class Prompt:
    name: str  # template name, e.g. "reply_draft"
    hash: str  # hash of the template source (recorded in results)
    system: str
    user: str


@dataclass(frozen=True)
class LLMCall:
    """What every LLM-produced result records."""

    model: str
    prompt: str
    prompt_hash: str
    mode: Literal["json_schema", "json_object"]
    prompt_tokens: int | None
    completion_tokens: int | None
    latency_ms: float
    attempts: int


T = TypeVar("T", bound=BaseModel)


@dataclass(frozen=True)
class LLMReply(Generic[T]):
    value: T
    call: LLMCall


@dataclass
class _Progress:
    attempts: int = 0
    level: int = 0  # 0 json_schema, 1 json_object + schema, 2 json_object, 3 no response_format


class LLMClient:
    def __init__(self, base_url: str, model: str, api_key: str | None = None, timeout: float = 15.0,
                 budget: float = 20.0, max_retries: int = 2, breaker_failures: int = 3,
                 breaker_cooldown: float = 60.0, message_budget: float = 30.0, http_client: httpx.Client | None = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        self.model, self.timeout, self.budget, self.max_retries = model, timeout, budget, max_retries
        self.message_budget = message_budget
        self.breaker_failures, self.breaker_cooldown = breaker_failures, breaker_cooldown
        self._clock, self._sleep = clock, sleep
        # openai accepts an httpx (legacy) client though its annotation names httpx2's
        self._openai = openai.OpenAI(base_url=base_url, api_key=api_key or DUMMY_API_KEY, timeout=timeout,
                                     max_retries=0, http_client=cast(Any, http_client))
        self._level = 0  # the first structured-output mode this endpoint answered
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._trial = False

    @classmethod
    def from_settings(cls, settings: Settings, http_client: httpx.Client | None = None) -> LLMClient | None:
        if not settings.llm_base_url:
            return None
        return cls(settings.llm_base_url, settings.llm_model, settings.llm_api_key, settings.llm_timeout,
                   settings.llm_budget, settings.llm_max_retries, settings.llm_breaker_failures,
                   settings.llm_breaker_cooldown, settings.llm_message_budget, http_client=http_client)

    def deadline(self, seconds: float | None = None) -> float:
        """When LLM work started now must end (``seconds``, else one message's budget), for ``complete_json``."""
        return self._clock() + (self.message_budget if seconds is None else seconds)

    @property
    def available(self) -> bool:
        """False while the circuit is open (True again once a trial call would be let through)."""
        with self._lock:
            return self._opened_at is None or (
                not self._trial and self._clock() - self._opened_at >= self.breaker_cooldown)

    def complete_json(self, prompt: Prompt, schema: type[T], max_tokens: int = 700,
                      temperature: float = 0.2, deadline: float | None = None) -> LLMReply[T]:
        """The answer, validated; ``deadline`` (from ``deadline()``) bounds this call beside ``budget``."""
        started = self._clock()
        progress = _Progress(level=self._level)
        try:
            budget = self.budget if deadline is None else min(self.budget, deadline - started)
            if budget <= 0:
                raise LLMUnavailableError("the LLM budget of this message is spent")
            trial = self._admit()
            endpoint_ok = False
            try:
                completion = self._send(prompt, schema, max_tokens, temperature, started, budget,
                                        0 if trial else self.max_retries, progress)
                endpoint_ok = True
            finally:
                self._settle(endpoint_ok)
            choice = completion.choices[0]
            value = _parse(choice.message.content, choice.finish_reason, schema)
        except (LLMUnavailableError, LLMOutputError) as exc:
            log.warning("event=llm_failed prompt=%s error=%s attempts=%d latency_ms=%.0f", prompt.name,
                        type(exc).__name__, progress.attempts, (self._clock() - started) * 1000)
            raise
        usage = completion.usage
        call = LLMCall(model=self.model, prompt=prompt.name, prompt_hash=prompt.hash, mode=MODES[progress.level],
                       prompt_tokens=usage.prompt_tokens if usage else None,
                       completion_tokens=usage.completion_tokens if usage else None,
                       latency_ms=(self._clock() - started) * 1000, attempts=progress.attempts)
        log.info("event=llm_call prompt=%s mode=%s attempts=%d latency_ms=%.0f tokens=%s+%s", call.prompt,
                 call.mode, call.attempts, call.latency_ms, call.prompt_tokens, call.completion_tokens)
        return LLMReply(value=value, call=call)

    def _send(self, prompt: Prompt, schema: type[BaseModel], max_tokens: int, temperature: float,
              started: float, budget: float, max_retries: int, progress: _Progress) -> ChatCompletion:
        """Requests until one is answered: mode fallbacks at once, retries with backoff, within the budget."""
        schema_json = schema.model_json_schema()
        retries = 0
        while True:
            left = budget - (self._clock() - started)
            if left <= 0:
                raise LLMUnavailableError(f"LLM budget of {budget:g} s spent after {progress.attempts} attempt(s)")
            progress.attempts += 1
            try:
                completion = _chat_completion(self._openai.chat.completions.create(
                    model=self.model, messages=_messages(prompt, schema_json, progress.level), max_tokens=max_tokens,
                    temperature=temperature, timeout=min(self.timeout, left),
                    **_response_format(prompt.name, schema_json, progress.level)))
                self._level = progress.level
                return completion
            except openai.APIStatusError as exc:
                status = exc.status_code
                if status in REJECTED[progress.level]:
                    progress.level += 1
                    continue
                if status != 429 and status < 500:
                    raise LLMUnavailableError(f"LLM endpoint answered HTTP {status}") from None
                reason, retry_after = f"HTTP {status}", _retry_after(exc.response.headers.get("retry-after"))
            except openai.APITimeoutError:
                reason, retry_after = "timeout", None
            except openai.APIConnectionError:
                reason, retry_after = "connection error", None
            except openai.OpenAIError as exc:
                raise LLMUnavailableError(f"LLM call failed: {type(exc).__name__}") from None
            except ValueError:  # the openai client parsing a JSON body that is cut off, empty or not JSON
                raise LLMUnavailableError("the LLM endpoint answered a body that is not valid JSON") from None
            if retries >= max_retries:
                raise LLMUnavailableError(f"LLM endpoint unavailable after {progress.attempts} attempt(s): {reason}")
            delay = retry_after if retry_after is not None else min(BACKOFF_FIRST * 2**retries, BACKOFF_CAP)
            if self._clock() - started + delay >= budget:
                raise LLMUnavailableError(f"LLM budget of {budget:g} s left no time to retry after "
                                          f"{progress.attempts} attempt(s): {reason}")
            self._sleep(delay)
            retries += 1

    def _admit(self) -> bool:
        """Raise at once while the circuit is open; after the cooldown let one trial call through (True)."""
        with self._lock:
            if self._opened_at is None:
                return False
            waited = self._clock() - self._opened_at
            if self._trial or waited < self.breaker_cooldown:
                raise LLMUnavailableError(f"circuit open after {self._failures} failed LLM call(s); "
                                          f"next trial in {max(0.0, self.breaker_cooldown - waited):.0f} s")
            self._trial = True
            return True

    def _settle(self, endpoint_ok: bool) -> None:
        with self._lock:
            if endpoint_ok:
                if self._opened_at is not None:
                    log.info("event=llm_circuit_closed")
                self._failures, self._opened_at = 0, None
            else:
                self._failures += 1
                if self._trial or self._failures >= self.breaker_failures:
                    log.warning("event=llm_circuit_open failures=%d cooldown_s=%g", self._failures,
                                self.breaker_cooldown)
                    self._opened_at = self._clock()
            self._trial = False


def _chat_completion(answer: object) -> ChatCompletion:
    """The answer if it is a chat completion with a message to read; else ``LLMUnavailableError`` naming what
    came instead (the openai client hands back a plain string for another content type, and builds a
    completion without choices from a 200 carrying an ``error`` object)."""
    if not isinstance(answer, ChatCompletion):
        what = "an empty body" if answer == "" else "a body that is not JSON"
        raise LLMUnavailableError(f"the LLM endpoint answered {what} instead of a chat completion")
    error = getattr(answer, "error", None)
    choices = answer.choices
    if error is not None or not isinstance(choices, list) or not choices:
        what = "an error object" if error is not None else "no choices"
        raise LLMUnavailableError(f"the LLM endpoint answered {what} instead of a chat completion")
    message = getattr(choices[0], "message", None)
    if message is None or not isinstance(getattr(message, "content", None), str | None):
        raise LLMUnavailableError("the LLM endpoint answered a choice without a message")
    return answer


def _messages(prompt: Prompt, schema_json: dict[str, Any], level: int) -> list[ChatCompletionMessageParam]:
    system = prompt.system
    if level > 0:  # no server-side schema: ask for it in the prompt
        system += ("\n\nAnswer with one JSON object that matches this JSON schema: "
                   + json.dumps(schema_json, ensure_ascii=False))
    return [{"role": "system", "content": system}, {"role": "user", "content": prompt.user}]


def _response_format(name: str, schema_json: dict[str, Any], level: int) -> dict[str, Any]:
    if level == 0:
        safe_name = re.sub(r"[^A-Za-z0-9_-]", "_", name)[:64]  # OpenAI's rule for schema names
        return {"response_format": {"type": "json_schema",
                                    "json_schema": {"name": safe_name, "schema": schema_json, "strict": False}}}
    if level == 1:
        return {"response_format": {"type": "json_object", "schema": schema_json}}
    return {"response_format": {"type": "json_object"}} if level == 2 else {}


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (a number or an HTTP date); None if absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _parse(content: str | None, finish_reason: str | None, schema: type[T]) -> T:
    """The outermost {...} of the answer (code fences and prose dropped), parsed and validated."""
    raw = content or ""
    cut = " (cut off at max_tokens)" if finish_reason == "length" else ""
    start, end = raw.find("{"), raw.rfind("}")
    if start < 0 or end < start:
        raise LLMOutputError(f"the answer holds no JSON object{cut}", raw)
    try:
        data = json.loads(raw[start:end + 1])
    except json.JSONDecodeError as exc:
        raise LLMOutputError(f"the answer is not valid JSON{cut}: {exc.msg} at char {exc.pos}", raw) from None
    try:
        return schema.model_validate(data)
    except ValidationError as exc:  # its message quotes the input: name the fields only
        fields = ", ".join(".".join(map(str, e["loc"])) or "(root)" for e in exc.errors())
        raise LLMOutputError(f"the answer fails the {schema.__name__} schema at: {fields}", raw) from None
