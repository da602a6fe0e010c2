"""``triage eval question-pairs``: do the coverage features (``evals.coverage_features``) tell a question that asks
the same thing from a near-miss, beyond what the embedding's cosine already tells?

Data: songys/Question_pair (``ko_question_pair``), Korean question pairs; its ``is_duplicate`` is 0 when the
two ask the same thing and 1 when they differ (the set's own convention), read here as ``same``. Question 1
plays the message, question 2 the entry's one phrasing (no answer). The pairs are everyday chit-chat
(relationships, moods), not support requests: a proxy for near-misses, not the product's traffic.

The hard cases are the pairs that look alike: two texts that are not identical (train holds 939 identical
pairs, test 7: trivially the same) and are close by one of these measures, cut on the train split:
- "close by embedding": cosine (multilingual-e5-small, the service's embedder) at or above the median of the
  train differ-pairs;
- "share a word": a content morpheme in common (``knowledge.lexical.tokenize``: BM25 agreement above 0);
- "close by characters": character-bigram Dice overlap at or above the train differ-pairs' 75th percentile
  (their median is 0);
- "very close by embedding": cosine at or above the median of the train same-question pairs (too few test
  near-misses to read; reported anyway).

On each, ROC AUC of telling same from different with (a) the cosine alone, (b) a logistic regression on the
coverage features alone, (c) one on cosine + coverage features. The feature set (by 5-fold cross-validated AUC
of (c) on the train hard cases) and the models come from the train split only; figures are the test split's,
with a paired bootstrap interval for (c) − (a).
"""

from __future__ import annotations

import csv
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from evals.coverage_features import COVERAGE_FEATURES, _analyse, coverage_features
from knowledge.embedding_cache import CachedEmbedder
from knowledge.lexical import tokenize
from triage.config import Settings
from triage.kb import embedder_for

Log = Callable[[str], None]
SEED = 13
BOOTSTRAP = 2000
MAIN_SUBSETS = ("close by embedding", "share a word")  # the near-miss population the verdict reads
MEANINGFUL_GAIN = 0.01  # AUC
# Candidate feature sets for (c), chosen among on the train split only.
FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "all": COVERAGE_FEATURES,
    "shares": ("uncovered_share", "entry_uncovered_share"),
    "actions": ("action_uncovered", "entry_action_missing"),
    "shares+actions": ("uncovered_share", "entry_uncovered_share", "action_uncovered", "entry_action_missing"),
}


@dataclass
class Pair:
    message: str
    entry: str
    same: bool  # is_duplicate == 0


def read_pairs(path: Path) -> list[Pair]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return [Pair(r["question1"].strip(), r["question2"].strip(), r["is_duplicate"].strip() == "0")
                for r in csv.DictReader(f) if r.get("question1") and r.get("question2")]


def bigram_dice(a: str, b: str) -> float:
    """Dice overlap of the character bigrams of the two texts, spaces removed."""
    x, y = "".join(a.split()), "".join(b.split())
    ga, gb = {x[i:i + 2] for i in range(len(x) - 1)}, {y[i:i + 2] for i in range(len(y) - 1)}
    return 2 * len(ga & gb) / (len(ga) + len(gb)) if ga or gb else 0.0


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    return float(roc_auc_score(y, score)) if 0 < y.sum() < len(y) else float("nan")


def _fit(x: np.ndarray, y: np.ndarray) -> tuple[LogisticRegression, np.ndarray, np.ndarray]:
    mean, std = x.mean(axis=0), x.std(axis=0)
    scale = np.where(std > 1e-9, std, 1.0)
    return LogisticRegression(C=1.0, max_iter=1000).fit((x - mean) / scale, y), mean, scale


def _predict(model: tuple[LogisticRegression, np.ndarray, np.ndarray], x: np.ndarray) -> np.ndarray:
    clf, mean, scale = model
    return np.asarray(clf.decision_function((x - mean) / scale))


def _cv_auc(x: np.ndarray, y: np.ndarray) -> float:
    out = np.zeros(len(y))
    for train, held in StratifiedKFold(5, shuffle=True, random_state=SEED).split(x, y):
        out[held] = _predict(_fit(x[train], y[train]), x[held])
    return _auc(y, out)


