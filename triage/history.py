"""Repeat contacts: the same customer asking about the same thing again, on any channel, within a window.

The history is kept in memory per customer (bounded by the window), fed by every message the pipeline
sees. "The same thing" means the same tag (not ``needs_review``) and a message vector at least
``SAME_ISSUE_SIMILARITY`` close, or a near-identical message whatever its tag. Different customers asking
the same thing are never repeats.
"""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np

from triage.tagging import NEEDS_REVIEW

if TYPE_CHECKING:
    from numpy.typing import NDArray

SAME_ISSUE_SIMILARITY = 0.80  # with the same tag (multilingual-e5 cosine; unrelated Korean pairs sit near 0.75)
SAME_TEXT_SIMILARITY = 0.95  # whatever the tag
MAX_PER_CUSTOMER = 50


@dataclass(frozen=True)
class Contact:
    message_id: str | None
    channel: str | None
    at: datetime
    tag: str
    vector: NDArray[np.float32]


def as_utc(moment: datetime | None) -> datetime:
    """Naive times are taken as UTC; a missing time is now."""
    if moment is None:
        return datetime.now(UTC)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class ContactHistory:
    def __init__(self, window: timedelta) -> None:
        self.window = window
        self._contacts: dict[str, deque[Contact]] = defaultdict(lambda: deque(maxlen=MAX_PER_CUSTOMER))
        self._lock = threading.Lock()

    def find_repeat(self, customer_id: str, at: datetime, vector: NDArray[np.float32], tag: str) -> Contact | None:
        """The most recent earlier contact of this customer on the same issue within the window."""
        with self._lock:
            earlier = [c for c in self._contacts.get(customer_id, ()) if at - self.window <= c.at <= at]
        for contact in reversed(earlier):
            similarity = float(np.dot(contact.vector, vector))
            if similarity >= SAME_TEXT_SIMILARITY or (
                    tag != NEEDS_REVIEW and contact.tag == tag and similarity >= SAME_ISSUE_SIMILARITY):
                return contact
        return None

    def record(self, customer_id: str, contact: Contact) -> None:
        with self._lock:
            contacts = self._contacts[customer_id]
            contacts.append(contact)
            while contacts and contacts[0].at < contact.at - self.window:
                contacts.popleft()
