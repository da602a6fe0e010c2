"""``triage bench``: build throughput vs the raw encoder, query latency and RSS by KB size, exact vs HNSW.

Large KBs use synthetic units: real embeddings of the demo KB's phrasings, perturbed (so the vectors keep
the model's geometry), with texts recombined from the demo KB's words for BM25. Queries are real Korean
messages embedded by the real encoder on every call, so latency = embed + dense + lexical + grouping.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from evals.fuzz import fuzz_markdown, fuzz_service
from evals.gap_evals import gap_timing
from evals.inbox_load import inbox_load, inbox_markdown, replica_load, replica_markdown
from evals.serving_load import cost_markdown, message_cost, serving_latency, serving_markdown
from evals.widget_browser import widget_browser_latency, widget_browser_markdown
from evals.widget_load import widget_load, widget_markdown
from knowledge.chunking import faq_chunks
from knowledge.index import (
    EMBED_BATCH,
    HNSW_EF_CONSTRUCTION,
    HNSW_EF_SEARCH,
    HNSW_M,
    build_snapshot,
    hnsw_index,
    load_snapshot,
)
from knowledge.lexical import tokenize
from knowledge.search import Searcher
from knowledge.sources import FaqEntry, load_faq_files, write_faq_jsonl
from triage.config import Settings
from triage.kb import demo_sources, embedder_for

Log = Callable[[str], None]
QUERIES = ["배송이 아직 안 왔어요 언제 와요?", "환불 신청했는데 돈이 안 들어와요", "비밀번호 바꾸고 싶어요",
           "쿠폰이 적용이 안 돼요", "새벽배송 지역 확인하고 싶어요", "결제가 두 번 됐어요 ㅠㅠ",
           "how do I cancel my order?", "앱이 자꾸 꺼져요", "멤버십 해지하면 포인트는요?", "영수증 출력 방법"]


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def demo_phrasings(settings: Settings) -> list[str]:
    faq_files, _ = demo_sources(settings)
    return [c.text for c in faq_chunks(load_faq_files(faq_files))]


def synthetic_entries(phrasings: list[str], units: int, seed: int = 7) -> list[FaqEntry]:
    """Entries of 4 phrasings each, recombined from the demo KB's words."""
    rng = random.Random(seed)
    words = [w for p in phrasings for w in p.split()]
    entries = []
    for n in range((units + 3) // 4):
        texts = [" ".join(rng.choices(words, k=rng.randint(4, 10))) for _ in range(4)]
        entries.append(FaqEntry(id=f"s{n}", question=texts[0], answer=texts[0], examples=tuple(texts[1:])))
    return entries


class PerturbedEmbedder:
    """Stands in for the encoder when building large synthetic KBs: a real vector of a demo phrasing plus
    noise, normalized. Reports the real encoder's name so the snapshot loads with it."""

    def __init__(self, base: np.ndarray, name: str, noise: float = 0.04, seed: int = 7) -> None:
        self._base, self.name, self.dim = base, name, base.shape[1]
        self._noise, self._rng = noise, np.random.default_rng(seed)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        picks = self._base[self._rng.integers(0, len(self._base), len(texts))]
        v = picks + self._rng.normal(0, self._noise, picks.shape).astype(np.float32)
        return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)

    encode_passages = encode_queries


def build_throughput(settings: Settings, log: Log, units: int = 1536) -> dict[str, Any]:
    """Units/s of the raw encoder vs a full KB build (validation, chunking, embedding, BM25, classifier,
    FAISS, writes), measured alternately in one process; medians of 3. Start-up costs paid once per process
    (loading the encoder, Kiwi's model) are excluded from both."""
    embedder = embedder_for(settings)
    entries = synthetic_entries(demo_phrasings(settings), units, seed=11)
    texts = [c.text for c in faq_chunks(entries)]
    embedder.encode_queries(texts[:8])
    tokenize(texts[:8])
    raw, build = [], []
    with tempfile.TemporaryDirectory() as tmp:
        faq = Path(tmp) / "faq.jsonl"
        for rnd in range(3):
            salt = f" {rnd}"  # new texts each round: nothing is reused from the previous build
            write_faq_jsonl([replace(e, question=e.question + salt, examples=tuple(x + salt for x in e.examples))
                             for e in entries], faq)
            started = time.perf_counter()
            for i in range(0, len(texts), EMBED_BATCH):
                embedder.encode_queries([t + salt + " raw" for t in texts[i:i + EMBED_BATCH]])
            raw.append(len(texts) / (time.perf_counter() - started))
            report = build_snapshot(Path(tmp) / "kb", embedder, [faq])
            build.append(report.chunks / report.seconds)
            log(f"  round {rnd + 1}: raw {raw[-1]:.1f} units/s, build {build[-1]:.1f} units/s")
    return {"units": len(texts), "raw_units_per_s": round(statistics.median(raw), 1),
            "build_units_per_s": round(statistics.median(build), 1),
            "ratio": round(statistics.median(b / r for b, r in zip(build, raw, strict=True)), 3)}


