"""Priority P1–P4 with reasons an agent can check, and the customer context that shapes the reply.

The tag gives a base priority (the taxonomy's); what the message describes moves it:
- money missing or at risk, unauthorized access, a lost card, an outage → P1;
- a failed or stuck transaction, an error, something that does not work → at least P2;
- a how-to question with nothing broken → P3; information, a feature request, a compliment → P4.
Then it rises one level for each of: a VIP customer, a repeat contact, anger or urgency cues; at most two
levels. Claimed urgency alone never makes P1: a rise that ends at P1 needs the situation, a VIP or loyal
customer, or a repeat contact behind it. A loyal customer backs the customer's urgency that way but adds no
level of its own (on the demo calibration set, a level for loyalty put 5 of 150 messages two levels off).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from triage.models import Customer, CustomerContext
from triage.tagging import NEEDS_REVIEW, PRIORITIES, Priority, Taxonomy

RAISING_SEGMENTS = {"VIP"}  # a level up on their own
BACKING_SEGMENTS = {"loyal"}  # no level of their own, but let a customer's urgency reach P1
NEW_CUSTOMER_DAYS = 30
VETERAN_DAYS = 365
MAX_RAISE = 2


def _cues(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(patterns), re.IGNORECASE)


# Situations (Korean and English). Spacing in Korean varies, hence the \s* everywhere.
MONEY_AT_RISK = _cues(
    r"(이중|중복)\s*(결제|청구|출금|승인)", r"두\s*번\s*(결제|청구|출금|승인|빠져|나갔)", r"결제가?\s*두\s*번",
    r"돈이?\s*(만\s*)?(빠져|나갔|사라|없어)", r"(빠져나갔|출금됐|출금되었)",
    r"(모르는|안\s*한|한\s*적\s*없는)\s*(결제|출금|주문)",
    r"(결제|승인)(은|는)?\s*(됐|되었)는데.{0,15}(주문|내역|목록).{0,8}(없|안\s*(보|떠|나와))",
    r"주문\s*(한\s*)?(게|것이|적)?\s*없(는데|어요)",
    r"charged\s+twice", r"double[-\s]charged?", r"unauthori[sz]ed\s+(charge|payment|transaction|order)",
    r"money\s+(is\s+)?(gone|missing|taken)")
ACCOUNT_TAKEN = _cues(
    r"도용", r"해킹", r"누가\s*(제|내)\s*(계정|아이디)", r"(모르는|낯선)\s*(기기|로그인|주소)", r"개인\s*정보\s*유출",
    r"다른\s*사람\s*(이름|정보|주문)", r"hacked", r"someone\s+(else\s+)?(logged|accessed|used)", r"data\s+leak")
CARD_LOST = _cues(r"카드\S*\s*(분실|도난|잃어버)", r"(lost|stolen)\s+(my\s+)?(credit\s+|debit\s+)?card")
OUTAGE = _cues(r"장애", r"먹통", r"(다들|모두|전부|친구들도\s*다)\s*안\s*(돼|되)",
               r"서버\s*(가|이)?\s*(다운|터졌|안)", r"outage", r"(site|app|service)\s+is\s+down")
BLOCKED = _cues(
    r"(실패|오류|에러|오작동|튕겨|튕기|꺼져|꺼지|멈춰(요|서|있|버)|멈추고|멈춤|먹통|하얀\s*화면|안\s*열려|안\s*넘어가|잠겼|잠겨)",
    r"(결제|로그인|인증|해지|취소|환불|적용)\S*\s*(이|가)?\s*안\s*(돼|되|됨|와|들어)", r"(안|못)\s*받았",
    r"아직\s*(도\s*)?(안\s*(와|왔|옴|들어)|못\s*받|출고\s*안|그대로)",
    r"(지났|늦어|지연|누락|빠져\s*있|파손|깨져|터져|벌레)",
    r"\bfail(ed|s|ing)?\b", r"\berror\b", r"declined", r"\bstuck\b", r"crash", r"(doesn'?t|does\s+not|not)\s+work",
    r"can'?t\s+log\s*in", r"(hasn'?t|never)\s+(arrived|come)", r"cracked|broken|damaged|missing")
HOW_TO = _cues(r"어떻게", r"(되|될)(나요|까요)", r"방법", r"하려면", r"어디(서|에서|로)",
               r"(수|게)\s*있(나요|어요|을까요)", r"가능(한가요|해요|할까요)", r"\bhow\s+(do|can|to)\b", r"\bcan\s+i\b",
               r"\bwhere\b")
INFO_OR_PRAISE = _cues(r"좋겠어요", r"(만들어|추가해|생기면|생겼으면|늘려)\s*(주|좋)", r"제안", r"건의", r"칭찬",
                       r"감사\s*인사", r"친절(해서|하셔서|했어요)", r"최고(예요|에요|입니다)",
                       r"궁금해요", r"언제\s*다시",
                       r"feature\s+request", r"would\s+be\s+(nice|great)", r"\bthank(s| you)\b", r"\blove\b")
ANGER_OR_URGENCY = _cues(r"당장", r"빨리\s*(좀|요|해|처리|주세요|보내|답|연락|확인|부탁)",
                         r"급해|급합니다|급하게", r"화나|화가|열받", r"짜증", r"어이없|어이가\s*없",
                         r"사기", r"장난\s*해|장난하", r"최악", r"실망", r"ㅡㅡ|-_-|;;", r"!{3,}",
                         r"소비자\s*(원|보호)|고소|신고",
                         r"\basap\b", r"immediately", r"urgent", r"furious|angry|unacceptable|ridiculous|scam",
                         r"worst")
SAYS_REPEAT = _cues(r"(두|세|네|다섯|2|3|4|5)\s*번째\s*(문의|연락|전화|요청|말씀|누락)",
                    r"(다시|또)\s*(문의|연락|전화)", r"몇\s*번(을|이나|째)", r"(답|연락|답변)\S*\s*(이|도)?\s*없",
                    r"(again|second|third)\s+time",
                    r"no\s+(one|reply|response)")


@dataclass
class PriorityDecision:
    priority: Priority
    reasons: list[str] = field(default_factory=list)


def _quote(match: re.Match[str] | None) -> str:
    return f" ('{match.group(0).strip()}')" if match else ""


_SEGMENT_NAMES = {"vip": "VIP", "champion": "VIP", "champions": "VIP", "loyal": "loyal", "충성": "loyal",
                  "promising": "promising", "유망": "promising", "new": "new", "신규": "new",
                  "at risk": "at risk", "at_risk": "at risk", "at-risk": "at risk", "이탈 위험": "at risk",
                  "sleeping": "sleeping", "hibernating": "sleeping", "dormant": "sleeping", "휴면": "sleeping"}


def customer_segment(customer: Customer | None) -> str | None:
    """The given segment (normalized), else one derived from RFM scores 1–5, else None."""
    if customer is None:
        return None
    if customer.segment:
        return _SEGMENT_NAMES.get(customer.segment.strip().lower(), customer.segment.strip())
    r, f, m = customer.recency, customer.frequency, customer.monetary
    if customer.tenure_days is not None and customer.tenure_days < NEW_CUSTOMER_DAYS:
        return "new"
    if r is None or f is None or m is None:
        return None
    if r >= 4 and f >= 4 and m >= 4:
        return "VIP"
    if r >= 3 and f >= 4:
        return "loyal"
    if r <= 2:
        return "at risk" if f >= 3 or m >= 3 else "sleeping"
    if f <= 1:
        return "new"
    return "promising"


# (name, pattern, level, reason), most urgent first; the name selects the reply draft's empathy
SITUATIONS: tuple[tuple[str, re.Pattern[str], Priority, str], ...] = (
    ("money_at_risk", MONEY_AT_RISK, "P1", "돈이 빠져나갔거나 위험한 상황이에요"),
    ("account_taken", ACCOUNT_TAKEN, "P1", "계정 도용이나 개인정보 노출이 의심돼요"),
    ("card_lost", CARD_LOST, "P1", "카드 분실·도난 상황이에요"),
    ("outage", OUTAGE, "P1", "여러 고객에게 영향을 주는 장애일 수 있어요"),
    ("blocked", BLOCKED, "P2", "결제·배송·이용이 막혀 있거나 오류가 나요"),
    ("how_to", HOW_TO, "P3", "이용 방법을 묻는 질문이에요"),
    ("info_or_praise", INFO_OR_PRAISE, "P4", "정보 문의, 제안이나 칭찬이에요"),
)


def situation_name(text: str) -> str | None:
    """The name of the first (most urgent) situation the message describes, or None."""
    return next((name for name, pattern, _, _ in SITUATIONS if pattern.search(text)), None)


def situation(text: str) -> tuple[Priority | None, str | None]:
    """The level the message's situation calls for, and the reason, or (None, None) when it says nothing."""
    for _, pattern, level, why in SITUATIONS:
        match = pattern.search(text)
        if match:
            return level, why + _quote(match)
    return None, None


