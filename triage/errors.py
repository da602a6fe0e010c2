"""Errors of the service, written down once.

    TriageError                 base of the service's own errors
    ├── InputError              a message or file the caller must fix (HTTP 422, CLI exit 2)
    │   └── MessageTooLongError text over ``max_message_chars`` (HTTP 413)
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
