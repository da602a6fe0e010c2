"""What the page tests share: clients that act like a browser, API headers, and Debian's chromium."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from triage.api.auth import COOKIE

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]  # DESIGN.md §8
# Screenshots for a person to look at; the clock run (`make test`) sends its own, dated a year ahead, elsewhere.
RESULTS = Path(os.environ.get("TRIAGE_SCREENSHOTS") or Path(__file__).resolve().parents[2] / "evals" / "results")


def small_kb_service(small_kb: Path, tmp_path: Path, **env: str) -> tuple[dict[str, str], str]:
    """The environment of a service on the small KB with the demo taxonomy and its own SQLite store, and an agent
    key made before the server starts (the store is created and migrated here); ``env`` adds settings."""
    from knowledge.samples import DEMO_DIR
    from tests.conftest import api_key

    var = tmp_path / "var"
    var.mkdir()
    store_url = f"sqlite:///{var}/triage.db"
    key = api_key(store_url, "agent")
    return {"TRIAGE_KB_DIR": str(small_kb), "TRIAGE_VAR_DIR": str(var), "TRIAGE_DATABASE_URL": store_url,
            "TRIAGE_TAXONOMY": str(DEMO_DIR / "taxonomy.yaml"), **env}, key


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


ORIGIN = "http://testserver"  # where TestClient's requests go, so the origin of the pages it reads
CSRF = re.compile(r'<input type="hidden" name="csrf_token" value="([0-9a-f]+)">')


def browser(app: Any, key: str | None = None) -> TestClient:
    """A client that keeps cookies like a browser, sends the site's own ``Origin`` (as browsers do with a POST)
    and does not follow redirects (so tests see them); signed in through the form with ``key``."""
    client = TestClient(app, follow_redirects=False, headers={"Origin": ORIGIN})
    if key is not None:
        response = client.post("/login", data={"key": key})
        assert response.status_code == 303 and COOKIE in client.cookies, response.text
    return client


def with_cookie(app: Any, value: str) -> TestClient:
    """A client presenting ``value`` as the session cookie (a forged, stale or replayed one)."""
    client = browser(app)
    client.cookies.set(COOKIE, value)
    return client


def csrf_token(client: TestClient) -> str:
    """The CSRF token the pages give this signed-in client (from the sign-out form every page has)."""
    found = CSRF.search(client.get("/inbox").text)
    assert found, "no CSRF token on the inbox page"
    return found.group(1)


def sign_in(page: Any, base: str, path: str, key: str) -> None:
    """Open ``path`` without a cookie, land on the sign-in form, sign in with ``key``, come back to ``path``."""
    from playwright.sync_api import expect

    page.goto(f"{base}{path}")
    expect(page).to_have_url(re.compile(r"/login\?next=" + re.escape(quote(path, safe=""))))
    page.fill("#key", key)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(re.escape(path) + "$"))


def launch_chromium(playwright: Any) -> Any:
    """Headless Debian chromium (no browser download); fails with the fix when it is not installed."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `apt-get install -y chromium fonts-nanum` (DESIGN.md §8)")
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)


def csp_errors(page: Any) -> list[str]:
    """Console messages of ``page`` about Content-Security-Policy violations (filled while it runs)."""
    found: list[str] = []
    page.on("console", lambda message: found.append(message.text)
            if "Content Security Policy" in message.text else None)
    return found
