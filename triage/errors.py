"""Errors of the service, written down once.

    TriageError                 base of the service's own errors
    ├── InputError              a message or file the caller must fix (HTTP 422, CLI exit 2)
    │   ├── MessageTooLongError text over ``max_message_chars`` (HTTP 413)
    │   └── TaxonomyError       a taxonomy file or tag that cannot be used (every problem as file:line)
    └── NotReadyError           no knowledge base loaded yet (HTTP 503)

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


class NotReadyError(TriageError):
    pass


class TaxonomyError(InputError):
    """A taxonomy file (or tag) that cannot be used; ``problems`` lists each as "file:line: what"."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s) in the taxonomy:\n" + "\n".join(f"  {p}" for p in problems))
