"""``triage eval unseen``: how the service does on a company it has never seen, with no labels.

Each set is turned into what a new company brings on day one (an FAQ, perhaps manuals, a taxonomy, a priority
policy) plus labeled messages: a *tuning* file (the only labels the "with labels" run may use) and a *test*
file (every figure is reported on it). The KB is built from the FAQ with ``triage.kb.build_kb``, so it
calibrates itself from its own content, exactly as ``triage kb build`` does; then the whole pipeline (no LLM)
runs over the test messages. The "with labels" run then calibrates the same KB on the tuning file
(``triage calibrate --labels``) and trains the tagger with its tags too: the upper bound.

Public sets (``TRIAGE_DATASETS_DIR``) become FAQs with ten phrasings per entry (a question and nine examples,
about what a real FAQ export carries) and a fifth of their intents held out, so questions the KB cannot answer
arrive as they do in traffic. The Korean sample KBs under ``knowledge/samples`` bring their own FAQ, taxonomy
and priority policy; the telecom and market ones were written before any tuning and are never tuned on.
"""

from __future__ import annotations

import json
import random
import time
import zlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evals.runner import Log
from evals.triage_evals import bitext_rows, labeled, read_labeled_messages
from knowledge.index import load_snapshot
from knowledge.samples import DEMO_DIR, SAMPLES_DIR
from knowledge.search import Searcher
from knowledge.sources import FaqEntry, write_faq_jsonl
from triage.calibration import calibrate_snapshot
from triage.config import Settings
from triage.kb import KnowledgeBase, build_kb, embedder_for
from triage.pipeline import Pipeline
from triage.taxonomy import NEEDS_REVIEW

SEED = 13
PHRASINGS = 10  # a question and nine examples per entry
HELD_OUT_SHARE = 0.2  # of a public set's intents: in the taxonomy, not in the FAQ
MAX_TEST = 2000  # test messages per public set (every k-th row), to keep a run under half an hour
HELP_URL = "https://help.example.com/{set}/{intent}"  # a public set's FAQ entry's page (answers and urls are
# never searched: only the phrasings are embedded, so they change no figure of ``triage eval unseen``)
BITEXT_RESPONSES = "bitext_cs_responses/bitext_cs_instruction_response_4514.csv"