def _shift(priority: Priority, levels: int) -> Priority:
    return PRIORITIES[max(0, min(3, PRIORITIES.index(priority) - levels))]


def assign_priority(tag: str, taxonomy: Taxonomy, text: str, customer: Customer | None,
                    repeat_of: str | None = None, competing: Sequence[str] = ()) -> PriorityDecision:
    """Priority for a message already tagged; ``repeat_of`` describes an earlier contact on the same issue.
    A ``needs_review`` message starts from the more urgent of the tags that competed for it, or P4 when it
    is close to no tag at all (off-topic, or a question the taxonomy does not cover)."""
    if tag == NEEDS_REVIEW and competing:
        base = min(taxonomy.priority(t) for t in competing)
        reasons = [f"기본 {base}: 경합한 태그 중 더 급한 쪽 ({', '.join(taxonomy.name(t) for t in competing)})"]
    elif tag == NEEDS_REVIEW:
        base, reasons = "P4", ["기본 P4: 어느 태그와도 가깝지 않아요 (지원 범위 밖이거나 단순 문의로 보여요)"]
    else:
        base = taxonomy.priority(tag)
        reasons = [f"기본 {base}: '{taxonomy.name(tag)}'"]
    level, why = situation(text)
    priority = base
    escalates = level in ("P1", "P2") and level < base
    if escalates or (level == "P3" and base in ("P1", "P2")) or (level == "P4" and base == "P3"):
        priority = level  # type: ignore[assignment]
    if why and level == priority:
        reasons.append(f"{priority}: {why}")
    situation_p1 = priority == "P1"

    raises: list[str] = []
    segment = customer_segment(customer)
    if segment in RAISING_SEGMENTS:
        raises.append(f"{segment} 고객이에요")
    if repeat_of:
        raises.append(repeat_of)
    firm = len(raises) + (segment in BACKING_SEGMENTS)  # facts about the customer, not claims in the text
    if not repeat_of and (said := SAYS_REPEAT.search(text)) is not None:
        raises.append("같은 문제로 다시 연락했다고 해요" + _quote(said))
    if (cue := ANGER_OR_URGENCY.search(text)) is not None:
        raises.append("화가 났거나 급하다는 표현이 있어요" + _quote(cue))
    raised = _shift(priority, min(len(raises), MAX_RAISE))
    if raised == "P1" and priority != "P1" and not firm and not situation_p1:
        raised = "P2"
        raises[-1] += " (급하다는 말만으로는 P1로 올리지 않아요)"
    if raised != priority:
        reasons.append(f"{raised}로 올림: " + "; ".join(raises))
        priority = raised
    elif raises:
        reasons.append("참고: " + "; ".join(raises))
    if segment in BACKING_SEGMENTS:
        reasons.append(f"참고: {segment} 고객이에요")
    return PriorityDecision(priority, reasons)


