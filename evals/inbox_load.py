"""``triage bench --parts inbox``: 50 agents working the inbox at once against a real uvicorn server.

The store is seeded with suggestions the real pipeline made for the demo dev messages (each stored many times
under different customers). Then every agent, as fast as the server answers for ``seconds``, lists the inbox,
opens one of its own suggestions and sends a verdict (accept, edit or reject, with an Idempotency-Key). The
load generator runs on the same 2-core machine as the server, so figures are a floor. An error is a failed
request: a connection error, a timeout, a 5xx or any status other than the one expected.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

from evals.local_server import running_service
from evals.metrics import nearest_rank
from triage.config import Settings
from triage.inbox import demo_messages
from triage.kb import KnowledgeBase, ensure_demo_index
from triage.pipeline import Pipeline
from triage.store import Store

Log = Callable[[str], None]


def seed(store: Store, settings: Settings, suggestions: int, log: Log) -> list[int]:
    """Store ``suggestions`` real suggestions (the pipeline's results for the demo dev messages, cycled)."""
    pipeline = Pipeline(KnowledgeBase.open(settings))
    messages = demo_messages()
    results = [pipeline.run(m) for m in messages]
    ids = []
    started = time.perf_counter()
    for i in range(suggestions):
        m = messages[i % len(messages)]
        customer = (m.customer.model_copy(update={"id": f"load-{i}"}) if m.customer else None)
        ids.append(store.record_message(m.model_copy(update={"customer": customer, "id": f"load-{i}"}),
                                        results[i % len(results)]).suggestion_id)
        if (i + 1) % 1000 == 0:
            log(f"  seeded {i + 1}/{suggestions}")
    log(f"  seeded {suggestions} suggestions in {time.perf_counter() - started:.1f} s")
    return ids


async def _agent(client: httpx.AsyncClient, mine: list[int], deadline: float, think: float,
                 latencies: dict[str, list[float]], outcomes: dict[str, int], number: int) -> None:
    async def call(kind: str, method: str, url: str, expected: int, **kwargs: Any) -> httpx.Response | None:
        started = time.perf_counter()
        try:
            response = await client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            outcomes[f"error {type(exc).__name__}"] += 1
            return None
        latencies[kind].append((time.perf_counter() - started) * 1000)
        outcomes["ok" if response.status_code == expected else f"error HTTP {response.status_code}"] += 1
        return response

    if think:
        await asyncio.sleep(random.uniform(0, think))  # agents don't all start the same second
    for n, sid in enumerate(mine):
        if time.monotonic() >= deadline:
            return
        await call("inbox", "GET", "/v1/inbox", 200, params={"limit": 20, "offset": (number * 7) % 200})
        await call("suggestion", "GET", f"/v1/suggestions/{sid}", 200)
        action = "reject" if n % 10 == 9 else "edit" if n % 3 == 2 else "accept"
        body: dict[str, Any] = {"action": action}
        if action == "edit":
            body["final_text"] = f"확인해 보니 처리됐어요 (상담 {sid}). 더 궁금한 점 있으세요?"
        await call("feedback", "POST", f"/v1/suggestions/{sid}/feedback", 201, json=body,
                   headers={"Idempotency-Key": f"load-{sid}"})
        if think:
            await asyncio.sleep(think * random.uniform(0.5, 1.5))  # reading the conversation, typing


async def _load(bases: list[str], keys: list[str], ids: list[int], seconds: float,
                think: float = 0) -> dict[str, Any]:
    """The agents (one per key, spread over the servers at ``bases``) for ``seconds``."""
    latencies: dict[str, list[float]] = defaultdict(list)
    outcomes: dict[str, int] = defaultdict(int)
    limits = httpx.Limits(max_connections=len(keys))
    clients = [httpx.AsyncClient(base_url=bases[i % len(bases)], headers={"Authorization": f"Bearer {k}"},
                                 timeout=30, limits=limits) for i, k in enumerate(keys)]
    started = time.monotonic()
    deadline = started + seconds
    await asyncio.gather(*(_agent(c, ids[i::len(keys)], deadline, think, latencies, outcomes, i)
                           for i, c in enumerate(clients)))
    elapsed = time.monotonic() - started
    for c in clients:
        await c.aclose()
    every = [v for values in latencies.values() for v in values]
    return {
        "agents": len(keys), "think_s": think, "seconds": round(elapsed, 1), "requests": len(every),
        "throughput_rps": round(len(every) / elapsed, 1),
        "verdicts_per_s": round(len(latencies["feedback"]) / elapsed, 1),
        "p50_ms": round(statistics.median(every), 1), "p95_ms": round(nearest_rank(every, 0.95), 1),
        "by_kind": {k: {"requests": len(v), "p50_ms": round(statistics.median(v), 1),
                        "p95_ms": round(nearest_rank(v, 0.95), 1)} for k, v in sorted(latencies.items())},
        "errors": sum(n for k, n in outcomes.items() if k != "ok"),
        "outcomes": dict(outcomes),
    }


def inbox_load(settings: Settings, log: Log = print, agents: int = 50, seconds: float = 60,
               suggestions: int = 12000, database_url: str | None = None,
               thinks: tuple[float, ...] = (0.0, 2.0)) -> dict[str, Any]:
    """Seed a store (a fresh SQLite file unless ``database_url`` names an empty database), serve it with
    uvicorn on 127.0.0.1 and run the agents once per think time: 0 (each agent fires its next request as soon
    as the last is answered: the server saturates, so latency is queueing) and 2 s (about 2 s per step, as
    people work; the server is not saturated, so latency is service time)."""
    with tempfile.TemporaryDirectory() as tmp:
        url = database_url or f"sqlite:///{Path(tmp) / 'triage.db'}"
        store = Store.open(url)
        log(f"inbox load: seeding {suggestions} suggestions into {store.engine.url.get_backend_name()}")
        ids = seed(store, settings, suggestions, log)
        keys = [store.create_key(f"load-agent-{i}", "agent") for i in range(agents)]
        env = {"TRIAGE_VAR_DIR": str(settings.var_dir.resolve()), "TRIAGE_DATABASE_URL": url,
               "TRIAGE_SEED_DEMO_INBOX": "false"}
        if settings.kb_dir:
            env["TRIAGE_KB_DIR"] = str(settings.kb_dir.resolve())
        runs = []
        with running_service(env) as (base, _):
            for n, think in enumerate(thinks):
                log(f"inbox load: {agents} agents for {seconds:g} s against {base}, think time {think:g} s")
                share = ids[n::len(thinks)]  # each run verdicts suggestions of its own
                runs.append(asyncio.run(_load([base], keys, share, seconds, think)))
                log(f"  {runs[-1]}")
        report: dict[str, Any] = {"runs": runs}
        report["backend"] = store.engine.url.get_backend_name()
        report["suggestions_seeded"] = suggestions
        store.close()
    return report


def replica_load(settings: Settings, database_url: str, log: Log = print, agents: int = 50, seconds: float = 60,
                 suggestions: int = 12000, replicas: tuple[int, ...] = (1, 2)) -> dict[str, Any]:
    """The agents with no think time against one, then two ``triage serve`` replicas on one (empty) database,
    each with its own var/, the agents spread over them; one seeding, each run on suggestions of its own."""
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(database_url)
        log(f"replica load: seeding {suggestions} suggestions into {store.engine.url.get_backend_name()}")
        ids = seed(store, settings, suggestions, log)
        keys = [store.create_key(f"replica-agent-{i}", "agent") for i in range(agents)]
        runs = []
        for n, count in enumerate(replicas):
            with ExitStack() as stack:
                bases = []
                for r in range(count):
                    env = {"TRIAGE_VAR_DIR": str(Path(tmp) / f"var-{n}-{r}"), "TRIAGE_DATABASE_URL": database_url,
                           "TRIAGE_SEED_DEMO_INBOX": "false",
                           "TRIAGE_KB_DIR": str((settings.kb_dir or ensure_demo_index(settings)).resolve())}
                    bases.append(stack.enter_context(running_service(env))[0])
                log(f"replica load: {agents} agents for {seconds:g} s against {count} replica(s)")
                run = asyncio.run(_load(bases, keys, ids[n::len(replicas)], seconds))
                runs.append({"replicas": count, **run})
                log(f"  {runs[-1]}")
        backend = store.engine.url.get_backend_name()
        store.close()
    return {"backend": backend, "suggestions_seeded": suggestions, "runs": runs}


def replica_markdown(r: dict[str, Any]) -> list[str]:
    lines = ["", f"## One and two replicas on {r['backend']} (50 agents, no think time)", "",
             "The inbox load above with no think time, against one `triage serve`, then two on the same database "
             "(each with its own var/, the agents spread over them), in one run; the load generator shares the "
             "2 cores with them.", "",
             "| replicas | requests | requests/s | verdicts/s | p50 ms | p95 ms | errors |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {run['replicas']} | {run['requests']} | {run['throughput_rps']} | {run['verdicts_per_s']} | "
              f"{run['p50_ms']} | {run['p95_ms']} | {run['errors']} |" for run in r["runs"]]
    return lines


def inbox_markdown(r: dict[str, Any]) -> list[str]:
    lines = ["", f"## Inbox under load on {r['backend']} (50 agents, real uvicorn on 127.0.0.1)", "",
             f"Each agent lists the inbox, opens one of its suggestions and sends a verdict (accept, edit or reject "
             f"with an Idempotency-Key), then waits its think time (×0.5–1.5) and goes on. One uvicorn worker on "
             f"{r['backend']} ({r['suggestions_seeded']} suggestions seeded from the pipeline's results on the demo "
             "dev messages); the load generator shares the 2 cores. With no think time the server is saturated and "
             "latency is mostly queueing (50 agents / throughput).", "",
             "| think time | seconds | requests | requests/s | verdicts/s | p50 ms | p95 ms | errors | "
             "inbox p95 | suggestion p95 | feedback p95 |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for run in r["runs"]:
        kinds = run["by_kind"]
        lines.append(f"| {run['think_s']:g} s | {run['seconds']} | {run['requests']} | {run['throughput_rps']} | "
                     f"{run['verdicts_per_s']} | {run['p50_ms']} | **{run['p95_ms']}** | **{run['errors']}** | "
                     f"{kinds['inbox']['p95_ms']} | {kinds['suggestion']['p95_ms']} | {kinds['feedback']['p95_ms']} |")
    return lines
