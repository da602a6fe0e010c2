"""The real need behind a message and a reply draft for an agent to review, with or without an LLM.

Every draft follows one structure: specific empathy (one sentence, where the situation calls for it) → the
protective step when money or an account is at risk, in the same opening paragraph → the situation confirmed in
our words (never the customer's or an FAQ title quoted back) → the answer from the KB with its source (numbered
steps for new customers, whole otherwise) → what is still needed → a better alternative from the KB → a closing
question, thanking customers who report a bug or suggest a feature. Which wording fills it depends on the *kind* of
message (``reply_kind``).

Template path (the default, no LLM): ``prompts/replies/<lang>.yaml`` filled with the message's specifics.
LLM path: ``prompts/real_need.prompt.md`` then ``prompts/reply_draft.prompt.md`` on the redacted message;
the reply is linted and regenerated once if it fails, then falls back to the template. The calls of one
message share one budget (``TRIAGE_LLM_MESSAGE_BUDGET``); any LLM failure (unreachable, hanging, a broken
answer, the budget spent) falls back to the template. Personal data never reaches the LLM: it sees
placeholders, restored in what the agent reads.

Over 400 lines because both paths read one plan (``DraftPlan``: at risk or not, the entry to answer from, the
protective step) and the same message readings; apart, a rule of what a draft says would live in two modules.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field

from knowledge.index import Snapshot
from knowledge.search import Hit, SearchResult
from knowledge.sources import FaqEntry
from triage.errors import LLMError
from triage.llm import LLMCall, LLMClient
from triage.models import DraftInfo, RealNeed, TriageResult
from triage.prompting import Templates, render_prompt, reply_templates
from triage.stages.empathy import Empathy, read_empathy
from triage.stages.holding import hold_topic
from triage.stages.language import detect_language
from triage.stages.privacy import find_personal_data, label_placeholders, redact
from triage.stages.reply_lint import APOLOGY, Finding, LintContext, bot_promises, lint_reply, without_person_promises
from triage.stages.signals import REFINES, SITUATIONS, URGENT, Hardship, Signals, already_given
from triage.taxonomy import NEEDS_REVIEW, Taxonomy

log = logging.getLogger("triage.drafting")

PRAISE = re.compile(r"칭찬|감사드|감사합니다|고마워|고맙습니다|(?<!불)친절(해서|하셔서|했어요|하시)"
                    r"|번창하세요|만족(해요|하고|합니다)|잘\s*(쓰고|이용하고)\s*있어요"
                    r"|최고(예요|에요|입니다)"
                    r"|\bthank(s| you)\b|great\s+(service|job)|\blove\b", re.IGNORECASE)
FEATURE = re.compile(r"좋겠어요|좋겠네요|(기능|메뉴|옵션|버튼)\S*\s*(좀\s*)?(만들어|추가해|넣어|늘려)\s*(주|줬|달)"
                     r"|생기면|생겼으면|제안|건의"
                     r"|기능.{0,8}(있으면|없나요)"
                     r"|feature\s+request|would\s+be\s+(nice|great|helpful)|please\s+add|wish\s+(you|there)",
                     re.IGNORECASE)
BUG = re.compile(r"버그|오류|에러|튕(겨|기|김)|꺼져|꺼지|먹통|하얀\s*화면"
                 r"|(앱|화면|결제창|페이지)\S*\s*(이|가)?\s*(멈춰|멈추)"
                 r"|(앱|화면|로딩|페이지)\S*\s*(너무\s*)?(느려|느림)|안\s*(눌러|열려)"
                 r"|\bbug\b|glitch|crash|\berror\b|freez", re.IGNORECASE)
COMPLAINT = re.compile(r"불친절|불만|항의|태도가|무시하|complain|rude|disrespect", re.IGNORECASE)
QUESTION = re.compile(r"\?|(나요|까요|가요|는지|ㄴ지|어요|여요)\s*$"
                      r"|^(how|what|when|where|why|can|could|do|does|is|are)\b",
                      re.IGNORECASE)
# The message asks something (a conditional answer fits a question, not "call me back")
ASKS = re.compile(r"\?|(나요|까요|가요|는지|ㄴ지|죠)(?=\s*[.!]*(\s|$))|얼마|어떻게|언제|어디서|어디로"
                  r"|방법|알려\s*(줘|주)|몇\s*(개|번|일|시)"
                  r"|\b(how|what|when|where|why|which|can i|could i|do you|is there|are there)\b",
                  re.IGNORECASE)
TROUBLE = ("fraud_victim", "money_at_risk", "money_overdue", "account_taken", "card_lost", "phone_lost", "outage",
           "blocked")
# customers often leave out the full stop; "다" ends a sentence only as an ending ("했다", "합니다"), not as the
# adverb in "다 냈어요"
SENTENCE_END = re.compile(r"(?<=[.!?。])\s+|(?<=[요죠까])\s+(?=\S)|(?<=[니었았였했겠는]다)\s+(?=\S)|\n+")
ANSWER_SENTENCE_END = re.compile(r"(?<=[.!?。])\s+|\n+")  # KB answers are punctuated ("그보다 적으면" is one sentence)
EMOTICONS = re.compile(r"(?<!\S)[ㅋㅎㅠㅜㅡ;^~.]{2,}(?!\S)|\s*[ㅋㅎㅠㅜ]{2,}")  # ㅠㅠ, ㅋㅋ, ㅡㅡ, ^^: not quoted back
# A hand-off's draft answers from its candidate entry when the answer model gives it at least this probability of
# being the right entry: an agent checks every draft, so a draft may use an entry too uncertain for the bot. On the
# tuning files (demo, HWU64, CLINC150, Bitext, paraKQC; also thinned to two phrasings per entry), the candidate was
# right for 0.65-0.94 of the hand-offs at 0.6 or more (12-33% of them); at 0.5, for 0.56-0.84.
DRAFT_CONFIDENCE = 0.6
# Below it, down to this probability, a question still gets the candidate's answer first, and the closing asks
# whether it was the one they meant: the candidate was right for 0.46-0.72 of the hand-offs at 0.3 or more.
HEDGED_CONFIDENCE = 0.3
# money or an account at risk: protect first
PROTECTIVE = ("fraud_victim", "money_at_risk", "account_taken", "card_lost", "phone_lost")
# money missing past the time it was due: the draft says the time has passed and what will be checked, never the
# candidate's how-to (the customer knows how long it takes: that time is what has passed)
OVERDUE = "money_overdue"
FRAUD = "fraud_victim"  # wronged by a fraudster, not by us: no apology in the draft
# A P1 tag alone marks money or an account at risk only when given with at least this confidence: a greeting
# ("ㅎㅇ") or a question about a new phone model can get a P1 tag at 0.08-0.11 on a small taxonomy.
AT_RISK_TAG_CONFIDENCE = 0.5
# a customer asking for a person, and nothing else: the agent reading the draft is that person
WANTS_PERSON = re.compile(r"^\W*((상담사|상담원|사람|직원|담당자)\S{0,3}\s*(좀\s*)?"
                          r"(연결|바꿔|불러|대화|통화|얘기|이야기)"
                          r"|\b(talk|speak|chat)\s+(to|with)\s+(a\s+|an\s+)?(human|person|agent|real\s+person|someone)\b"
                          r"|\b(human|real\s+person|agent)\s*,?\s*please\b)", re.IGNORECASE)
STAFF = re.compile(r"상담사|상담원|직원|기사|매니저|담당자|선생님|(그|저|이|배달|상담)\s*분(께|이|한테)"
                   r"|님\s*(덕분|이|께|너무|정말|친절)"
                   r"|\b(agent|staff|driver|employee|representative|rep|he|she)\b", re.IGNORECASE)
VAGUE_LETTERS = 10  # a short hand-off that asks nothing ("ㅎㅇ", "?", "테스트입니다") is asked what it needs
PROTECTIVE_HITS = 3  # the KB's protective step is looked for among this many best FAQ hits
# The support bot waits for its rephrased answer: a rephrasing that takes longer is dropped for the KB text
REPHRASE_BUDGET = 5.0
AMBIGUOUS_DENSE_GAP = 0.02  # the runner-up entry this close in similarity → ask which one was meant
MAX_RESTATED = 60


class ReplyParts(BaseModel):
    """The LLM's reply draft, part by part (its output schema; lengths are left to lint, see RealNeed)."""

    empathy: str = ""  # empty where nothing calls for empathy (a plain question)
    confirm: str = ""  # empty where the protective step opens the reply (never a confirmation after instructions)
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


