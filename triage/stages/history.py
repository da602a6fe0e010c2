"""Repeat contacts: the same customer asking about the same thing again, on any channel, within a window.

The service keeps the history in its database (``StoredHistory``: every stored message, so every process and
replica sees the same, and a restart forgets nothing); a batch or an evaluation keeps it in memory per customer
(``ContactHistory``, bounded by the window). "The same thing" means the same tag (not the taxonomy's catch-all,
such as ``needs_review``) and a message vector at least ``SAME_ISSUE_SIMILARITY`` close, or a near-identical
message whatever its tag. Different customers asking the same thing are never repeats.
"""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np

from triage.taxonomy import NEEDS_REVIEW

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from triage.store import Store

SAME_ISSUE_SIMILARITY = 0.80  # with the same tag (multilingual-e5 cosine; unrelated Korean pairs sit near 0.75)
SAME_TEXT_SIMILARITY = 0.95  # whatever the tag
MAX_PER_CUSTOMER = 50
LONGEST_WINDOW = timedelta(days=90)  # the longest repeat window a priority policy may set; memory keeps that long


@dataclass(frozen=True)
class Contact:
    message_id: str | None
    channel: str | None
    at: datetime
    tag: str
    vector: NDArray[np.float32]


CustomerContact = tuple[str, Contact]  # a customer's id and one of their contacts, to be recorded


def as_utc(moment: datetime | None) -> datetime:
    """Naive times are taken as UTC; a missing time is now."""
    if moment is None:
        return datetime.now(UTC)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class ContactHistory:
    """The history in process memory: for a batch file or an evaluation, where one pipeline sees every message.
    The service keeps it in the database instead (``StoredHistory``), shared by its processes and replicas."""

    def __init__(self, window: timedelta) -> None:
        self.window = window
        self._contacts: dict[str, deque[Contact]] = defaultdict(lambda: deque(maxlen=MAX_PER_CUSTOMER))
        self._lock = threading.Lock()

    def find_repeat(self, customer_id: str, at: datetime, vector: NDArray[np.float32], tag: str,
                    message_id: str | None = None, catch_all: str = NEEDS_REVIEW,
                    window: timedelta | None = None) -> Contact | None:
        """The most recent earlier contact of this customer on the same issue within the window (``window``: the
        priority policy's, instead of the one the history was made with). A contact with
        the same ``message_id`` is the same message sent again (a retry), never a repeat of itself; two messages
        given the taxonomy's ``catch_all`` tag share no issue by that tag."""
        for contact in reversed(self._earlier(customer_id, at, window or self.window)):
            if message_id is not None and contact.message_id == message_id:
                continue
            similarity = float(np.dot(contact.vector, vector))
            if similarity >= SAME_TEXT_SIMILARITY or (
                    tag != catch_all and contact.tag == tag and similarity >= SAME_ISSUE_SIMILARITY):
                return contact
        return None

    def _earlier(self, customer_id: str, at: datetime, window: timedelta) -> list[Contact]:
        """The customer's contacts from ``at - window`` to ``at``, oldest first."""
        with self._lock:
            return [c for c in self._contacts.get(customer_id, ()) if at - window <= c.at <= at]

    def record(self, customer_id: str, contact: Contact) -> None:
        with self._lock:
            contacts = self._contacts[customer_id]
            contacts.append(contact)
            while contacts and contacts[0].at < contact.at - max(self.window, LONGEST_WINDOW):
                contacts.popleft()


class StoredHistory(ContactHistory):
    """The service's history: the ``contacts`` table, written in the same transaction as the message it
    belongs to (``Store.record_message``), read by every process and replica of the service."""

    def __init__(self, store: Store, window: timedelta) -> None:
        super().__init__(window)
        self.store = store

    def _earlier(self, customer_id: str, at: datetime, window: timedelta) -> list[Contact]:
        return self.store.recent_contacts(customer_id, at - window, at, MAX_PER_CUSTOMER)

    def record(self, customer_id: str, contact: Contact) -> None:
        self.store.record_contact(customer_id, contact)
