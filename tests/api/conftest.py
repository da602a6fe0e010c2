"""The service under a real uvicorn on SQLite and on PostgreSQL, once per test module and database."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from evals.fuzz import UNLIMITED_WIDGET
from knowledge.samples import DEMO_DIR
from tests.conftest import api_key, uvicorn_server

MAX_BODY_BYTES = 200_000


@dataclass
class Served:
    base: str
    backend: str
    store_url: str
    key: str  # an admin key: every route
    client: httpx.Client


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def served(request, small_kb, tmp_path_factory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("served")
    if request.param == "sqlite":
        url = f"sqlite:///{tmp}/triage.db"
    else:
        admin = request.getfixturevalue("postgres_admin")
        name = f"triage_test_{uuid.uuid4().hex[:10]}"
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
        request.addfinalizer(lambda: _drop(admin, name))
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    key = api_key(url, "admin")
    env = {"TRIAGE_KB_DIR": str(small_kb), "TRIAGE_VAR_DIR": str(tmp / "var"), "TRIAGE_DATABASE_URL": url,
           "TRIAGE_TAXONOMY": str(DEMO_DIR / "taxonomy.yaml"), "TRIAGE_MAX_BODY_BYTES": str(MAX_BODY_BYTES),
           # long texts cost seconds of encoding: 413 keeps fuzzing brisk
           "TRIAGE_MAX_MESSAGE_CHARS": "2000", **UNLIMITED_WIDGET}
    with uvicorn_server(env) as (base, _), \
            httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60) as client:
        yield Served(base, request.param, url, key, client)


def _drop(admin, name: str) -> None:
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def in_process(settings, kb, store_url: str) -> Iterator[TestClient]:
    """The service in this process over a fresh store (its lifespan runs: background workers start and stop);
    ``client.store`` is the store, ``client.as_(role)`` the headers of a new key of ``role``."""
    from triage.api.app import create_app
    from triage.store import Store

    store = Store.open(store_url)
    try:
        with TestClient(create_app(settings, kb_loaded=kb, store=store)) as client:
            client.store = store  # type: ignore[attr-defined]
            names = itertools.count()
            client.as_ = lambda role: {  # type: ignore[attr-defined]
                "Authorization": f"Bearer {store.create_key(f'{role}-{next(names)}', role)}"}
            yield client
    finally:
        store.close()
