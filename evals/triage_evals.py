"""Triage evals: the tag classifier on Bitext (27 intents in 11 categories) and the whole pipeline on any
labeled message file (answer, hand-off, tag, priority)."""

from __future__ import annotations

import csv
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from evals.metrics import nearest_rank
from evals.runner import Log
from knowledge.embedding_cache import CachedEmbedder
from triage.config import Settings
from triage.inputs import read_message_rows
from triage.kb import KnowledgeBase, embedder_for
from triage.models import Message
from triage.pipeline import Pipeline, chronological
from triage.stages.guard import Vocabulary, check_injection
from triage.stages.priority import assign_priority
from triage.stages.signals import situation
from triage.stages.tagging import TagExample, Tagger, faq_examples, taxonomy_examples
from triage.taxonomy import NEEDS_REVIEW, PRIORITIES, Tag, Taxonomy

WORST = 15


def _accuracy_f1(truth: list[str], predicted: list[str]) -> dict[str, float]:
    from sklearn.metrics import f1_score

    labels = sorted(set(truth))
    return {"accuracy": round(float(np.mean([t == p for t, p in zip(truth, predicted, strict=True)])), 4),
            "macro_f1": round(float(f1_score(truth, predicted, labels=labels, average="macro", zero_division=0)), 4)}


# ---------------------------------------------------------------- Bitext

