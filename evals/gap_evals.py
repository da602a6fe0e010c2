"""``triage eval gaps``: does clustering unanswered questions recover the intents behind them?

The distance threshold is chosen on two tuning sets (CLINC150's validation split, English, 150 intents; and
200 paraKQC paraphrase groups, Korean) by their mean NMI, then reported on DSTC11 insurance (913 customer
turns, 22 intents), which takes no part in the choice. It also times clustering 10k and 100k questions
(vectors resampled from the real embeddings above with a little noise; embedding itself is not timed).
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from knowledge.embedding_cache import CachedEmbedder
from knowledge.gaps import EXACT_LIMIT, GAP_DISTANCE, cluster_vectors
from triage.config import Settings
from triage.kb import embedder_for

Log = Callable[[str], None]
THRESHOLDS = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85)
PARAKQC_GROUPS = 200  # 2,000 Korean questions
SEED = 13


def dstc11(datasets: Path) -> tuple[list[str], list[str]]:
    rows = [json.loads(line) for line in
            (datasets / "dstc11_insurance" / "dev-insurance.utterances.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip()]
    return [r["utterance"] for r in rows], [r["intent"] for r in rows]


def clinc150_val(datasets: Path) -> tuple[list[str], list[str]]:
    data = json.loads((datasets / "clinc150_oos_eval" / "data_full.json").read_text(encoding="utf-8"))
    return [t for t, _ in data["val"]], [i for _, i in data["val"]]


def parakqc_groups(datasets: Path, groups: int = PARAKQC_GROUPS) -> tuple[list[str], list[str]]:
    rows = [json.loads(line) for line in
            (datasets / "ko_parakqc" / "paraKQC_v1.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    chosen = set(random.Random(SEED).sample(sorted({r["group_id"] for r in rows}), groups))
    picked = [r for r in rows if r["group_id"] in chosen]
    return [r["text"] for r in picked], [str(r["group_id"]) for r in picked]


def own_cluster_share(gold: Sequence[str], predicted: Sequence[int]) -> float:
    """Share of gold intents that appear as a cluster of their own: some cluster holds at least half of the
    intent's questions, and the intent is that cluster's majority."""
    members: dict[int, Counter[str]] = defaultdict(Counter)
    for g, p in zip(gold, predicted, strict=True):
        members[p][g] += 1
    totals = Counter(gold)
    own = 0
    for intent, total in totals.items():
        for counts in members.values():
            majority, _ = counts.most_common(1)[0]
            if majority == intent and counts[intent] * 2 >= total:
                own += 1
                break
    return own / len(totals)


def scores(gold: Sequence[str], predicted: Sequence[int]) -> dict[str, float]:
    return {"nmi": round(float(normalized_mutual_info_score(gold, predicted)), 4),
            "ari": round(float(adjusted_rand_score(gold, predicted)), 4),
            "own_cluster_share": round(own_cluster_share(gold, predicted), 4),
            "clusters": len(set(predicted))}


def timing(base: np.ndarray, sizes: Sequence[int], log: Log) -> list[dict[str, Any]]:
    """Seconds to cluster n questions: real embeddings resampled with noise (cosine ≈ 0.97 to the original)."""
    rng = np.random.default_rng(SEED)
    out = []
    for n in sizes:
        vectors = base[rng.integers(0, len(base), n)] + rng.normal(0, 0.012, (n, base.shape[1]))
        vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
        started = time.perf_counter()
        labels = cluster_vectors(vectors)
        seconds = time.perf_counter() - started
        out.append({"questions": n, "seconds": round(seconds, 1), "clusters": len(set(labels)),
                    "path": "exact" if n <= EXACT_LIMIT else "condensed"})
        log(f"  clustered {n} questions in {seconds:.1f} s ({out[-1]['path']})")
    return out


def gap_timing(settings: Settings, log: Log = print, sizes: Sequence[int] = (10_000, 100_000)) -> list[dict[str, Any]]:
    """The benchmark's part: clustering time at ``sizes``, from DSTC11's real embeddings."""
    embedder = CachedEmbedder(embedder_for(settings), settings.var_dir / "eval" / "gaps" / "query-cache")
    base = embedder.encode_queries(dstc11(settings.datasets_dir)[0])
    embedder.save()
    return timing(base, sizes, log)


def gap_eval(settings: Settings, log: Log = print, sizes: Sequence[int] = (10_000, 100_000)) -> dict[str, Any]:
    embedder = CachedEmbedder(embedder_for(settings), settings.var_dir / "eval" / "gaps" / "query-cache")
    sets = {"clinc150_val": clinc150_val(settings.datasets_dir), "parakqc_200": parakqc_groups(settings.datasets_dir),
            "dstc11_insurance": dstc11(settings.datasets_dir)}
    vectors = {}
    for name, (texts, _) in sets.items():
        log(f"embedding {len(texts)} questions of {name}")
        vectors[name] = embedder.encode_queries(texts)
    embedder.save()
    tuning = {name: {str(t): scores(sets[name][1], list(cluster_vectors(vectors[name], t))) for t in THRESHOLDS}
              for name in ("clinc150_val", "parakqc_200")}
    mean_nmi = {t: float(np.mean([tuning[name][str(t)]["nmi"] for name in tuning])) for t in THRESHOLDS}
    chosen = max(THRESHOLDS, key=lambda t: (mean_nmi[t], -abs(t - GAP_DISTANCE)))
    log(f"threshold chosen on the tuning sets: {chosen} (mean NMI {mean_nmi[chosen]:.3f}); shipped: {GAP_DISTANCE}")
    if chosen != GAP_DISTANCE:
        log(f"WARNING: knowledge.gaps.GAP_DISTANCE ({GAP_DISTANCE}) is not the threshold chosen here ({chosen})")
    texts, gold = sets["dstc11_insurance"]
    x = vectors["dstc11_insurance"]
    exact = scores(gold, list(cluster_vectors(x, chosen)))
    condensed = scores(gold, list(cluster_vectors(x, chosen, exact_limit=0, micro_clusters=len(x) // 3)))
    log(f"DSTC11: exact {exact}; condensed {condensed}")
    base = np.vstack(list(vectors.values()))
    return {
        "tuning": tuning, "tuning_mean_nmi": {str(t): round(v, 4) for t, v in mean_nmi.items()},
        "chosen_threshold": chosen, "shipped_threshold": GAP_DISTANCE,
        "dstc11": {"questions": len(texts), "intents": len(set(gold)), "exact": exact,
                   "condensed": {**condensed, "micro_clusters": len(x) // 3}},
        "timing": timing(base, sizes, log), "embedder": embedder.name,
    }


def gap_markdown(r: dict[str, Any]) -> str:
    d = r["dstc11"]
    lines = [
        "# Gap clustering (`triage eval gaps`)", "",
        "Unanswered questions are clustered by meaning (centred multilingual-e5 vectors, average-linkage "
        f"agglomerative clustering, cosine distance threshold {r['shipped_threshold']}). The threshold is chosen "
        "on the tuning sets by mean NMI; DSTC11 takes no part in the choice.", "",
        f"## DSTC11 insurance ({d['questions']} customer turns, {d['intents']} intents)", "",
        "| path | clusters | NMI | ARI | intents with a cluster of their own |", "|---|---|---|---|---|",
        f"| exact | {d['exact']['clusters']} | **{d['exact']['nmi']}** | {d['exact']['ari']} | "
        f"{d['exact']['own_cluster_share']} |",
        f"| condensed first (k-means to {d['condensed']['micro_clusters']}) | {d['condensed']['clusters']} | "
        f"{d['condensed']['nmi']} | {d['condensed']['ari']} | {d['condensed']['own_cluster_share']} |", "",
        "An intent has a cluster of its own when one cluster holds at least half of its questions and the intent "
        "is that cluster's majority.", "",
        f"## Choosing the threshold (chosen: {r['chosen_threshold']}; shipped: {r['shipped_threshold']})", "",
        "| threshold | " + " | ".join(f"{n} NMI / ARI / clusters" for n in r["tuning"]) + " | mean NMI |",
        "|---|" + "---|" * len(r["tuning"]) + "---|",
    ]
    for t in THRESHOLDS:
        cells = [f"{v[str(t)]['nmi']} / {v[str(t)]['ari']} / {v[str(t)]['clusters']}" for v in r["tuning"].values()]
        lines.append(f"| {t} | " + " | ".join(cells) + f" | {r['tuning_mean_nmi'][str(t)]} |")
    lines += ["", "## Time to cluster", "",
              f"Vectors resampled from the {len(r['tuning']) + 1} sets' real embeddings with a little noise; "
              f"up to {EXACT_LIMIT} questions exactly, beyond that condensed first. 2 CPU cores; embedding not "
              "included.", "", "| questions | path | seconds | clusters |", "|---|---|---|---|"]
    lines += [f"| {t['questions']} | {t['path']} | {t['seconds']} | {t['clusters']} |" for t in r["timing"]]
    return "\n".join(lines) + "\n"