@dataclass
class UnseenSet:
    name: str
    faq: Path
    tuning: Path
    test: Path
    docs: Path | None = None
    taxonomy: Path | None = None
    policy: Path | None = None
    note: str = ""
    # a public set's intents that are in the taxonomy but not in the FAQ (their messages must be handed off)
    held_out: frozenset[str] = frozenset()


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def _every_kth(rows: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    step = max(1, -(-len(rows) // limit))
    return rows[::step]


def _write_taxonomy(path: Path, parents: dict[str, str | None], examples: dict[str, list[str]]) -> Path:
    """A list-form taxonomy: categories (parent None) and leaves with their examples, plus the catch-all."""
    rows = [{"id": tag, "name": tag.replace("_", " "), "parent": parent, "priority": "P3",
             "examples": examples.get(tag, [])} for tag, parent in parents.items()]
    rows.append({"id": NEEDS_REVIEW, "name": "needs review", "parent": None, "priority": "P4", "examples": []})
    path.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")  # JSON is YAML
    return path


# Short English answers for sets that bring none (CLINC150, HWU64): each names its intent; the wording varies by
# intent, so two entries' answers share little but the intent's words.
_ANSWERS = (
    "Here is how {topic} works: sign in, open Help > {Topic} and follow the steps on that page. Most requests "
    "about {topic} are done in a few minutes.",
    "{Topic}: you can handle this yourself in the app. Go to Settings, choose {topic}, confirm, and you will get "
    "a notification once it is done.",
    "For {topic}, open the {Topic} page in your account. It lists what you need to have at hand and what to do "
    "if something does not go as expected.",
    "Questions about {topic} are answered on our {Topic} page: check the details there, and if your case is not "
    "covered, reply to this message with a short description.",
    "To get {topic} sorted, use the {Topic} option in the main menu. Follow the prompts; nothing else is needed "
    "from your side.",
)


def intent_words(intent: str) -> str:
    """An intent id in words: ``pin_change`` → ``pin change``."""
    return intent.replace("_", " ").strip()


def templated_answer(intent: str) -> str:
    """A short answer naming ``intent``, one of a few wordings chosen by the intent (stable across runs)."""
    words = intent_words(intent)
    wording = _ANSWERS[zlib.crc32(intent.encode()) % len(_ANSWERS)]
    return wording.format(topic=words, Topic=words[:1].upper() + words[1:])


def bitext_answers(settings: Settings) -> dict[str, list[str]]:
    """Bitext's reference agent replies by intent, in file order (the FAQ answer is each intent's first)."""
    replies: dict[str, list[str]] = defaultdict(list)
    for row in bitext_rows(settings.datasets_dir / BITEXT_RESPONSES):
        replies[row["intent"]].append(row["response"].strip())
    return replies


def _intent_set(name: str, work: Path, train: dict[str, list[str]], tuning: list[tuple[str, str | None]],
                test: list[tuple[str, str | None]], category: Callable[[str], str], note: str,
                answer: Callable[[str], str] = templated_answer) -> UnseenSet:
    """An FAQ of ten phrasings per intent with a fifth of the intents held out (their messages must be handed
    off), a category → intent taxonomy whose leaves carry the same ten phrasings for every intent, and messages
    labeled with the intent as entry (None when held out or out of scope) and as tag. Each entry has an answer
    (``answer(intent)``) and a url (``HELP_URL``), for history exports (``evals.history_sets``)."""
    intents = sorted(train)
    held = set(random.Random(SEED).sample(intents, round(HELD_OUT_SHARE * len(intents))))
    entries = [FaqEntry(id=i, question=train[i][0], answer=answer(i), examples=tuple(train[i][1:PHRASINGS]),
                        tags=(i,), url=HELP_URL.format(set=name, intent=i)) for i in intents if i not in held]
    write_faq_jsonl(entries, work / "faq.jsonl")
    parents: dict[str, str | None] = {c: None for c in sorted({category(i) for i in intents})}
    parents.update({i: category(i) for i in intents})
    taxonomy = _write_taxonomy(work / "taxonomy.yaml", parents, {i: train[i][:PHRASINGS] for i in intents})

    def rows(split: list[tuple[str, str | None]], prefix: str) -> list[dict[str, Any]]:
        return [{"id": f"{prefix}-{n}", "text": text, "channel": "chat",
                 "expected_faq_id": intent if intent is not None and intent not in held else None,
                 "expected_tag": intent or NEEDS_REVIEW} for n, (text, intent) in enumerate(split)]

    return UnseenSet(name, work / "faq.jsonl", _write_jsonl(work / "tuning.jsonl", rows(tuning, "tune")),
                     _write_jsonl(work / "test.jsonl", _every_kth(rows(test, "test"), MAX_TEST)),
                     taxonomy=taxonomy, note=note + f"; {len(held)} of {len(intents)} intents held out of the FAQ",
                     held_out=frozenset(held))


def clinc150(settings: Settings, work: Path) -> UnseenSet:
    data = json.loads((settings.datasets_dir / "clinc150_oos_eval" / "data_full.json").read_text())
    train: dict[str, list[str]] = defaultdict(list)
    for text, intent in data["train"]:
        train[intent].append(text)
    tuning = [(t, i) for t, i in data["val"]] + [(t, None) for t, _ in data["oos_val"]]
    test = [(t, i) for t, i in data["test"]] + [(t, None) for t, _ in data["oos_test"]]
    return _intent_set("clinc150", work, train, tuning, test, lambda i: "clinc",
                       "CLINC150: FAQ from train; tuning val + oos_val; test test + oos_test (out of scope: "
                       "needs_review; the file names no domains, so one category holds every intent)")


def hwu64(settings: Settings, work: Path) -> UnseenSet:
    folder = settings.datasets_dir / "hwu64"

    def read(name: str) -> list[tuple[str, str]]:
        with (folder / name).open(encoding="utf-8") as fh:
            return [(row["text"], row["label"]) for row in map(json.loads, fh)]

    train: dict[str, list[str]] = defaultdict(list)
    for text, intent in read("train_10.jsonl"):
        train[intent].append(text)
    return _intent_set("hwu64", work, train, list(read("valid.jsonl")), list(read("test.jsonl")),
                       lambda i: i.split("_")[0], "HWU64: FAQ and taxonomy from the 10-shot train file (scenario → "
                                                 "intent); tuning valid; test test")


def bitext(settings: Settings, work: Path) -> UnseenSet:
    folder = settings.datasets_dir / "bitext_cs_intent"
    train_rows = bitext_rows(folder / "train.csv")
    train: dict[str, list[str]] = defaultdict(list)
    category: dict[str, str] = {}
    for row in train_rows:
        train[row["intent"]].append(row["utterance"])
        category[row["intent"]] = row["category"]

    def read(name: str) -> list[tuple[str, str | None]]:
        return [(r["utterance"], r["intent"]) for r in bitext_rows(folder / name)]

    replies = bitext_answers(settings)
    return _intent_set("bitext", work, train, read("dev.csv"), read("test.csv"), lambda i: category[i],
                       "Bitext customer support: FAQ and taxonomy (category → intent) from train; tuning dev; "
                       "test test", answer=lambda i: replies[i][0])


def parakqc(settings: Settings, work: Path) -> UnseenSet:
    """Korean paraphrase groups: an entry is a group's first sentence with two more as examples; a fifth of the
    groups are held out (all their sentences must be handed off); of the other seven sentences of a group, two
    are tuning messages and five test messages. No taxonomy."""
    groups: dict[int, list[str]] = defaultdict(list)
    with (settings.datasets_dir / "ko_parakqc" / "paraKQC_v1.jsonl").open(encoding="utf-8") as fh:
        for row in map(json.loads, fh):
            groups[int(row["group_id"])].append(row["text"])
    ids = sorted(groups)
    held = set(random.Random(SEED).sample(ids, round(HELD_OUT_SHARE * len(ids))))
    entries = [FaqEntry(id=f"g{g}", question=groups[g][0], answer=f"[group {g}]", examples=tuple(groups[g][1:3]))
               for g in ids if g not in held]
    write_faq_jsonl(entries, work / "faq.jsonl")
    tuning: list[dict[str, Any]] = []
    test: list[dict[str, Any]] = []
    for g in ids:
        expected = None if g in held else f"g{g}"
        for n, text in enumerate(groups[g][3:] if expected else groups[g]):
            row = {"id": f"g{g}-{n}", "text": text, "channel": "chat", "expected_faq_id": expected}
            (tuning if n % 7 < 2 else test).append(row)
    return UnseenSet("parakqc", work / "faq.jsonl", _write_jsonl(work / "tuning.jsonl", tuning),
                     _write_jsonl(work / "test.jsonl", _every_kth(test, MAX_TEST)),
                     note=f"paraKQC: an entry per group (3 sentences); {len(held)} of {len(ids)} groups held out")


def sample_kb(name: str, test_file: str) -> Callable[[Settings, Path], UnseenSet]:
    """A sample KB shipped under knowledge/samples: its FAQ (the manuals do not take part in answering), its
    taxonomy and policy; labels for tuning in calibration.jsonl."""
    def load(settings: Settings, work: Path) -> UnseenSet:
        folder = DEMO_DIR if name == "demo" else SAMPLES_DIR / name
        policy = folder / "policy.yaml"
        return UnseenSet(name, folder / "faq.yaml", folder / "calibration.jsonl", folder / test_file,
                         taxonomy=folder / "taxonomy.yaml",
                         policy=policy if policy.is_file() else None,
                         note=f"sample KB {folder.name}: its FAQ, taxonomy and policy; tuning calibration.jsonl; "
                              f"test {test_file}")
    return load


SETS: dict[str, Callable[[Settings, Path], UnseenSet]] = {
    "demo": sample_kb("demo", "dev.jsonl"),
    "telecom": sample_kb("telecom", "test.jsonl"),
    "market": sample_kb("market", "test.jsonl"),
    "travel": sample_kb("travel", "test.jsonl"),
    "mobility": sample_kb("mobility", "test.jsonl"),
    "clinc150": clinc150,
    "hwu64": hwu64,
    "bitext": bitext,
    "parakqc": parakqc,
}


def evaluate(unseen: UnseenSet, settings: Settings, work: Path, split: str, log: Log) -> dict[str, Any]:
    """Build the KB from its FAQ (self-calibrated), run the test messages; then calibrate on the tuning labels
    and run them again. ``split="tuning"`` runs the tuning messages instead, without labels (for choosing
    constants on rows that are never reported)."""
    settings = settings.model_copy(update={"kb_dir": work / "index", "taxonomy": unseen.taxonomy})
    rows = read_labeled_messages(unseen.test if split == "test" else unseen.tuning, settings.max_message_chars)
    started = time.perf_counter()
    build = build_kb(settings, work / "index", [unseen.faq], unseen.docs)
    log(f"[{unseen.name}] built and self-calibrated: {build.entries} entries in {time.perf_counter() - started:.0f} s")
    report: dict[str, Any] = {"set": unseen.name, "note": unseen.note, "entries": build.entries,
                              "build_seconds": round(time.perf_counter() - started, 1)}
    report["calibration"] = load_snapshot(work / "index").manifest["calibration"]
    report["no_labels"] = _run(settings, unseen, None, rows, log)
    if split == "tuning":
        return report
    embedder = embedder_for(settings)
    calibrate_snapshot(Searcher(load_snapshot(work / "index", embedder), embedder, settings.section_window),
                       unseen.tuning, 0.9)
    report["with_labels"] = _run(settings, unseen, unseen.tuning, rows, log)
    return report


def _run(settings: Settings, unseen: UnseenSet, tag_labels: Path | None, rows: list[Any], log: Log) -> dict[str, Any]:
    label = "with labels" if tag_labels else "no labels"
    kb = KnowledgeBase.open(settings, settings.kb_dir, taxonomy=unseen.taxonomy, tag_labels=tag_labels,
                            policy=unseen.policy)
    log(f"[{unseen.name}] {label}: {len(rows)} test messages")
    result = labeled(Pipeline.for_settings(kb, settings), rows, log)
    result.pop("worst", None)
    return result


def run_unseen(settings: Settings, names: list[str], results_dir: Path, split: str, log: Log) -> dict[str, Any]:
    reports = []
    for name in names:
        work = settings.var_dir / "eval" / "unseen" / name
        work.mkdir(parents=True, exist_ok=True)
        reports.append(evaluate(SETS[name](settings, work), settings, work, split, log))
    return {"suite": "unseen", "split": split, "sets": reports}


def _row(r: dict[str, Any], key: str) -> str:
    a, t, p = r[key].get("answer", {}), r[key].get("tag"), r[key].get("priority")

    def f(v: Any) -> str:
        return "–" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)

    return (f"| {r['set']} | {'labels' if key == 'with_labels' else 'none'} | {f(a.get('top1_accuracy'))} | "
            f"{f(a.get('auto_answer_precision'))} | {f(a.get('coverage'))} | {f(a.get('handoff_recall'))} | "
            f"{f(t and t['accuracy'])} | {f(t and t['needs_review_share'])} | "
            f"{f(t and t['accuracy_when_not_reviewed'])} | {f(p and p['exact'])} | {f(p and p['within_one'])} | "
            f"{f(p and p.get('p1_precision'))} ({f(p and p.get('p1_made'))}) | "
            f"{f(p and p.get('p1_recall'))} ({f(p and p.get('p1_real'))}) | {_urgent(a, p)} |")


def _urgent(a: dict[str, Any], p: dict[str, Any] | None) -> str:
    """Urgent messages auto-answered: of those labeled urgent where the set marks them, else of its P1s."""
    if a.get("urgent"):
        by_entry = a.get("urgent_self_service") or 0
        return f"{a['urgent_auto_answered']} of {a['urgent']} urgent" + (
            f" ({by_entry} by a self-service entry)" if by_entry else "")
    return f"{a['p1_auto_answered']} of {p['p1_real']} P1s" if p and "p1_auto_answered" in a else "–"


def unseen_markdown(report: dict[str, Any]) -> str:
    lines = ["# Unseen companies: day one, no labels", "",
             "Each KB is built from its FAQ (and manuals) with `triage kb build`'s code, which calibrates the "
             "auto-answer model from the KB's own phrasings; the tagger learns from the taxonomy and the FAQ. "
             "Labels: the same KB calibrated on the set's tuning file, the upper bound. Figures on the test file "
             "only, whole pipeline without an LLM.", "",
             "| set | labels | top-1 | auto-answer precision | coverage | hand-off recall | tag accuracy | "
             "review share | accuracy of tags given | priority exact | priority within one | P1 precision (made P1) | "
             "P1 recall (real P1s) | urgent auto-answered |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in report["sets"]:
        lines += [_row(r, key) for key in ("no_labels", "with_labels") if key in r]
    lines += ["", "## Sets", ""]
    for r in report["sets"]:
        c = r["calibration"]
        lines.append(f"- **{r['set']}**: {r['note']}. {r['entries']} entries, built and calibrated in "
                     f"{r['build_seconds']} s; threshold {c['threshold']} from "
                     f"{c.get('held_out_answerable')} held-out phrasings and {c.get('held_out_unanswerable')} "
                     f"phrasings of held-out entries.")
    return "\n".join(lines) + "\n"