def _bootstrap_diff(y: np.ndarray, better: np.ndarray, base: np.ndarray) -> dict[str, float]:
    rng = np.random.default_rng(SEED)
    diffs = []
    for _ in range(BOOTSTRAP):
        i = rng.integers(0, len(y), len(y))
        if 0 < y[i].sum() < len(i):
            diffs.append(_auc(y[i], better[i]) - _auc(y[i], base[i]))
    lo, hi = np.percentile(diffs, [2.5, 97.5])
    return {"diff": round(_auc(y, better) - _auc(y, base), 4), "ci95_low": round(float(lo), 4),
            "ci95_high": round(float(hi), 4)}


def _matrix(rows: Sequence[dict[str, float]], names: Sequence[str]) -> np.ndarray:
    return np.array([[r[n] for n in names] for r in rows], dtype=float).reshape(len(rows), len(names))


def _subset_report(name: str, train_mask: np.ndarray, test_mask: np.ndarray, cut: float,
                   data: dict[str, dict[str, Any]]) -> dict[str, Any]:
    tr, te = data["train"], data["test"]
    y_tr, y_te = tr["y"][train_mask], te["y"][test_mask]
    cos_tr, cos_te = tr["cosine"][train_mask], te["cosine"][test_mask]
    f_tr = [r for r, m in zip(tr["features"], train_mask, strict=True) if m]
    f_te = [r for r, m in zip(te["features"], test_mask, strict=True) if m]

    cv = {s: round(_cv_auc(np.column_stack([cos_tr, _matrix(f_tr, names)]), y_tr), 4)
          for s, names in FEATURE_SETS.items()}
    chosen = max(cv, key=lambda s: cv[s])
    names = FEATURE_SETS[chosen]
    feats_only = _fit(_matrix(f_tr, names), y_tr)
    combined = _fit(np.column_stack([cos_tr, _matrix(f_tr, names)]), y_tr)
    score_b = _predict(feats_only, _matrix(f_te, names))
    score_c = _predict(combined, np.column_stack([cos_te, _matrix(f_te, names)]))

    single = {}
    for n in COVERAGE_FEATURES:  # each feature alone, its direction taken from train (more uncovered → differ)
        sign = 1.0 if _auc(y_tr, np.array([r[n] for r in f_tr])) >= 0.5 else -1.0
        single[n] = {"train_auc": round(_auc(y_tr, sign * np.array([r[n] for r in f_tr])), 4),
                     "test_auc": round(_auc(y_te, sign * np.array([r[n] for r in f_te])), 4),
                     "test_mean_same": round(float(np.mean([r[n] for r, s in zip(f_te, y_te, strict=True)
                                                            if not s])), 4),
                     "test_mean_differ": round(float(np.mean([r[n] for r, s in zip(f_te, y_te, strict=True)
                                                              if s])), 4)}
    clf = combined[0]
    return {
        "subset": name,
        "cut": round(cut, 4),
        "train_pairs": int(train_mask.sum()), "train_differ": int(y_tr.sum()),
        "test_pairs": int(test_mask.sum()), "test_differ": int(y_te.sum()),
        "train_cv_auc_by_feature_set": cv,
        "chosen_feature_set": chosen,
        "test_auc": {"a_cosine": round(_auc(y_te, -cos_te), 4),
                     "b_coverage_features": round(_auc(y_te, score_b), 4),
                     "c_cosine_plus_features": round(_auc(y_te, score_c), 4)},
        "train_auc": {"a_cosine": round(_auc(y_tr, -cos_tr), 4),
                      "c_cosine_plus_features": round(_auc(y_tr, _predict(combined, np.column_stack(
                          [cos_tr, _matrix(f_tr, names)]))), 4)},
        "c_minus_a_test": _bootstrap_diff(y_te, score_c, -cos_te),
        "c_weights_standardized": dict(zip(["cosine", *names], [round(float(w), 3) for w in clf.coef_[0]],
                                           strict=True)),
        "single_features": single,
    }


