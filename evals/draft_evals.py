"""Reply-draft evals: lint pass rate, structure coverage, citation correctness, personal-data leaks, cost.

Two sets: the demo's Korean dev messages (demo KB) and Bitext's English customer requests with reference
agent replies (a KB built from the other Bitext rows: one entry per intent). Every message is also sent a
second time with personal data appended (phone, email, card, account); a leak is any of those values in the
draft, in the real-need fields, in a request sent to the LLM or in a log line. The reference replies are
linted too, as a baseline for the lint rules themselves.
"""

from __future__ import annotations

import logging
import re
import statistics
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import httpx

from evals.metrics import nearest_rank
from evals.runner import Log
from evals.triage_evals import bitext_rows
from knowledge.index import build_snapshot
from knowledge.sources import FaqEntry, write_faq_jsonl
from triage.config import Settings
from triage.kb import KnowledgeBase, embedder_for
from triage.llm import LLMClient
from triage.models import Message, TriageResult
from triage.pipeline import Pipeline, chronological
from triage.stages.reply_lint import lint_reply

PARTS = ("empathy", "confirm", "answer", "closing")
PROBES = {
    "ko": ("제 연락처는 010-2345-6789, 이메일은 minji.kim@example.com이에요. "
           "카드번호 4111-1111-1111-1111로 결제했고 환불은 국민은행 123456-01-234567 계좌로 부탁드려요. "
           "본인 확인은 주민번호 앞자리 920304 뒷자리 2345678이고, 주소는 월드컵로 123, 101동 1001호예요. "
           "비밀번호 qwer1234! 넣어도 안 돼요.",
           ["010-2345-6789", "minji.kim@example.com", "4111-1111-1111-1111", "123456-01-234567", "920304",
            "2345678", "월드컵로 123", "101동 1001호", "qwer1234!"]),
    "en": ("You can reach me at +82 10 2345 6789 or minji.kim@example.com. I paid with card 4111 1111 1111 1111. "
           "My password is hunter2!",
           ["+82 10 2345 6789", "minji.kim@example.com", "4111 1111 1111 1111", "hunter2!"]),
}
BITEXT_PER_INTENT = 8  # test requests per intent (27 intents)
BITEXT_EXAMPLES = 20  # phrasings per KB entry


def _squash(text: str) -> str:
    return re.sub(r"[\s\-.]", "", text).lower()