def query_latency_one(settings: Settings, units: int, repeats: int = 20) -> dict[str, Any]:
    """Build a synthetic KB of ``units`` units, load it fresh, and time real queries (runs in a subprocess
    so RSS is this size's alone)."""
    embedder = embedder_for(settings)
    phrasings = demo_phrasings(settings)
    base = embedder.encode_queries(phrasings)
    entries = synthetic_entries(phrasings, units)
    with tempfile.TemporaryDirectory() as tmp:
        faq = Path(tmp) / "faq.jsonl"
        write_faq_jsonl(entries, faq)
        build_snapshot(Path(tmp) / "kb", PerturbedEmbedder(base, embedder.name), [faq])
        rss_before = rss_mb()
        searcher = Searcher(load_snapshot(Path(tmp) / "kb", embedder), embedder)
        searcher.search(QUERIES[0])  # warm-up (Kiwi, caches)
        total, embed, search = [], [], []
        for _ in range(repeats):
            for q in QUERIES:
                started = time.perf_counter()
                result = searcher.search(q)
                total.append((time.perf_counter() - started) * 1000)
                embed.append(result.timings_ms["embed"])
                search.append(result.timings_ms["search"])
        return {"units": len(searcher.snapshot.chunks), "index": searcher.snapshot.manifest["dense_index"],
                "queries": len(total), "p50_ms": round(percentile(total, 50), 2),
                "p95_ms": round(percentile(total, 95), 2), "embed_p50_ms": round(percentile(embed, 50), 2),
                "search_p50_ms": round(percentile(search, 50), 2), "search_p95_ms": round(percentile(search, 95), 2),
                "rss_mb": round(rss_mb(), 1), "rss_kb_mb": round(rss_mb() - rss_before, 1)}


EF_SEARCH_SWEEP = (32, 64, 128, 256, 512)


