"""``triage bench --parts serving``: does the support bot keep its latency while other requests misbehave?

Two services under ``triage serve`` on 127.0.0.1 (the KB of the settings, a temporary SQLite store each), their LLM
endpoint the misbehaving server of ``evals.fake_llm_server``: one as shipped (agents' messages in the message
worker process), one with everything in one process (``MODES``). One bot client asks ``/v1/bot/answer`` questions
back to back through three scenarios of ``seconds`` each per service, in one run (in ``ROUNDS`` turns of
``seconds / ROUNDS``, the services and scenarios taking turns, after a warm-up of each service):

- ``undisturbed``: nothing else (the LLM endpoint answers);
- ``long_messages``: 5 clients keep sending 20,000-character messages to ``/v1/triage``;
- ``llm_hangs``: the LLM endpoint accepts connections and never answers, and 5 clients keep calling
  ``/v1/triage`` (the breaker is kept closed, so every one of their calls waits for it until its budget ends).

Figures: the bot's p50/p95 per service and scenario, each round's p95, and the median over the rounds of each p95
beside the same service's undisturbed p95 of that round. The
clients run on the same 2-core machine as the servers: the bot client in this process, the disturbing clients in
another (in one process, their encoding of 20,000-character bodies delayed the bot client itself).
"""

from __future__ import annotations

import multiprocessing
import statistics
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

from evals.fake_llm_server import fake_llm_server
from evals.local_server import running_service
from evals.metrics import nearest_rank
from triage.config import Settings
from triage.inbox import demo_messages
from triage.store import Store

Log = Callable[[str], None]
QUESTIONS = ["배송이 아직 안 왔어요 언제 와요?", "환불 신청했는데 돈이 안 들어와요", "비밀번호 바꾸고 싶어요",
             "쿠폰이 적용이 안 돼요", "새벽배송 지역 확인하고 싶어요", "how do I cancel my order?"]
CLIENTS = 5
LONG_CHARS = 20_000
SCENARIOS = ("undisturbed", "long_messages", "llm_hangs")
# ``triage serve`` as shipped (agents' messages in the message worker process) beside everything in one process
MODES = {"message_worker": "true", "one_process": "false"}
ROUNDS = 5
WARM_UP_S = 10  # of bot answers per service before the rounds (not measured)


def long_message(n: int) -> str:
    """20,000 characters of real customer messages (the demo's), a different stretch for each ``n``."""
    texts = [m.text for m in demo_messages()]
    out: list[str] = []
    i = n
    while sum(map(len, out)) < LONG_CHARS:
        out.append(texts[i % len(texts)])
        i += 7
    return " ".join(out)[:LONG_CHARS]


def _texts(kind: str) -> Callable[[int], str]:
    """The n-th text a disturbing client sends: 20,000-character messages, or the bot's short questions."""
    if kind == "long_messages":
        longs = [long_message(n) for n in range(50)]
        return lambda n: longs[n % len(longs)]
    return lambda n: QUESTIONS[n % len(QUESTIONS)]


def _disturb(base: str, agent_key: str, kind: str, stop: Any, counts: Any) -> None:
    """In a process of its own (so that encoding 20,000-character bodies never shares an interpreter with the
    bot client being timed): ``CLIENTS`` threads post texts to /v1/triage until ``stop`` is set."""
    texts, done = _texts(kind), Counter[str]()

    def client(i: int) -> None:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {agent_key}"}, timeout=120) as c:
            n = 0
            while not stop.is_set():
                try:
                    done[f"HTTP {c.post('/v1/triage', json={'text': texts(i * 1000 + n)}).status_code}"] += 1
                except httpx.HTTPError as exc:
                    done[type(exc).__name__] += 1
                n += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    counts.put(dict(done))


