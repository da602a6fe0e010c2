"""Team-chat alerts: P1 and VIP conversations are posted to a Slack-compatible incoming webhook.

The store keeps one alert per conversation (a unique key), so a conversation is announced once however many
messages it gets. A background thread claims pending alerts and posts them, retrying refused connections,
429 and 5xx with doubling backoff (``Retry-After`` honoured). A request that timed out after it was sent may
have arrived, so it is not retried: a missed alert is recorded, a duplicate is never posted. The text carries
no customer text or personal data: priority, tag, channel, the reasons (redacted) and a link.
"""

from __future__ import annotations

import logging

import httpx

from triage.background import BackgroundLoop
from triage.models import TriageResult
from triage.stages.privacy import redact_text
from triage.store import Store

log = logging.getLogger("triage.alerts")


def needs_alert(result: TriageResult) -> bool:
    return result.priority == "P1" or bool(result.context and result.context.segment == "VIP")


def alert_text(result: TriageResult, channel: str | None) -> str:
    """The alert's first lines (the link is added when it is sent); Korean, like the team's UI."""
    marks = [f"[{result.priority or '?'}]"]
    if result.context and result.context.segment == "VIP":
        marks.append("VIP")
    head = " ".join(marks) + f" 새 문의 · 태그 {result.tag or '-'} · 채널 {channel or '-'}"
    reasons = [redact_text(r) for r in result.reasons[:3]]
    return "\n".join([head, *(f"• {r}" for r in reasons)])


class AlertDispatcher(BackgroundLoop):
    """Posts the store's pending alerts from one background thread; ``kick()`` after queuing one."""

    def __init__(self, store: Store, url: str, public_url: str, *, attempts: int = 4, backoff: float = 1.0,
                 timeout: float = 5.0, transport: httpx.BaseTransport | None = None) -> None:
        super().__init__("alerts", interval=30)
        self.store, self.url, self.public_url = store, url, public_url.rstrip("/")
        self.attempts, self.backoff = attempts, backoff
        self.client = httpx.Client(timeout=timeout, transport=transport)

    def start(self) -> None:
        interrupted = self.store.fail_interrupted_alerts()
        if interrupted:
            log.warning("event=alerts_interrupted count=%d", interrupted)
        super().start()

    def stop(self) -> None:
        super().stop()
        self.client.close()

    def work(self) -> None:
        self.send_pending()

    def send_pending(self) -> int:
        """Post every pending alert now; returns how many were delivered."""
        delivered = 0
        for alert_id, conversation_id, text in self.store.claim_alerts():
            link = f"{self.public_url}/conversations/{conversation_id}"
            sent, attempts, error = self._post({"text": f"{text}\n<{link}|대화 열기>"})
            self.store.finish_alert(alert_id, sent, attempts, error)
            log.info("event=alert_%s alert=%d attempts=%d", "sent" if sent else "failed", alert_id, attempts)
            delivered += sent
        return delivered

    def _post(self, payload: dict[str, str]) -> tuple[bool, int, str | None]:
        error = None
        for attempt in range(1, self.attempts + 1):
            wait = self.backoff * 2 ** (attempt - 1)
            try:
                response = self.client.post(self.url, json=payload)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:  # never reached the receiver: safe to retry
                error = f"{type(exc).__name__}"
            except httpx.HTTPError as exc:  # sent, outcome unknown: retrying could post it twice
                return False, attempt, f"{type(exc).__name__} after sending; not retried to avoid a duplicate"
            else:
                if response.is_success:
                    return True, attempt, None
                error = f"HTTP {response.status_code}"
                if response.status_code != 429 and response.status_code < 500:
                    return False, attempt, error  # the webhook refuses this request: retrying will not help
                retry_after = response.headers.get("retry-after", "")
                wait = float(retry_after) if retry_after.isdigit() else wait
            if attempt < self.attempts and self.stopping(min(wait, 60)):
                break
        return False, attempt, error