@dataclass(frozen=True)
class DraftPlan:
    """What a draft rests on, decided once for the template and the LLM path alike."""

    found: str  # the situation the message describes, or "none"
    at_risk: bool  # money or an account at risk (``Drafter._at_risk``)
    entry: FaqEntry | None  # the entry answered from: the bot's, or a hand-off's candidate for the agent to check
    candidate: bool  # ``entry`` is a hand-off's candidate, not the bot's answer
    hedged: FaqEntry | None  # a less likely candidate, offered on a condition to a question
    protect: str  # the protective paragraph that opens the draft, or ""
    protected_by: FaqEntry | None  # the entry whose protective step ``protect`` gives
    empathy: Empathy = field(default_factory=Empathy)  # what the draft says to the situation (``read_empathy``)
    hold: str | None = None  # where no entry answers: what the holding reply says will be checked (``hold_topic``)


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
    if FEATURE.search(text) and found not in (*PROTECTIVE, "outage"):
        return "feature_request"
    if BUG.search(text) and found not in PROTECTIVE:
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
    trouble = next((p for name, p, _ in SITUATIONS if name == found), None) if found in TROUBLE else None
    best = next((s for s in candidates if trouble and trouble.search(s)), None)
    best = best or next((s for s in candidates if QUESTION.search(s.strip())), candidates[0])
    best = EMOTICONS.sub(" ", best).strip().rstrip(".!。")
    if len(best) > MAX_RESTATED:
        cut = best[:MAX_RESTATED].rsplit(" ", 1)[0]
        best = cut + "…"
    return best.replace('"', "'")


