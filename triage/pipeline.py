"""One message through every stage: embed and search once, then each stage reads the same hits."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING

from knowledge.search import SearchResult
from triage.config import Settings
from triage.errors import InputError
from triage.kb import KnowledgeBase
from triage.llm import LLMClient
from triage.models import Citation, Message, Reason, TagCandidate, TriageResult
from triage.stages.answering import Decision
from triage.stages.customer import customer_context
from triage.stages.drafting import Drafter
from triage.stages.guard import InjectionCheck, Vocabulary, check_injection
from triage.stages.history import Contact, ContactHistory, CustomerContact, as_utc
from triage.stages.language import detect_language
from triage.stages.priority import RepeatContact, assign_priority
from triage.stages.reply_lint import bot_promises
from triage.stages.signals import Signals
from triage.stages.tagging import TagDecision

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

CITATIONS = 3
# The pipeline reads a message's first READ_CHARS characters. The encoder reads 512 tokens (about 950 Korean or
# 2,060 English characters, see knowledge.embedders), so the keyword search, the tag's character n-grams, the
# guard, priority and language regexes and the draft read about the same text, and a 20,000-character message
# costs about what a 2,000-character one does. The whole message is still stored and shown to the agent.
READ_CHARS = 2_000


def citations(result: SearchResult, decision: Decision) -> list[Citation]:
    """The entry used (or the candidate) first, then the best manual passage, then the next FAQ entries."""
    faq = result.faq_hits
    if decision.hit is not None:
        faq = [decision.hit] + [h for h in faq if h.entry_id != decision.hit.entry_id]
    hits = faq[:1] + result.doc_hits[:1] + faq[1:]
    # the score shown is the cosine similarity, comparable across FAQ entries and manual passages
    return [Citation(id=h.chunk_id if h.kind == "doc" else h.entry_id, title=h.title, url=h.url,
                     score=round(h.dense, 4)) for h in hits[:CITATIONS]]


def chronological(messages: Sequence[Message]) -> list[int]:
    """Indexes of the messages in time order (those without ``created_at`` last, in input order)."""
    timed = sorted((as_utc(m.created_at), i) for i, m in enumerate(messages) if m.created_at is not None)
    return [i for _, i in timed] + [i for i, m in enumerate(messages) if m.created_at is None]


class Pipeline:
    """Answer, tag, prioritize and describe one message. Reads and feeds a repeat-contact history: in memory by
    default, so one pipeline should see all the messages of a batch file; the service's is in its store.

    Safe to run from many threads: ``lock`` covers only the short part that shares mutable state (the tagger
    that learns, the repeat-contact history). Search runs outside it (the encoder, FAISS and BM25 are safe to
    share), and so do LLM calls and the template draft: a slow or hanging LLM delays only its own message."""

    def __init__(self, kb: KnowledgeBase, repeat_window: timedelta = timedelta(hours=72),
                 llm: LLMClient | None = None, rephrase_answers: bool = False,
                 history: ContactHistory | None = None) -> None:
        self.kb = kb
        self.rephrase_answers = rephrase_answers
        self.lock = threading.Lock()
        self.history = history or ContactHistory(repeat_window)
        # FAQ entries whose auto-answers agents and customers turned down: handed off instead (entry → reason)
        self.distrusted_faqs: dict[str, str] = {}
        self.drafter = Drafter(kb.snapshot, llm, kb.tagger.taxonomy if kb.tagger else None)
        # the guard sees this deployment's own tag ids and names being dictated ("분류: 계정도용", "tag=account_hacked")
        self.vocabulary = Vocabulary.from_taxonomy(kb.tagger.taxonomy) if kb.tagger else None

    @classmethod
    def for_settings(cls, kb: KnowledgeBase, settings: Settings, history: ContactHistory | None = None) -> Pipeline:
        """The service's pipeline: its repeat window, and the LLM endpoint when one is configured."""
        return cls(kb, settings.repeat_window, LLMClient.from_settings(settings), settings.llm_rephrase_answers,
                   history)

    def run(self, message: Message, section: str | None = None, draft: bool = True) -> TriageResult:
        """All stages, the message joining the repeat-contact history; ``draft=False`` (the support bot) skips
        the real need and the reply draft."""
        out, contact = self.assess(message, section, draft)
        if contact is not None:
            self.history.record(*contact)
        return out

    def assess(self, message: Message, section: str | None = None,
               draft: bool = True) -> tuple[TriageResult, CustomerContact | None]:
        """All stages, without recording the message: the result, and the contact to record if the message is
        kept (the service stores it with the message, in one transaction; a preview is never recorded)."""
        started = time.perf_counter()
        text = message.text[:READ_CHARS]
        guard = check_injection(text, self.vocabulary)
        signals = Signals.read(guard.content)  # instructing sentences say nothing about the customer's situation
        out, result, contact, timings = self._analyse(message, text, guard, signals, section)
        if len(message.text) > READ_CHARS:
            out.warnings.append(f"the message has {len(message.text)} characters: its first {READ_CHARS} were read "
                                "(the whole message is kept for the agent)")
        if out.answer and self.rephrase_answers:
            t = time.perf_counter()
            rephrased = self.drafter.rephrase_answer(text, out.answer, out.language or "en")
            out.answer, out.answer_source = rephrased or out.answer, "llm_rephrased" if rephrased else "kb"
            timings["rephrase"] = (time.perf_counter() - t) * 1000
        if out.answer and (promised := bot_promises(out.answer)):  # the KB's own text: its editors must fix it
            out.warnings.append(f"the answer promises a person's action, which nobody takes after the bot: "
                                f"{promised[0]}")
        if draft and not guard.content.strip():
            out.warnings.append("the message holds nothing but instructions to the system: no draft")
        elif draft:
            t = time.perf_counter()
            drafted = self.drafter.draft(guard.content, out, result, signals)
            out.need, out.real_need, out.draft = drafted.need, drafted.need.real_need, drafted.draft
            out.lint, out.drafting = [str(f) for f in drafted.lint], drafted.info
            timings["draft"] = (time.perf_counter() - t) * 1000
        timings["total"] = (time.perf_counter() - started) * 1000
        out.timings_ms = {k: round(v, 2) for k, v in timings.items()}
        return out, contact

    def _analyse(self, message: Message, text: str, guard: InjectionCheck, signals: Signals, section: str | None
                 ) -> tuple[TriageResult, SearchResult, CustomerContact | None, dict[str, float]]:
        """Search, answer (never for an urgent situation, unless the KB marks the entry as its self-service answer),
        then tag, repeat contact and priority (under ``lock``)."""
        # instructing sentences take no part: the request around them is searched (and tagged) alone, so its draft
        # answers from the entry that answers it
        query = guard.content if guard.flagged and guard.content.strip() else text
        result = self.kb.searcher.search(query, k=8, section=section or message.page)
        timings = dict(result.timings_ms)
        t = time.perf_counter()
        decision = self.kb.answerer.decide(result)
        if guard.flagged:
            decision = replace(decision, decision="handoff", handoff_reason="prompt_injection",
                               reason="the message tries to instruct the system: never auto-answered")
        elif signals.urgent and not self._self_service(decision):
            # only a person can act on money at risk, a takeover, a loss or a fraud: whatever the entry's confidence
            decision = replace(decision, decision="handoff", handoff_reason="urgent_situation",
                               reason=f"the message describes an urgent situation ({signals.situation}: "
                                      f"'{signals.cue}'): a person acts on it, the bot never answers it"
                                      + (f" (the KB does not mark {decision.hit.entry_id!r} as its self-service "
                                         "answer)" if decision.hit else ""))
        elif decision.hit and decision.hit.entry_id in message.declined_faq_ids:
            decision = replace(decision, decision="handoff", handoff_reason="declined_by_customer",
                               reason=f"the customer already found {decision.hit.entry_id!r}'s answer unhelpful: "
                                      "it is not offered again")
        elif decision.decision == "auto_answer" and decision.hit and decision.hit.entry_id in self.distrusted_faqs:
            decision = replace(decision, decision="handoff", handoff_reason="distrusted_entry",
                               reason=self.distrusted_faqs[decision.hit.entry_id])
        timings["answer"] = (time.perf_counter() - t) * 1000
        answered = decision.decision == "auto_answer" and decision.hit is not None
        warnings = [] if self.kb.calibrated else ["this index was built without a stored calibration: calibrated "
                                                  "from its own content at start (rebuild it to store one)"]
        out = TriageResult(
            id=message.id,
            decision=decision.decision,
            decision_reason=decision.reason,
            handoff_reason=decision.handoff_reason,
            faq_id=decision.hit.entry_id if answered and decision.hit else None,
            candidate_faq_id=decision.hit.entry_id if decision.hit else None,
            confidence=round(decision.confidence, 4),
            answer=decision.hit.text if answered and decision.hit else None,
            answer_source="kb" if answered else None,
            citations=citations(result, decision),
            language=detect_language(text),
            flags=["prompt_injection"] if guard.flagged else [],
            warnings=warnings,
        )
        contact = None
        if self.kb.tagger is not None:
            t = time.perf_counter()
            vector = result.vector  # of the message without its instructing sentences
            locked = time.perf_counter()
            with self.lock:
                timings["wait"] = (time.perf_counter() - locked) * 1000
                contact = self._triage(message, guard, signals, vector, out)
            timings["triage"] = (time.perf_counter() - t) * 1000
            self._hand_off_urgent_tag(out)
        else:
            out.warnings.append("no taxonomy: set TRIAGE_TAXONOMY (or give the FAQ entries tags) to get a tag "
                                "and a priority")
        return out, result, contact, timings

    def _hand_off_urgent_tag(self, out: TriageResult) -> None:
        """An answer the bot was about to give to a message tagged with one of the taxonomy's P1 tags and made P1 is
        handed off instead (unless the KB marks the entry as the situation's self-service answer): the cues read
        only the situations they know, and an urgent tag is the company's own word that a person must act (a
        passenger harassed in a taxi, an accident)."""
        tagger = self.kb.tagger
        entry = self.kb.snapshot.entries.get(out.faq_id) if out.faq_id else None
        if (out.decision != "auto_answer" or tagger is None or entry is None or entry.urgent_self_service
                or out.priority != "P1" or out.tag not in tagger.taxonomy.tags or out.tag == tagger.taxonomy.catch_all
                or tagger.taxonomy.priority(out.tag) != "P1"):
            return
        out.decision, out.handoff_reason = "handoff", "urgent_situation"
        out.decision_reason = (f"the message's tag {out.tag!r} is urgent (P1) and so is the message: a person acts "
                               f"on it, the bot never answers it (the KB does not mark {entry.id!r} as its "
                               "self-service answer)")
        out.faq_id, out.answer, out.answer_source = None, None, None

    def _self_service(self, decision: Decision) -> bool:
        """The best entry is the one the KB marks as an urgent situation's self-service answer."""
        entry = self.kb.snapshot.entries.get(decision.hit.entry_id) if decision.hit else None
        return entry is not None and entry.urgent_self_service

    def check_tag(self, tag: str) -> None:
        """``InputError`` unless ``tag`` is one this pipeline's tagger can learn."""
        tagger = self.kb.tagger
        if tagger is None:
            raise InputError("this service has no taxonomy, so there is no tag to correct (set TRIAGE_TAXONOMY)")
        if tag not in tagger.column:
            raise InputError(f"unknown tag {tag!r}; known tags: {', '.join(tagger.classes)}")

    def learn_tag(self, text: str, tag: str) -> None:
        """An agent's tag correction, learned at once: the next prediction for this or a near-identical message
        follows it. (The service stores it first: see ``triage.learning``.)"""
        self.check_tag(tag)
        tagger = self.kb.tagger
        assert tagger is not None
        vector = self.kb.embedder.encode_queries([text[:READ_CHARS]])[0]
        with self.lock:
            tagger.learn(vector, tag)

    def _triage(self, message: Message, guard: InjectionCheck, signals: Signals, vector: NDArray[np.float32],
                out: TriageResult) -> CustomerContact | None:
        """Tag, repeat contact, priority and context; instructing sentences take no part in them (``vector``
        encodes the message without them)."""
        tagger = self.kb.tagger
        assert tagger is not None
        content = guard.content
        if content.strip():
            tag = tagger.decide(tagger.scores(content, vector, signals.level))
        else:
            tag = TagDecision(tagger.taxonomy.catch_all, 0.0, [], Reason(code="tag.instructions_only"))
        customer = message.customer
        repeat, contact = None, None
        if customer is not None and customer.id:
            at = as_utc(message.created_at)
            window = self.kb.policy.repeat_window or self.history.window
            earlier = self.history.find_repeat(customer.id, at, vector, tag.tag, message.id,
                                               catch_all=tagger.taxonomy.catch_all, window=window)
            if earlier is not None:
                out.duplicate_of = earlier.message_id
                repeat = RepeatContact(window.total_seconds() / 3600, earlier.channel, earlier.message_id)
            contact = (customer.id, Contact(message.id, message.channel, at, tag.tag, vector))
        priority = assign_priority(tag.tag, tagger.taxonomy, signals, customer, repeat, tag.competing, self.kb.policy)
        if guard.flagged:
            priority.add(Reason(code="priority.guard"), "guard:prompt_injection")
        out.tag, out.tag_confidence, out.tag_why = tag.tag, round(tag.confidence, 4), tag.why
        out.tag_reason = tag.reason
        out.tag_probability = round(tag.probability, 4)
        out.tag_candidates = [TagCandidate(tag=c.tag, score=round(c.score, 4), probability=round(c.probability, 4))
                              for c in tag.runners_up]
        out.priority, out.priority_why, out.priority_rules = priority.priority, priority.why, priority.rules
        out.reasons = priority.reasons
        out.context = customer_context(customer, message.bot_path, self.kb.latest_app_version)
        return contact
