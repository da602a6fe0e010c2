"""``triage bench --parts fuzz`` and ``tests/api/test_fuzz.py``: schemathesis against the real service.

Every route of the OpenAPI description, under uvicorn on 127.0.0.1, with an ``admin`` key (so every role's
routes are reached), in all four schemathesis phases (examples, coverage: boundary and invalid values,
fuzzing, stateful sequences), seeded. The only check is that no response is a 5xx: a 4xx for nonsense is the
right answer. ``evals.fuzz_hooks`` counts every response and keeps the first 5xx per route with a curl
command to reproduce it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evals.local_server import running_service
from triage.config import Settings
from triage.kb import kb_path, taxonomy_file
from triage.store import Store

Log = Callable[[str], None]
HOOKS = Path(__file__).with_name("fuzz_hooks.py")  # a file: schemathesis runs in out_dir, not in the project
KEY_NAME = "fuzz-admin"
WIDGET_KEY_NAME = "fuzz-widget"
# the widget's rate limits, raised so that the fuzzer reaches the routes behind them
UNLIMITED_WIDGET = {"TRIAGE_WIDGET_SESSION_RATE": "100000/minute", "TRIAGE_WIDGET_IP_RATE": "100000/minute"}


@dataclass(frozen=True)
class FuzzKeys:
    """What the fuzzer presents: an admin key (named ``KEY_NAME``), and a widget key with a customer session's
    token for the widget's routes (their own key and token in the path and header, not the admin key)."""

    admin: str
    widget: str
    widget_session: str


def fuzz_keys(store: Store) -> FuzzKeys:
    admin = store.create_key(KEY_NAME, "admin")
    widget = store.create_widget_key(WIDGET_KEY_NAME, ["https://fuzz.example"])
    return FuzzKeys(admin, widget, store.open_chat_session(widget, "ko", None, None))
REQUEST_TIMEOUT_S = 60  # a slow answer is not a failure here; the service's own timeouts are tested elsewhere


def schemathesis_run(base: str, keys: FuzzKeys, out_dir: Path, *, seed: int = 1, seconds: float | None = None,
                     max_examples: int | None = None) -> dict[str, Any]:
    """One ``schemathesis run`` against ``base`` with ``keys`` (``fuzz_keys``): a time budget
    (``seconds``: the phases repeat until it is spent) or ``max_examples`` per route. Returns the requests
    sent, the 5xx count, every status's count, the first 5xx per route, and schemathesis's own summary."""
    tally, report, log_file = out_dir / "tally.json", out_dir / "schemathesis.json", out_dir / "schemathesis.log"
    command = [sys.executable, "-m", "schemathesis.cli", "--no-color", "run", f"{base}/openapi.json",
               "--header", f"Authorization: Bearer {keys.admin}", "--checks", "not_a_server_error", "--seed", str(seed),
               "--workers", "1", "--request-timeout", str(REQUEST_TIMEOUT_S), "--report", "json",
               "--report-json-path", str(report)]
    if max_examples is not None:
        command += ["--max-examples", str(max_examples)]
    if seconds is not None:
        command += ["--max-time", str(max(1, round(seconds)))]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": str(HOOKS), "TRIAGE_FUZZ_TALLY": str(tally),
           "TRIAGE_FUZZ_KEY_NAME": KEY_NAME, "TRIAGE_FUZZ_WIDGET_KEY": keys.widget,
           "TRIAGE_FUZZ_WIDGET_SESSION": keys.widget_session}
    started = time.monotonic()
    with log_file.open("wb") as log:
        proc = subprocess.run(command, env=env, stdout=log, stderr=subprocess.STDOUT, check=False,
                              timeout=(seconds or 600) + 300, cwd=out_dir)  # its .schemathesis cache goes there
    if not tally.is_file():
        raise RuntimeError(f"schemathesis exited with {proc.returncode} and counted nothing:\n"
                           f"{log_file.read_text(errors='replace')[-3000:]}")
    result: dict[str, Any] = json.loads(tally.read_text(encoding="utf-8"))
    summary = json.loads(report.read_text(encoding="utf-8")) if report.is_file() else {}
    result.update(seconds=round(time.monotonic() - started, 1), seed=seed, exit_code=proc.returncode,
                  operations=summary.get("operations", {}).get("tested"),
                  test_cases=summary.get("test_cases", {}).get("generated"),
                  errors=summary.get("errors", []), log=log_file.read_text(errors="replace")[-4000:])
    return result


def fuzz_service(settings: Settings, database_url: str | None = None, *, seconds: float | None = None,
                 max_examples: int | None = None, seed: int = 1, log: Log = print) -> dict[str, Any]:
    """Serve ``settings``' knowledge base over a fresh store (a temporary SQLite file unless ``database_url``
    names an empty database) and a temporary var folder (accepted FAQ drafts and tag corrections the fuzzer
    sends land there), and fuzz it."""
    kb, taxonomy = kb_path(settings), taxonomy_file(settings)
    with tempfile.TemporaryDirectory() as tmp:
        url = database_url or f"sqlite:///{Path(tmp) / 'triage.db'}"
        store = Store.open(url)
        try:
            keys = fuzz_keys(store)
            backend = store.engine.url.get_backend_name()
        finally:
            store.close()
        env = {"TRIAGE_KB_DIR": str(kb.resolve()), "TRIAGE_VAR_DIR": str(Path(tmp) / "var"),
               "TRIAGE_DATABASE_URL": url, **UNLIMITED_WIDGET}
        if taxonomy is not None:
            env["TRIAGE_TAXONOMY"] = str(taxonomy.resolve())
        with running_service(env) as (base, _):
            budget = f"{seconds:g} s" if seconds is not None else f"{max_examples} examples per route"
            log(f"fuzz: schemathesis on {backend} for {budget}, seed {seed}")
            result = schemathesis_run(base, keys, Path(tmp), seed=seed, seconds=seconds, max_examples=max_examples)
    result["backend"] = backend
    log(f"  {backend}: {result['requests']} requests, {result['server_errors']} 5xx in {result['seconds']} s")
    return result


def fuzz_markdown(runs: dict[str, dict[str, Any]]) -> list[str]:
    lines = ["", "## Fuzzing every route (schemathesis, real uvicorn on 127.0.0.1)", "",
             "All phases (examples, coverage, fuzzing, stateful) over the OpenAPI description with an admin key; "
             "the check is that nothing answers 5xx.", "",
             "| database | seconds | seed | requests | 5xx | statuses |", "|---|---|---|---|---|---|"]
    for r in runs.values():
        statuses = ", ".join(f"{k}: {v}" for k, v in r["statuses"].items())
        lines.append(f"| {r['backend']} | {r['seconds']} | {r['seed']} | {r['requests']} | **{r['server_errors']}** "
                     f"| {statuses} |")
    for r in runs.values():
        lines += [f"- {r['backend']}: first 5xx on {e['route']}: `{e['curl']}`"
                  for e in r["first_server_error_per_route"]]
    return lines
