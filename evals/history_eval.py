"""``triage eval history``: the learning curve. How the service does on a KB it has never seen with no history,
then with the first 10%, 25%, 50% and 100% of the company's past tickets imported (``triage history import``,
the same code, into a store of its own), on the set's test messages.

Each step imports the next slice of the same export on top of the previous ones (so it also shows an
overlapping import adding only what is new) and rebuilds the KB from what was learned. The history exports come
from ``evals/history_sets.py`` (public sets) or ship with a sample KB (telecom, written blind and never tuned
on). Nothing here reads the exports' truth files: only what an import reads.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from evals.history_sets import history_export
from evals.runner import Log
from evals.triage_evals import labeled, read_labeled_messages
from evals.unseen import SETS, UnseenSet
from knowledge.index import load_snapshot
from triage.config import Settings
from triage.helpdesk.importer import import_history
from triage.kb import KnowledgeBase, build_kb
from triage.pipeline import Pipeline
from triage.store import Store

STEPS = (0.0, 0.1, 0.25, 0.5, 1.0)
ROOT = Path(__file__).resolve().parent.parent  # the repository: shipped exports are named from here
HISTORY_SETS = ("telecom", "travel", "bitext", "clinc150")
FIGURES = (("answer", "top1_accuracy", "top-1"), ("answer", "auto_answer_precision", "auto-answer precision"),
           ("answer", "coverage", "coverage"), ("answer", "handoff_recall", "hand-off recall"),
           ("tag", "accuracy", "tag accuracy"), ("tag", "accuracy_when_not_reviewed", "tags given right"),
           ("tag", "needs_review_share", "review share"), ("priority", "within_one", "priority within one"))


def _prefix(export: Path, share: float, out: Path) -> tuple[Path, int]:
    """The first ``share`` of the export's lines (its tickets in file order), as a file of their own."""
    lines = export.read_text(encoding="utf-8").splitlines(keepends=True)
    taken = lines[:round(share * len(lines))]
    out.write_text("".join(taken), encoding="utf-8")
    return out, len(taken)


def _figures(result: dict[str, Any]) -> dict[str, Any]:
    return {label: (result.get(part) or {}).get(key) for part, key, label in FIGURES}


def evaluate(unseen: UnseenSet, settings: Settings, work: Path, split: str, log: Log) -> dict[str, Any]:
    export = history_export(unseen, settings, work)
    if (work / "index").exists():
        shutil.rmtree(work / "index")
    (work / "store.db").unlink(missing_ok=True)
    settings = settings.model_copy(update={"kb_dir": work / "index", "taxonomy": unseen.taxonomy,
                                           "database_url": f"sqlite:///{(work / 'store.db').as_posix()}"})
    rows = read_labeled_messages(unseen.test if split == "test" else unseen.tuning, settings.max_message_chars)
    build_kb(settings, work / "index", [unseen.faq], unseen.docs)
    store = Store.open(settings.store_url)
    steps = []
    try:
        for share in STEPS:
            started = time.perf_counter()
            imported = mix = None
            if share:
                part, imported = _prefix(export, share, work / "history-part.jsonl")
                report = import_history(settings, store, work / "index", [part], taxonomy=unseen.taxonomy)
                mix = {**report.kinds, "tags": report.tags, "bad": len(report.bad),
                       "paraphrase_threshold": report.paraphrase_threshold}
            kb = KnowledgeBase.open(settings, settings.kb_dir, taxonomy=unseen.taxonomy, policy=unseen.policy,
                                    store=store)
            result = labeled(Pipeline.for_settings(kb, settings), rows, log)
            calibration = load_snapshot(work / "index").manifest["calibration"]
            steps.append({"share": share, "tickets": imported or 0, "figures": _figures(result), "mix": mix,
                          "calibration": {k: calibration.get(k) for k in ("source", "threshold", "fit_precision",
                                                                          "fit_coverage")},
                          "seconds": round(time.perf_counter() - started, 1)})
            log(f"[{unseen.name}] {share:.0%} of the history: " + json.dumps(steps[-1]["figures"]))
    finally:
        store.close()
    shown = (export.relative_to(ROOT) if export.is_relative_to(ROOT)
             else f"{export.name}, built by evals/history_sets.py")
    return {"set": unseen.name, "note": unseen.note, "history": str(shown), "messages": len(rows), "steps": steps}


def run_history(settings: Settings, names: list[str], results_dir: Path, split: str, log: Log) -> dict[str, Any]:
    reports = []
    for name in names:
        work = settings.var_dir / "eval" / "history" / name
        work.mkdir(parents=True, exist_ok=True)
        reports.append(evaluate(SETS[name](settings, work), settings, work, split, log))
    report = {"suite": "history", "split": split, "sets": reports}
    chart(report, results_dir / ("history.png" if split == "test" else "history-tuning.png"))
    return report


def chart(report: dict[str, Any], path: Path) -> None:
    """One panel per set: each figure against the share of the history imported."""
    sets = report["sets"]
    figure = Figure(figsize=(5 * len(sets), 4), dpi=100)
    for n, s in enumerate(sets):
        axes = figure.add_subplot(1, len(sets), n + 1)
        shares = [step["share"] * 100 for step in s["steps"]]
        for _, _, label in FIGURES:
            values = [step["figures"][label] for step in s["steps"]]
            if any(v is not None for v in values):
                axes.plot(shares, [v if v is not None else float("nan") for v in values], marker="o", label=label)
        axes.set_title(f"{s['set']} ({s['messages']} messages)")
        axes.set_xlabel("% of the history imported")
        axes.set_ylim(0, 1.02)
        axes.grid(alpha=0.3)
    figure.axes[0].legend(fontsize=7, loc="lower right")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(figure).print_png(str(path))


def history_markdown(report: dict[str, Any]) -> str:
    labels = [label for _, _, label in FIGURES]
    lines = ["# The learning curve: quality with 0–100% of the helpdesk history imported", "",
             f"Split: {report['split']}. Each row: the set's {report['split']} messages run through the whole "
             "pipeline (no LLM) after importing that share of its history export (`triage history import`, in file "
             "order) into a fresh store and rebuilding the KB from it. Chart: `history.png`.", ""]
    for s in report["sets"]:
        lines += [f"## {s['set']}", "", s["note"], f"History: `{s['history']}`.", "",
                  "| history | tickets | " + " | ".join(labels) + " | calibration |",
                  "|---" * (len(labels) + 3) + "|"]
        for step in s["steps"]:
            cal = step["calibration"]
            values = [step["figures"][label] for label in labels]
            lines.append(f"| {step['share']:.0%} | {step['tickets']} | "
                         + " | ".join("–" if v is None else f"{v:.3f}" for v in values)
                         + f" | {cal['source']} {cal['threshold']:.3f} |")
        last = s["steps"][-1]["mix"]
        if last:
            lines += ["", "Read from the whole history: " + ", ".join(
                f"{k} {v}" for k, v in last.items() if k in ("linked", "pasted", "paraphrased", "by_hand"))
                + f"; tags {last['tags']}; paraphrase threshold {last['paraphrase_threshold']:.3f}."]
        lines.append("")
    return "\n".join(lines)
