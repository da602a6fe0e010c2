"""Replies delivered to a company's own system as webhooks signed the Standard Webhooks way
(https://www.standardwebhooks.com/, as Svix; Stripe and Slack sign alike).

The signature covers the message id and a timestamp as well as the body: a receiver rejects a replayed old
request by its timestamp and acts once per id, so sending again after a timeout is safe. ``verify`` is what a
receiver runs; it lives here so the company's adapter and our tests check signatures the same way. Hand-written
rather than the ``standardwebhooks`` package: the scheme is one HMAC, and the package would add a dependency
(and its own HTTP client) for a dozen lines.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Mapping

import httpx

from triage.channels import DeliveryError

SECRET_PREFIX = "whsec_"


class SignatureError(ValueError):
    """A webhook request whose signature headers are missing, out of the time window, or do not match."""


def signing_key(secret: str) -> bytes:
    """The HMAC key: "whsec_<base64>" as Svix and Standard Webhooks issue it, any other string as its UTF-8."""
    if not secret.startswith(SECRET_PREFIX):
        return secret.encode()
    try:
        return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except binascii.Error as exc:
        raise ValueError(f"the webhook secret after {SECRET_PREFIX!r} is not valid base64") from exc


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(signing_key(secret), f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(secret: str, headers: Mapping[str, str], body: bytes, *, tolerance: int = 300,
           now: float | None = None) -> None:
    """Raise ``SignatureError`` unless one of the request's signatures is ours and its timestamp is within
    ``tolerance`` seconds of ``now`` (either way: a clock ahead of ours must not stretch the window)."""
    given = {name.lower(): value for name, value in headers.items()}
    missing = [name for name in ("webhook-id", "webhook-timestamp", "webhook-signature") if not given.get(name)]
    if missing:
        raise SignatureError(f"missing header(s): {', '.join(missing)}")
    try:
        timestamp = int(given["webhook-timestamp"])
    except ValueError:
        raise SignatureError("webhook-timestamp is not a whole number of seconds") from None
    now = time.time() if now is None else now
    if timestamp < now - tolerance:
        raise SignatureError(f"webhook-timestamp is more than {tolerance} s old")
    if timestamp > now + tolerance:
        raise SignatureError(f"webhook-timestamp is more than {tolerance} s in the future")
    expected = sign(secret, given["webhook-id"], timestamp, body).encode()
    # Several space-separated signatures let a sender rotate its secret; any matching "v1," one is enough.
    if not any(hmac.compare_digest(candidate.encode(), expected) for candidate in given["webhook-signature"].split()
               if candidate.startswith("v1,")):
        raise SignatureError("no signature matches")


class WebhookSender:
    """POSTs signed JSON to one URL. The caller passes the same ``msg_id`` on every retry of a delivery, so a
    receiver that keeps the ids it has processed never acts twice."""

    def __init__(self, url: str, secret: str, *, timeout: float = 10.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        if httpx.URL(url).scheme not in ("http", "https"):
            raise ValueError(f"the webhook URL must be http(s): {url!r}")
        signing_key(secret)  # a bad secret fails here, at configuration, not at every delivery
        self.url, self.secret = url, secret
        self.client = httpx.Client(timeout=timeout, transport=transport)

    def send(self, msg_id: str, payload: dict[str, object]) -> None:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        timestamp = int(time.time())
        headers = {"content-type": "application/json", "webhook-id": msg_id, "webhook-timestamp": str(timestamp),
                   "webhook-signature": sign(self.secret, msg_id, timestamp, body), "user-agent": "triage-webhook"}
        try:
            response = self.client.post(self.url, content=body, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:  # never reached the receiver
            raise DeliveryError("connect", f"could not connect to {self.url}: {exc!r}", retry=True) from exc
        except httpx.TransportError as exc:  # timeout or dropped connection after sending: the id makes a retry safe
            raise DeliveryError("timeout", f"no answer from {self.url}: {exc!r}", retry=True) from exc
        if response.is_success:
            return
        status = response.status_code
        message = f"{self.url} answered HTTP {status}: {' '.join(response.text[:200].split())}"
        if status == 429 or status >= 500:
            wait = response.headers.get("retry-after", "").strip()
            retry_after = float(wait) if wait.isdigit() else None  # an HTTP date is rare and left to the backoff
            raise DeliveryError(f"http_{status}", message, retry=True, retry_after=retry_after)
        raise DeliveryError(f"http_{status}", message, retry=False)  # the receiver refuses this request as it is

    def close(self) -> None:
        self.client.close()
