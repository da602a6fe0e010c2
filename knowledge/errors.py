"""Errors raised by the knowledge base.

    KnowledgeBaseError            anything wrong with a KB source or index
    ├── SourceError               bad FAQ rows / manuals; ``problems`` lists every one as "file:line: what"
    ├── IndexNotFoundError        no snapshot where one was expected
    └── EmbedderMismatchError     a snapshot loaded with another embedder than it was built with

The service (``triage.errors``) maps these to HTTP statuses and CLI exit codes.
"""

from __future__ import annotations


class KnowledgeBaseError(Exception):
    """Base class of all knowledge-base errors."""


class SourceError(KnowledgeBaseError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        shown = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{len(problems)} problem(s) in the knowledge-base sources:\n{shown}")


class IndexNotFoundError(KnowledgeBaseError):
    pass


class EmbedderMismatchError(KnowledgeBaseError):
    pass
