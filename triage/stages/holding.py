"""What a holding reply says it will check ("결제일을 바꿀 수 있는지 확인해서 다시 안내해 드릴게요"), where nothing
in the KB answers the message: the customer's own question turned into an indirect one ("결제일 바꿀 수 있나요?" →
"결제일 바꿀 수 있는지"; "Do you ship overseas?" → "whether we ship overseas"). Generic: it reads only the
message's grammar, never a KB's or a taxonomy's wording. None where the message asks nothing that can be named
this way ("이게 뭐죠?", "어떻게 해야 하나요?"): the draft then names the message's tag, or says it plainly.
"""

from __future__ import annotations

import re

from triage.stages.privacy import find_personal_data

MAX_TOPIC = 45  # characters: a longer question is cut to its last clauses
MIN_STATEMENT = 8  # letters: "사진 있어요" says what the customer has, not what went wrong
SHORT_CLAUSE = 14  # a last clause this short takes the one before it ("…결제가 있는데 이거 하루마켓 맞는지")
MAX_ENGLISH = 100
# an emoticon ends a sentence too: "그대로임 ㅠ 장애인가요?" asks only "장애인가요?"
SENTENCE = re.compile(r"(?<=[.!?。])\s+|(?<=[요죠까])\s+(?=\S)|(?<=[ㅠㅜㅋㅎ])\s+|\n+")
NOISE = re.compile(r"[ㅋㅎㅠㅜㅡ;^~]{2,}|[ㅋㅎㅠㅜ]+(?=\s|$)|[?？!.。,]+$")
# a clause ends in a connective ("…는데", "…해서", "…면"): the question is in the last clauses
CLAUSE = re.compile(r"(?:(?<=는데)|(?<=은데)|(?<=인데)|(?<=던데)|(?<=라서)|(?<=해서)|(?<=어서)|(?<=아서)|(?<=니까)"
                    r"|(?<=거든요)|(?<=지만)|(?<=고요)|(?<=면))[,\s]+")
FILLER = re.compile(r"^((네|아|음|저기|저|저는|제가|혹시|그럼|근데|그런데|그리고|그래서|안녕하세요|\S+:"
                    r"|(\S*번호\s*[:：]?\s*)?[\dA-Za-z]*\d[\d-]{5,})[,.:\s]+)+")
# Korean question and request endings → the indirect question ("…는지") a holding reply names
KO_ENDINGS: tuple[tuple[str, str], ...] = (
    (r"^(.+(는지|건지|인지|을지|될지|할지))\s*(좀\s*)?(설명|알려|확인|말)\S*\s*(좀\s*)?(해\s*)?주세요$", r"\1"),
    (r"아니(에요|예요|죠|지요|야|인가요|가요)$", "아닌지"),
    (r"(있|없)(나요|어요|을까요|습니까|는가요|죠|는지요)$", r"\1는지"),
    (r"가능(한가요|할까요|해요|합니까|하나요|한지요|하죠)$", "가능한지"),
    (r"(거|건|것)(예요|에요|이에요|인가요|인지요|이죠|죠|야)$", "건지"),
    (r"(괜찮|많|적|좋|같|싫)(나요|을까요|아요|어요)$", r"\1은지"),
    (r"(는|은|한|인|된|던|난|운)가요$", r"\1지"),
    (r"(되|돼)(나요|요|죠)$", "되는지"), (r"(하)(나요|죠)$|해요$", "하는지"),
    (r"(\S)나요$", r"\1는지"), (r"(\S)까요$", r"\1지"),
    (r"(인가요|일까요|이에요|예요|에요|이죠|인지요|이야|입니까)$", "인지"),
    (r"와요$", "오는지"), (r"봐요$", "보는지"), (r"줘요$", "주는지"), (r"(들어|나|올라|내려|돌아)가요$", r"\1가는지"),
    (r"(\S+)\s*(좀\s*)?주세요$", r"\1 드릴 수 있는지"),
    (r"(\S+)\s*(좀\s*)?주실\s*수\s*있(나요|어요)$", r"\1 드릴 수 있는지"),
)
WANTS = re.compile(r"(\S+)고\s*싶(어요|습니다|은데요|네요|어서요)$")  # "바꾸고 싶어요" → "바꿀 수 있는지"
# words that name nothing: an indirect question of only these ("어떻게 해야 하는지", "이게 무엇인지") is no topic
EMPTY = re.compile(r"^(어떻게|어디서|어디|언제|왜|뭐|무엇|무엇인지|뭘|이게|이거|그거|저거|그게|이건|그건|해야|하는지"
                   r"|되는지|돼야|되나|하나|하면|되면|좀|지금|이제|제가|저는|이|그|거|건지|인지|있는지|없는지|가능한지"
                   r"|그런|이런|그렇게|이렇게|그래서|그럼|된\s*건지|된건지|무슨|일|일인지|일이|일이에요)$")
