"""The drafts eval: the Bitext split, the scores on a real small KB, and the leak watch itself."""

from __future__ import annotations

import logging
from functools import partial

from evals.draft_evals import LeakWatch, bitext_split, drafts_markdown, score_drafts
from triage.kb import KnowledgeBase
from triage.models import Message
from triage.pipeline import Pipeline


def test_bitext_split_holds_out_every_fifth_request_per_intent():
    rows = [{"instruction": f"{intent} request {i}", "response": f"{intent} reply {i}", "intent": intent,
             "category": "ORDER"} for intent in ("cancel_order", "track_order") for i in range(12)]
    entries, test = bitext_split(rows)
    assert [e.id for e in entries] == ["cancel_order", "track_order"]
    assert entries[0].question == "cancel_order request 1" and entries[0].answer == "cancel_order reply 1"
    assert entries[0].tags == ("order",) and "cancel_order request 0" not in entries[0].examples
    assert [r["instruction"] for r in test[:3]] == ["cancel_order request 0", "cancel_order request 5",
                                                   "cancel_order request 10"]
    assert not {r["instruction"] for r in test} & {x for e in entries for x in (e.question, *e.examples)}


def test_the_leak_watch_sees_log_lines():
    watch = LeakWatch()
    with watch.watching():
        logging.getLogger("anything").warning("customer said 010-2345-6789")
    logging.getLogger("anything").warning("after: not collected")
    assert len(watch.texts) == 1 and "010-2345-6789" in watch.texts[0]


def test_scores_on_a_real_kb_with_no_leaks(settings):
    kb = KnowledgeBase.open(settings)
    rows = [(Message(id="a", text="비밀번호를 잊어버렸어요"), {"expected_faq_id": "password-reset"}),
            (Message(id="b", text="회사 주식 배당금은 언제 나오나요?"), {"expected_faq_id": None}),
            (Message(id="c", text="My payment failed with an error"), {})]
    report = score_drafts(kb, rows, partial(Pipeline, kb), LeakWatch(), lambda _: None, "small")
    assert report["messages"] == 3 and report["leaks"] == {
        "probes": 3, "values_per_probe": {"ko": 9, "en": 4}, "total": 0, "by_place": {}, "examples": []}
    assert 0 <= report["lint_pass_rate"] <= 1 and set(report["structure"]) == {"empathy", "confirm", "answer",
                                                                                "closing"}
    assert report["sources"] == {"template": 3} and report["llm"] is None
    assert report["draft_ms"]["p95"] is not None
    text = drafts_markdown({"path": "template", "embedder": "e", "sets": {"small": report}})
    assert "| small | 3 |" in text
