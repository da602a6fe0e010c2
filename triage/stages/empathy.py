"""The empathy a reply draft owes a message, decided once for the template and the LLM path alike.

A line only where the message's situation calls for one, and naming that situation: a loss (money gone or past its
time, a lost card or phone, an account taken over), being scammed, the company's own failure (an item damaged,
wrong or missing, a rude or careless employee, a request ignored, a delay, an outage), a failure the customer
describes as repeated, a deadline they state. A plain question (how-to, information, a short request) gets none:
its answer comes first.

An apology only where the company failed. None where someone else wronged the customer (a fraudster, a seller, a
stranger in their account) or they lost something themselves: "많이 놀라셨겠어요" and the name of it instead.
"You had to contact us more than once" only with evidence: the repeat-contact history (``TriageResult.duplicate_of``,
the priority rule ``modifier:repeat_contact``) or the customer saying so (``Hardship.contacted``).

Generic: what is named comes from the customer's own words (``Hardship``, ``Signals``), never from a KB or taxonomy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from triage.prompting import Templates
from triage.stages.signals import ACCOUNT_TAKEN, FAILED, Hardship, Signals

# situations where the customer lost something or someone else wronged them: named, never apologized for
LOSSES = ("money_at_risk", "money_overdue", "account_taken", "card_lost", "phone_lost")
VICTIMS = ("fraud_victim", "account_taken", "card_lost", "phone_lost")  # an apology would say we wronged them
SCAM_WORDS = (
    ("보이스\\s*피싱", "보이스피싱", "voice-phishing scam"),
    ("메신저\\s*피싱", "메신저 피싱", "messenger scam"),
    ("스미싱|smishing", "스미싱", "text-message scam"),
    ("피싱|phishing", "피싱", "phishing scam"),
    ("사칭|impersonat", "사칭", "impersonation scam"),
    ("", "사기", "scam"),
)
# what arrived damaged: the customer's word → how the draft says it
STATES = (
    ("깨", "깨진 채로", "broken"),
    ("파손|damaged", "파손된 채로", "damaged"),
    ("찌그러|crushed", "찌그러진 채로", "crushed"),
    ("터", "터진 채로", "burst"),
    ("젖|soaked", "젖은 채로", "soaked"),
    ("곰팡이|mou?ldy", "곰팡이가 핀 채로", "mouldy"),
    ("곯|물러|무른|rotten", "물러진 채로", "spoiled"),
    ("벌레|이물질", "이물질이 든 채로", "with something in it"),
    ("녹", "녹은 채로", "melted"),
    ("leak", "새는 채로", "leaking"),
    ("crack", "깨진 채로", "cracked"),
    ("broken|smashed", "깨진 채로", "broken"),
    ("", "상한 채로", "spoiled"),
)
# what is late, from the words before the customer's cue (else anywhere in the message)
LATE_THINGS = (
    ("새벽\\s*배송|배송|택배|출고|도착|delivery|parcel|package|order", "배송", "delivery"),
    ("환불|(승인|카드|결제)\\s*취소|취소\\s*금액|입금|refund", "환불", "refund"),
    ("회수|수거|pick\\s*-?up|collection", "회수", "pickup"),
    ("재입고|품절|restock", "재입고", "restock"),
    ("포인트|적립|points", "적립", "points"),
    ("답변|회신|연락|답이|reply|response", "답변", "reply"),
    ("연결|상담|전화|call", "상담 연결", "call"),
)
CARELESS_WHERE = (
    ("상담|통화|전화|채팅|call|agent", "상담", "call"),
    ("기사|배송|택배|driver|delivery|courier", "배송", "delivery"),
)
SELLERS = (("판매자|셀러|seller", "판매자", "seller"), ("숙소|호스트|호텔|펜션|host|hotel", "숙소", "property"),
           ("항공사|airline", "항공사", "airline"), ("가게|식당|매장|restaurant", "가게", "shop"),
           ("", "판매처", "merchant"))
CANCELLED = re.compile(r"취소|cancel", re.IGNORECASE)
SOON = re.compile(r"오늘\s*(밤|저녁|오후|아침)|내일\s*(아침|새벽|오전|오후|저녁)|오늘|내일|모레|이따|당장|아침|저녁"
                  r"|\d{1,2}\s*시(\s*반)?|tomorrow|tonight|today|this\s+(evening|afternoon|weekend|morning)"
                  r"|(mon|tues|wednes|thurs|fri|satur|sun)day", re.IGNORECASE)
EVENTS = (
    ("출국", "출국", "flight"),
    ("출발", "출발", "departure"),
    ("출장", "출장", "business trip"),
    ("여행", "여행", "trip"),
    ("비행기|flight", "비행기 시간", "flight"),
    ("결혼식|wedding", "결혼식", "wedding"),
    ("이사|mov", "이사", "move"),
    ("시험|exam", "시험", "exam"),
    ("면접|interview", "면접", "interview"),
    ("마감|deadline", "마감", "deadline"),
    ("수술", "수술", "surgery"),
    ("제사|차례", "제사", "family rite"),
    ("티켓팅", "티켓팅", "ticket sale"),
    ("생일", "생일", "birthday"),
    ("잔치|파티|party", "잔치", "party"),
    ("손님|guest", "손님 오시기", "guests arriving"),
    ("행사|event", "행사", "event"),
    ("입학|개학", "입학", "school start"),
    ("trip", "여행", "trip"),
    ("출근", "출근", "work"),
    ("등교|수업", "수업", "class"),
    ("회의|미팅", "회의", "meeting"),
    ("근무|업무|영업", "업무", "work"),
)
# a scam named with no harm done ("보이스피싱 전화가 하도 와서") is no scam the customer fell for
HARMED = re.compile(r"당했|당한|당해|속았|속아|피해|보냈|송금|이체|입금|눌렀|입력|알려\s*(줬|주었|드렸)|깔렸|깔았|설치"
                    r"|\b(clicked|entered|typed|sent|gave|lost|installed|paid|transferred)\b", re.IGNORECASE)
# a scam seen through in time: "사기 당할 뻔했어요 … 안 보냈어요"
NEAR_MISS = re.compile(r"(당할|속을|넘어갈|보낼|누를)\s*뻔|(안|못)\s*(보냈|눌렀|알려\s*줬)"
                       r"|(보내|누르|입력하)지\s*(않|말)"
                       r"|\b(almost|nearly)\s+(got\s+)?(scammed|fell|sent|paid)|\bdid\s*n[o']t\s+(send|click|pay|give)\b",
                       re.IGNORECASE)
# a charge that went out twice: the company's payment failed the customer, not a stranger
# ("해지했는데 또 빠져나갔어요" is a charge after cancelling, not the same payment twice)
TWICE = re.compile(r"이중|중복|두\s*번|twice|double", re.IGNORECASE)
UNKNOWN_CHARGE = re.compile(r"모르는|안\s*한|한\s*적\s*없|unauthori[sz]ed", re.IGNORECASE)
COUNT = re.compile(r"(두|세|네|다섯|여러|몇|\d+)\s*번")
RETRIED_VERBS = (
    ("튕", "튕겨서"), ("꺼", "꺼져서"), ("멈", "멈춰서"), ("실패", "실패해서"), ("오류|에러", "오류가 나서"),
    ("로그아웃", "로그아웃돼서"), ("끊", "끊겨서"), ("안\\s*열", "안 열려서"), ("안\\s*눌", "안 눌려서"),
    ("안\\s*떠", "안 떠서"), ("안\\s*(돼|되|됨)", "안 돼서"),
)


# What the customer says they feel or went through where no loss, fault or repeated failure names it, the first that
# applies: a slip of their own, being treated unfairly, being stood up, money being tight, missing something, a fear
# they name, a service gone, a reason something is inconvenient.
MISTAKE = re.compile(r"실수로|실수(였|예요|이에요|했|해서)|깜빡"
                     r"|(다른|엉뚱한|모르는)\s*(사람|분|계좌|번호)\S{0,3}\s*.{0,12}(보냈|송금했|이체했|입금했)"
                     r"|잘못\s*(눌|누르|누른|보내|보냈|입력|선택|신청|결제|해지|송금|이체)"
                     r"|\b(by\s+mistake|accidentally|wrong\s+(button|number|person|account))\b", re.IGNORECASE)
SLIPS = (
    ("눌|누르|누른|button|tap", "잘못 누르셔서", "tapping the wrong thing"),
    ("보내|보냈|송금|이체|선물|sent|number|person|account", "잘못 보내셔서", "sending it to the wrong place"),
    ("입력|typed|entered", "잘못 입력하셔서", "entering the wrong details"),
    ("깜빡|forgot", "깜빡하신 일로 이런 일이 생겨서", "a small slip causing all this"),
    ("", "실수로 이렇게 돼서", "a slip like that"),
)
UNFAIR = re.compile(r"억울|누명|허위\s*(후기|신고|리뷰|사실)|거짓\s*(후기|신고|리뷰|말)"
                    r"|잘못한\s*(게|거|것|건)\s*(하나도|아무것도|전혀)?\s*없"
                    r"|(욕|비방|사기|잘못)\S{0,6}\s*(한|쓴|친)\s*적\s*(이\s*)?(한\s*번도\s*)?없"
                    r"|\b(unfair(ly)?|false\s+(review|report|accusation)|did\s*n[o']t\s+do\s+anything\s+wrong)\b",
                    re.IGNORECASE)
# a task made hard by us: "요금제 하나 바꾸는게 왜이렇게 어려워요", "메뉴를 못 찾겠어요"
HARD_TO_DO = re.compile(r"(찾기|바꾸기|하기|쓰기|신청하기|취소하기|해지하기|바꾸는\s*게|하는\s*게|찾는\s*게)\S{0,2}\s*"
                        r"(왜\s*)?(이렇게\s*)?(너무\s*)?(어려|힘들|복잡)|못\s*찾겠|어디\s*(숨|있는지\s*모르)|\b(hard|impossible)\s+to\s+find\b",
                        re.IGNORECASE)
# the customer needs it for their work: "일 때문에 전화를 계속 해야 하는데"
FOR_WORK = re.compile(r"(일|업무|회사|장사|영업)\s*(때문에|하느라|상)|거래처|\bfor\s+(my\s+)?work\b", re.IGNORECASE)
STOOD_UP = re.compile(r"안\s*나오|안\s*나왔|노쇼|읽씹|읽고\s*(답|씹)|잠수|\b(no[-\s]?show|never\s+showed|ghosted)\b",
                      re.IGNORECASE)
TIGHT = re.compile(r"형편|사정이\s*(어려|안\s*좋|힘들)"
                   r"|(내기|갚기|납부하기|결제하기)\S{0,3}\s*(너무\s*|좀\s*)?(힘들|어려|벅차|부담)"
                   r"|생활이\s*어려|실직|일자리|\b(can'?t\s+afford|struggling\s+to\s+pay|lost\s+my\s+job)\b",
                   re.IGNORECASE)
MISSED = re.compile(r"(연락|전화|문자|알림|거래|주문|택배|예약|메시지)\S{0,3}\s*(을|를)?\s*"
                    r"(몇\s*번(이나)?|여러\s*번|다|계속|또)?\s*놓쳤|\bmissed\s+(several\s+|many\s+|a\s+few\s+)?(calls?|messages?|orders?|buyers?|deliver\w*)\b",
                    re.IGNORECASE)
MISSED_THINGS = (
    ("연락|전화|문자|메시지|calls?|messages?|buyers?", "연락", "messages"),
    ("거래|주문|orders?", "거래", "orders"),
    ("택배|deliver", "택배", "deliveries"),
    ("", "알림", "notifications"),
)
# "누가 쓸까 봐 너무 불안해요": what they fear, in their words, before the feeling
FEARED = re.compile(r"((?:[가-힣]+\s+){0,3}[가-힣]+까\s*봐)\s*(너무|많이|진짜|정말|계속|좀)?\s*(불안|걱정|무서|겁)")
AFRAID = re.compile(r"불안해|무서워|무섭|겁나|걱정돼|걱정되|걱정이에요|\b(scared|worried|afraid|panick?(ed|ing))\b",
                    re.IGNORECASE)
CONNECTIVE = re.compile(r"(는데|니까|어서|아서|해서|여서|라서|고)$")
OWN_WORDS_KO = re.compile(r"(^|\s)(제|저|내|나|저희|우리)(\s|$)")
# a service the customer cannot use at all: "전화가 아예 안 걸려요", "데이터가 계속 안 돼요", since a time
SERVICES = (
    ("전화|통화|call", "전화", "calls"),
    ("문자|text", "문자", "texts"),
    ("데이터|data", "데이터", "mobile data"),
    ("인터넷|와이파이|internet|wi-?fi", "인터넷", "the internet"),
    ("앱|어플|app", "앱", "the app"),
    ("접속|서비스|service", "서비스", "the service"),
)
GONE_FOR_GOOD = re.compile(r"아예|전혀|계속|부터|째|갑자기|일어났더니"
                           r"|since|suddenly|all\s+day|for\s+(hours|\d+\s+hours)", re.IGNORECASE)
INCONVENIENT = re.compile(r"([가-힣][가-힣 ]{2,30}?(어서|아서|해서|여서|라서|돼서))\s*(너무|많이|진짜|정말|좀)?\s*불편")


@dataclass(frozen=True)
class Line:
    """One template of ``prompts/replies/<lang>.yaml`` and what fills it."""

    key: str
    params: dict[str, str] = field(default_factory=dict)
    inner: Line | None = None  # a clause this line wraps (its ``clause``)

    def render(self, t: Templates) -> str:
        clause = {"clause": self.inner.render(t)} if self.inner else {}
        return t.render(self.key, **self.params, **clause)


@dataclass(frozen=True)
class Empathy:
    """What a draft says to the customer's situation, before the answer (after the protective step where money or
    an account is at risk). ``lines``: none for a plain question; ``names``: what they name, in English, for the
    LLM ("" when nothing calls for empathy); ``apology``: one of them apologizes, the company having failed;
    ``victim``: someone else wronged the customer or they lost something themselves, so the draft never apologizes
    (lint: ``apology_to_victim``); ``repeat_contact``: evidence that they contacted us before on this (lint:
    ``repeat_without_evidence``)."""

    lines: tuple[Line, ...] = ()
    names: str = ""
    apology: bool = False
    victim: bool = False
    repeat_contact: bool = False

    def render(self, t: Templates) -> list[str]:
        return [text for line in self.lines if (text := line.render(t))]


def _pick(table: tuple[tuple[str, ...], ...], *texts: str) -> tuple[str, ...]:
    """The first row of ``table`` whose pattern (its first column; "" matches anything) is in one of ``texts``,
    without the pattern."""
    for row in table:
        if any(re.search(row[0], text, re.IGNORECASE) for text in texts if text) or not row[0]:
            return row[1:]
    return table[-1][1:]


def _by_language(row: tuple[str, ...], language: str) -> str:
    return row[0] if language == "ko" else row[1]


def _before(text: str, words: str, span: int = 30) -> str:
    """The ``span`` characters of ``text`` before ``words`` and the words themselves."""
    at = text.find(words)
    return text[max(0, at - span):at + len(words)] if at >= 0 else ""


def _fault_clause(kind: str, words: str, text: str, language: str) -> Line:
    """The customer's trouble as the company's failure, as a clause: "받으신 상품이 깨진 채로 도착해서"
    (``empathy.fault.<kind>``)."""
    if kind == "damaged":
        return Line(f"empathy.fault.{kind}", {"state": _by_language(_pick(STATES, words), language)})
    if kind == "careless":
        where = next((_by_language(row[1:], language) for row in CARELESS_WHERE if re.search(row[0], text, re.I)), "")
        return Line(f"empathy.fault.{kind}", {"where": where})
    if kind == "late":  # the thing named closest before the customer's words, else the first in the message
        near = _before(text, words)
        found = [(m.end(), row) for row in LATE_THINGS for m in re.finditer(row[0], near, re.IGNORECASE)]
        row = max(found, key=lambda f: f[0])[1] if found else next(
            (row for row in LATE_THINGS if re.search(row[0], text, re.IGNORECASE)), None)
        return Line(f"empathy.fault.{kind}", {"thing": _by_language(row[1:], language) if row else ""})
    return Line(f"empathy.fault.{kind}")


def _deadline(words: str, language: str) -> Line:
    """The customer's deadline by what is due then: "내일 출국", "오늘까지", "아침에"."""
    times = [m.group(0) for m in SOON.finditer(words)]
    event = next((_by_language(row[1:], language) for row in EVENTS if re.search(row[0], words, re.IGNORECASE)), "")
    if event and times:
        return Line("empathy.deadline.event", {"when": times[0], "event": event})
    if event:  # "출근해야 되는데"
        return Line("empathy.deadline.event_only", {"event": event})
    when = times[-1] if times else ""
    if re.search(r"까지|전에|안에|\b(by|before)\b", words, re.IGNORECASE) and when:
        return Line("empathy.deadline.by", {"when": when})
    # "아침에", "7시에", but "오늘", "내일"
    at = "" if re.fullmatch(r"오늘|내일|모레|이따|당장|[a-z ]+", when, re.IGNORECASE) else "에"
    return Line("empathy.deadline.soon", {"when": when, "at": at}) if when else Line("empathy.deadline.any")


