"""The real need behind a message and a reply draft for an agent to review, with or without an LLM.

Every draft follows one structure: specific empathy → confirming what we understood → the answer from the
KB with its source, at the customer's level (numbered steps for new customers, concise for veterans) →
a better alternative from the KB → a closing question, thanking customers who report a bug or suggest a
feature. Which wording fills it depends on the *kind* of message (``reply_kind``).

Template path (the default, no LLM): ``prompts/replies/<lang>.yaml`` filled with the message's specifics.
LLM path: ``prompts/real_need.prompt.md`` then ``prompts/reply_draft.prompt.md`` on the redacted message;
the reply is linted and regenerated once if it fails, then falls back to the template. The calls of one
message share one budget (``TRIAGE_LLM_MESSAGE_BUDGET``); any LLM failure (unreachable, hanging, a broken
answer, the budget spent) falls back to the template. Personal data never reaches the LLM: it sees
placeholders, restored in what the agent reads.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from knowledge.index import Snapshot
from knowledge.search import Hit, SearchResult
from triage.errors import LLMError
from triage.language import detect_language
from triage.llm import LLMCall, LLMClient
from triage.models import DraftInfo, RealNeed, TriageResult
from triage.privacy import find_personal_data, label_placeholders, redact
from triage.prompting import ReplyTemplates, render_prompt, reply_templates
from triage.reply_lint import Finding, lint_reply
from triage.signals import SITUATIONS, Signals
from triage.taxonomy import NEEDS_REVIEW

log = logging.getLogger("triage.drafting")

PRAISE = re.compile(r"칭찬|감사드|감사합니다|고마워|고맙습니다|(?<!불)친절(해서|하셔서|했어요|하시)"
                    r"|최고(예요|에요|입니다)"
                    r"|\bthank(s| you)\b|great\s+(service|job)|\blove\b", re.IGNORECASE)
FEATURE = re.compile(r"좋겠어요|좋겠네요|(만들어|추가해|넣어|늘려)\s*(주|줬|달)|생기면|생겼으면|제안|건의"
                     r"|기능.{0,8}(있으면|없나요)"
                     r"|feature\s+request|would\s+be\s+(nice|great|helpful)|please\s+add|wish\s+(you|there)",
                     re.IGNORECASE)
BUG = re.compile(r"버그|오류|에러|튕(겨|기|김)|꺼져|꺼지|멈춰|멈추|먹통|하얀\s*화면|느려|느림"
                 r"|안\s*(눌러|열려|떠요|보여)"
                 r"|\bbug\b|glitch|crash|\berror\b|freez", re.IGNORECASE)
COMPLAINT = re.compile(r"불친절|불만|항의|태도가|무시하|complain|rude|disrespect", re.IGNORECASE)
QUESTION = re.compile(r"\?|(나요|까요|가요|는지|ㄴ지|어요|여요)\s*$"
                      r"|^(how|what|when|where|why|can|could|do|does|is|are)\b",
                      re.IGNORECASE)
TROUBLE = ("money_at_risk", "account_taken", "card_lost", "outage", "blocked")
SENTENCE_END = re.compile(r"(?<=[.!?。])\s+|(?<=[요다죠까])\s+(?=\S)|\n+")
HEADS = {"ko": "혹시", "en": "Just to check,"}
ORDER_NUMBER = re.compile(r"(?<![0-9])\d{8,20}(?![0-9])|주문\s*번호\s*[:：]?\s*\S+|order\s*(no|number|#)",
                          re.IGNORECASE)
# What to ask for when the KB cannot answer: (cue, also looked for in the tag?, Korean, English, given-already)
ASK_FOR: tuple[tuple[re.Pattern[str], bool, str, str, re.Pattern[str] | None], ...] = (
    (re.compile(r"주문|결제|환불|취소|배송|택배|반품|교환|청구"
                r"|order|payment|refund|cancel|deliver|ship|return|charge", re.IGNORECASE), True,
     "주문번호", "your order number", ORDER_NUMBER),
    (re.compile(r"결제|청구|출금|이중|charge|payment|billing", re.IGNORECASE), False, "결제 일시와 금액",
     "the date and amount of the charge", None),
    (re.compile(r"파손|깨져|터져|damaged|broken|cracked", re.IGNORECASE), False, "상품 사진", "a photo of the item",
     None),
    (BUG, False, "휴대폰 기종과 화면 캡처", "your phone model and a screenshot", None),
    (re.compile(r"도용|해킹|로그인|계정|hack|log\s*in|account", re.IGNORECASE), True,
     "가입하신 이메일 주소(비밀번호는 보내지 마세요)", "the email address of your account (never your password)", None),
)
# The support bot waits for its rephrased answer: a rephrasing that takes longer is dropped for the KB text
REPHRASE_BUDGET = 5.0
AMBIGUOUS_DENSE_GAP = 0.02  # the runner-up entry this close in similarity → ask which one was meant
MAX_RESTATED = 60


class ReplyParts(BaseModel):
    """The LLM's reply draft, part by part (its output schema; lengths are left to lint, see RealNeed)."""

    empathy: str = Field(min_length=1)
    confirm: str = Field(min_length=1)
    answer: str = Field(min_length=1)
    alternative: str = ""
    closing: str = Field(min_length=1)
    cited_ids: list[str] = Field(default_factory=list, max_length=5)


