"""The agents' and content teams' web pages: server-rendered Jinja templates, a little plain JS, no build step."""

from pathlib import Path

WEB_DIR = Path(__file__).parent
TEMPLATES_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"