def opening(empathy: str, protect: str) -> list[str]:
    """The draft's first paragraphs: where money or an account is at risk, one sentence of empathy and the
    protective step together (the step is still the first thing the customer is told to do); else the empathy."""
    if protect.strip() and empathy.strip():
        return [empathy.strip() + "\n" + protect.strip()]
    return [empathy, protect]


def situations_of(entry: FaqEntry) -> set[str | None]:
    """The situations an FAQ entry's own phrasings (its question and examples) describe."""
    return {Signals.read(said).situation for said in (entry.question, *entry.examples)}


# a sentence that tells the customer to do something: a step worth a number
INSTRUCTION = re.compile(r"(주세요|하세요|으세요|보세요|세요)[.!]?$|눌러|누르|들어가|고르|골라|선택|입력|켜\s|끄고|꺼\s"
                         r"|\b(tap|click|go\s+to|open|select|enter|choose|press)\b", re.IGNORECASE)


def answer_at_level(answer: str, level: str) -> str:
    """The KB answer as numbered steps for a new customer where it holds two steps or more (facts are not
    numbered: blind readers flagged "1. 확인되면 경고가 가요"); whole otherwise (cutting it for a veteran dropped the
    very sentence some customers needed: that data roaming needs a pass of its own)."""
    parts = [p.strip() for p in ANSWER_SENTENCE_END.split(answer) if p.strip()]
    if level == "step_by_step" and sum(bool(INSTRUCTION.search(p)) for p in parts) >= 2:
        return "\n".join(f"{i}. {s}" for i, s in enumerate(parts, 1))
    return answer


# an entry's "네," answers its own yes-or-no question: not a question of when, how much or how, nor a different
# question of the customer's that the entry only may answer ("돌려받을 수 있나요?" → "네, 선물은 이렇게 해요")
YES = re.compile(r"^\s*(네|예|yes)\s*[,.!]\s*", re.IGNORECASE)
OPEN_QUESTION = re.compile(r"언제|얼마|며칠|몇|어떻게|어디|왜|뭐|무엇|무슨|어느|\b(when|how|what|where|why|which)\b",
                           re.IGNORECASE)


def without_yes(answer: str, text: str, sure: bool) -> str:
    """``answer`` without its opening "네," where the customer asked an open question or the entry is not ``sure``
    to be the one they meant (a candidate for the agent to check)."""
    if YES.match(answer) and (not sure or OPEN_QUESTION.search(text)):
        rest = YES.sub("", answer, count=1)
        return rest[:1].upper() + rest[1:]
    return answer


