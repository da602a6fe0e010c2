"""Two replicas: two real `triage serve` processes on one PostgreSQL database, each with its own var/. They
follow each other's corrections within seconds, see each other's customers' contacts, let exactly one verdict
win, and keep all of it across a restart of both. Replicas starting together migrate once."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import httpx
import pytest
from sqlalchemy import create_engine, text

from knowledge.samples import DEMO_DIR
from tests.conftest import api_key, uvicorn_server

pytestmark = pytest.mark.integration
FOLLOW_S = 5  # the bound for a correction to reach the other replica (the service looks once a second)
RELOAD_S = 60  # a replica loads the published snapshot in the background, its message worker too
TEXT = "배송지 바꾸면 환불 받을 수 있나요"


@contextmanager
def two_replicas(small_kb, tmp_path, url: str) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    key = api_key(url, "admin")
    with ExitStack() as stack:
        clients = []
        for name in ("one", "two"):
            env = {"TRIAGE_KB_DIR": str(small_kb), "TRIAGE_VAR_DIR": str(tmp_path / name),
                   "TRIAGE_TAXONOMY": str(DEMO_DIR / "taxonomy.yaml"), "TRIAGE_DATABASE_URL": url}
            base, _ = stack.enter_context(uvicorn_server(env))
            clients.append(stack.enter_context(
                httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60)))
        yield clients[0], clients[1]


def tag_of(client: httpx.Client, text: str) -> str:
    response = client.post("/v1/triage", json={"text": text})
    assert response.status_code == 200, response.text
    return str(response.json()["tag"])


def test_two_replicas_share_corrections_history_and_verdicts_across_a_restart(small_kb, tmp_path, postgres_url):
    with two_replicas(small_kb, tmp_path, postgres_url) as (one, two):
        before = tag_of(two, TEXT)
        target = "payment_info" if before != "payment_info" else "delivery_info"
        assert one.post("/v1/triage/corrections", json={"text": TEXT, "tag": target}).status_code == 201
        corrected = time.monotonic()
        while tag_of(two, TEXT) != target:
            assert time.monotonic() - corrected < FOLLOW_S, "the other replica did not follow the correction"
            time.sleep(0.2)

        first = one.post("/v1/messages", json={"id": "h1", "text": "비밀번호 재설정 메일이 안 와요", "channel": "chat",
                                               "customer": {"id": "c-replica"}})
        assert first.status_code == 201 and first.json()["result"]["duplicate_of"] is None
        again = two.post("/v1/messages", json={"id": "h2", "text": "비밀번호 재설정 메일이 아직도 안 와요",
                                               "channel": "email", "customer": {"id": "c-replica"}})
        assert again.json()["result"]["duplicate_of"] == "h1"

        suggestion = again.json()["suggestion_id"]
        answers: list[int] = []
        barrier = threading.Barrier(2)

        def decide(client: httpx.Client, reply: str) -> None:
            barrier.wait()
            answers.append(client.post(f"/v1/suggestions/{suggestion}/feedback",
                                       json={"action": "edit", "final_text": reply}).status_code)

        racers = [threading.Thread(target=decide, args=(c, f"{n}번 상담사가 보낸 답변이에요. 더 있나요?"))
                  for n, c in enumerate((one, two))]
        for r in racers:
            r.start()
        for r in racers:
            r.join()
        assert sorted(answers) == [201, 409]

    with two_replicas(small_kb, tmp_path, postgres_url) as (one, two):  # both restarted
        assert tag_of(one, TEXT) == target and tag_of(two, TEXT) == target
        later = one.post("/v1/messages", json={"id": "h3", "text": "비밀번호 재설정 메일이 계속 안 와요",
                                               "channel": "chat", "customer": {"id": "c-replica"}})
        assert later.json()["result"]["duplicate_of"] == "h2"


def test_an_admin_reload_on_one_replica_reaches_the_other(small_kb, tmp_path, postgres_url, embedder):
    from knowledge.index import build_snapshot
    from tests.conftest import FIXTURES, demo_model

    kb = tmp_path / "kb"  # the replicas' shared KB folder, a copy the test may build into
    shutil.copytree(small_kb, kb, symlinks=True)
    with two_replicas(kb, tmp_path, postgres_url) as (one, two):
        before = two.get("/readyz").json()["counts"]
        extra = tmp_path / "extra.yaml"
        extra.write_text("- id: gift-wrap\n  question: 선물 포장 되나요?\n"
                         "  answer: 주문할 때 선물 포장을 고르면 돼요.\n", encoding="utf-8")
        build_snapshot(kb, embedder, [FIXTURES / "faq_small.yaml", extra], FIXTURES / "manuals", finish=demo_model)
        reloaded = one.post("/v1/admin/kb/reload")
        assert reloaded.status_code == 200 and reloaded.json()["counts"] != before
        published = time.monotonic()
        while two.get("/readyz").json()["counts"] != reloaded.json()["counts"]:
            assert time.monotonic() - published < RELOAD_S, "the other replica did not follow the reload"
            time.sleep(0.5)


MIGRATE = "import sys; from triage.store import Store; Store.open(sys.argv[1]).close()"


def test_replicas_starting_together_migrate_once(postgres_url):
    starts = [subprocess.Popen([sys.executable, "-c", MIGRATE, postgres_url], stderr=subprocess.PIPE, text=True)
              for _ in range(3)]
    errors = [p.communicate(timeout=120)[1] for p in starts]
    assert [p.returncode for p in starts] == [0, 0, 0], errors
    engine = create_engine(postgres_url)
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    engine.dispose()
