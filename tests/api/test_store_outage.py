"""The database as a dependency, for real: a private PostgreSQL cluster (never the shared server on 5432) is
stopped and started again under a running uvicorn; a SQLite file is locked by another process. While the
database is away, every route that needs it answers 503 ``store_unavailable`` in the JSON error shape (and
``/readyz`` says not ready); once it is back, requests succeed again without a restart."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from evals.local_server import free_port
from knowledge.samples import DEMO_DIR
from tests.conftest import api_key, uvicorn_server

PG_BINS = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
MESSAGE = {"text": "결제가 두 번 됐어요 돈 돌려주세요", "channel": "chat", "customer": {"id": "c-outage"}}


class PrivateCluster:
    """A throwaway PostgreSQL cluster in ``root`` on its own port (as the ``postgres`` user when run as root:
    initdb refuses root)."""

    def __init__(self, root: Path) -> None:
        self.bin = PG_BINS[-1]
        self.data, self.log, self.port = root / "data", root / "postgres.log", free_port()
        if os.geteuid() == 0:
            shutil.chown(root, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data} -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.log), "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")


@pytest.fixture
def cluster():
    if not PG_BINS:
        pytest.fail("PostgreSQL's server binaries (/usr/lib/postgresql/*/bin) are needed for this test")
    root = Path(tempfile.mkdtemp(prefix="triage-pg-"))  # not under pytest's folder: postgres cannot enter it
    try:
        pg = PrivateCluster(root)
        pg.start()
        yield pg
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            pg.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def timed(call) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "store_unavailable"


def wait_until(check, seconds: float = 60) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.5)
    return False


@pytest.mark.integration
@pytest.mark.slow
def test_postgresql_stopped_and_restarted_under_a_running_service(cluster, small_kb, tmp_path):
    key = api_key(cluster.url, "agent")
    env = {"TRIAGE_KB_DIR": str(small_kb), "TRIAGE_VAR_DIR": str(tmp_path / "var"), "TRIAGE_DATABASE_URL": cluster.url,
           "TRIAGE_TAXONOMY": str(DEMO_DIR / "taxonomy.yaml")}
    with uvicorn_server(env) as (base, _), \
            httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60) as c:
        assert c.get("/readyz").json()["store"] == "postgresql"
        before = c.post("/v1/messages", json=MESSAGE)
        assert before.status_code == 201, before.text

        cluster.stop()
        for call in (lambda: c.get("/readyz"), lambda: c.get("/v1/inbox"),
                     lambda: c.get(f"/v1/conversations/{before.json()['conversation_id']}"),
                     lambda: c.post("/v1/messages", json=MESSAGE),
                     lambda: c.post(f"/v1/suggestions/{before.json()['suggestion_id']}/feedback",
                                    json={"action": "reject"})):
            response, seconds = timed(call)
            unavailable(response)
            assert seconds < 30  # answered, not hung on the lost connections
        time.sleep(11)  # past the key cache: the key check itself now needs the database
        unavailable(c.get("/v1/inbox"))

        cluster.start()
        assert wait_until(lambda: c.get("/readyz").status_code == 200), "the service did not recover"
        inbox = c.get("/v1/inbox")
        assert inbox.status_code == 200 and [i["conversation_id"] for i in inbox.json()] == [
            before.json()["conversation_id"]]
        assert c.post("/v1/messages", json=MESSAGE).status_code == 201


@pytest.mark.integration
@pytest.mark.slow
def test_a_locked_sqlite_file_is_503_and_writes_resume_when_released(small_kb, tmp_path):
    db = tmp_path / "triage.db"
    url = f"sqlite:///{db}"
    key = api_key(url, "bot")
    env = {"TRIAGE_KB_DIR": str(small_kb), "TRIAGE_VAR_DIR": str(tmp_path / "var"), "TRIAGE_DATABASE_URL": url}
    outcome = {"auto_answered": True, "helpful": True, "faq_id": "password-reset"}
    with uvicorn_server(env) as (base, _), \
            httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60) as c:
        assert c.post("/v1/bot/outcomes", json=outcome).status_code == 201
        holder = sqlite3.connect(db, isolation_level=None)
        try:
            holder.execute("BEGIN EXCLUSIVE")  # another process holds the write lock past the busy timeout
            response, seconds = timed(lambda: c.post("/v1/bot/outcomes", json=outcome))
            unavailable(response)
            assert seconds < 30
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert c.post("/v1/bot/outcomes", json=outcome).status_code == 201
        assert c.get("/readyz").json()["store"] == "sqlite"