# how soon the customer wants it is not what is checked: "빨리 고쳐 주세요" → "고쳐 드릴 수 있는지"
HURRY = re.compile(r"(^|\s)(빨리|당장|제발|얼른|어서|급하게|좀)(?=\s)")
# an angry or rhetorical sentence is no question to check, and its words are not repeated back ("앱이 완전
# 개판이네", "오래 쓴 고객한테 이러기에요?")
RHETORICAL = re.compile(r"개판|거지\s*같|짜증|어이\s*(가\s*)?없|장난\S{0,2}\s*(해|하|치)|최악|미치|열받"
                        r"|이러기|이럴\s*수|이래도\s*(돼|되)"
                        r"|말이\s*(돼|되)|왜\s*이렇게|왜\s*이래|뭐\s*하는|\b(ridiculous|joke|worst|unacceptable)\b",
                        re.IGNORECASE)
HANGUL_FINAL = 28
ASKS = re.compile(r"[?？]|(나요|까요|가요|습니까|는지요|죠|주세요|싶어요|싶습니다|싶은데요)\s*[.!]*$"
                  r"|어떻게|언제|어디|왜|뭐|무엇|얼마|몇|누가|가능|^(do|does|did|can|could|is|are|will|would|should|how|what"
                  r"|when|where|why|which)\b", re.IGNORECASE)


def _with_rieul(stem: str) -> str:
    """``stem`` in its "-ㄹ 수" form: 바꾸 → 바꿀, 받 → 받을, 만들 → 만들."""
    last = stem[-1]
    code = ord(last) - 0xAC00
    if not 0 <= code < 11172:
        return stem + "을"
    final = code % HANGUL_FINAL
    if final == 0:
        return stem[:-1] + chr(ord(last) + 8)  # add ㄹ
    return stem if final == 8 else stem + "을"


def _indirect(clause: str) -> str:
    """A Korean question or request clause as an indirect question ("되나요" → "되는지"), or ""."""
    clause = FILLER.sub("", clause).strip()
    if (want := WANTS.search(clause)) is not None:
        topic = clause[:want.start()] + _with_rieul(want.group(1)) + " 수 있는지"
    else:
        topic = next((re.sub(p, r, clause) for p, r in KO_ENDINGS if re.search(p, clause)), "")
    topic = re.sub(r"(\S) 해 드릴", r"\1해 드릴", re.sub(r"\s*좀\s+", " ", topic))
    return re.sub(r"뭐인지$", "무엇인지", topic).strip()


# a statement of what went wrong → "the matter of it" ("두부가 없어요" → "두부가 없는 건을", "집으로 왔어요" →
# "집으로 온 건을"): the past tense's contracted syllable and its adnominal form
PAST = {"왔": "온", "됐": "된", "했": "한", "갔": "간", "났": "난", "줬": "준", "봤": "본", "졌": "진", "냈": "낸",
        "겼": "긴", "셨": "신", "렸": "린", "췄": "춘", "꿨": "꾼", "웠": "운", "었": "은", "았": "은", "였": "인"}
KO_STATEMENTS: tuple[tuple[str, str], ...] = (
    (r"(있|없)(대요|답니다)$", r"\1다는 건을"),
    (r"(있|없)(어요|네요|고요|습니다|는데요|거든요|더라고요)$", r"\1는 건을"),
    (r"안\s*(돼요|되네요|됩니다|되고요|되는데요|되더라고요)$", "안 되는 건을"),
    (r"(\S)(어요|네요|습니다|고요|는데요|더라고요)$", ""),  # the past tense, below
)


def _statement(clause: str) -> str:
    """A Korean statement clause as the matter an agent checks ("…없어요" → "…없는 건을"), or ""."""
    clause = re.sub(r"^(아직도|아직|계속|또|벌써|이제|지금)\s+", "", FILLER.sub("", clause).strip())
    if re.search(r"왜|어떻게|뭐|무슨", clause):
        return ""
    for pattern, replacement in KO_STATEMENTS[:-1]:
        if re.search(pattern, clause):
            return re.sub(pattern, replacement, clause)
    past = re.search(r"(\S)(어요|네요|습니다|고요|는데요|더라고요)$", clause)
    if past and past.group(1) in PAST:
        return clause[:past.start()] + PAST[past.group(1)] + " 건을"
    return ""