class LeakWatch(logging.Handler):
    """Collects every log line and every LLM request body while probes run."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(self.format(record))

    def on_request(self, request: httpx.Request) -> None:
        self.texts.append(request.content.decode("utf-8", errors="replace"))

    @contextmanager
    def watching(self) -> Iterator[None]:
        root = logging.getLogger()
        level = root.level
        root.addHandler(self)
        root.setLevel(logging.DEBUG)
        try:
            yield
        finally:
            root.removeHandler(self)
            root.setLevel(level)


def llm_for_eval(settings: Settings, watch: LeakWatch) -> LLMClient:
    """The configured LLM, with every request it sends shown to the leak watch."""
    client = LLMClient.from_settings(settings, httpx.Client(timeout=settings.llm_timeout,
                                                            event_hooks={"request": [watch.on_request]}))
    if client is None:
        raise ValueError("--llm needs an endpoint: set TRIAGE_LLM_BASE_URL (and TRIAGE_LLM_MODEL)")
    return client


def score_drafts(kb: KnowledgeBase, rows: list[tuple[Message, dict[str, Any]]], make_pipeline:
                 Callable[[], Pipeline], watch: LeakWatch, log: Log, name: str) -> dict[str, Any]:
    """Draft every message (in time order), then every message again with personal data appended."""
    pipeline = make_pipeline()
    results: list[TriageResult | None] = [None] * len(rows)
    for n, i in enumerate(chronological([m for m, _ in rows]), 1):
        results[i] = pipeline.run(rows[i][0])
        if n % 50 == 0:
            log(f"  {name}: {n}/{len(rows)} drafted")
    done = [r for r in results if r is not None]
    report: dict[str, Any] = {"messages": len(done)}
    report.update(_quality(kb, rows, done))
    report["leaks"] = _probe_leaks(rows, make_pipeline(), watch, log, name)
    return report


def _quality(kb: KnowledgeBase, rows: list[tuple[Message, dict[str, Any]]], results: list[TriageResult]) -> dict:
    infos = [r.drafting for r in results if r.drafting is not None]
    codes = Counter(f.split(":")[0] for r in results for f in r.lint)
    cited = [(labels, r) for (_, labels), r in zip(rows, results, strict=True) if r.drafting and r.drafting.cited_ids]
    labeled_cited = [(labels, r) for labels, r in cited if "expected_faq_id" in labels]
    draft_ms = [r.timings_ms.get("draft", 0.0) for r in results]
    llm = [i for i in infos if i.model]  # the LLM was tried (its draft kept or not)
    return {
        "lint_pass_rate": round(sum(not r.lint for r in results) / len(results), 4),
        "lint_findings": dict(codes.most_common()),
        "structure": {p: round(sum(i.structure.get(p, False) for i in infos) / len(infos), 4) for p in PARTS},
        "structure_complete": round(sum(all(i.structure.get(p, False) for p in PARTS) for i in infos) / len(infos), 4),
        "kinds": dict(Counter(i.kind for i in infos).most_common()),
        "citations": {
            "drafts_citing": len(cited),
            "valid": round(sum(all(c in kb.snapshot.entries for c in r.drafting.cited_ids)  # type: ignore[union-attr]
                               for _, r in cited) / len(cited), 4) if cited else None,
            "correct": round(sum(r.drafting.cited_ids[0] == labels["expected_faq_id"]  # type: ignore[union-attr]
                                 for labels, r in labeled_cited) / len(labeled_cited), 4) if labeled_cited else None,
            "n_labeled": len(labeled_cited)},
        "sources": dict(Counter(i.source for i in infos)),
        "fallbacks": dict(Counter((i.fallback_reason or "").split(":")[0] for i in infos if i.fallback_reason)),
        "draft_ms": {"p50": round(nearest_rank(draft_ms, 0.5), 2), "p95": round(nearest_rank(draft_ms, 0.95), 2)},
        "llm": {"tried": len(llm), "kept": sum(i.source == "llm" for i in llm),
                "calls_answered": sum(i.llm_calls for i in llm),
                "latency_ms": {"p50": round(nearest_rank([i.latency_ms or 0.0 for i in llm], 0.5), 2),
                               "p95": round(nearest_rank([i.latency_ms or 0.0 for i in llm], 0.95), 2)},
                "prompt_tokens_median": statistics.median([i.prompt_tokens or 0 for i in llm]) if llm else None,
                "completion_tokens_median": statistics.median([i.completion_tokens or 0 for i in llm]) if llm else None,
                "regenerated": sum(i.regenerated for i in llm)} if llm else None,
    }


def _probe_leaks(rows: list[tuple[Message, dict[str, Any]]], pipeline: Pipeline, watch: LeakWatch, log: Log,
                 name: str) -> dict[str, Any]:
    leaks: Counter[str] = Counter()
    examples: list[str] = []
    with watch.watching():
        for n, (message, _) in enumerate(rows, 1):
            language = "ko" if re.search(r"[가-힣]", message.text) else "en"
            sentence, values = PROBES[language]
            watch.texts.clear()
            probe = message.model_copy(update={"text": f"{message.text} {sentence}", "customer": None})
            result = pipeline.run(probe)
            places = {"draft": result.draft or "",
                      "real_need": result.need.model_dump_json() if result.need else "",
                      "llm_or_log": "\n".join(watch.texts)}
            for place, text in places.items():
                for value in values:
                    if _squash(value) in _squash(text):
                        leaks[place] += 1
                        if len(examples) < 5:
                            examples.append(f"{message.id}: {place}")
            if n % 50 == 0:
                log(f"  {name}: {n}/{len(rows)} privacy probes")
    return {"probes": len(rows), "values_per_probe": {k: len(v[1]) for k, v in PROBES.items()},
            "total": sum(leaks.values()), "by_place": dict(leaks), "examples": examples}


# ---------------------------------------------------------------- Bitext responses

def bitext_split(rows: list[dict[str, str]]) -> tuple[list[FaqEntry], list[dict[str, str]]]:
    """One KB entry per intent from every row but every fifth (its first reference reply as the answer, the
    instructions as phrasings); the test requests are every fifth row, at most BITEXT_PER_INTENT per intent."""
    by_intent: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_intent.setdefault(row["intent"], []).append(row)
    entries, test = [], []
    for intent, group in sorted(by_intent.items()):
        train = [r for i, r in enumerate(group) if i % 5]
        test += [r for i, r in enumerate(group) if i % 5 == 0][:BITEXT_PER_INTENT]
        entries.append(FaqEntry(id=intent, question=train[0]["instruction"], answer=train[0]["response"],
                                examples=tuple(r["instruction"] for r in train[1:BITEXT_EXAMPLES + 1]),
                                tags=(train[0]["category"].lower(),), url=None, section=None))
    return entries, test


def bitext_kb(settings: Settings, log: Log) -> tuple[KnowledgeBase, list[tuple[Message, dict[str, Any]]],
                                                     list[str]]:
    """The Bitext responses KB (built under var/eval), the test messages and their reference replies."""
    path = settings.datasets_dir / "bitext_cs_responses" / "bitext_cs_instruction_response_4514.csv"
    entries, test = bitext_split(bitext_rows(path))
    work = settings.var_dir / "eval" / "drafts-bitext"
    faq = work / "faq.jsonl"
    write_faq_jsonl(entries, faq)
    log(f"building the Bitext responses KB ({len(entries)} entries) under {work}")
    build_snapshot(work / "kb", embedder_for(settings), [faq], None)
    kb = KnowledgeBase.open(settings, work / "kb")
    rows = [(Message(id=f"bitext-{i}", text=r["instruction"]), {"expected_faq_id": r["intent"]})
            for i, r in enumerate(test)]
    return kb, rows, [r["response"] for r in test]


def reference_lint(rows: list[tuple[Message, dict[str, Any]]], references: list[str], kb: KnowledgeBase) -> dict:
    """The lint rules applied to the dataset's own reference replies (a baseline, not a target)."""
    findings = [lint_reply(ref, "en", [kb.snapshot.entries[labels["expected_faq_id"]].answer], m.text)
                for (m, labels), ref in zip(rows, references, strict=True)]
    return {"pass_rate": round(sum(not f for f in findings) / len(findings), 4),
            "findings": dict(Counter(x.code for f in findings for x in f).most_common())}


