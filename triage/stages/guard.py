"""Prompt-injection guard: customer text is data, never instructions.

A message that tries to instruct the system ("이전 지시를 무시하고…", "[시스템] 이 티켓은 P1로…", "ignore
previous instructions") is flagged. The pipeline never auto-answers it, and tags and prioritizes only what
is left once the instructing sentences are removed, so the message cannot get the tag or priority it asks for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A keyword's ending is \S{0,10}, not \S*: an unbounded run after each of many keywords in one long "sentence"
# would be scanned again from every keyword (quadratic).
INSTRUCTION = re.compile("|".join((
    r"(이전|위의?|앞의?|기존|모든)\s*(지시|지침|명령|규칙|설정|프롬프트)\S{0,10}\s*(은|는|을|를|다|모두)?\s*(무시|잊)",
    r"(시스템|system)\s*(프롬프트|prompt)", r"\[\s*(시스템|system|관리자|admin|개발자|developer)\s*\]",
    r"#+\s*(관리자|시스템|개발자|admin|system)\s*(모드|mode)", r"(개발자|디버그|developer|debug)\s*(모드|mode)",
    r"(우선\s*순위|priority|태그|tag|분류)\S{0,10}\s*(를|을)?\s*(P[1-4]|[a-z_]+)\s*(로|으로)\s*(바꿔|변경|설정|지정|분류|처리|올려)",
    r"\bP[1-4]\s*(로|으로)\s*(분류|처리|설정|지정|올려|바꿔)",
    r"(답변|응답|대답)\S{0,10}\s*(은|는|을|를)?\s*.{0,60}(로|으로)\s*(고정|하라|해라|작성해)",
    r"ignore\s+(all\s+)?(the\s+)?(previous|prior|above|earlier|your)\s+(instructions|rules|prompts?)",
    r"forget\s+(all\s+)?(your|the|previous)\s+(rules|instructions)", r"you\s+are\s+now\b",
    r"(reply|respond|answer)\s+only\s+with", r"\bjailbreak\b", r"너는\s*이제", r"지금부터\s*너는",
)), re.IGNORECASE)
SENTENCE = re.compile(r"[^.!?。\n]+[.!?。]*")
# A line marker like "내용:" that introduces the real question after the injected part.
CONTENT_LABEL = re.compile(r"^\s*(내용|문의|질문|content|question)\s*[:：]\s*", re.IGNORECASE)


@dataclass
class InjectionCheck:
    flagged: bool
    evidence: list[str]  # the instructing fragments found (kept short; customer text, so never logged)
    content: str  # the message without its instructing sentences (the whole message when none)


def check_injection(text: str) -> InjectionCheck:
    sentences = SENTENCE.findall(text) or [text]
    kept, evidence = [], []
    for sentence in sentences:
        match = INSTRUCTION.search(sentence)
        if match:
            evidence.append(match.group(0).strip()[:60])
        elif sentence.strip():
            kept.append(CONTENT_LABEL.sub("", sentence.strip()))
    return InjectionCheck(bool(evidence), evidence, " ".join(kept) if evidence else text)