def _retried(words: str, text: str) -> Line:
    """A failure the customer describes as repeated: how many times, or what keeps going wrong."""
    count = COUNT.search(words)
    verb = next((row[1] for where in (words, text) for row in RETRIED_VERBS if re.search(row[0], where)), "")
    if count and re.search(r"번째", words):  # "벌써 세 번째예요"
        tried = "tried" if re.search(r"시도|해\s*봐|다시", words) else ""
        return Line("empathy.retried.nth", {"nth": count.group(0) + "째", "verb": verb, "tried": tried})
    if count:
        return Line("empathy.retried.count", {"count": count.group(0)})
    return Line("empathy.retried.verb", {"verb": verb}) if verb else Line("empathy.retried.again")


def _their_words(said: str) -> str:
    """The last clause of the customer's ``said`` (after its last connective), or "" where it speaks of them in
    the first person (a draft cannot repeat "제 돈" back)."""
    words = said.split()
    last = max((i for i, word in enumerate(words[:-1]) if CONNECTIVE.search(word)), default=-1)
    clause = " ".join(words[last + 1:])
    return "" if OWN_WORDS_KO.search(clause) else clause


def _named_fear(text: str) -> str:
    """What the customer says they fear, in their words ("누가 쓸까 봐"), or ""."""
    feared = FEARED.search(text)
    return _their_words(feared.group(1)) if feared else ""