def _version(text: str) -> tuple[int, ...] | None:
    parts = re.findall(r"\d+", text)
    return tuple([int(p) for p in parts[:4]] + [0] * (4 - len(parts[:4]))) if parts else None


def customer_context(customer: Customer | None, bot_path: list[str],
                     latest_app_version: str | None) -> CustomerContext:
    segment = customer_segment(customer)
    context = CustomerContext(segment=segment, bot_path=list(bot_path))
    tenure = customer.tenure_days if customer else None
    if segment == "new" or (tenure is not None and tenure < NEW_CUSTOMER_DAYS):
        context.explanation_level = "step_by_step"
        context.notes.append("새로 온 고객이에요: 단계별로 차근차근 설명해 주세요")
    elif tenure is not None and tenure >= VETERAN_DAYS:
        context.explanation_level = "concise"
        context.notes.append(f"{tenure // 365}년 넘게 이용한 고객이에요: 핵심만 간결하게, 고급 옵션도 안내해 주세요")
    app = customer.app_version if customer else None
    have, latest = _version(app or ""), _version(latest_app_version or "")
    if have and latest and have < latest:
        context.notes.append(f"앱 버전 {app}: 최신 {latest_app_version}보다 낮아요. 업데이트를 먼저 권해 주세요")
        context.update_app_to = latest_app_version
    if bot_path:
        context.notes.append("지원 봇에서 거쳐 온 경로: " + " → ".join(bot_path))
    return context
