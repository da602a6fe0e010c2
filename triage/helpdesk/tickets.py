"""A past ticket as every export format reads it: the shape the rest of the import works with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Author = Literal["customer", "agent"]


@dataclass(frozen=True)
class Comment:
    author: Author
    body: str  # as exported (raw: personal data is redacted by the importer, never here)
    created_at: datetime | None = None


@dataclass(frozen=True)
class Ticket:
    ticket_id: str
    comments: tuple[Comment, ...]  # in the order they were written
    created_at: datetime | None = None
    channel: str | None = None
    subject: str | None = None
    requester_id: str | None = None
    segment: str | None = None
    tags: tuple[str, ...] = ()
    status: str | None = None
    origin: str = ""  # "file:line" of the ticket (its first row in a CSV), for messages

    @property
    def first_customer_message(self) -> str | None:
        return next((c.body for c in self.comments if c.author == "customer" and c.body.strip()), None)


@dataclass(frozen=True)
class BadRow:
    """A row that could not be read: reported as ``origin: problem`` and skipped; nothing else is lost."""

    origin: str  # "file:line"
    problem: str