def bitext_rows(path: Path) -> list[dict[str, str]]:
    """The rows of one of the Bitext CSV files, by column name."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: set TRIAGE_DATASETS_DIR to the folder of the public datasets")
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def bitext(settings: Settings, log: Log) -> dict[str, Any]:
    """Train the tagger on Bitext train (a category → intent taxonomy built from the data), report on test."""
    folder = settings.datasets_dir / "bitext_cs_intent"
    train, test = bitext_rows(folder / "train.csv"), bitext_rows(folder / "test.csv")
    category = {r["intent"]: r["category"] for r in train}
    taxonomy = Taxonomy([*(Tag(c, c, None) for c in sorted(set(category.values()))),
                         *(Tag(i, i, c) for i, c in sorted(category.items())), Tag(NEEDS_REVIEW, NEEDS_REVIEW, None)],
                        "bitext")
    embedder = CachedEmbedder(embedder_for(settings), settings.var_dir / "eval" / "bitext" / "query-cache")
    log(f"embedding {len(train)} train + {len(test)} test utterances (cached after the first run)")
    train_vectors = embedder.encode_queries([r["utterance"] for r in train])
    test_vectors = embedder.encode_queries([r["utterance"] for r in test])
    embedder.save()
    started = time.perf_counter()
    tagger = Tagger(taxonomy, [TagExample(r["utterance"], r["intent"]) for r in train], train_vectors)
    train_seconds = time.perf_counter() - started
    predicted, decided = [], []
    for row, vector in zip(test, test_vectors, strict=True):
        scores = tagger.scores(row["utterance"], vector)
        predicted.append(scores.top[0])
        decided.append(tagger.decide(scores).tag)
    truth = [r["intent"] for r in test]
    reviewed = sum(d == taxonomy.catch_all for d in decided)
    kept = [(t, d) for t, d in zip(truth, decided, strict=True) if d != taxonomy.catch_all]
    return {
        "suite": "bitext", "embedder": embedder.name, "train": len(train), "test": len(test),
        "intents": len(category), "categories": len(set(category.values())),
        "intent": _accuracy_f1(truth, predicted),
        "category": _accuracy_f1([category[t] for t in truth], [category[p] for p in predicted]),
        "needs_review_share": round(reviewed / len(test), 4),
        "accuracy_when_not_reviewed": round(float(np.mean([t == d for t, d in kept])), 4) if kept else None,
        "train_seconds": round(train_seconds, 1),
        "note": "top-1 of the tagger trained on train.csv only (no thresholds tuned); needs_review share from "
                "the service's fixed confidence/gap rules",
    }


def bitext_markdown(r: dict[str, Any]) -> str:
    return "\n".join([
        "# Bitext customer-support intents: tag classifier", "",
        f"Embedder `{r['embedder']}`. Trained on {r['train']} train utterances, reported on {r['test']} test "
        f"utterances; {r['intents']} intents in {r['categories']} categories. {r['note']}.", "",
        "| level | accuracy | macro-F1 |", "|---|---|---|",
        f"| intent | {r['intent']['accuracy']} | {r['intent']['macro_f1']} |",
        f"| category | {r['category']['accuracy']} | {r['category']['macro_f1']} |", "",
        f"With the needs_review rules: {r['needs_review_share']:.1%} of test messages go to review; accuracy on "
        f"the rest {r['accuracy_when_not_reviewed']}. Training took {r['train_seconds']} s.", ""])


# ---------------------------------------------------------------- any labeled message file

def read_labeled_messages(path: Path, max_chars: int) -> list[tuple[Message, dict[str, Any]]]:
    """Messages with their labels (expected_faq_id, expected_tag, expected_priority; each optional)."""
    return read_message_rows(path, max_chars, require_id=False)


def labeled(pipeline: Pipeline, rows: list[tuple[Message, dict[str, Any]]], log: Log) -> dict[str, Any]:
    """Run the pipeline over labeled messages (in time order, so repeat contacts work) and score it."""
    results: list[Any] = [None] * len(rows)
    for n, i in enumerate(chronological([m for m, _ in rows]), 1):
        results[i] = pipeline.run(rows[i][0])
        if n % 50 == 0:
            log(f"  {n}/{len(rows)} messages")
    report: dict[str, Any] = {"messages": len(rows)}
    self_service = {e.id for e in pipeline.kb.snapshot.entries.values() if e.urgent_self_service}
    report.update(_answer_metrics(rows, results, self_service))
    tagged = [(r, res) for (_, r), res in zip(rows, results, strict=True) if r.get("expected_tag") and res.tag]
    if tagged:
        truth, predicted = [r["expected_tag"] for r, _ in tagged], [res.tag for _, res in tagged]
        catch_all = pipeline.kb.tagger.taxonomy.catch_all if pipeline.kb.tagger else NEEDS_REVIEW
        given = [(t, p) for t, p in zip(truth, predicted, strict=True) if p != catch_all]
        report["tag"] = {**_accuracy_f1(truth, predicted), "n": len(tagged),
                         "needs_review_share": round(1 - len(given) / len(tagged), 4),
                         "accuracy_when_not_reviewed": round(float(np.mean([t == p for t, p in given])), 4)
                         if given else None}
        report["tag_confusion"] = {f"{t} → {p}": c for (t, p), c in Counter(
            (t, p) for t, p in zip(truth, predicted, strict=True) if t != p).most_common()}
    ranked = [(r, res) for (_, r), res in zip(rows, results, strict=True)
              if r.get("expected_priority") in PRIORITIES and res.priority]
    if ranked:
        gaps = [abs(PRIORITIES.index(r["expected_priority"]) - PRIORITIES.index(res.priority)) for r, res in ranked]
        report["priority"] = {"exact": round(float(np.mean([g == 0 for g in gaps])), 4),
                              "within_one": round(float(np.mean([g <= 1 for g in gaps])), 4), "n": len(ranked),
                              **_p1_metrics([(r["expected_priority"], res.priority) for r, res in ranked])}
        report["priority_confusion"] = dict(Counter(f"{r['expected_priority']} → {res.priority}"
                                                    for r, res in ranked).most_common())
    totals = [res.timings_ms.get("total", 0.0) for res in results]
    report["latency_ms"] = {"p50": round(nearest_rank(totals, 0.5), 1), "p95": round(nearest_rank(totals, 0.95), 1)}
    report["worst"] = _worst(rows, results)
    return report


def _p1_metrics(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """P1 precision (of the messages made P1, the share that really were) and recall (of the real P1s, the share
    made P1), with the counts behind them."""
    made = sum(got == "P1" for _, got in pairs)
    real = sum(want == "P1" for want, _ in pairs)
    both = sum(want == got == "P1" for want, got in pairs)
    return {"p1_precision": round(both / made, 4) if made else None,
            "p1_recall": round(both / real, 4) if real else None, "p1_made": made, "p1_real": real}


def _answer_metrics(rows: list[tuple[Message, dict[str, Any]]], results: list[Any],
                    self_service: set[str] | frozenset[str] = frozenset()) -> dict[str, Any]:
    """Answering figures; ``self_service``: the ids of entries the KB marks as an urgent situation's self-service
    answer (an urgent message they answer is the one allowed exception)."""
    labeled_rows = [(r, res) for (_, r), res in zip(rows, results, strict=True) if "expected_faq_id" in r]
    if not labeled_rows:
        return {}
    answerable = [(r, res) for r, res in labeled_rows if r["expected_faq_id"] is not None]
    unanswerable = [(r, res) for r, res in labeled_rows if r["expected_faq_id"] is None]
    auto = [(r, res) for r, res in labeled_rows if res.decision == "auto_answer"]
    handoffs = [(r, res) for r, res in labeled_rows if res.decision == "handoff"]

    def share(hits: int, total: int) -> float | None:
        return round(hits / total, 4) if total else None

    return {"answer": {
        "top1_accuracy": share(sum(res.candidate_faq_id == r["expected_faq_id"] for r, res in answerable),
                               len(answerable)),
        "auto_answer_precision": share(sum(res.faq_id == r["expected_faq_id"] for r, res in auto), len(auto)),
        "coverage": share(sum(res.faq_id == r["expected_faq_id"] for r, res in answerable), len(answerable)),
        "handoff_precision": share(sum(r["expected_faq_id"] is None for r, _ in handoffs), len(handoffs)),
        "handoff_recall": share(sum(res.decision == "handoff" for _, res in unanswerable), len(unanswerable)),
        "answerable": len(answerable), "unanswerable": len(unanswerable),
        # messages a bot must not answer: labeled urgent (money, an account, a lost card or phone, fraud), or
        # labeled P1 where a set marks no urgency
        "urgent": sum(bool(r.get("urgent")) for r, _ in labeled_rows),
        "urgent_auto_answered": sum(bool(r.get("urgent")) for r, _ in auto),
        "urgent_self_service": sum(bool(r.get("urgent")) and res.faq_id in self_service for r, res in auto),
        "p1_auto_answered": sum(r.get("expected_priority") == "P1" for r, _ in auto)}}


def _worst(rows: list[tuple[Message, dict[str, Any]]], results: list[Any]) -> list[dict[str, Any]]:
    """Confident mistakes first: a wrong auto-answer, a confidently wrong tag, a priority two levels off."""
    mistakes: list[tuple[float, dict[str, Any]]] = []
    for (message, r), res in zip(rows, results, strict=True):
        problems, weight = [], 0.0
        if res.decision == "auto_answer" and "expected_faq_id" in r and res.faq_id != r["expected_faq_id"]:
            problems.append(f"auto-answered {res.faq_id}, expected {r['expected_faq_id']}")
            weight += 2 + (res.confidence or 0)
        if r.get("expected_tag") and res.tag and res.tag != r["expected_tag"]:
            problems.append(f"tag {res.tag} ({res.tag_confidence:.2f}), expected {r['expected_tag']}")
            weight += res.tag_confidence or 0
        if r.get("expected_priority") in PRIORITIES and res.priority:
            gap = abs(PRIORITIES.index(r["expected_priority"]) - PRIORITIES.index(res.priority))
            if gap >= 2:
                problems.append(f"priority {res.priority}, expected {r['expected_priority']}")
                weight += gap
        if problems:
            mistakes.append((weight, {"id": message.id, "text": message.text[:80], "problems": problems}))
    return [m for _, m in sorted(mistakes, key=lambda wm: -wm[0])[:WORST]]


def tag_cross_validation(kb: KnowledgeBase, rows: list[tuple[Message, dict[str, Any]]], cache: Path,
                         folds: int = 5) -> dict[str, Any]:
    """K-fold cross-validation of tagging and priority on a labeled file: each fold is tagged by a tagger
    trained on the taxonomy, the FAQ and the other folds (the labeled file configured for the service is
    not used). This is where the tagger's constants were picked; the dev set stays for reporting."""
    if kb.tagger is None:
        raise ValueError("no taxonomy: pass --taxonomy FILE (or give the FAQ entries tags)")
    taxonomy = kb.tagger.taxonomy
    rows = [(m, r) for m, r in rows if r.get("expected_tag") in taxonomy.tags]
    embedder = CachedEmbedder(kb.embedder, cache)
    vocabulary = Vocabulary.from_taxonomy(taxonomy)  # as the pipeline's guard reads it
    texts = [check_injection(m.text, vocabulary).content or m.text for m, _ in rows]
    vectors = embedder.encode_queries(texts)
    base = taxonomy_examples(taxonomy)
    base_vectors = embedder.encode_queries([e.text for e in base])
    embedder.save()
    faq, faq_vectors = faq_examples(taxonomy, kb.snapshot)
    tags_right, gaps = [], []
    for fold in range(folds):
        test = set(range(fold, len(rows), folds))
        train = [i for i in range(len(rows)) if i not in test]
        tagger = Tagger(taxonomy, base + faq + [TagExample(texts[i], rows[i][1]["expected_tag"]) for i in train],
                        np.vstack([base_vectors, faq_vectors, vectors[train]]))
        for i in sorted(test):
            level = situation(texts[i])[0]
            decision = tagger.decide(tagger.scores(texts[i], vectors[i], level))
            tags_right.append(decision.tag == rows[i][1]["expected_tag"])
            expected = rows[i][1].get("expected_priority")
            if expected in PRIORITIES:
                got = assign_priority(decision.tag, taxonomy, texts[i], rows[i][0].customer, None,
                                      decision.competing, kb.policy).priority
                gaps.append(abs(PRIORITIES.index(expected) - PRIORITIES.index(got)))
    return {"messages": len(rows), "folds": folds, "tag_accuracy": round(float(np.mean(tags_right)), 4),
            "priority": {"exact": round(float(np.mean([g == 0 for g in gaps])), 4) if gaps else None,
                         "within_one": round(float(np.mean([g <= 1 for g in gaps])), 4) if gaps else None,
                         "n": len(gaps)}}


