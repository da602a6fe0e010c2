"""Agents' replies on their way to the customer: the delivery worker.

An agent's accepted or edited reply is queued in the verdict's own transaction (``Store._queue_delivery``), one
per verdict, so a reply is never queued twice. A widget chat shows it at once. An email conversation gets it by
SMTP, threaded into the customer's mail (``In-Reply-To`` and ``References``) with a link to the CES question; any
other channel by a signed webhook (Standard Webhooks) that the company's channel adapter receives.

One background thread per process claims due deliveries (one claimant each, across replicas), tries each once,
and on a retryable failure queues it again with doubling backoff (or the receiver's ``Retry-After``), up to
``delivery_attempts``; then it is failed with the reason, and an agent can send it again. Every attempt of a
delivery carries the same id (the mail's Message-ID, the webhook's ``webhook-id``), so a receiver that got an
attempt whose answer was lost recognises the retry: a reply is never delivered twice. Logs carry ids and codes,
never the reply's text.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from triage.background import BackgroundLoop
from triage.channels import DeliveryError
from triage.channels.mail import SmtpSender, build_reply, reply_subject
from triage.channels.webhook import WebhookSender
from triage.config import Settings
from triage.stages.language import detect_language
from triage.store import Store
from triage.store.chat_rows import DeliveryJob
from triage.store.tables import utcnow
from triage.web.i18n import strings

log = logging.getLogger("triage.delivery")

MAX_BACKOFF = 600.0  # seconds: a receiver down for long is tried every 10 minutes until the attempts run out
POLL_SECONDS = 1.0  # how often due retries are looked for when nothing kicks the worker


class DeliveryWorker(BackgroundLoop):
    def __init__(self, store: Store, settings: Settings, *, mail: SmtpSender | None = None,
                 webhook: WebhookSender | None = None) -> None:
        super().__init__("deliveries", interval=POLL_SECONDS)
        self.store, self.settings = store, settings
        self.mail = mail or (SmtpSender(settings.smtp_host, settings.smtp_port, security=settings.smtp_security,
                                        username=settings.smtp_username, password=settings.smtp_password,
                                        timeout=settings.delivery_timeout) if settings.smtp_host else None)
        self.webhook = webhook or (WebhookSender(settings.reply_webhook_url, settings.reply_webhook_secret or "",
                                                 timeout=settings.delivery_timeout)
                                   if settings.reply_webhook_url else None)

    def start(self) -> None:
        requeued = self.store.requeue_interrupted_deliveries()
        if requeued:
            log.warning("event=deliveries_interrupted count=%d requeued_with_same_id=true", requeued)
        super().start()

    def stop(self) -> None:
        super().stop()
        if self.webhook is not None:
            self.webhook.close()

    def work(self) -> None:
        self.send_due()

    def send_due(self) -> int:
        """Try every due delivery once; returns how many were sent."""
        sent = 0
        for job in self.store.claim_deliveries(utcnow(), self.settings.mail_domain):
            attempt = job.attempts + 1
            try:
                self._send(job)
            except DeliveryError as exc:
                retry_at = None
                if exc.retry and attempt < self.settings.delivery_attempts:
                    wait = exc.retry_after or min(self.settings.delivery_backoff * 2 ** (attempt - 1), MAX_BACKOFF)
                    retry_at = utcnow() + timedelta(seconds=wait)
                self.store.finish_delivery(job.id, sent=False, attempts=attempt, error_code=exc.code,
                                           error=exc.message, retry_at=retry_at)
                log.warning("event=delivery_failed delivery=%d route=%s code=%s attempt=%d retry=%s", job.id,
                            job.route, exc.code, attempt, retry_at is not None)
            else:
                self.store.finish_delivery(job.id, sent=True, attempts=attempt)
                log.info("event=delivery_sent delivery=%d route=%s attempt=%d", job.id, job.route, attempt)
                sent += 1
        return sent

    def _send(self, job: DeliveryJob) -> None:
        if job.route == "email":
            self._mail(job)
            return
        if self.webhook is None:
            raise DeliveryError("not_configured", "no reply webhook: set TRIAGE_REPLY_WEBHOOK_URL and "
                                                  "TRIAGE_REPLY_WEBHOOK_SECRET", retry=False)
        self.webhook.send(job.external_id, {
            "type": "reply", "id": job.external_id, "conversation_id": job.conversation_id,
            "customer_id": job.customer_id, "channel": job.channel, "in_reply_to": job.latest_message_id,
            "text": job.text})

    def _mail(self, job: DeliveryJob) -> None:
        if self.mail is None:
            raise DeliveryError("not_configured", "no SMTP server: set TRIAGE_SMTP_HOST (and port, security, "
                                                  "credentials)", retry=False)
        assert job.recipient is not None
        lang = "en" if detect_language(job.text) == "en" else "ko"
        link = f"{self.settings.public_url.rstrip('/')}/ces/{self.store.ces_invitation(job.conversation_id)}"
        text = f"{job.text.rstrip()}\n\n--\n{strings(lang)['ces_mail_line'].format(url=link)}\n"
        self.mail.send(build_reply(sender=self.settings.mail_from, to=job.recipient,
                                   subject=reply_subject(job.subject), text=text, message_id=job.external_id,
                                   in_reply_to=job.in_reply_to, references=job.references))
