"""``triage bench --parts widget``: many customers chatting in the widget at once against a real uvicorn server.

``sessions`` customers (asyncio tasks sharing one ``httpx.AsyncClient``) on 127.0.0.1 for ``seconds``, their starts
spread over the first ``STAGGER_S`` seconds. Each opens a widget session and fetches the quick replies, then until
the end: asks a question (the bot answers from the KB: the encoder runs) and reads the answer for 5–15 s while a long
poll for new lines is open, as the widget does. The service is ``triage serve`` as shipped on a temporary SQLite store
with the settings' KB (the demo KB unless ``kb_dir`` is set), the widget's rate limits raised so that the figures are
the service's capacity, not the limiter's. The clients share the machine's 2 cores with the server. An error is a
non-2xx status or an exception (a timeout, a connection error), counted by route and kind (``ask:503``).
"""

from __future__ import annotations

import asyncio
import random
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from evals.local_server import running_service
from evals.metrics import nearest_rank
from triage.config import Settings
from triage.kb import ensure_demo_index
from triage.store import Store

Log = Callable[[str], None]
QUESTIONS = ["배송이 아직 안 왔어요 언제 와요?", "새벽배송 되는 지역인지 확인하고 싶어요",
             "주문 취소하고 환불받고 싶어요", "환불 신청했는데 돈이 아직 안 들어왔어요",
             "쿠폰이 결제할 때 적용이 안 돼요", "첫 구매 쿠폰은 어디서 받아요?",
             "비밀번호를 잊어버렸어요 어떻게 바꿔요?", "멤버십 해지하면 적립금은 어떻게 되나요?",
             "받은 채소가 상해 있어요 교환되나요?", "결제가 두 번 된 것 같아요", "배송지 주소를 바꾸고 싶어요",
             "영수증은 어디서 출력하나요?", "How do I cancel my order?", "Can I change my delivery address?"]
SESSION_HEADER = "X-Widget-Session"
STAGGER_S = 5.0  # the customers' starts are spread over this many seconds
THINK_S = (5.0, 15.0)  # reading an answer, with a long poll open
POLL_MAX_S = 25.0  # the longest ``wait`` the service accepts
TIMEOUT_S = 40.0
MAX_CONNECTIONS = 400
LOG_EVERY_S = 10.0


@dataclass
class _Tally:
    requests: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    ask_ms: list[float] = field(default_factory=list)
    polls: int = 0


async def _call(client: httpx.AsyncClient, tally: _Tally, route: str, method: str, url: str,
                token: str | None = None, **kwargs: Any) -> dict[str, Any] | None:
    """One request: its JSON body if 2xx, else None with the error counted (``route:status`` or
    ``route:ExceptionName``)."""
    tally.requests[route] += 1
    try:
        response = await client.request(method, url, headers={SESSION_HEADER: token} if token else None, **kwargs)
        if response.is_success:
            body: dict[str, Any] = response.json()
            return body
        tally.errors[f"{route}:{response.status_code}"] += 1
    except (httpx.HTTPError, ValueError) as exc:  # ValueError: a 2xx body that is not JSON
        tally.errors[f"{route}:{type(exc).__name__}"] += 1
    return None


def _last_id(last: int, body: dict[str, Any] | None) -> int:
    return max([last, *(int(t["id"]) for t in (body or {}).get("turns", []))])


async def _customer(client: httpx.AsyncClient, tally: _Tally, i: int, sessions: int, end: float) -> None:
    """One customer: a session, the quick replies, then questions until ``end``, each read with a long poll open
    (a customer whose session could not be opened gives up)."""
    rng = random.Random(i)
    await asyncio.sleep(STAGGER_S * i / sessions)
    opened = await _call(client, tally, "sessions", "POST", "/sessions",
                         json={"page": "/bench", "section": None, "lang": "ko"})
    if opened is None:
        return
    token = str(opened["token"])
    await _call(client, tally, "config", "GET", "/config", token, params={"lang": "ko"})
    last = 0
    while time.monotonic() < end:
        started = time.perf_counter()
        answer = await _call(client, tally, "ask", "POST", "/ask", token,
                             json={"text": rng.choice(QUESTIONS), "path": []})
        tally.ask_ms.append((time.perf_counter() - started) * 1000)  # every ask, a failed one's too
        last = _last_id(last, answer)
        think = min(rng.uniform(*THINK_S), end - time.monotonic())  # reading stops at the end
        if think <= 0:
            break
        reading = time.monotonic()
        polled = await _call(client, tally, "turns", "GET", "/turns", token,
                             params={"after": last, "wait": round(min(think, POLL_MAX_S), 1)})
        if polled is not None:
            tally.polls += 1
            last = _last_id(last, polled)
        await asyncio.sleep(max(0.0, think - (time.monotonic() - reading)))  # the rest, if the poll ended early


async def _progress(tally: _Tally, log: Log, started: float) -> None:
    while True:
        await asyncio.sleep(LOG_EVERY_S)
        log(f"  widget: {time.monotonic() - started:.0f} s, {sum(tally.requests.values())} requests, "
            f"{sum(tally.errors.values())} errors")


async def _load(base: str, key: str, sessions: int, seconds: float, log: Log) -> tuple[_Tally, float]:
    """The customers against the service at ``base``; the tally and the seconds they took."""
    tally = _Tally()
    limits = httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_CONNECTIONS)
    async with httpx.AsyncClient(base_url=f"{base}/v1/widget/{key}", timeout=TIMEOUT_S, limits=limits) as client:
        started = time.monotonic()
        progress = asyncio.create_task(_progress(tally, log, started))
        try:
            await asyncio.gather(*(_customer(client, tally, i, sessions, started + seconds) for i in range(sessions)))
        finally:
            progress.cancel()
        return tally, time.monotonic() - started


