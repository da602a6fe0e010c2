"""Reply lint: what an agent should fix in a draft before sending it (shown with every draft).

Each finding is ``"code: explanation"``. Codes: ``boilerplate`` (a phrase from ``prompts/lint/``),
``repeated_apology``, ``personal_data`` (a phone, card, … that the KB does not contain), ``placeholder`` (a
redaction placeholder left in), ``unsupported_promise`` (a refund, compensation or coupon the KB does not
mention), ``unsupported_claim`` (an amount, duration or date that is neither in the KB nor in the message),
``link_not_in_kb``, ``wrong_language``, ``no_closing_question``, ``too_short``, ``too_long``; with the draft's
``LintContext``: ``category_empathy`` (a tag name used as empathy), ``asks_for_given`` (asking for what the message
already gives), ``puts_off_answer`` ("get back to you" when a KB entry answers), ``no_protective_step`` (money or an
account at risk, and no lock, freeze, report or agent acting now), ``bot_promises_action`` (the bot's answer promises
what a person will do: "제가 확인하고 조치할게요", "our team will contact you"; nobody will, the bot answered).

Empathy that fits (``triage.stages.empathy``): ``confirm_after_answer`` (a restatement, "~라는 말씀이시죠", after the
answer or the instructions: it comes before them or not at all); with the context, ``apology_to_victim`` (an
apology to a customer someone else wronged or who lost something: a fraud victim, a stolen account; the company did
nothing wrong), ``repeat_without_evidence`` ("여러 번 연락하시게 해서", "more than once" where neither the customer nor
the contact history says so), ``hold_names_nothing`` (a holding reply that does not say what will be checked: "이
부분은 확인 후 안내해 드릴게요").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from triage.prompting import boilerplate_phrases
from triage.stages.language import detect_language
from triage.stages.privacy import PLACEHOLDER, find_personal_data
from triage.stages.signals import already_given

MIN_CHARS = 40
MAX_CHARS = {"ko": 900, "en": 1500}
APOLOGY = re.compile(r"죄송|사과\s*드|미안|\bsorry\b|\bapologi[sz]e", re.IGNORECASE)
URL = re.compile(r"https?://[^\s)\]>\"']+|www\.[^\s)\]>\"']+", re.IGNORECASE)
# a commitment to give something: Korean "환불해 드릴게요", English "we will refund"
PROMISE = re.compile(
    r"(환불|보상|배상|적립|쿠폰|지급|재발송|무상|무료)\S{0,4}\s*(해\s*)?(드릴게요|드리겠|드려요|드립니다|해\s*드릴)"
    r"|\b(we|i)(['’]ll|\s+will)\s+(refund|compensate|reimburse|credit|replace|send\s+you\s+a\s+(coupon|voucher))",
    re.IGNORECASE)
PROMISE_STEM = {"환불": "환불", "보상": "보상", "배상": "배상", "적립": "적립", "쿠폰": "쿠폰", "지급": "지급",
                "재발송": "재발송", "무상": "무상", "무료": "무료", "refund": "refund", "compensate": "compensat",
                "reimburse": "reimburs", "credit": "credit", "replace": "replac", "coupon": "coupon",
                "voucher": "voucher"}
# an amount, duration or time: Korean units follow the number directly ("14일"), so a numbered step
# ("1. 일반택배") is not one
QUANTITY = re.compile(r"\d+(?:[.,]\d+)*(영업일|원|일|시간|시|분|개월|주|년|%)"
                      r"|\d+(?:[.,]\d+)*\s*(business\s+days?|days?|hours?|minutes?)\b|[$₩€]\s?\d+(?:[.,]\d+)*",
                      re.IGNORECASE)
RELATIVE_DATE = re.compile(r"내일|모레|오늘\s*중|이번\s*주|다음\s*주|주말까지"
                           r"|tomorrow|next\s+week|by\s+(monday|tuesday|wednesday|thursday|friday|saturday|sunday)",
                           re.IGNORECASE)


ASK_PHRASE = re.compile(r"([^.?!\n]{1,60}?)(?:을|를)\s*알려\s*주시겠어요|could you send me ([^?\n]{1,80})\?",
                        re.IGNORECASE)
CATEGORY_AS_EMPATHY = r"\s*(관련\s*(문의|해서)|건은|문의\s*주셨|(이|가)\s*막혀)"  # "배송 관련 문의 주셨네요"
PUT_OFF = re.compile(r"다시\s*(알려|안내해)\s*드릴게요|확인(한)?\s*(후|뒤)\s*(다시\s*)?안내|get\s+back\s+to\s+you",
                     re.IGNORECASE)
# a lock, freeze or report, an agent acting now, or the KB's own step for it (the drafter opens with it)
PROTECTIVE_STEP = re.compile(r"잠가|잠금|잠그|정지|차단|신고|비밀번호를?\s*(바꾸|변경)|로그아웃"
                             r"|바로\s*(확인하고\s*)?조치|가장\s*급한\s*것부터|the\s+most\s+urgent\s+part"
                             r"|\block|freez|\bblock|\breport|change\s+your\s+password|act(ing)?\s+on\s+(this|it)",
                             re.IGNORECASE)

# A person's action promised or claimed: what the bot must never say, since no person acts on a message it answered.
# The speaker or the staff doing something now or later ("제가 끝까지 챙길게요", "담당자가 연락드릴게요"), a
# checking or passing-on verb with a promise ("바로 확인하고 조치할게요", "검토 목록에 올려 둘게요"), getting back
# later. A process the KB describes ("남겨 주시면 담당자가 2영업일 안에 연락드려요") is the company's, not a promise
# about this message.
_WILL = (r"(할게요|하겠습니다|하겠어요|해\s*드릴게요|드릴게요|드리겠습니다|드리겠어요|볼게요|보겠습니다|둘게요"
         r"|두겠습니다|챙길게요|할\s*예정이에요|드릴\s*예정이에요|하고\s*있어요|하고\s*있습니다|해\s*드리고\s*있어요)")
PERSON_PROMISE = re.compile(
    r"(제가|저희가|저희\s*쪽에서|저희\s*팀에서|담당자가|담당자께서|담당\s*팀(이|에서)|상담원이|상담사가|직원이|매니저가"
    r"|담당\s*부서(가|에서))[^.!?\n]{0,40}?" + _WILL
    + r"|(확인|조치|처리|연락|전화|전달|검토|접수|살펴|알아보|챙겨|전해|올려)[^.!?\n]{0,20}?" + _WILL
    + r"|다시\s*(안내|알려|연락)\S*\s*" + _WILL
    + r"|\b(i|we)(['’]ll|\s+will|\s+are\s+going\s+to|['’]m\s+going\s+to|['’]re\s+going\s+to)\s+"
      r"(personally\s+|now\s+|also\s+|then\s+|right\s+away\s+)?(check|look|fix|sort|handle|contact|call|email"
      r"|get\s+back|follow\s+up|reach\s+out|act|investigate|review|make\s+sure|escalate|pass|see\s+it\s+through"
      r"|take\s+care|let\s+you\s+know|add|refund|send|stop|block|freeze)\b"
    r"|\b(i|we)(['’]m|['’]re|\s+am|\s+are)\s+(now\s+)?(checking|looking\s+into|handling|passing|acting)\b"
    r"|\b(i|we)['’]ve\s+(added|passed|forwarded|escalated|logged|reported|flagged)\b"
    r"|\b(our|the)\s+(support\s+|product\s+|security\s+)?(team|agents?|staff|specialists?|engineers?)\s+"
    r"(will|['’]ll|is\s+going\s+to|are\s+going\s+to)\s+\w+"
    r"|\b(an?\s+|one\s+of\s+our\s+)?(agent|representative|specialist|advisor|staff\s+member)\s+will\s+\w+"
    r"|\bsomeone\s+(from\s+(our|the)\s+team\s+)?will\s+(contact|call|get\s+back|reach|be\s+in\s+touch)",
    re.IGNORECASE)
_SENTENCE = re.compile(r"(?<=[.!?。])\s+|\n+")


def bot_promises(text: str) -> list[Finding]:
    """``bot_promises_action`` findings: the person's actions ``text`` promises (for the bot's answers)."""
    return [Finding("bot_promises_action", f"봇의 답변이 사람의 조치를 약속해요 ('{m.group(0)}'): 봇이 답한 문의는 "
                                           "아무도 이어서 처리하지 않아요")
            for m in PERSON_PROMISE.finditer(text)]


def without_person_promises(text: str) -> str:
    """``text`` without its sentences that promise a person's action (a line of the bot's answer that no one keeps)."""
    return " ".join(s for s in _SENTENCE.split(text) if s.strip() and not PERSON_PROMISE.search(s)).strip()


@dataclass(frozen=True)
class LintContext:
    """What the drafter knew: the taxonomy's tag names, whether a KB entry answers the message (the bot's or a
    candidate for the agent), whether money or an account is at risk, and whether the draft is the bot's answer
    (an auto-answer: no person acts on the message after it)."""

    tag_names: tuple[str, ...] = ()
    entry_answers: bool = False
    at_risk: bool = False
    bot_answer: bool = False
    victim: bool = False  # someone else wronged the customer, or they lost something: no apology fits
    repeat_contact: bool = False  # they said they contacted us before, or the contact history says so


# A restatement of what the customer said or asked ("돈이 잘못 나갔다는 말씀이시죠", "So someone else may have got into
# your account"): before the answer or not at all
CONFIRMATION = re.compile(
    r"말씀이시(죠|군요|지요)|(는|은|던|신|인|운|된|한)\s*(거|것)(죠|이죠|지요|군요)\s*[.?]?\s*$|(문의|내용)\S{0,2}\s*이해했"
    r"|^so,?\s+(you|your|someone|the\s+service|money)\b|^(i\s+understand|if\s+i\s+understand|just\s+to\s+confirm"
    r"|to\s+confirm|you'?re\s+saying|you\s+mean|it\s+sounds\s+like)\b", re.IGNORECASE)
# what the customer is told to do (or a step of the KB's answer): the answer has begun
INSTRUCTION = re.compile(r"주세요|하세요|^\d+\.\s|\((참고|source):|가장\s*급한\s*것부터|^please\b|^first,"
                         r"|\bplease\s+\w+|조치할게요|act\s+on\s+it", re.IGNORECASE)
# "you had to contact us more than once"
REPEAT_CONTACT = re.compile(
    r"여러\s*번\s*(연락|문의)|(다시|또|거듭)\s*(연락|문의)\s*(하시게|주셨|주시게|하셨)|번거롭게\s*(다시|또)|재문의"
    r"|more\s+than\s+once|contact(ed|ing)?\s+us\s+again|(had|have)\s+to\s+(contact|write|reach\s+out|call|follow\s+up)"
    r"|following\s+up|(reach(ed)?|writ(e|ing)|call(ed|ing)?)\s+(out\s+)?(to\s+us\s+)?again", re.IGNORECASE)
# a holding reply that names nothing it will check
VAGUE_HOLD = re.compile(r"(이|그)\s*부분|이\s*건\s*(은|을)|해당\s*(내용|부분|건)|말씀하신\s*(내용|부분|건)"
                        r"|look\s+into\s+(this|it|your\s+request)\b|check\s+(on\s+)?(this|it)\b", re.IGNORECASE)
_SENTENCES = re.compile(r"(?<=[.!?。])\s+|\n+")


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text).lower()


class Finding(NamedTuple):
    """One thing to fix: a code for programs, a message for the agent; shown as ``code: message``."""

    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def lint_reply(draft: str, language: str, sources: Iterable[str], message: str = "",
               context: LintContext | None = None) -> list[Finding]:
    """Findings for ``draft`` written to a customer in ``language``; ``sources`` are the KB texts it may
    rely on (cited answers, passages and their URLs), ``message`` the customer's own text."""
    sources_text = "\n".join(sources)
    sources_flat, sources_words = _squash(sources_text), URL.sub(" ", sources_text).lower()
    known = _squash(sources_text + "\n" + message)
    flat = _squash(draft)
    findings: list[Finding] = []
    lang = language if language in MAX_CHARS else "en"
    for phrase in boilerplate_phrases(lang):
        if _squash(phrase) in flat:
            findings.append(Finding("boilerplate", f"상투적인 문구 '{phrase}' 대신 고객 상황을 구체적으로 말해 주세요"))
    if len(APOLOGY.findall(draft)) > 1:
        findings.append(Finding("repeated_apology", "사과는 한 번이면 충분해요"))
    leaked = sorted({m.kind for m in find_personal_data(draft) if _squash(m.value) not in sources_flat})
    if leaked:
        findings.append(Finding("personal_data", f"고객 개인정보({', '.join(leaked)})를 답장에 되풀이하지 마세요"))
    if PLACEHOLDER.search(draft):
        findings.append(Finding("placeholder", "개인정보 자리표시자가 남아 있어요"))
    for match in PROMISE.finditer(draft):
        word = next((stem for key, stem in PROMISE_STEM.items() if key in match.group(0).lower()), "")
        if word and word not in sources_words:
            findings.append(Finding("unsupported_promise", f"KB에 없는 약속이에요 ('{match.group(0)}')"))
    for pattern in (QUANTITY, RELATIVE_DATE):
        for match in pattern.finditer(draft):
            if _squash(match.group(0)) not in known:
                findings.append(Finding("unsupported_claim",
                                        f"KB에도 고객 메시지에도 없는 수치·날짜예요 ('{match.group(0)}')"))
    allowed_links = {u.rstrip(".,") for u in URL.findall(sources_text)}
    for url in URL.findall(draft):
        if url.rstrip(".,") not in allowed_links:
            findings.append(Finding("link_not_in_kb", f"KB에 없는 링크예요 ({url})"))
    written = detect_language(draft)
    if lang in ("ko", "en") and written != lang:
        findings.append(Finding("wrong_language", f"고객은 {lang}로 썼는데 답장은 {written}예요"))
    paragraphs = [p for p in draft.strip().split("\n") if p.strip()]
    if not paragraphs or "?" not in paragraphs[-1]:
        findings.append(Finding("no_closing_question", "더 필요한 것이 없는지 묻는 질문으로 마무리해 주세요"))
    if len(draft.strip()) < MIN_CHARS:
        findings.append(Finding("too_short", f"{len(draft.strip())}자예요"))
    elif len(draft) > MAX_CHARS[lang]:
        findings.append(Finding("too_long", f"{len(draft)}자예요 (최대 {MAX_CHARS[lang]}자)"))
    findings += _confirm_after_answer(draft, sources_flat)
    if context is not None:
        findings += _fit_findings(draft, message, context)
        findings += _empathy_findings(draft, sources_flat, context)
    return list(dict.fromkeys(findings))