def mixed_vectors(base: np.ndarray, n: int, seed: int, noise: float = 0.01) -> np.ndarray:
    """Vectors on the model's manifold: random mixtures of two real embeddings plus a little noise (uniform
    random vectors would make any ANN index look far worse than on real text)."""
    rng = np.random.default_rng(seed)
    w = rng.random((n, 1)).astype(np.float32)
    v = w * base[rng.integers(0, len(base), n)] + (1 - w) * base[rng.integers(0, len(base), n)]
    v += rng.normal(0, noise, v.shape).astype(np.float32)
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def _timed_search(index: faiss.Index, queries: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    times, found = [], []
    for i in range(len(queries)):
        started = time.perf_counter()
        _, ids = index.search(queries[i:i + 1], 10)
        times.append((time.perf_counter() - started) * 1000)
        found.append(len(set(ids[0]) & set(truth[i])) / 10)
    return {"p50_ms": round(percentile(times, 50), 3), "p95_ms": round(percentile(times, 95), 3),
            "recall_at_10": round(float(np.mean(found)), 4)}


def exact_vs_hnsw(base: np.ndarray, n: int, log: Log, nq: int = 200) -> dict[str, Any]:
    """Recall@10 of HNSW (at several efSearch) against exact search, and single-query latency of both."""
    data = mixed_vectors(base, n, seed=1)
    queries = mixed_vectors(base, nq, seed=2)
    flat = faiss.IndexFlatIP(base.shape[1])
    flat.add(data)
    started = time.perf_counter()
    hnsw = hnsw_index(data)
    build_s = time.perf_counter() - started
    truth = flat.search(queries, 10)[1]
    out: dict[str, Any] = {"vectors": n, "hnsw_build_s": round(build_s, 1),
                           "exact": _timed_search(flat, queries, truth), "hnsw": {}}
    for ef in EF_SEARCH_SWEEP:
        hnsw.hnsw.efSearch = ef
        out["hnsw"][ef] = _timed_search(hnsw, queries, truth)
    hnsw.hnsw.efSearch = HNSW_EF_SEARCH
    log(f"  {n} vectors: exact p50 {out['exact']['p50_ms']} ms; HNSW efSearch {HNSW_EF_SEARCH}: p50 "
        f"{out['hnsw'][HNSW_EF_SEARCH]['p50_ms']} ms, recall@10 {out['hnsw'][HNSW_EF_SEARCH]['recall_at_10']}")
    return out


STAGES = ("embed", "search", "answer", "triage", "draft")


def triage_latency(settings: Settings, rounds: int = 3) -> dict[str, Any]:
    """The whole pipeline without an LLM (embed, search, answer, tag, priority, context, template draft and
    lint) on the demo KB, over the demo dev messages, after one warm-up pass."""
    from triage.inputs import read_messages
    from triage.kb import KnowledgeBase
    from triage.pipeline import Pipeline

    demo = settings.model_copy(update={"kb_dir": None})
    pipeline = Pipeline(KnowledgeBase.open(demo), demo.repeat_window)
    messages = read_messages(demo.demo_sources / "dev.jsonl", demo.max_message_chars)
    for message in messages:
        pipeline.run(message)
    totals: list[float] = []
    stages: dict[str, list[float]] = {}
    for _ in range(rounds):
        for message in messages:
            timings = pipeline.run(message).timings_ms
            totals.append(timings["total"])
            for stage in STAGES:
                stages.setdefault(stage, []).append(timings.get(stage, 0.0))
    return {"messages": len(messages), "runs": len(totals), "p50_ms": round(percentile(totals, 50), 1),
            "p95_ms": round(percentile(totals, 95), 1),
            "stage_p50_ms": {k: round(percentile(v, 50), 2) for k, v in stages.items()},
            "stage_p95_ms": {k: round(percentile(v, 95), 2) for k, v in stages.items()}}


PARTS = ("build", "query", "ann", "triage", "inbox", "gaps", "length", "serving", "fuzz", "replicas", "widget",
         "history")


def run_bench(settings: Settings, sizes: list[int], ann_sizes: list[int], out_dir: Path, log: Log = print,
              parts: tuple[str, ...] = PARTS, database_url: str | None = None, serving_seconds: float = 45,
              fuzz_seconds: float = 600, fuzz_database_url: str | None = None,
              history_sizes: tuple[int, ...] = (256, 1024), history_stub_sizes: tuple[int, ...] = (20000,),
              history_rebuild_max: int = 256) -> str:
    """Run the chosen parts; parts not run keep their figures from the previous report in ``out_dir``. The
    history part writes ``history-bench.{json,md}`` of its own (``evals.history_bench``)."""
    texts = []
    if "history" in parts:
        from evals.history_bench import run_history_bench

        texts.append(run_history_bench(settings, history_sizes, history_stub_sizes, out_dir, log,
                                       rebuild_max=history_rebuild_max))
        parts = tuple(p for p in parts if p != "history")
        if not parts:
            return texts[0]
    previous = out_dir / "bench.json"
    report: dict[str, Any] = json.loads(previous.read_text(encoding="utf-8")) if previous.is_file() else {}
    report.update({"machine": {"cpus": os.cpu_count()}, "threads": settings.embed_threads})
    if "build" in parts:
        log("build throughput (raw encoder vs full build)")
        report["build"] = build_throughput(settings, log)
    if "query" in parts:
        report["query"] = []
        for units in sizes:
            log(f"query latency at {units} units")
            proc = subprocess.run([sys.executable, "-m", "evals.bench", str(units)], capture_output=True,
                                  text=True, check=True)
            report["query"].append(json.loads(proc.stdout.strip().splitlines()[-1]))
            log(f"  {report['query'][-1]}")
    if "ann" in parts:
        report["ann"] = []
        base = embedder_for(settings).encode_queries(demo_phrasings(settings))
        for n in ann_sizes:
            log(f"exact vs HNSW at {n} vectors")
            report["ann"].append(exact_vs_hnsw(base, n, log))
    if "triage" in parts:
        log("triage latency: the whole pipeline without an LLM on the demo dev messages")
        report["triage"] = triage_latency(settings)
        log(f"  {report['triage']}")
    if "gaps" in parts:
        log("gap clustering: 10k and 100k questions")
        report["gaps"] = gap_timing(settings, log)
    if "inbox" in parts:
        loaded = inbox_load(settings, log, database_url=database_url)
        report["inbox"] = {**report.get("inbox", {}), loaded["backend"]: loaded}  # one entry per database
    if "replicas" in parts:
        if not database_url:
            raise ValueError("--parts replicas needs --database-url: an empty PostgreSQL database both replicas share")
        report["replicas"] = replica_load(settings, database_url, log)
    if "length" in parts:
        log("message cost by length")
        report["length"] = message_cost(settings)
        log(f"  {report['length']}")
    if "serving" in parts:
        report["serving"] = serving_latency(settings, log, seconds=serving_seconds)
    if "widget" in parts:
        report["widget_browser"] = widget_browser_latency(settings, log)
        report["widget"] = widget_load(settings, log)
    if "fuzz" in parts:  # SQLite, and the given (empty) database too
        for url in (None, fuzz_database_url) if fuzz_database_url else (None,):
            fuzzed = fuzz_service(settings, url, seconds=fuzz_seconds, log=log)
            fuzzed.pop("log")
            report["fuzz"] = {**report.get("fuzz", {}), fuzzed["backend"]: fuzzed}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "bench.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    text = bench_markdown(report)
    (out_dir / "bench.md").write_text(text, encoding="utf-8")
    return "\n".join([text, *texts])


def bench_markdown(r: dict[str, Any]) -> str:
    lines = ["# Benchmark", "",
             f"Machine: {r['machine']['cpus']} CPUs; encoder threads {r['threads']}. Medians; every figure from one "
             "run."]
    if b := r.get("build"):
        lines += ["", "## KB build throughput", "",
                  f"{b['units']} units per round, 3 rounds alternating: raw encoder {b['raw_units_per_s']} units/s, "
                  f"full build {b['build_units_per_s']} units/s, **ratio {b['ratio']}** (median of per-round ratios)."]
    if r.get("query"):
        lines += ["", "## Query latency (embed + search), synthetic KBs", "",
                  "| units | index | p50 ms | p95 ms | embed p50 | search p50 | search p95 | RSS MB (KB alone) |",
                  "|---|---|---|---|---|---|---|---|"]
        lines += [f"| {q['units']} | {q['index']} | {q['p50_ms']} | {q['p95_ms']} | {q['embed_p50_ms']} | "
                  f"{q['search_p50_ms']} | {q['search_p95_ms']} | {q['rss_mb']} ({q['rss_kb_mb']}) |"
                  for q in r["query"]]
    if t := r.get("triage"):
        lines += ["", "## Triage without an LLM (demo KB, demo dev messages)", "",
                  f"{t['messages']} messages × {t['runs'] // t['messages']} rounds after a warm-up pass, one "
                  "process: embed, search, answer, tag, priority, context, then the template draft with its lint.",
                  "", "| p50 ms | p95 ms | " + " | ".join(f"{k} p50 / p95" for k in STAGES) + " |",
                  "|---|---|" + "---|" * len(STAGES),
                  f"| {t['p50_ms']} | {t['p95_ms']} | " + " | ".join(
                      f"{t['stage_p50_ms'].get(k, '–')} / {t['stage_p95_ms'].get(k, '–')}" for k in STAGES) + " |"]
    if r.get("ann"):
        lines += ["", f"## FAISS exact vs HNSW (M={HNSW_M}, efConstruction={HNSW_EF_CONSTRUCTION}), 200 queries", "",
                  "Vectors: mixtures of two real demo-KB embeddings plus a little noise (see `mixed_vectors`). "
                  f"The index uses efSearch {HNSW_EF_SEARCH}.", "",
                  "| vectors | exact p50 / p95 ms | HNSW efSearch | HNSW p50 / p95 ms | HNSW recall@10 | "
                  "HNSW build s |",
                  "|---|---|---|---|---|---|"]
    for a in r.get("ann", []):
        for ef, h in a["hnsw"].items():
            lines.append(f"| {a['vectors']} | {a['exact']['p50_ms']} / {a['exact']['p95_ms']} | {ef} | "
                         f"{h['p50_ms']} / {h['p95_ms']} | {h['recall_at_10']} | {a['hnsw_build_s']} |")
    if r.get("gaps"):
        lines += ["", "## Clustering unanswered questions (FAQ gaps)", "",
                  "Real embeddings of DSTC11 questions resampled with a little noise; embedding not included.", "",
                  "| questions | path | seconds | clusters |", "|---|---|---|---|"]
        lines += [f"| {t['questions']} | {t['path']} | {t['seconds']} | {t['clusters']} |" for t in r["gaps"]]
    for backend in r.get("inbox", {}).values():
        lines += inbox_markdown(backend)
    if r.get("length"):
        lines += cost_markdown(r["length"])
    if r.get("replicas"):
        lines += replica_markdown(r["replicas"])
    if r.get("serving"):
        lines += serving_markdown(r["serving"])
    if r.get("fuzz"):
        lines += fuzz_markdown(r["fuzz"])
    if r.get("widget_browser"):
        lines += widget_browser_markdown(r["widget_browser"])
    if r.get("widget"):
        lines += widget_markdown(r["widget"])
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # one query-latency size, in its own process (see run_bench)
    from triage.config import get_settings

    print(json.dumps(query_latency_one(get_settings(), int(sys.argv[1]))))