# a plea, "이번 한번만 빼주시면 안될까요", asks whether we can: "빼 드릴 수 있는지"
PLEA = re.compile(r"(\S+?)\s*(주시면|주면)\s*안\s*(될까요|되나요|돼요|되요|되죠|될지요|되겠습니까)$")


def _korean(sentence: str, statement: bool = False) -> str | None:
    sentence = PLEA.sub(r"\1 드릴 수 있나요", sentence)
    clauses = [c.strip() for c in CLAUSE.split(sentence) if c.strip()]
    if not clauses:  # nothing but emoticons or punctuation
        return None
    last = (_statement if statement else _indirect)(clauses.pop())
    if not last or all(EMPTY.match(w) for w in last.split()):
        return None
    last = HURRY.sub(r"\1", re.sub(r"(^|\s)제\s", r"\1고객님 ", last)).strip()
    topic = last
    before = re.sub(r"(^|\s)제\s", r"\1고객님 ", FILLER.sub("", clauses[-1]).strip()) if clauses else ""
    if len(last) < SHORT_CLAUSE and before and len(before) + 1 + len(last) <= MAX_TOPIC:
        topic = before + " " + last
    if statement and len(re.sub(r"\s", "", topic)) < MIN_STATEMENT + len("건을"):  # "사진 있는 건을"
        return None
    return topic if len(topic) <= MAX_TOPIC else None


EN_SWAP = {"i": "you", "me": "you", "my": "your", "mine": "yours", "i'm": "you're", "i've": "you've",
           "you": "we", "your": "our", "yours": "ours", "myself": "yourself", "am": "are"}
EN_YES_NO = re.compile(r"^(do|does|did|can|could|is|are|will|would|should)\s+(i|you|we|it|there|my\s+\w+|your\s+\w+"
                       r"|the\s+\w+|this\s+\w+)\s+(.+)$", re.IGNORECASE)
EN_WH = re.compile(r"^(how\s+long|how\s+much|how\s+many|how|what|when|where|why|which)\s+(do|does|did|can|could|should"
                   r"|will|would|is|are)\s+(i|you|we|it|there|my\s+\w+|your\s+\w+|the\s+\w+|this\s+\w+)\s+(.+)$",
                   re.IGNORECASE)


# a request in a statement: "I need help to recover my PIN", "can you help me check the fee", "I don't know how to …"
EN_REQUEST = re.compile(
    r"^(?:(?:(?:i|we)\s+)?(?:really\s+)?(?:want|need|would\s+like|'d\s+like|wanna|have\s+(?:got\s+)?to|am\s+trying"
    r"|'m\s+trying|try|tried|don'?t\s+know\s+how|do\s+not\s+know\s+how)"
    r"|(?:can|could|would)\s+(?:you|u|ya)\s+(?:please\s+)?(?:help|assist)(?:\s+me)?"
    r"|(?:please\s+)?(?:help|assist)(?:\s+me)?)"
    r"(?:\s+(?:some\s+)?(?:help|assistance|information|info))?(?:\s+(?:to|with|on|about|for|in))?\s+(.+)$",
    re.IGNORECASE)
EN_VERB = re.compile(
    r"^(see|check|get|change|update|cancel|track|edit|recover|reset|open|close|delete|create|use|notify"
    r"|report|find|download|view|pay|switch|modify|add|remove|make|submit|file|sign|register|subscribe"
    r"|unsubscribe|claim|request|return|exchange|set|know|inform|talk|speak|contact|locate|retrieve"
    r"|restore|reactivate|correct|fix|list|show|send|receive|obtain|purchase|buy|order|place|ask|shop"
    r"|transfer|activate|deactivate|verify|confirm|book|reschedule|apply|redeem|lodge|raise|enter)\b",
    re.IGNORECASE)
EN_TROUBLE = re.compile(
    r"\b(?:trouble|problems?|probles?|issues?|difficult(?:y|ies)|errors?)\s+(?:with\s+|when\s+|while\s+)?"
    r"(?:the\s+)?(.+)$", re.IGNORECASE)
EN_ASKS = re.compile(
    r"^((i|we)\s+)?(really\s+)?(want|need|would\s+like|'d\s+like|wanna|have\s+(got\s+)?to|am\s+trying|'m\s+trying"
    r"|try|tried|don'?t\s+know|do\s+not\s+know)\b|^(can|could|would)\s+(you|u|ya)\b|^(please\s+)?(help|assist)"
    r"|\b(trouble|problems?|probles?|issues?|difficult(y|ies)|errors?)\b|^\w+ing\b|^please\b", re.IGNORECASE)


def _swap(words: str) -> str:
    """The customer's words in ours: "my order" → "your order", "you" → "we"."""
    return " ".join(EN_SWAP.get(w.lower(), w) if w.lower() in EN_SWAP else w for w in words.split())