def _scenario(base: str, bot_key: str, agent_key: str, seconds: float, kind: str) -> dict[str, Any]:
    """The bot's latencies for ``seconds``, while ``CLIENTS`` clients in another process post to /v1/triage
    (``kind``: ``undisturbed`` for none)."""
    context = multiprocessing.get_context("spawn")
    stop, counts = context.Event(), context.Queue()
    disturber = None
    if kind != "undisturbed":
        disturber = context.Process(target=_disturb, args=(base, agent_key, kind, stop, counts))
        disturber.start()
    latencies: list[float] = []
    failed: Counter[str] = Counter()
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {bot_key}"}, timeout=120) as bot:
        if disturber is not None:
            time.sleep(4.0)  # the disturbing process has started and its requests are under way
        deadline = time.monotonic() + seconds
        n = 0
        while time.monotonic() < deadline:
            started = time.perf_counter()
            response = bot.post("/v1/bot/answer", json={"text": QUESTIONS[n % len(QUESTIONS)]})
            if response.status_code == 200:
                latencies.append((time.perf_counter() - started) * 1000)
            else:
                failed[f"HTTP {response.status_code}"] += 1
            n += 1
    stop.set()
    done: Counter[str] = Counter(counts.get() if disturber is not None else {})
    if disturber is not None:
        disturber.join()
    return {"latencies": latencies, "bot_failed": failed, "triage_calls": done}


def _figures(runs: list[dict[str, Any]], undisturbed: list[dict[str, Any]]) -> dict[str, Any]:
    """One scenario's rounds: the bot's answers, p50 and p95 of all of them, each round's p95, the median over
    the rounds of the p95 beside the same round's undisturbed p95 (a burst of noise on the machine spoils one
    round, not the figure), and what the other clients got."""
    latencies = [ms for run in runs for ms in run["latencies"]]
    failed: Counter[str] = sum((run["bot_failed"] for run in runs), Counter())
    done: Counter[str] = sum((run["triage_calls"] for run in runs), Counter())
    by_round = [nearest_rank(run["latencies"], 0.95) for run in runs]
    ratios = [p95 / nearest_rank(base["latencies"], 0.95) for p95, base in zip(by_round, undisturbed, strict=True)]
    return {"bot_answers": len(latencies), "bot_failed": dict(failed),
            "p50_ms": round(statistics.median(latencies), 1), "p95_ms": round(nearest_rank(latencies, 0.95), 1),
            "p95_by_round_ms": [round(v, 1) for v in by_round], "p95_ratio": round(statistics.median(ratios), 2),
            "triage_calls": dict(done)}


def serving_latency(settings: Settings, log: Log = print, seconds: float = 45) -> dict[str, Any]:
    """The three scenarios against two services started alike but for ``MODES`` (each with its own SQLite
    store), the modes and scenarios taking turns; see the module's docstring."""
    with tempfile.TemporaryDirectory() as tmp, fake_llm_server("ok") as llm, ExitStack() as services:
        running: dict[str, tuple[str, str, str]] = {}
        for mode, worker in MODES.items():
            url = f"sqlite:///{Path(tmp) / mode}.db"
            store = Store.open(url)
            bot_key, agent_key = store.create_key("bench-bot", "bot"), store.create_key("bench-agent", "agent")
            store.close()
            env = {"TRIAGE_VAR_DIR": str(settings.var_dir.resolve()), "TRIAGE_DATABASE_URL": url,
                   "TRIAGE_SEED_DEMO_INBOX": "false", "TRIAGE_LLM_BASE_URL": llm.url(), "TRIAGE_LLM_MODEL": "fake",
                   "TRIAGE_LLM_BREAKER_FAILURES": "1000000", "TRIAGE_MESSAGE_WORKER": worker}
            if settings.kb_dir:
                env["TRIAGE_KB_DIR"] = str(settings.kb_dir.resolve())
            base, _ = services.enter_context(running_service(env))
            running[mode] = (base, bot_key, agent_key)
        for base, bot_key, agent_key in running.values():  # both services started: warm each up (Kiwi's model
            with httpx.Client(base_url=base, timeout=120) as warm:  # loads on the first search of each process)
                for q in QUESTIONS:
                    warm.post("/v1/triage", json={"text": q}, headers={"Authorization": f"Bearer {agent_key}"})
                until = time.monotonic() + WARM_UP_S
                while time.monotonic() < until:
                    warm.post("/v1/bot/answer", json={"text": QUESTIONS[0]},
                              headers={"Authorization": f"Bearer {bot_key}"})
        runs: dict[str, dict[str, list[dict[str, Any]]]] = {m: {name: [] for name in SCENARIOS} for m in MODES}
        for r in range(ROUNDS):  # modes and scenarios take turns, so the machine's other load falls on each alike
            for mode, (base, bot_key, agent_key) in running.items():
                for name in SCENARIOS:
                    llm.mode = "hang" if name == "llm_hangs" else "ok"
                    log(f"serving: round {r + 1}/{ROUNDS}, {mode}, bot answers for {seconds / ROUNDS:g} s, {name}")
                    runs[mode][name].append(_scenario(base, bot_key, agent_key, seconds / ROUNDS, name))
    modes: dict[str, Any] = {}
    for mode in MODES:
        scenarios = {name: _figures(runs[mode][name], runs[mode]["undisturbed"]) for name in SCENARIOS}
        for name, figures in scenarios.items():
            log(f"  {mode}, {name}: {figures}")
        modes[mode] = scenarios
    return {"seconds": seconds, "clients": CLIENTS, "long_chars": LONG_CHARS, "modes": modes}


