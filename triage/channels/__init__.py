"""Delivery channels for agents' replies: email (``mail``) and signed webhooks (``webhook``).

Both raise one error type, so the delivery queue decides "retry later or give up" without knowing the channel.
"""

from __future__ import annotations


class DeliveryError(Exception):
    """A reply could not be delivered. ``code`` is for programs (stored in the delivery's status), ``message`` for
    people; ``retry``: trying again later may succeed (connection refused, timeout, 429, 5xx, SMTP 4xx).

    Codes: ``connect`` (nothing reached the receiver), ``timeout`` (no answer: the request may have arrived, so a
    retry relies on the receiver deduplicating by message id; a connection dropped mid-request counts too),
    ``http_<status>``, ``smtp_<code>``, ``auth``, ``tls``, and ``smtp_error`` (an SMTP failure without a reply
    code, such as a server lacking SMTPUTF8). ``retry_after``: seconds the receiver asked us to wait, if it said.
    """

    def __init__(self, code: str, message: str, *, retry: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.retry, self.retry_after = code, message, retry, retry_after

    def __repr__(self) -> str:
        return f"DeliveryError({self.code!r}, {self.message!r}, retry={self.retry}, retry_after={self.retry_after})"
