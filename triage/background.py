"""One daemon thread that does its work when kicked, or every ``interval`` seconds: what sends the team-chat
alerts (``triage.alerts``) and agents' replies (``triage.delivery``) from the store's queue."""

from __future__ import annotations

import logging
import threading

log = logging.getLogger("triage.background")


class BackgroundLoop:
    """Subclasses give ``work()``; ``kick()`` after queuing something; ``stop()`` ends the thread."""

    def __init__(self, name: str, interval: float) -> None:
        self.name, self.interval = name, interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def work(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        self.kick()

    def kick(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def stopping(self, seconds: float) -> bool:
        """Wait up to ``seconds``; True when the loop is being stopped (a retry's backoff ends early)."""
        return self._stop.wait(seconds)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(timeout=self.interval)
            self._wake.clear()
            try:
                self.work()
            except Exception:  # a database hiccup must not end the thread; the next round retries
                log.exception("event=%s_failed", self.name)