def tag_cv_markdown(r: dict[str, Any]) -> str:
    p = r["priority"]
    return "\n".join([
        f"# Tagging and priority, {r['folds']}-fold cross-validation: {r['input']}", "",
        f"Taxonomy `{r['taxonomy']}`, embedder `{r['embedder']}`; {r['messages']} labeled messages. Each fold is "
        "tagged by a tagger trained on the taxonomy, the FAQ and the other folds (repeat contacts not used).", "",
        f"**Tag accuracy** {r['tag_accuracy']}; **priority** exact {p['exact']}, within one level "
        f"{p['within_one']} (n={p['n']}).", ""])


def labeled_markdown(r: dict[str, Any]) -> str:
    lines = [f"# Labeled messages: {r['input']}", "",
             f"KB `{r['kb']}`, taxonomy `{r['taxonomy']}`"
             + (f", priority policy `{r['policy']}`" if r.get("policy") else "")
             + f", embedder `{r['embedder']}`; {r['messages']} messages, "
             "run through the whole pipeline (no LLM) in time order.", ""]
    if a := r.get("answer"):
        lines += ["| answer top-1 | auto-answer precision | coverage | hand-off precision | hand-off recall |",
                  "|---|---|---|---|---|",
                  f"| {a['top1_accuracy']} | {a['auto_answer_precision']} | {a['coverage']} | "
                  f"{a['handoff_precision']} | {a['handoff_recall']} |", ""]
    if t := r.get("tag"):
        lines += [f"**Tag**: accuracy {t['accuracy']}, macro-F1 {t['macro_f1']} (n={t['n']}); "
                  f"{t['needs_review_share']:.1%} sent to needs_review, accuracy of the other tags "
                  f"{t['accuracy_when_not_reviewed']}.", ""]
    if p := r.get("priority"):
        lines += [f"**Priority**: exact {p['exact']}, within one level {p['within_one']} (n={p['n']}).", ""]
    lines += [f"Latency per message (whole pipeline): p50 {r['latency_ms']['p50']} ms, "
              f"p95 {r['latency_ms']['p95']} ms.", ""]
    if r.get("tag_confusion"):
        lines += ["## Tag mistakes (expected → predicted)", "", "| pair | count |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in list(r["tag_confusion"].items())[:20]] + [""]
    if r.get("priority_confusion"):
        lines += ["## Priority (expected → predicted)", "", "| pair | count |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in r["priority_confusion"].items()] + [""]
    if r.get("worst"):
        lines += ["## Worst mistakes", "", "| id | message | what went wrong |", "|---|---|---|"]
        lines += [f"| {m['id']} | {m['text'].replace('|', '/')} | {'; '.join(m['problems'])} |" for m in r["worst"]]
    return "\n".join(lines) + "\n"