def time_calls(pairs: Sequence[Pair], limit: int = 500) -> dict[str, float]:
    """Milliseconds per ``coverage_features`` call: every text new to the cache (cold), and the entry already
    analysed (warm: the usual case, entries repeat)."""
    sample = list(pairs)[:limit]
    for p in sample:  # Kiwi's first few hundred analyses in a process are slower: time it warmed up
        coverage_features(p.message, [p.entry])
    _analyse.cache_clear()
    cold = []
    for p in sample:
        started = time.perf_counter()
        coverage_features(p.message, [p.entry])
        cold.append((time.perf_counter() - started) * 1000)
    _analyse.cache_clear()
    for p in sample:
        _analyse(p.entry)
    warm = []
    for p in sample:
        started = time.perf_counter()
        coverage_features(p.message, [p.entry])
        warm.append((time.perf_counter() - started) * 1000)
    return {"calls": len(sample), "cold_median_ms": round(float(np.median(cold)), 3),
            "cold_mean_ms": round(float(np.mean(cold)), 3), "cold_p95_ms": round(float(np.percentile(cold, 95)), 3),
            "warm_entry_median_ms": round(float(np.median(warm)), 3),
            "warm_entry_mean_ms": round(float(np.mean(warm)), 3),
            "warm_entry_p95_ms": round(float(np.percentile(warm, 95)), 3),
            "load_average_1m": round(os.getloadavg()[0], 1), "cpus": os.cpu_count() or 0}


def question_pairs(settings: Settings, log: Log, cache_dir: Path | None = None) -> dict[str, Any]:
    """The figures of the module docstring, as a dict (``question_pairs_markdown`` renders it)."""
    started = time.perf_counter()
    root = settings.datasets_dir / "ko_question_pair"
    splits = {"train": read_pairs(root / "kor_pair_train.csv"), "test": read_pairs(root / "kor_Pair_test.csv")}
    embedder = CachedEmbedder(embedder_for(settings),
                              cache_dir or settings.var_dir / "eval" / "question-pairs" / "query-cache")
    texts = sorted({t for pairs in splits.values() for p in pairs for t in (p.message, p.entry)})
    log(f"[question-pairs] embedding {len(texts)} distinct questions (cached after the first run)")
    vectors = dict(zip(texts, embedder.encode_queries(texts), strict=True))
    embedder.save()
    data: dict[str, dict[str, Any]] = {}
    for split, pairs in splits.items():
        log(f"[question-pairs] {split}: {len(pairs)} pairs")
        data[split] = {
            "y": np.array([not p.same for p in pairs], dtype=int),  # 1 = the two differ (the near-miss)
            "identical": np.array([p.message == p.entry for p in pairs]),
            "cosine": np.array([float(vectors[p.message] @ vectors[p.entry]) for p in pairs]),
            "dice": np.array([bigram_dice(p.message, p.entry) for p in pairs]),
            "shared": np.array([float(bool(set(a) & set(b))) for a, b in zip(
                tokenize([p.message for p in pairs]), tokenize([p.entry for p in pairs]), strict=True)]),
            "features": [coverage_features(p.message, [p.entry]) for p in pairs],
        }
    timing = time_calls(splits["test"])
    tr, te = data["train"], data["test"]
    differ_tr = (tr["y"] == 1) & ~tr["identical"]
    same_tr = (tr["y"] == 0) & ~tr["identical"]
    cuts = {"close by embedding": ("cosine", float(np.median(tr["cosine"][differ_tr]))),
            "share a word": ("shared", 1.0),
            "close by characters": ("dice", float(np.percentile(tr["dice"][differ_tr], 75))),
            "very close by embedding": ("cosine", float(np.median(tr["cosine"][same_tr])))}
    subsets = [_subset_report(name, (tr[key] >= cut) & ~tr["identical"], (te[key] >= cut) & ~te["identical"],
                              cut, data) for name, (key, cut) in cuts.items()]
    subsets.append(_subset_report("all pairs", np.ones(len(tr["y"]), bool), np.ones(len(te["y"]), bool), 0.0,
                                  data))
    gains = {x["subset"]: x["c_minus_a_test"] for x in subsets if x["subset"] in MAIN_SUBSETS}
    return {
        "suite": "question-pairs",
        "verdict": {"c_beats_a_on_test": all(g["ci95_low"] > 0 and g["diff"] >= MEANINGFUL_GAIN
                                             for g in gains.values()),
                    "rule": f"(c) − (a) ≥ {MEANINGFUL_GAIN} with its 95% interval above 0 on "
                            + " and ".join(MAIN_SUBSETS)},
        "data": "ko_question_pair (songys/Question_pair); is_duplicate 0 = same question, 1 = they differ",
        "embedder": embedder.name,
        "pairs": {s: {"total": len(p), "same": sum(x.same for x in p), "differ": sum(not x.same for x in p)}
                  for s, p in splits.items()},
        "features": list(COVERAGE_FEATURES),
        "same_pairs_wording": {  # how far apart the same-question pairs are worded, identical texts left out
            split: {"dice_median": round(float(np.median(d["dice"][(d["y"] == 0) & ~d["identical"]])), 4),
                    "cosine_median": round(float(np.median(d["cosine"][(d["y"] == 0) & ~d["identical"]])), 4)}
            for split, d in data.items()},
        "subsets": subsets,
        "timing": timing,
        "seconds": round(time.perf_counter() - started, 1),
    }