def message_cost(settings: Settings, rounds: int = 7) -> dict[str, Any]:
    """What one message costs the pipeline (no LLM, one process) by its length, the lengths taking turns:
    medians of ``rounds`` runs after a warm-up. Texts are the demo's messages run together (those an injection
    check flags left out, since a flagged message is encoded twice), plus a long one with an injection."""
    from triage.kb import KnowledgeBase
    from triage.models import Message
    from triage.pipeline import Pipeline
    from triage.stages.guard import check_injection

    pipeline = Pipeline(KnowledgeBase.open(settings), settings.repeat_window)
    plain = " ".join([m.text for m in demo_messages() if not check_injection(m.text).flagged] * 20)
    texts = {"chat": QUESTIONS[0], "500": plain[:500], "2,000": plain[:2_000], "20,000": plain[:LONG_CHARS],
             "20,000, injection flagged": long_message(3)}
    for text in texts.values():
        pipeline.run(Message(text=text))
    runs: dict[str, list[float]] = {name: [] for name in texts}
    for _ in range(rounds):
        for name, text in texts.items():
            started = time.perf_counter()
            pipeline.run(Message(text=text))
            runs[name].append((time.perf_counter() - started) * 1000)
    chat = statistics.median(runs["chat"])
    return {name: {"chars": len(texts[name]), "median_ms": round(statistics.median(ms), 1),
                   "times_chat": round(statistics.median(ms) / chat, 1)} for name, ms in runs.items()}


def cost_markdown(r: dict[str, Any]) -> list[str]:
    lines = ["", "## What a message costs by its length", "",
             "The pipeline without an LLM in one process (the settings' KB), the lengths taking turns, medians of 7 "
             "runs. It reads a message up to `READ_CHARS` and the encoder up to its 512-token window.", "",
             "| message | characters | median ms | × a chat message |", "|---|---|---|---|"]
    lines += [f"| {name} | {c['chars']:,} | {c['median_ms']} | {c['times_chat']} |" for name, c in r.items()]
    return lines


def serving_markdown(r: dict[str, Any]) -> list[str]:
    lines = ["", "## The support bot while other requests misbehave", "",
             f"Two services under `triage serve` (SQLite each), started alike but for `TRIAGE_MESSAGE_WORKER`: "
             f"agents' messages in the message worker process (as shipped), or everything in one process. One bot "
             f"client asks `/v1/bot/answer` back to back for {r['seconds']:g} s per scenario and service, in one "
             f"run (services and scenarios taking turns, {ROUNDS} rounds, after {WARM_UP_S} s of bot answers to warm "
             f"each service up): undisturbed; while {r['clients']} "
             f"clients keep sending {r['long_chars']:,}-character messages to `/v1/triage`; while the LLM endpoint "
             f"accepts and never answers and {r['clients']} clients keep calling `/v1/triage`. Clients and servers "
             "share the machine's 2 cores.", "",
             "| service | scenario | bot answers | p50 ms | p95 ms | p95 by round ms | p95 / undisturbed (median of "
             "rounds) | triage calls answered |", "|---|---|---|---|---|---|---|---|"]
    for mode, scenarios in r["modes"].items():
        for name, s in scenarios.items():
            calls = ", ".join(f"{k}: {v}" for k, v in s["triage_calls"].items()) or "–"
            lines.append(f"| {mode} | {name} | {s['bot_answers']} | {s['p50_ms']} | {s['p95_ms']} | "
                         f"{', '.join(map(str, s['p95_by_round_ms']))} | **{s['p95_ratio']}** | {calls} |")
    return lines