def missing_info(text: str, asks: tuple[str, ...]) -> list[str]:
    """What to ask the customer for (at most three of the taxonomy's ``asks``), leaving out what the message
    already gives."""
    return [ask for ask in asks if not already_given(ask, text)][:3]


class Drafter:
    """Drafts for one knowledge base; ``llm`` None means the template path only. The taxonomy names tags, says
    what to ask for (``ask_for``) and which tags are P1 (their FAQ entries hold protective steps)."""

    def __init__(self, snapshot: Snapshot, llm: LLMClient | None = None, taxonomy: Taxonomy | None = None):
        self.snapshot = snapshot
        self.llm = llm
        self.taxonomy = taxonomy
        self.tag_names = taxonomy.names if taxonomy else {}
        self.catch_all = taxonomy.catch_all if taxonomy else NEEDS_REVIEW

    def draft(self, text: str, result: TriageResult, search: SearchResult, signals: Signals | None = None) -> Drafted:
        """``text`` is the message without instructing sentences, ``signals`` what it says (read from ``text``
        when not given); ``result`` holds the earlier stages."""
        # Korean-first: a message without words ("?") gets a Korean draft; other languages an English one
        language = "ko" if result.language == "ko" or not re.search(r"[^\W\d_]", text) else "en"
        hit = self._answer_hit(result, search)
        signals = signals or Signals.read(text)
        plan = self._plan(text, language, result, search, hit, signals)
        template = self._template_draft(text, language, result, search, hit, signals, plan)
        if self.llm is None or not self.llm.available:
            if self.llm is not None:
                template.info.fallback_reason = "the LLM endpoint is unavailable (circuit open)"
            return template
        calls: list[LLMCall] = []
        started = time.perf_counter()
        try:
            drafted = self._llm_draft(text, language, result, search, hit, plan, template, calls)
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
        problems = added_facts(rephrased, answer, lang) + bot_promises(rephrased)  # the bot never promises a person
        if problems:
            log.info("event=rephrase_rejected codes=%s", ",".join(p.code for p in problems))
            return None
        return rephrased

    # -- shared -------------------------------------------------------------------------------------------
    def _answer_hit(self, result: TriageResult, search: SearchResult) -> Hit | None:
        if result.decision != "auto_answer" or result.faq_id is None:
            return None
        return next((h for h in search.faq_hits if h.entry_id == result.faq_id), None)

    def _candidate_hit(self, result: TriageResult, search: SearchResult, at_least: float = DRAFT_CONFIDENCE,
                       language: str | None = None) -> Hit | None:
        """The hand-off's candidate entry when it is likely enough to be right for an agent to check
        (``at_least``) and written in the customer's ``language``; never for a distrusted entry or an uncalibrated
        KB. A message with instructions in it was searched without them, so its candidate answers the request
        around them."""
        if (result.decision != "handoff"
                or result.handoff_reason not in ("not_confident", "ambiguous", "prompt_injection", "urgent_situation")
                or (result.confidence or 0.0) < at_least):
            return None
        hit = next((h for h in search.faq_hits if h.entry_id == result.candidate_faq_id), None)
        if hit is None or (language and detect_language(self.snapshot.entries[hit.entry_id].answer) != language):
            return None
        return hit

    def _protective_entry(self, search: SearchResult, language: str, found: str,
                          tag: str | None = None) -> FaqEntry | None:
        """The FAQ entry with the step that protects the customer's money or account: among the best hits, one
        in the customer's language marked ``protective_step``, or tagged with a P1 tag of the taxonomy and phrased
        as an emergency (its question or examples read as an urgent situation). A situation
        that refines another (a fraud victim, a lost phone) takes only an entry about it, and such an entry serves
        no other: an account takeover's "change your password" is no step for money sent to a fraudster, nor is the
        fraud's payment stop one for a double charge. An entry about neither the message's situation nor its ``tag``
        is no step for it either: a passenger harassed in a taxi must not get the account-takeover steps."""
        for h in search.faq_hits[:PROTECTIVE_HITS]:
            entry = self.snapshot.entries[h.entry_id]
            if detect_language(entry.answer) != language:
                continue
            about = situations_of(entry)
            if found not in about and (found in REFINES or about & REFINES.keys() or tag not in entry.tags):
                continue
            if entry.metadata.get("protective_step"):
                return entry
            # an entry under an urgent tag is a protective step only where its own phrasings describe an emergency:
            # a fraud's "documents for the police" (a how-to) is no step for a double charge
            if about & URGENT and self.taxonomy is not None and any(
                    tag in self.taxonomy.tags and self.taxonomy.priority(tag) == "P1" for tag in entry.tags):
                return entry
        return None

    def _asks(self, result: TriageResult, language: str) -> tuple[str, ...]:
        """The taxonomy's ``ask_for`` of the message's tag, those written in the customer's language."""
        if self.taxonomy is None or not result.tag or result.tag == self.catch_all:
            return ()
        return tuple(a for a in self.taxonomy.ask_for(result.tag) if detect_language(a) == language)

    def _tag_name(self, result: TriageResult, language: str) -> str:
        name = self.tag_names.get(result.tag or "", "") if result.tag != self.catch_all else ""
        if name == result.tag or (language == "en" and re.search(r"[가-힣]", name)):
            name = name and (result.tag or "").replace("_", " ")  # an id, not a name
        return name or ("문의" if language == "ko" else "this request")

    def _clarifying(self, search: SearchResult, hit: Hit | None, language: str, t: Templates) -> str | None:
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

    @staticmethod
    def _alternative(entry: FaqEntry | None) -> str | None:
        value = entry.metadata.get("alternative") if entry else None
        return str(value) if value else None

    def _sources(self, ids: list[str]) -> list[str]:
        out = []
        for entry_id in ids:
            entry = self.snapshot.entries.get(entry_id)
            if entry is not None:
                out += [entry.answer, entry.url or "", str(entry.metadata.get("alternative") or "")]
        return out

    # -- template path ------------------------------------------------------------------------------------
    def _plan(self, text: str, language: str, result: TriageResult, search: SearchResult, hit: Hit | None,
              signals: Signals) -> DraftPlan:
        """Whether money or an account is at risk, which entry the draft answers from (plainly or on a
        condition) and the protective paragraph that opens it."""
        found = signals.situation or "none"
        # money or an account at risk: the protective step and the agent's own look, never a candidate's how-to
        # (someone who cancelled and was still charged must not be told how to cancel)
        at_risk = self._at_risk(result, found, ASKS.search(text) is not None)
        no_how_to = at_risk or found == OVERDUE
        candidate = self._candidate_hit(result, search, language=language)
        # ... but an entry about that very situation is what the agent answers with ("두 번 결제됐어요" for a double
        # charge)
        if candidate is not None and no_how_to and (
                found not in situations_of(self.snapshot.entries[candidate.entry_id])):
            candidate = None
        source = hit or candidate
        hedged_hit = None if source or no_how_to or not ASKS.search(text) else self._candidate_hit(
            result, search, HEDGED_CONFIDENCE, language)
        level = result.context.explanation_level if result.context else "standard"
        protect, protected_by = self._protective(at_risk, found, search, level, reply_templates(language),
                                                 self.snapshot.entries[hit.entry_id] if hit else None, result.tag)
        entry = self.snapshot.entries[source.entry_id] if source else None
        hedged = self.snapshot.entries[hedged_hit.entry_id] if hedged_hit else None
        # the repeat-contact history: this customer's earlier message on the same issue (the priority rule
        # modifier:repeat_contact, or skipped:repeat_contact where the policy does not raise it)
        repeat = result.duplicate_of is not None or any(r.endswith(":repeat_contact") for r in result.priority_rules)
        answers = " ".join(e.answer for e in (entry, hedged) if e is not None) + " " + protect
        empathy = read_empathy(text, signals, Hardship.read(text), language, repeat,
                               may_apologize=not APOLOGY.search(answers))  # the KB's answer apologizes already
        hold = hold_topic(text, language) if entry is None and hedged is None and not protect else None
        return DraftPlan(found, at_risk, entry, hit is None and source is not None, hedged, protect, protected_by,
                         empathy, hold)

    def _template_draft(self, text: str, language: str, result: TriageResult, search: SearchResult,
                        hit: Hit | None, signals: Signals, plan: DraftPlan) -> Drafted:
        """Protective step first when money or an account is at risk, then one line of empathy that fits, what
        was asked, the answer with its source (the bot's entry, or on a hand-off the candidate an agent can
        check), what is still needed, and a closing question."""
        t = reply_templates(language)
        situation = signals.situation
        kind = reply_kind(text, signals, hit is not None, result.duplicate_of is not None)
        found, entry, hedged = plan.found, plan.entry, plan.hedged
        protect, protected_by = plan.protect, plan.protected_by
        tag_name = self._tag_name(result, language)
        level = result.context.explanation_level if result.context else "standard"
        alternative = self._alternative(entry)
        # identifiers and details are asked for only where an account must be looked at, never for a question
        # the KB answers or a how-to (someone who has not ordered yet has no order number)
        looks_up = kind in ("account_specific", "complaint", "bug_report") or found in TROUBLE
        asks = missing_info(text, self._asks(result, language)) if looks_up and hit is None else []
        # a greeting, a test or "확인 부탁드립니다" says nothing to answer: ask what they need
        vague = (kind == "handoff" and entry is None and hedged is None and not signals.situation
                 and len(re.findall(r"[^\W\d_]", text)) < VAGUE_LETTERS and not ASKS.search(text.strip("?")))
        need_key = kind if kind in ("praise", "feature_request") else "how_to" if entry and found not in TROUBLE \
            else found
        asked = entry or hedged
        # what the agent reads as understood; the draft confirms only a situation in words of its own, never by
        # quoting the customer or an FAQ title back (both read as a parrot and misstate a loose match)
        said = t.render(f"confirm.{found}") if t.has(f"confirm.{found}") else ""
        if said:
            confirm = said
        elif asked is not None and detect_language(asked.question) == language:
            confirm = t.render("confirm.entry", question=asked.question.rstrip("?？.。 "))
        else:
            confirm = t.render("confirm.restated", restated=restate(text, situation))
        need = RealNeed(
            real_need=str(entry.metadata.get("real_need") or "") if entry and entry.metadata.get("real_need")
            else t.render(f"real_need.{need_key}", tag_name=tag_name, question=entry.question if entry else ""),
            confirm=confirm,
            clarifying_question=None if kind in ("praise", "feature_request") else self._clarifying(
                search, hit, language, t),
            alternative=alternative,
            missing_info=asks,
        )
        # a line only where the situation calls for one, naming it (a plain question gets none); praise and ideas
        # are thanked, a bug report where nothing else is said to it
        empathy = plan.empathy.render(t)
        if t.has(f"thanks.{kind}") and (kind != "bug_report" or not empathy):
            # praise of a person is passed on to them; praise of the service is not someone's to pass on
            thanks = "thanks.praise_service" if kind == "praise" and not STAFF.search(text) else f"thanks.{kind}"
            empathy.insert(0, t.render(thanks))
        answer = ""
        if asked is not None and asked is not protected_by:  # the entry's answer; a hedged one asks back after
            answer = t.render("answer", answer=answer_at_level(without_yes(asked.answer, text, hit is not None), level))
            answer += "\n" + t.render("citation", source_title=asked.question, source_url=asked.url)
        elif entry is None and not protect and (vague or (WANTS_PERSON.search(text) and not signals.situation)):
            answer = t.render("no_answer.vague" if vague else "no_answer.wants_person")
        elif entry is None and not protect:
            # a holding reply says what will be checked: the customer's question, else the message's tag
            tag = self.tag_names.get(result.tag or "", "") if result.tag != self.catch_all else ""
            answer = t.render(f"no_answer.{kind if t.has(f'no_answer.{kind}') else 'handoff'}", tag_name=tag_name,
                              topic=plan.hold or "", tag=tag if detect_language(tag) == language else "")
        if kind == "feature_request" and asked is not None:  # answered from the KB, and still passed on
            passed_on = t.render("no_answer.feature_request")
            passed_on = without_person_promises(passed_on) if hit is not None else passed_on
            answer += "\n\n" + passed_on if passed_on else ""
        if asks:
            answer = (answer + " " + t.render("missing_info", missing_info=asks)).strip()
        if APOLOGY.search(answer) or APOLOGY.search(protect):  # the KB's text apologizes already: once is enough
            empathy = [line for line in empathy if not APOLOGY.search(line)]
        if found == FRAUD:  # the fraudster wronged them, not us: an apology would say we did
            empathy = [line for line in empathy if not APOLOGY.search(line)]
        extra = []
        if alternative:
            extra.append(t.render("alternative", alternative=alternative))
        if result.context and result.context.update_app_to and kind == "bug_report":
            extra.append(t.render("app_update", latest=result.context.update_app_to))
        # asking what they need, or whether the hedged answer was the one, is the closing question
        closing = ("" if vague else t.render("hedged_closing") if hedged and not entry
                   else t.render("closing.steps") if re.search(r"^1\. ", answer, re.MULTILINE)
                   else t.render("closing.standard"))
        # the situation confirmed before the answer, or not at all: never after the protective step's instructions
        confirmed = bool(said) and not vague and kind not in ("praise", "feature_request") and not protect
        if hit is not None:  # the bot's answer: no line of ours promises what a person will do, since nobody will
            empathy = [kept for line in empathy if (kept := without_person_promises(line))]
            extra = [kept for line in extra if (kept := without_person_promises(line))]
        paragraphs = [*opening(" ".join(empathy), protect), said if confirmed else "", answer.strip(), *extra, closing]
        draft = "\n\n".join(p for p in paragraphs if p)
        cited = list(dict.fromkeys(e.id for e in (protected_by, entry, hedged) if e is not None))
        info = DraftInfo(source="template", kind=kind, cited_ids=cited, prompt=f"replies/{t.language}.yaml",
                         prompt_hash=t.hash,
                         structure={"empathy": bool(empathy), "confirm": confirmed,
                                    "answer": bool(answer.strip() or protect), "closing": True})
        lint_context = self._lint_context(plan, bool(entry or hedged))
        return Drafted(need, draft, lint_reply(draft, language, self._sources(cited), text, lint_context), info)

    def _lint_context(self, plan: DraftPlan, entry_answers: bool) -> LintContext:
        return LintContext(tag_names=tuple(self.tag_names.values()), entry_answers=entry_answers,
                           at_risk=plan.at_risk, bot_answer=plan.entry is not None and not plan.candidate,
                           victim=plan.empathy.victim, repeat_contact=plan.empathy.repeat_contact)

    def _at_risk(self, result: TriageResult, found: str, asks: bool) -> bool:
        """Money or an account at risk: the message says so, or it has a P1 tag given with some confidence and
        describes trouble other than an outage or asks nothing (a question about a security feature, with
        nothing wrong, is answered, not met with "we are acting on it")."""
        p1_tag = (self.taxonomy is not None and result.tag in self.taxonomy.tags and result.tag != self.catch_all
                  and self.taxonomy.priority(result.tag) == "P1"
                  and (result.tag_confidence or 0.0) >= AT_RISK_TAG_CONFIDENCE)
        return found in PROTECTIVE or (p1_tag and found not in ("outage", OVERDUE) and (found in TROUBLE or not asks))

    def _protective(self, at_risk: bool, found: str, search: SearchResult, level: str,
                    t: Templates, answered: FaqEntry | None = None,
                    tag: str | None = None) -> tuple[str, FaqEntry | None]:
        """The draft's first paragraph when money or an account is at risk (``_at_risk``): the KB's protective
        step with its source, or, where the KB has none, the customer's own first step where it is the same at any
        company and that an agent is acting on it now; for money past its time, that the time has passed and what
        an agent will check. The bot's answer (``answered``: its entry) promises no agent's action, since nobody acts
        on the message after it; an entry the KB marks as the situation's self-service answer is the step itself."""
        bot = answered is not None
        if (found == OVERDUE and not at_risk) or (answered is not None and answered.urgent_self_service):
            return ("" if bot else t.render("overdue")), None
        if not at_risk:
            return "", None
        entry = self._protective_entry(search, t.language, found, tag)
        if entry is None:  # the customer's own first step where it is the same at any company, then ours
            first = t.render(f"protective.{found}") if t.has(f"protective.{found}") else ""
            acting = "" if bot else t.render(
                f"protective.acting.{found}" if t.has(f"protective.acting.{found}") else "protective.acting.default")
            return " ".join(p for p in (first, acting) if p), None
        step = str(entry.metadata.get("protective_step") or answer_at_level(entry.answer, level))
        return (t.render("protective.step", step=step) + "\n"
                + t.render("citation", source_title=entry.question, source_url=entry.url)), entry

    # -- LLM path -----------------------------------------------------------------------------------------
    def _llm_draft(self, text: str, language: str, result: TriageResult, search: SearchResult, hit: Hit | None,
                   plan: DraftPlan, template: Drafted, calls: list[LLMCall]) -> Drafted:
        """The LLM's real need and reply; ``calls`` collects every answered call (for the cost). It gets what the
        template had: the entry to answer from (the bot's, or a hand-off's candidate for the agent to check),
        what to ask for, and the protective step, which opens the draft as the KB words it."""
        assert self.llm is not None
        redaction = redact(text)
        # the real need may draw alternatives from the candidates; the reply answers only from the entry the
        # answering stage trusted, or from a candidate likely enough for the agent to check
        candidates = [self._entry_view(self.snapshot.entries[h.entry_id])
                      for h in ([hit] if hit else search.faq_hits[:2])]
        answer_from = [self._entry_view(plan.entry)] if plan.entry else []
        level = result.context.explanation_level if result.context else "standard"
        protect, protected_by = plan.protect, plan.protected_by
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
        allowed = {e["id"] for e in answer_from} | ({protected_by.id} if protected_by else set())
        kind = template.info.kind
        problems: list[Finding] = []
        regenerated = False
        # what calls for empathy, decided as for the template (the template's lines are the example); it quotes the
        # customer's words, so it is redacted like the message
        example = " ".join(plan.empathy.render(reply_templates(language)))
        empathy = dict(names=label_placeholders(redact(plan.empathy.names).text),
                       example=label_placeholders(redact(example).text), apology=plan.empathy.apology,
                       victim=plan.empathy.victim, repeat_contact=plan.empathy.repeat_contact)
        hold = label_placeholders(redact(plan.hold).text) if plan.hold else None
        for _ in range(2):  # one regeneration when the first draft fails lint
            prompt = render_prompt("reply_draft", **common, faq=answer_from, kind=kind, need=need_reply.value,
                                   explanation_level=level, candidate=plan.candidate,
                                   asks=template.need.missing_info, protected=bool(protect), empathy=empathy,
                                   hold=hold)
            reply = self.llm.complete_json(prompt, ReplyParts, deadline=deadline)
            regenerated = len(calls) > 1
            calls.append(reply.call)
            parts = reply.value
            confirm = "" if protect else parts.confirm  # never a confirmation after the protective instructions
            draft = redaction.restore("\n\n".join(p.strip() for p in (*opening(parts.empathy, protect), confirm,
                                                                        parts.answer, parts.alternative, parts.closing)
                                                    if p.strip()))
            cited = list(dict.fromkeys([*([protected_by.id] if protected_by else []),
                                        *(c for c in parts.cited_ids if c in allowed)]))
            problems = lint_reply(draft, language, self._sources(list(allowed)), text,
                                  self._lint_context(plan, bool(answer_from)))
            problems += [Finding("unknown_citation", f"KB에 없는 항목을 인용했어요 ({c})")
                         for c in parts.cited_ids if c not in allowed]
            if not problems:
                info = DraftInfo(
                    source="llm", kind=kind, cited_ids=cited, prompt=prompt.name, prompt_hash=prompt.hash,
                    regenerated=regenerated,
                    structure={"empathy": bool(parts.empathy.strip()), "confirm": bool(confirm.strip()),
                               "answer": bool(parts.answer.strip()), "closing": "?" in parts.closing})
                return Drafted(need, draft, problems, info)
        log.info("event=draft_fallback reason=lint codes=%s", ",".join(p.code for p in problems))
        template.info.fallback_reason = "the LLM draft failed lint twice: " + "; ".join(p.code for p in problems)
        template.info.regenerated = True
        return Drafted(need, template.draft, template.lint, template.info)

    @staticmethod
    def _entry_view(entry: FaqEntry) -> dict[str, Any]:
        return {"id": entry.id, "question": entry.question, "answer": entry.answer, "url": entry.url}


def _total(values: Any) -> int | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None
