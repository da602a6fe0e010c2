"""Errors of the service, written down once.

    TriageError                 base of the service's own errors
    ├── InputError              a message or file the caller must fix (HTTP 422, CLI exit 2)
    │   ├── MessageTooLongError text over ``max_message_chars`` (HTTP 413)
    │   └── TaxonomyError       a taxonomy file or tag that cannot be used (every problem as file:line)
    │   └── PolicyError         a priority policy file that cannot be used (every problem as file:line)
    │   └── NotFoundError       a conversation or suggestion that does not exist (HTTP 404)
    ├── ConflictError           another agent already decided this suggestion (HTTP 409)
    ├── RateLimitedError        too many requests from one widget session or address (HTTP 429, Retry-After)
    ├── AuthError               no API key or an unknown one (HTTP 401)
    │   └── ForbiddenError      a valid key whose role may not do this (HTTP 403)
    ├── NotReadyError           no knowledge base loaded yet (HTTP 503)
    ├── StoreError              the database cannot be reached or migrated (HTTP 503)
    ├── WorkerError             the message worker process stopped while running a message (HTTP 503)
    └── LLMError                the LLM gave no usable answer; callers fall back to the template path
        ├── LLMUnavailableError endpoint down, timeout, HTTP error after retries, budget spent, circuit open
        └── LLMOutputError      the answer is not valid JSON or fails the schema (raw text on ``.raw``, never logged)

Knowledge-base errors come from ``knowledge.errors`` (``KnowledgeBaseError`` → ``SourceError``,
``IndexNotFoundError``, ``EmbedderMismatchError``); the API maps them in one handler (``triage.api.app``).
"""

from __future__ import annotations


class TriageError(Exception):
    """Base class of the service's errors."""


class InputError(TriageError):
    pass


class MessageTooLongError(InputError):
    pass


class NotFoundError(InputError):
    pass


class ConflictError(TriageError):
    pass


class RateLimitedError(TriageError):
    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AuthError(TriageError):
    pass


class ForbiddenError(AuthError):
    pass


class NotReadyError(TriageError):
    pass


class StoreError(TriageError):
    pass


class WorkerError(TriageError):
    pass


class TaxonomyError(InputError):
    """A taxonomy file (or tag) that cannot be used; ``problems`` lists each as "file:line: what"."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s) in the taxonomy:\n" + "\n".join(f"  {p}" for p in problems))


class PolicyError(InputError):
    """A priority policy file that cannot be used; ``problems`` lists each as "file:line: what"."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s) in the priority policy:\n"
                         + "\n".join(f"  {p}" for p in problems))


class LLMError(TriageError):
    """The LLM gave no usable answer (see ``triage.llm``)."""


class LLMUnavailableError(LLMError):
    pass


class LLMOutputError(LLMError):
    """The answer could not be used; ``raw`` keeps its text for debugging and must never be logged."""

    def __init__(self, message: str, raw: str) -> None:
        self.raw = raw
        super().__init__(message)
