"""Run a suite: build its KB with the real index code, calibrate on its calibration split, report on test."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from evals.datasets import EvalSet, Query, clinc150, labeled_file, parakqc
from evals.metrics import Scored, at_threshold, best_on_these_rows, curve, top1_accuracy
from knowledge.embedding_cache import CachedEmbedder
from knowledge.index import build_snapshot, load_snapshot
from knowledge.search import Searcher
from knowledge.sources import load_faq_files, write_faq_jsonl
from triage.config import Settings
from triage.kb import demo_sources, embedder_for
from triage.stages.answering import Answerer, features, fit_answer_model, label_outcomes

Log = Callable[[str], None]


def demo(settings: Settings) -> EvalSet:
    root = settings.demo_sources
    faq_files, docs = demo_sources(settings)
    # 150 calibration labels cannot vouch for 0.95 at the 90% lower bound; the demo ships target 0.90
    return EvalSet("demo", load_faq_files(faq_files), labeled_file(root / "calibration.jsonl"),
                   labeled_file(root / "dev.jsonl"), docs_dir=docs, target_precision=0.90,
                   note="KB: the demo FAQ + manuals; calibration: calibration.jsonl; test: dev.jsonl")


SUITES: dict[str, Callable[[Settings], EvalSet]] = {
    "clinc150": lambda s: clinc150(s.datasets_dir),
    "parakqc": lambda s: parakqc(s.datasets_dir),
    "demo": demo,
}


def _score(searcher: Searcher, queries: list[Query], log: Log, label: str) -> tuple[list[dict[str, float]],
                                                                                     list[str | None], list[Scored]]:
    """Features and top entry of every query, plus the plain nearest-neighbour baseline (closest phrasing,
    its cosine as the confidence)."""
    vectors = searcher.embedder.encode_queries([q.text for q in queries])
    feats, tops, baseline = [], [], []
    started = time.perf_counter()
    for n, (q, v) in enumerate(zip(queries, vectors, strict=True), 1):
        result = searcher.search(q.text, k=100, vector=v)
        feats.append(features(result.faq_hits))
        tops.append(result.faq_hits[0].entry_id if result.faq_hits else None)
        nearest = max(result.faq_hits, key=lambda h: h.dense, default=None)
        baseline.append(Scored(q.expected, nearest.entry_id if nearest else None, nearest.dense if nearest else 0.0))
        if n % 2000 == 0:
            log(f"  {label}: {n}/{len(queries)} searched ({time.perf_counter() - started:.0f} s)")
    return feats, tops, baseline


def evaluate(evalset: EvalSet, settings: Settings, log: Log) -> dict[str, Any]:
    work = settings.var_dir / "eval" / evalset.name
    embedder = CachedEmbedder(embedder_for(settings), work / "query-cache")
    faq = work / "faq.jsonl"
    write_faq_jsonl(evalset.entries, faq)
    log(f"[{evalset.name}] building the KB ({len(evalset.entries)} entries)")
    build = build_snapshot(work / "index", embedder, [faq], evalset.docs_dir)
    searcher = Searcher(load_snapshot(work / "index", embedder), embedder, settings.section_window)
    log(f"[{evalset.name}] scoring {len(evalset.calibration)} calibration and {len(evalset.test)} test queries")
    cal_feats, cal_tops, _ = _score(searcher, evalset.calibration, log, "calibration")
    test_feats, test_tops, baseline = _score(searcher, evalset.test, log, "test")
    embedder.save()
    correct, answerable = label_outcomes(cal_tops, [q.expected for q in evalset.calibration])
    target = evalset.target_precision
    model = fit_answer_model(cal_feats, correct, answerable, target, meta={"embedder": embedder.name})
    answerer = Answerer(model)
    rows = [Scored(q.expected, t, answerer.model.confidence(f))
            for q, t, f in zip(evalset.test, test_tops, test_feats, strict=True)]
    return {
        "suite": evalset.name,
        "note": evalset.note,
        "embedder": embedder.name,
        "kb": {"entries": build.entries, "units": build.chunks},
        "queries": {"calibration": len(evalset.calibration), "test": len(evalset.test),
                    "test_answerable": sum(q.expected is not None for q in evalset.test),
                    "test_no_answer": sum(q.expected is None for q in evalset.test)},
        "top1_accuracy": top1_accuracy(rows),
        "baseline_top1_accuracy": top1_accuracy(baseline),
        "target_precision": target,
        "at_calibrated_threshold": at_threshold(rows, model.threshold),
        "answer_model": model.to_dict(),
        "curve": curve(rows),
        "reference_threshold_on_test": {
            "answer_model": best_on_these_rows(rows, 0.95),
            "nearest_neighbour_baseline": best_on_these_rows(baseline, 0.95),
        },
    }


def markdown(report: dict[str, Any]) -> str:
    cal = report["at_calibrated_threshold"]
    ref = report["reference_threshold_on_test"]
    lines = [
        f"# Eval: {report['suite']}",
        "",
        f"{report['note']}. Embedder `{report['embedder']}`. Test: {report['queries']['test_answerable']} "
        f"answerable + {report['queries']['test_no_answer']} no-answer queries; the threshold comes from "
        f"{report['queries']['calibration']} calibration queries only.",
        "",
        "| metric | value |",
        "|---|---|",
        f"| top-1 accuracy (answerable) | {report['top1_accuracy']:.4f} |",
        f"| threshold (target: precision ≥ {report['target_precision']} at its 90% lower bound, "
        f"hand-off recall ≥ {report['answer_model']['min_handoff_recall']}, no-answer share "
        f"{report['answer_model']['no_answer_share']}) | {cal['threshold']} |",
        f"| auto-answer precision | {cal['precision']} |",
        f"| coverage (answerable auto-answered) | {cal['coverage']} |",
        f"| hand-off recall (no-answer handed off) | {cal['handoff_recall']} |",
        "",
        "For comparison only, thresholds chosen on the test rows themselves for precision 0.95 (flattering):",
        f"answer model: coverage {ref['answer_model']['coverage']} at precision {ref['answer_model']['precision']}; "
        f"plain nearest-neighbour baseline (top-1 {report['baseline_top1_accuracy']:.4f}): coverage "
        f"{ref['nearest_neighbour_baseline']['coverage']} at precision "
        f"{ref['nearest_neighbour_baseline']['precision']}.",
        "",
        "Precision / coverage curve (confidence quantiles):",
        "",
        "| threshold | precision | coverage | hand-off recall |",
        "|---|---|---|---|",
    ]
    lines += [f"| {p['threshold']} | {p['precision']} | {p['coverage']} | {p['handoff_recall']} |"
              for p in report["curve"]]
    return "\n".join(lines) + "\n"


def run_suite(name: str, settings: Settings, results_dir: Path, log: Log = print) -> str:
    started = time.perf_counter()
    report = evaluate(SUITES[name](settings), settings, log)
    report["seconds"] = round(time.perf_counter() - started, 1)
    text = markdown(report)
    write_report(results_dir, name, report, text)
    return text


def write_report(results_dir: Path, name: str, report: dict[str, Any], text: str) -> None:
    """``NAME.json`` (the figures) and ``NAME.md`` (for people) under ``results_dir``."""
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / f"{name}.json").write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    (results_dir / f"{name}.md").write_text(text, encoding="utf-8")