class Rephrased(BaseModel):
    """The support bot's KB answer rephrased to fit the question (the LLM's output schema)."""

    answer: str = Field(min_length=1)


# lint findings that mean a rephrased answer says something its KB entry does not
ADDED_FACTS = {"unsupported_claim", "unsupported_promise", "link_not_in_kb", "personal_data", "placeholder",
               "wrong_language"}
DIGITS = re.compile(r"\d+")


def added_facts(text: str, source: str, language: str) -> list[Finding]:
    """Why ``text`` is not faithful to ``source``: numbers, dates, promises or links that the source lacks."""
    problems = [f for f in lint_reply(text, language, [source]) if f.code in ADDED_FACTS]
    numbers = set(DIGITS.findall(source.replace(",", "")))
    problems += [Finding("unsupported_number", n) for n in DIGITS.findall(text.replace(",", "")) if n not in numbers]
    return problems


@dataclass
class Drafted:
    need: RealNeed
    draft: str
    lint: list[Finding]
    info: DraftInfo


def sentences(text: str) -> list[str]:
    return [s.strip() for s in SENTENCE_END.split(text) if s and s.strip()]


def reply_kind(text: str, signals: Signals, answered: bool, repeat: bool) -> str:
    """answered, handoff, account_specific, complaint, bug_report, feature_request or praise."""
    found = signals.situation
    trouble = found in TROUBLE
    if PRAISE.search(text) and not trouble and not COMPLAINT.search(text):
        return "praise"
    if FEATURE.search(text) and found not in ("money_at_risk", "account_taken", "card_lost", "outage"):
        return "feature_request"
    if BUG.search(text) and found not in ("money_at_risk", "account_taken", "card_lost"):
        return "bug_report"
    if repeat or signals.anger or signals.says_repeat or COMPLAINT.search(text):
        return "complaint"
    if answered:
        return "answered"
    return "account_specific" if trouble else "handoff"


def restate(text: str, found: str | None) -> str:
    """The customer's own sentence that best says what is wrong or asked (no personal data), shortened: the
    one describing the message's trouble, else its first question, else its first sentence."""
    candidates = [s for s in sentences(text) if not find_personal_data(s)] or [label_placeholders(redact(text).text)]
    trouble = next((p for name, p, _, _ in SITUATIONS if name == found), None) if found in TROUBLE else None
    best = next((s for s in candidates if trouble and trouble.search(s)), None)
    best = best or next((s for s in candidates if QUESTION.search(s.strip())), candidates[0])
    best = best.strip().rstrip(".!。")
    if len(best) > MAX_RESTATED:
        cut = best[:MAX_RESTATED].rsplit(" ", 1)[0]
        best = cut + "…"
    return best.replace('"', "'")