def _feeling(text: str, signals: Signals, language: str, fear: str) -> tuple[Line, str] | None:
    """A line naming what the customer says they feel or went through, with what it names for the LLM, where no
    loss, fault or repeated failure does (``read_empathy``; ``fear``: what they say they fear, ``_named_fear``); None
    for a plain question."""
    if MISTAKE.search(text):
        slip = _pick(SLIPS, text)
        return Line("empathy.feeling.mistake", {"slip": _by_language(slip, language)}), f"their own slip ({slip[1]})"
    if HARD_TO_DO.search(text):
        return Line("empathy.feeling.hard_to_do"), "how hard it was to do it themselves"
    if UNFAIR.search(text):
        return Line("empathy.feeling.unfair"), "being treated unfairly, as they see it"
    if STOOD_UP.search(text):
        return Line("empathy.feeling.stood_up"), "being left waiting by the other person"
    if TIGHT.search(text):
        return Line("empathy.feeling.tight"), "money being tight for them"
    if (missed := MISSED.search(text)) is not None:
        thing = _pick(MISSED_THINGS, missed.group(0))
        return Line("empathy.feeling.missed", {"thing": _by_language(thing, language)}), f"missing {thing[1]}"
    if fear:
        return Line("empathy.feeling.fear", {"fear": fear}), f"their fear ({fear})"
    if AFRAID.search(text):
        return Line("empathy.feeling.afraid"), "how worried they are"
    # a service gone: an outage (not known to be our fault, so felt and never apologized for), or a service the
    # customer has been without since a time
    outage = signals.situation == "outage"
    if outage or (signals.situation == "blocked" and signals.cue and GONE_FOR_GOOD.search(text)):
        words = text if outage else signals.cue or ""
        service = next((row[1:] for row in SERVICES if re.search(row[0], words, re.IGNORECASE)),
                       SERVICES[-1][1:] if outage else None)
        if service:
            return (Line("empathy.feeling.service", {"thing": _by_language(service, language)}),
                    f"being without {service[1]}")
    if FOR_WORK.search(text) and FAILED.search(text):
        return Line("empathy.feeling.for_work"), "that they need it for their work"
    inconvenient = INCONVENIENT.search(text)
    if inconvenient and (reason := _their_words(inconvenient.group(1))) and language == "ko":
        return Line("empathy.feeling.inconvenient", {"reason": reason}), f"the inconvenience ({reason})"
    return None