def question_pairs_markdown(report: dict[str, Any]) -> str:
    lines = [
        "# Eval: question-pairs (does the entry cover what was asked?)",
        "",
        f"{report['data']}. Embedder `{report['embedder']}`. Train {report['pairs']['train']['total']} pairs "
        f"({report['pairs']['train']['differ']} differ), test {report['pairs']['test']['total']} "
        f"({report['pairs']['test']['differ']} differ). Question 1 is the message, question 2 the entry. "
        "Hard subsets leave out identical texts. Cut-offs, feature set and models come from train only; AUCs "
        "below are test figures (positive class: the two questions differ). The pairs are chit-chat, not support "
        "requests.",
        "",
        "| subset (cut from train) | test pairs (differ) | (a) cosine | (b) coverage features | (c) cosine + "
        "features | (c) − (a) [95% bootstrap] | feature set | train: (a) / (c) 5-fold CV |",
        "|---|---|---|---|---|---|---|---|",
    ]
    v = report["verdict"]
    lines[3:3] = ["", f"Verdict: (c) {'beats' if v['c_beats_a_on_test'] else 'does not beat'} (a) on test "
                      f"(rule: {v['rule']})."]
    for s in report["subsets"]:
        auc, d = s["test_auc"], s["c_minus_a_test"]
        cut = {"all pairs": "all", "share a word": "BM25 > 0"}.get(s["subset"], f"≥ {s['cut']}")
        lines.append(f"| {s['subset']} ({cut}) | {s['test_pairs']} ({s['test_differ']}) | {auc['a_cosine']} | "
                     f"{auc['b_coverage_features']} | {auc['c_cosine_plus_features']} | {d['diff']:+.4f} "
                     f"[{d['ci95_low']:+.4f}, {d['ci95_high']:+.4f}] | {s['chosen_feature_set']} | "
                     f"{s['train_auc']['a_cosine']} / {s['train_cv_auc_by_feature_set'][s['chosen_feature_set']]} |")
    lines += ["", "Each feature alone: train AUC → test AUC (direction from train), and its test mean on same / "
              "differ pairs:", "",
              "| feature | " + " | ".join(s["subset"] for s in report["subsets"]) + " |",
              "|---|" + "---|" * len(report["subsets"])]
    for n in report["features"]:
        cells = [f"{f['train_auc']} → {f['test_auc']} ({f['test_mean_same']} / {f['test_mean_differ']})"
                 for f in (s["single_features"][n] for s in report["subsets"])]
        lines.append(f"| `{n}` | " + " | ".join(cells) + " |")
    w = report["same_pairs_wording"]
    lines += ["", "The test split's same-question pairs are worded further apart than train's (identical texts "
              f"left out; median character-bigram Dice {w['train']['dice_median']} on train, "
              f"{w['test']['dice_median']} on test; median cosine {w['train']['cosine_median']} and "
              f"{w['test']['cosine_median']}): a check on shared words has less to go on there than the cosine."]
    t = report["timing"]
    lines += ["", f"`coverage_features` per call over {t['calls']} test pairs, Kiwi warm: median "
              f"{t['cold_median_ms']} ms, mean {t['cold_mean_ms']}, p95 {t['cold_p95_ms']} with both texts new to "
              f"the cache; median {t['warm_entry_median_ms']} ms, mean {t['warm_entry_mean_ms']}, p95 "
              f"{t['warm_entry_p95_ms']} with the entry already analysed (the usual case: entries repeat); "
              f"load average {t['load_average_1m']} on {t['cpus']} CPUs."]
    return "\n".join(lines) + "\n"