def _peak_rss_mb(pid: int) -> float | None:
    """A process's peak resident set (``VmHWM``); None where /proc can't tell."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def _children(pid: int) -> list[int]:
    """A process's child processes (the message worker's)."""
    try:
        return [int(c) for task in Path(f"/proc/{pid}/task").iterdir()
                for c in (task / "children").read_text().split()]
    except OSError:
        return []


@contextmanager
def widget_service(settings: Settings, **env: str) -> Iterator[tuple[str, subprocess.Popen[bytes], Store]]:
    """``triage serve`` as shipped on a temporary SQLite store with the settings' KB (the demo KB unless ``kb_dir``
    is set), the widget's rate limits raised out of the way; yields (base URL, process, its store)."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        store = Store.open(url)
        if settings.kb_dir is None:
            ensure_demo_index(settings)  # on first use, built here rather than within the server's start-up timeout
        base_env = {"TRIAGE_VAR_DIR": str(settings.var_dir.resolve()), "TRIAGE_DATABASE_URL": url,
                    "TRIAGE_SEED_DEMO_INBOX": "false", "TRIAGE_WIDGET_IP_RATE": "100000/minute",
                    "TRIAGE_WIDGET_SESSION_RATE": "1000/minute"}
        if settings.kb_dir:
            base_env["TRIAGE_KB_DIR"] = str(settings.kb_dir.resolve())
        try:
            with running_service({**base_env, **env}) as (base, proc):
                yield base, proc, store
        finally:
            store.close()


def widget_load(settings: Settings, log: Log = print, sessions: int = 200, seconds: float = 60) -> dict[str, Any]:
    """``sessions`` widget customers for ``seconds`` against ``triage serve`` on a temporary SQLite store; see the
    module's docstring."""
    with widget_service(settings) as (base, proc, store):
        key = store.create_widget_key("bench", origins=["https://shop.example"])
        log(f"widget: {sessions} customers for {seconds:g} s against {base}")
        tally, elapsed = asyncio.run(_load(base, key, sessions, seconds, log))
        server_rss = _peak_rss_mb(proc.pid)
        children_rss = [mb for pid in _children(proc.pid) if (mb := _peak_rss_mb(pid)) is not None]
    asks = tally.ask_ms
    report: dict[str, Any] = {
        "sessions": sessions, "seconds": seconds, "elapsed_s": round(elapsed, 1),
        "kb": str(settings.kb_dir) if settings.kb_dir else "demo",
        "requests": sum(tally.requests.values()), "requests_by_route": dict(tally.requests),
        "errors": sum(tally.errors.values()), "errors_by_kind": dict(sorted(tally.errors.items())),
        "asks": len(asks), "asks_per_s": round(len(asks) / elapsed, 1),
        "ask_p50_ms": round(nearest_rank(asks, 0.5), 1) if asks else None,
        "ask_p95_ms": round(nearest_rank(asks, 0.95), 1) if asks else None,
        "ask_max_ms": round(max(asks), 1) if asks else None,
        "long_polls": tally.polls, "server_peak_rss_mb": server_rss, "children_peak_rss_mb": children_rss}
    log(f"  {report}")
    return report


def widget_markdown(r: dict[str, Any]) -> list[str]:
    kb = "the default demo KB" if r["kb"] == "demo" else f"the KB in `{r['kb']}`"
    rss = "–" if r["server_peak_rss_mb"] is None else f"{r['server_peak_rss_mb']}"
    if r["children_peak_rss_mb"]:
        rss += f" (+ {', '.join(map(str, r['children_peak_rss_mb']))} its child processes)"
    routes = ", ".join(f"{k}: {v}" for k, v in r["requests_by_route"].items())
    errors = ", ".join(f"{k}: {v}" for k, v in r["errors_by_kind"].items()) or "none"
    lines = ["", f"## Chat widget under load ({r['sessions']} customers, real uvicorn on 127.0.0.1)", "",
             f"{r['sessions']} customers for {r['seconds']:g} s, their starts spread over the first {STAGGER_S:g} s: "
             "each opens a widget session and fetches the quick replies, then asks a question (the bot answers from "
             f"the KB, the encoder running) and reads the answer for {THINK_S[0]:g}–{THINK_S[1]:g} s while a long "
             f"poll for new lines is open, as the widget does. One `triage serve` with {kb} on SQLite, the widget's "
             "rate limits raised out of the way; the clients (asyncio, one process) share the machine's 2 cores "
             "with the server. Ask latency is client-side, of every ask (a failed one's too); an error is a "
             "non-2xx status or an exception (a timeout, a connection error).", "",
             "| customers | seconds | requests | asks | asks/s | ask p50 ms | ask p95 ms | ask max ms | long polls | "
             "errors | server peak RSS MB |", "|---|---|---|---|---|---|---|---|---|---|---|",
             f"| {r['sessions']} | {r['elapsed_s']} | {r['requests']} | {r['asks']} | {r['asks_per_s']} | "
             f"{r['ask_p50_ms']} | **{r['ask_p95_ms']}** | {r['ask_max_ms']} | {r['long_polls']} | "
             f"**{r['errors']}** | {rss} |", "",
             f"Requests by route: {routes}. Errors by kind: {errors}."]
    return lines