def _own_sentences(draft: str, sources_flat: str) -> list[tuple[str, bool]]:
    """The draft's sentences, each with whether it is the KB's own (found in ``sources_flat``)."""
    sentences = [s.strip() for s in _SENTENCES.split(draft) if s and s.strip()]
    return [(s, len(_squash(s)) >= 6 and _squash(s) in sources_flat) for s in sentences]


def _confirm_after_answer(draft: str, sources_flat: str) -> list[Finding]:
    """``confirm_after_answer``: a restatement after the answer (a KB sentence) or an instruction."""
    answered = False
    for sentence, from_kb in _own_sentences(draft, sources_flat):
        if not from_kb and CONFIRMATION.search(sentence):
            if answered:
                return [Finding("confirm_after_answer", f"답변·안내 뒤에 상황 확인 문장이 있어요 ('{sentence}'): "
                                                        "확인은 답보다 먼저 하거나 빼 주세요")]
            continue
        answered = answered or from_kb or INSTRUCTION.search(sentence) is not None
    return []


def _empathy_findings(draft: str, sources_flat: str, context: LintContext) -> list[Finding]:
    """An apology to a victim, a repeat-contact line without evidence, a holding reply naming nothing."""
    findings = []
    ours = [s for s, from_kb in _own_sentences(draft, sources_flat) if not from_kb]
    if context.victim:
        findings += [Finding("apology_to_victim", f"회사가 잘못한 일이 아닌데 사과하고 있어요 ('{s}'): 상황을 짚어 "
                                                  "공감하되 사과는 빼 주세요") for s in ours if APOLOGY.search(s)]
    if not context.repeat_contact:
        findings += [Finding("repeat_without_evidence", f"고객도 문의 이력도 재문의라고 하지 않는데 재문의를 말해요 "
                                                        f"('{s}')") for s in ours if REPEAT_CONTACT.search(s)]
    if not context.entry_answers:
        findings += [Finding("hold_names_nothing", f"무엇을 확인할지 말하지 않는 보류 답이에요 ('{s}'): 확인할 것을 "
                                                   "한 구절로 넣어 주세요")
                     for s in ours if PUT_OFF.search(s) and VAGUE_HOLD.search(s)]
    return findings


def _fit_findings(draft: str, message: str, context: LintContext) -> list[Finding]:
    """What makes a well-formed draft wrong for this message."""
    findings = []
    for name in context.tag_names:
        if len(name) > 1 and re.search(re.escape(name) + CATEGORY_AS_EMPATHY, draft):
            findings.append(Finding("category_empathy", f"분류 이름('{name}') 대신 고객의 상황을 말해 주세요"))
    for match in ASK_PHRASE.finditer(draft):
        asked = [a.strip() for a in re.split(r",|\band\b", match.group(1) or match.group(2)) if a.strip()]
        given = [a for a in asked if already_given(a, message)]
        if given:
            findings.append(Finding("asks_for_given", f"메시지에 이미 있는 것을 묻고 있어요 ({', '.join(given)})"))
    if context.entry_answers and PUT_OFF.search(draft):
        findings.append(Finding("puts_off_answer", "KB 항목이 답하는데 나중에 알려 드린다고 미루고 있어요"))
    if context.at_risk and not PROTECTIVE_STEP.search(draft):
        findings.append(Finding("no_protective_step", "돈이나 계정이 위험한데 보호 조치(잠금·정지·신고)가 없어요"))
    if context.bot_answer:
        findings += bot_promises(draft)
    return findings