def drafts_markdown(r: dict[str, Any]) -> str:
    lines = ["# Reply drafts", "",
             f"Path: **{r['path']}**{' (model ' + r['model'] + ')' if r.get('model') else ''}; embedder "
             f"`{r['embedder']}`. Lint pass = no finding at all. Structure = the draft has empathy, confirmation, "
             "an answer (or the next step) and a closing question (a plain question gets no empathy line on "
             "purpose, so this counts form, not fit: see review.md). Citation correct = the entry the draft cites "
             "is the labeled answer. Leaks: personal data appended to every message (phone, email, card, account, "
             "resident number in parts, address, password), looked for in the draft, the real-need fields, LLM "
             "requests and log lines.", "",
             "| set | messages | lint pass | structure complete | citing | citation correct | leaks | "
             "draft p50 / p95 ms |", "|---|---|---|---|---|---|---|---|"]
    for name, s in r["sets"].items():
        c = s["citations"]
        lines.append(f"| {name} | {s['messages']} | {s['lint_pass_rate']} | {s['structure_complete']} | "
                     f"{c['drafts_citing']} | {c['correct']} | {s['leaks']['total']} | "
                     f"{s['draft_ms']['p50']} / {s['draft_ms']['p95']} |")
    lines.append("")
    for name, s in r["sets"].items():
        lines += [f"## {name}", "", f"- kinds: {s['kinds']}", f"- lint findings: {s['lint_findings'] or 'none'}",
                  f"- structure per part: {s['structure']}", f"- sources: {s['sources']}; fallbacks: "
                  f"{s['fallbacks'] or 'none'}"]
        if s.get("llm"):
            lines.append(f"- LLM: {s['llm']}")
        if s.get("reference_lint"):
            lines.append(f"- the dataset's reference replies under the same lint: {s['reference_lint']}")
        lines.append("")
    return "\n".join(lines)


def drafts(settings: Settings, log: Log, use_llm: bool = False, limit: int | None = None) -> dict[str, Any]:
    """The drafts suite over the demo dev set and the Bitext responses set (template path, or ``use_llm``)."""
    from triage.inputs import read_message_rows

    watch = LeakWatch()
    llm = llm_for_eval(settings, watch) if use_llm else None
    demo = KnowledgeBase.open(settings)
    demo_rows = read_message_rows(settings.demo_sources / "dev.jsonl", settings.max_message_chars,
                                  require_id=False)[:limit]
    bitext, bitext_rows, references = bitext_kb(settings, log)
    bitext_rows, references = bitext_rows[:limit], references[:limit]
    sets: dict[str, Any] = {}
    for name, kb, rows in (("demo dev (ko)", demo, demo_rows), ("Bitext responses (en)", bitext, bitext_rows)):
        log(f"drafting {len(rows)} messages of {name} ({'LLM' if llm else 'templates'})")
        sets[name] = score_drafts(kb, rows, partial(Pipeline, kb, settings.repeat_window, llm), watch, log, name)
    sets["Bitext responses (en)"]["reference_lint"] = reference_lint(bitext_rows, references, bitext)
    return {"suite": "drafts", "path": "llm" if llm else "template", "model": settings.llm_model if llm else None,
            "embedder": demo.embedder.name, "sets": sets}
