"""What the page tests share: clients that act like a browser, API headers, and Debian's chromium."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from triage.api.auth import COOKIE

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]  # DESIGN.md §8
RESULTS = Path(__file__).resolve().parents[2] / "evals" / "results"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def browser(app: Any, key: str | None = None) -> TestClient:
    """A client that keeps cookies like a browser and does not follow redirects (so tests see them)."""
    client = TestClient(app, follow_redirects=False)
    if key is not None:
        client.cookies.set(COOKIE, key)
    return client


def launch_chromium(playwright: Any) -> Any:
    """Headless Debian chromium (no browser download); fails with the fix when it is not installed."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `apt-get install -y chromium fonts-nanum` (DESIGN.md §8)")
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