def read_empathy(text: str, signals: Signals, hardship: Hardship, language: str, repeat_contact: bool = False,
                 may_apologize: bool = True) -> Empathy:
    """The empathy ``text`` calls for (its ``signals`` and ``hardship`` read from it), in ``language`` ("ko" or
    "en"); ``repeat_contact``: the history says the customer contacted us before on this; ``may_apologize``
    False where the draft apologizes already (the KB's own answer does)."""
    found = signals.situation
    others = hardship.others_fault
    scam_named = bool(others and re.search(r"피싱|스미싱|사기|사칭|scam|phish|fraud|impersonat", others, re.IGNORECASE))
    near_miss = scam_named and found != "fraud_victim" and NEAR_MISS.search(text) is not None
    if scam_named and found != "fraud_victim" and (near_miss or not HARMED.search(text)):
        others = None  # "보이스피싱 전화가 하도 와서 번호를 바꾸려고요": a scam heard of, nobody wronged them
    scam = found == "fraud_victim" or (scam_named and others is not None)
    # someone else in their account counts however the situation was read ("누가 로그인해서 모르는 주문을 했어요")
    victim = found in VICTIMS or others is not None or ACCOUNT_TAKEN.search(text) is not None
    twice = found == "money_at_risk" and TWICE.search(text) is not None and not UNKNOWN_CHARGE.search(text)
    fault = "charged_twice" if twice else hardship.fault
    lines: list[Line] = []
    names: list[str] = []
    apology = False
    fear = _named_fear(text) if language == "ko" else ""
    if scam:
        scam_words = " ".join(w for w in (signals.cue, hardship.others_fault) if w)
        word = _pick(SCAM_WORDS, scam_words)
        lines.append(Line("empathy.scam", {"scam": _by_language(word, language)}))
        names.append(f"being scammed ({word[1]}): say it must have been a shock, and name it")
    elif found in LOSSES and not twice:
        # money gone through a stranger in their account is their account taken ("누가 로그인해서 모르는 주문을 했어요")
        key = found if found != "money_at_risk" else "account_taken" if ACCOUNT_TAKEN.search(text) else (
            "money_at_risk.unknown" if UNKNOWN_CHARGE.search(text) else "money_at_risk.gone")
        # what they fear, where they say it: "휴대폰을 잃어버리셔서 누가 쓸까 봐 많이 불안하셨겠어요"
        lines.append(Line("empathy.lost_fear", {"fear": fear}, inner=Line(f"empathy.lost.{found}")) if fear
                     else Line(f"empathy.{key}"))
        names.append(f"their loss ({found.replace('_', ' ')}: {signals.cue})" + (f" and their fear ({fear})"
                                                                                  if fear else ""))
    elif others:
        seller = _pick(SELLERS, others)
        lines.append(Line("empathy.others_cancelled" if CANCELLED.search(others) else "empathy.others",
                          {"who": _by_language(seller, language)}))
        names.append(f"being let down by the {seller[1]} ({others}), not by us")
    elif fault:
        kind = fault
        clause = _fault_clause(kind, hardship.our_fault or signals.cue or "", text, language)
        # the repeat-contact apology, where there is evidence for it, is the draft's one apology
        apology = may_apologize and not (repeat_contact or hardship.contacted)
        lines.append(Line("empathy.sorry" if apology else "empathy.felt", inner=clause))
        names.append(f"our failure ({kind.replace('_', ' ')}: {hardship.our_fault or signals.cue})"
                     + ("; apologize once for it" if apology else ""))
        # it happened before: "이번이 두 번째예요", "the third time this month"; not another failure ("앱도 계속
        # 튕겨요")
        if hardship.retried and re.search(r"번째|\d\s*번|(두|세|네)\s*번|\b(second|third|fourth|fifth)\b|\btimes\b",
                                          hardship.retried, re.IGNORECASE):
            lines.append(Line("empathy.again"))
            names.append(f"that it has happened before ({hardship.retried})")
    elif hardship.retried:
        lines.append(_retried(hardship.retried, text))
        names.append(f"the failure they describe as repeated ({hardship.retried})")
    elif near_miss:
        lines.append(Line("empathy.feeling.near_miss"))
        names.append("a scam they almost fell for, and saw through in time")
    elif (feeling := _feeling(text, signals, language, fear)) is not None:
        lines.append(feeling[0])
        names.append(feeling[1])
    if hardship.deadline:
        lines.append(_deadline(hardship.deadline, language))
        names.append(f"their deadline ({hardship.deadline})")
    contacted = repeat_contact or hardship.contacted is not None
    if contacted:
        sorry = may_apologize and not victim and not apology
        lines.append(Line("empathy.repeat_contact.sorry" if sorry else "empathy.repeat_contact.plain"))
        names.append("that they have contacted us before on this" + ("; apologize for it" if sorry else ""))
        apology = apology or sorry
    return Empathy(tuple(lines), "; ".join(names), apology, victim, contacted)