def _english(sentence: str) -> str | None:
    sentence = re.sub(r"^(hi|hello|hey)[,!.\s]+", "", sentence.strip(), flags=re.IGNORECASE).rstrip("?.! ")
    sentence = re.split(r"\s+and\s+(how|what|when|where|why|which|is|are|can|do)\b", sentence)[0]
    aux_kept = ("can", "could", "should", "will", "would", "is", "are")
    wh_be = re.match(r"^(how\s+long|how\s+much|how|what|when|where|why|which)\s+(is|are)\s+((\S+\s*){1,4})$",
                     sentence, re.IGNORECASE)
    pronoun = wh_be and re.match(r"^(it|this|that|there|he|she|they)\s+(.+)$", wh_be.group(3), re.IGNORECASE)
    if wh_be is not None and pronoun:  # "Why is it so high" → "why it is so high"
        wh, be = wh_be.group(1).lower(), wh_be.group(2).lower()
        topic = f"{wh} {pronoun.group(1).lower()} {be} {_swap(pronoun.group(2))}"
    elif wh_be is not None:  # "Where is my order" → "where your order is"
        topic = f"{wh_be.group(1).lower()} {_swap(wh_be.group(3))} {wh_be.group(2).lower()}"
    elif (m := EN_REQUEST.match(sentence)) is not None:  # "I need help to recover my PIN" → "how you can recover …"
        wanted = re.sub(r"^(how\s+)?to\s+", "", m.group(1).strip(), flags=re.IGNORECASE)
        infinitive = re.search(r"\bto\s*$", sentence[:m.start(1)], re.IGNORECASE) or wanted != m.group(1).strip()
        if EN_VERB.match(wanted) or (infinitive and re.match(r"^[a-z]+\b", wanted, re.IGNORECASE)):
            topic = "how you can " + _swap(wanted.split(",")[0])
        elif re.match(r"^\w+ing\b", wanted):  # "checking the termination fee"
            topic = _swap(wanted)
        else:
            return None
    elif (m := EN_TROUBLE.search(sentence)) is not None:  # "issues updating the address" → "the problem with …"
        topic = "the problem with " + _swap(m.group(1))
    elif (m := re.match(r"^please\s+(.+)$", sentence, re.IGNORECASE)) is not None:  # "Please refund me"
        topic = "whether we can " + _swap(m.group(1))
    elif EN_VERB.match(sentence) or re.match(r"^\w+ing\b", sentence):  # "editing information on Pro account"
        topic = ("how you can " if EN_VERB.match(sentence) else "") + _swap(sentence)
    elif (m := EN_YES_NO.match(sentence)) is not None:
        aux, subject, rest = m.group(1).lower(), _swap(m.group(2)), _swap(m.group(3))
        topic = f"whether {subject} {aux + ' ' if aux in aux_kept else ''}{rest}"
    elif (m := EN_WH.match(sentence)) is not None:
        wh, aux, subject, rest = m.group(1).lower(), m.group(2).lower(), _swap(m.group(3)), _swap(m.group(4))
        topic = f"{wh} {subject} {aux + ' ' if aux in aux_kept else ''}{rest}"
    else:
        return None
    if len(topic) > MAX_ENGLISH:  # cut at a comma or a condition
        topic = re.split(r",|\s+(?:if|because|but|since|so)\s+", topic)[0]
    if len(topic.split()) < 5 and re.search(r"\b(it|this|that)$", topic):  # "how you reset it" names nothing
        return None
    return topic if len(topic) <= MAX_ENGLISH else None


def hold_topic(text: str, language: str) -> str | None:
    """What a holding reply to ``text`` names as the thing it will check, in ``language`` ("ko" or "en"): the
    first question of the message (no sentence with personal data) as an indirect question; in Korean, else the
    first statement of what went wrong as the matter to check ("…없는 건을"); or None."""
    sentences = [s.strip() for s in SENTENCE.split(text)]
    sentences = [s for s in sentences if s and not find_personal_data(s) and not RHETORICAL.search(s)]
    for sentence in sentences:
        asks = ASKS.search(sentence) or (language != "ko" and (EN_ASKS.search(sentence) or EN_VERB.match(sentence)))
        said = NOISE.sub("", NOISE.sub("", sentence).strip()).strip()
        if asks and re.search(r"[^\W\d_]", said) and (topic := _korean(said) if language == "ko" else _english(said)):
            return topic
    for sentence in sentences if language == "ko" else ():
        said = NOISE.sub("", NOISE.sub("", sentence).strip()).strip()
        if not ASKS.search(sentence) and (topic := _korean(said, statement=True)):
            return topic
    return None