def answer_at_level(answer: str, level: str) -> str:
    parts = sentences(answer)
    if level == "step_by_step" and len(parts) > 1:
        return "\n".join(f"{i}. {s}" for i, s in enumerate(parts, 1))
    if level == "concise" and len(parts) > 2:
        return " ".join(parts[:2])
    return answer


def missing_info(text: str, tag_text: str, language: str) -> list[str]:
    """What to ask the customer for (at most three), leaving out what the message already gives."""
    asks = []
    for cue, from_tag, ko, en, given in ASK_FOR:
        if cue.search(f"{tag_text} {text}" if from_tag else text) and not (given and given.search(text)):
            asks.append(ko if language == "ko" else en)
    return asks[:3]


class Drafter:
    """Drafts for one knowledge base; ``llm`` None means the template path only. ``tag_names`` and ``catch_all``
    come from the taxonomy (a message given the catch-all is not named by its tag in the draft)."""

    def __init__(self, snapshot: Snapshot, llm: LLMClient | None = None, tag_names: dict[str, str] | None = None,
                 catch_all: str = NEEDS_REVIEW):
        self.snapshot = snapshot
        self.llm = llm
        self.tag_names = tag_names or {}
        self.catch_all = catch_all

    def draft(self, text: str, result: TriageResult, search: SearchResult, signals: Signals | None = None) -> Drafted:
        """``text`` is the message without instructing sentences, ``signals`` what it says (read from ``text``
        when not given); ``result`` holds the earlier stages."""
        language = "ko" if result.language == "ko" else "en"
        hit = self._answer_hit(result, search)
        template = self._template_draft(text, language, result, search, hit, signals or Signals.read(text))
        if self.llm is None or not self.llm.available:
            if self.llm is not None:
                template.info.fallback_reason = "the LLM endpoint is unavailable (circuit open)"
            return template
        calls: list[LLMCall] = []
        started = time.perf_counter()
        try:
            drafted = self._llm_draft(text, language, result, search, hit, template, calls)
        except LLMError as exc:
            log.warning("event=draft_fallback reason=%s", type(exc).__name__)
            template.info.fallback_reason = f"LLM failed: {type(exc).__name__}"
            drafted = template
        # what the LLM cost, whichever draft was kept: answered calls' tokens, the whole attempt's time
        info = drafted.info
        info.model, info.llm_calls = self.llm.model, len(calls)
        info.prompt_tokens = _total(c.prompt_tokens for c in calls)
        info.completion_tokens = _total(c.completion_tokens for c in calls)
        info.latency_ms = round((time.perf_counter() - started) * 1000, 1)
        return drafted

    def rephrase_answer(self, text: str, answer: str, language: str) -> str | None:
        """The KB answer rephrased by the LLM to fit the question, or None (use the KB text as it is) when
        there is no LLM, it fails, or its answer adds anything the entry does not say."""
        if self.llm is None or not self.llm.available:
            return None
        lang = "ko" if language == "ko" else "en"
        try:
            prompt = render_prompt("bot_rephrase", message=redact(text).text, language=lang, answer=answer)
            deadline = self.llm.deadline(min(REPHRASE_BUDGET, self.llm.message_budget))
            reply = self.llm.complete_json(prompt, Rephrased, max_tokens=400, deadline=deadline)
            rephrased = reply.value.answer.strip()
        except LLMError as exc:
            log.warning("event=rephrase_fallback reason=%s", type(exc).__name__)
            return None
        problems = added_facts(rephrased, answer, lang)
        if problems:
            log.info("event=rephrase_rejected codes=%s", ",".join(p.code for p in problems))
            return None
        return rephrased

    # -- shared -------------------------------------------------------------------------------------------
    def _answer_hit(self, result: TriageResult, search: SearchResult) -> Hit | None:
        if result.decision != "auto_answer" or result.faq_id is None:
            return None
        return next((h for h in search.faq_hits if h.entry_id == result.faq_id), None)

    def _tag_name(self, result: TriageResult, language: str) -> str:
        name = self.tag_names.get(result.tag or "", "") if result.tag != self.catch_all else ""
        if name == result.tag or (language == "en" and re.search(r"[가-힣]", name)):
            name = name and (result.tag or "").replace("_", " ")  # an id, not a name
        return name or ("문의" if language == "ko" else "this request")

    def _clarifying(self, search: SearchResult, hit: Hit | None, language: str, t: ReplyTemplates) -> str | None:
        """'혹시 …' about the entry the customer may have meant: the candidate of a hand-off, or the runner-up
        when two entries are about equally close (only when the KB speaks the customer's language)."""
        faq = search.faq_hits
        if hit is None and faq:
            question = self.snapshot.entries[faq[0].entry_id].question
        elif hit is not None and len(faq) > 1 and faq[0].dense - faq[1].dense < AMBIGUOUS_DENSE_GAP:
            question = self.snapshot.entries[faq[1].entry_id].question
        else:
            return None
        if detect_language(question) != language:
            return None
        return t.render("clarify", question=question.rstrip("?？.。 "))

    def _alternative(self, hit: Hit | None) -> str | None:
        if hit is None:
            return None
        value = self.snapshot.entries[hit.entry_id].metadata.get("alternative")
        return str(value) if value else None

    def _sources(self, ids: list[str]) -> list[str]:
        out = []
        for entry_id in ids:
            entry = self.snapshot.entries.get(entry_id)
            if entry is not None:
                out += [entry.answer, entry.url or "", str(entry.metadata.get("alternative") or "")]
        return out

    # -- template path ------------------------------------------------------------------------------------
    def _template_draft(self, text: str, language: str, result: TriageResult, search: SearchResult,
                        hit: Hit | None, signals: Signals) -> Drafted:
        t = reply_templates(language)
        situation = signals.situation
        kind = reply_kind(text, signals, hit is not None, result.duplicate_of is not None)
        found = situation or "none"
        tag_name = self._tag_name(result, language)
        level = result.context.explanation_level if result.context else "standard"
        restated = restate(text, situation)
        alternative = self._alternative(hit)
        entry = self.snapshot.entries[hit.entry_id] if hit else None
        asks = [] if hit or kind in ("praise", "feature_request") else missing_info(
            text, f"{result.tag or ''} {tag_name}", language)
        need_key = kind if kind in ("praise", "feature_request") else "how_to" if entry and found not in TROUBLE \
            else found
        need = RealNeed(
            real_need=str(entry.metadata.get("real_need") or "") if entry and entry.metadata.get("real_need")
            else t.render(f"real_need.{need_key}", tag_name=tag_name, question=entry.question if entry else ""),
            confirm=t.render("confirm", restated=restated),
            clarifying_question=None if kind in ("praise", "feature_request") else self._clarifying(
                search, hit, language, t),
            alternative=alternative,
            missing_info=asks,
        )
        empathy = [t.render(f"thanks.{kind}")] if t.has(f"thanks.{kind}") else []
        if result.duplicate_of or signals.says_repeat:
            empathy.append(t.render("repeat"))
        elif signals.anger:
            empathy.append(t.render("anger"))
        elif kind == "complaint":
            empathy.append(t.render("complaint"))
        if not empathy or found in TROUBLE:  # thanks alone is the warmest start for a report or a compliment
            empathy.insert(0, t.render(f"empathy.{found}", tag_name=tag_name))
        if hit is not None and entry is not None:
            answer = t.render("answer", answer=answer_at_level(entry.answer, level))
            answer += "\n" + t.render("citation", source_title=entry.question, source_url=entry.url)
        else:
            answer = t.render(f"no_answer.{kind if t.has(f'no_answer.{kind}') else 'handoff'}", tag_name=tag_name)
            if asks:
                answer += " " + t.render("missing_info", missing_info=asks)
        extra = []
        if alternative:
            extra.append(t.render("alternative", alternative=alternative))
        if result.context and result.context.update_app_to and kind == "bug_report":
            extra.append(t.render("app_update", latest=result.context.update_app_to))
        closing = t.render(f"closing.{level}")
        paragraphs = [" ".join(empathy), need.confirm, answer.strip(), *extra, closing]
        draft = "\n\n".join(p for p in paragraphs if p)
        cited = [hit.entry_id] if hit else []
        info = DraftInfo(source="template", kind=kind, cited_ids=cited, prompt=f"replies/{t.language}.yaml",
                         prompt_hash=t.hash,
                         structure={"empathy": bool(empathy), "confirm": True, "answer": bool(answer.strip()),
                                    "closing": True})
        return Drafted(need, draft, lint_reply(draft, language, self._sources(cited), text), info)

    # -- LLM path -----------------------------------------------------------------------------------------
    def _llm_draft(self, text: str, language: str, result: TriageResult, search: SearchResult, hit: Hit | None,
                   template: Drafted, calls: list[LLMCall]) -> Drafted:
        """The LLM's real need and reply; ``calls`` collects every answered call (for the cost)."""
        assert self.llm is not None
        redaction = redact(text)
        # the real need may draw alternatives from the candidates; the reply answers only from the entry the
        # answering stage trusted, and from none on a hand-off (a wrong confident answer is worse)
        candidates = [self._entry_view(h) for h in ([hit] if hit else search.faq_hits[:2])]
        answer_from = [self._entry_view(hit)] if hit else []
        notes = result.context.notes if result.context else []
        common: dict[str, Any] = dict(message=redaction.text, language=language,
                                      tag_name=self._tag_name(result, language), context_notes=notes)
        deadline = self.llm.deadline()  # the need, the reply and its regeneration share one budget
        need_reply = self.llm.complete_json(render_prompt("real_need", **common, faq=candidates), RealNeed,
                                            deadline=deadline)
        calls.append(need_reply.call)
        # the agent reads these notes: they name personal data ("[phone]") instead of repeating it
        need = RealNeed.model_validate({k: (label_placeholders(v) if isinstance(v, str) else
                                            [label_placeholders(x) for x in v] if isinstance(v, list) else v)
                                        for k, v in need_reply.value.model_dump().items()})
        allowed = {e["id"] for e in answer_from}
        level = result.context.explanation_level if result.context else "standard"
        kind = template.info.kind
        problems: list[Finding] = []
        regenerated = False
        for _ in range(2):  # one regeneration when the first draft fails lint
            prompt = render_prompt("reply_draft", **common, faq=answer_from, kind=kind, need=need_reply.value,
                                   explanation_level=level)
            reply = self.llm.complete_json(prompt, ReplyParts, deadline=deadline)
            regenerated = len(calls) > 1
            calls.append(reply.call)
            parts = reply.value
            draft = redaction.restore("\n\n".join(p.strip() for p in (parts.empathy, parts.confirm, parts.answer,
                                                                        parts.alternative, parts.closing) if p.strip()))
            cited = [c for c in parts.cited_ids if c in allowed]
            problems = lint_reply(draft, language, self._sources(list(allowed)), text)
            problems += [Finding("unknown_citation", f"KB에 없는 항목을 인용했어요 ({c})")
                         for c in parts.cited_ids if c not in allowed]
            if not problems:
                info = DraftInfo(
                    source="llm", kind=kind, cited_ids=cited, prompt=prompt.name, prompt_hash=prompt.hash,
                    regenerated=regenerated,
                    structure={"empathy": bool(parts.empathy.strip()), "confirm": bool(parts.confirm.strip()),
                               "answer": bool(parts.answer.strip()), "closing": "?" in parts.closing})
                return Drafted(need, draft, problems, info)
        log.info("event=draft_fallback reason=lint codes=%s", ",".join(p.code for p in problems))
        template.info.fallback_reason = "the LLM draft failed lint twice: " + "; ".join(p.code for p in problems)
        template.info.regenerated = True
        return Drafted(need, template.draft, template.lint, template.info)

    def _entry_view(self, hit: Hit) -> dict[str, Any]:
        entry = self.snapshot.entries[hit.entry_id]
        return {"id": entry.id, "question": entry.question, "answer": entry.answer, "url": entry.url}


def _total(values: Any) -> int | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None
