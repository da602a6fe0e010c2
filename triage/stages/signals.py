"""What a message says about its situation, read once per message: the situation it describes (a fraud victim,
money at risk, money missing past its stated time, an account taken over, a lost card or phone, an outage, something
blocked, a how-to question, information or praise), anger or urgency, and a customer saying they have asked before.
Tagging, priority, answering and the reply draft all read the same ``Signals`` (Korean and English cues).

Some situations refine another (``REFINES``): a fraud victim and money missing past its time are money at risk, a lost
phone is a lost card's situation. A priority policy file that does not name a refining situation gives it the rule of
the one it refines (``triage.policy``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from triage.models import Reason
from triage.taxonomy import Priority


def _cues(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(patterns), re.IGNORECASE)


# Situations (Korean and English). Spacing in Korean varies, hence the \s* everywhere.
MONEY_AT_RISK = _cues(
    r"(이중|중복)\s*(결제|청구|출금|승인)", r"두\s*번\s*(결제|청구|출금|승인|빠져|빠진|나갔|나간)",
    r"결제가?\s*두\s*번",
    r"(같은|동일한|똑같은)\s*(주문|결제)\S{0,3}\s*(이|가)?\s*두\s*(번|건|개)",
    r"돈이?\s*(만\s*)?(빠져|나갔|사라|없어)", r"(빠져나갔|출금됐|출금되었)",
    r"(모르는|안\s*한|한\s*적\s*없는)\s*(결제|출금|주문)",
    r"(결제|승인)(은|는)?\s*(됐|되었)는데.{0,15}(주문|내역|목록).{0,8}(없|안\s*(보|떠|나와))",
    r"주문\s*(한\s*)?(게|것이|적)?\s*없(는데|어요)",
    r"charged\s+twice", r"double[-\s]charged?", r"unauthori[sz]ed\s+(charge|payment|transaction|order)",
    r"money\s+(is\s+)?(gone|missing|taken)")
ACCOUNT_TAKEN = _cues(
    # "해킹이 많다던데 … 기능 있어요?" asks about a feature: hearsay is no takeover
    r"도용", r"해킹(?!\S{0,2}\s*(많|흔|늘|예방|막으))", r"누가\s*(제|내)\s*(계정|아이디)",
    r"(모르는|낯선)\s*(기기|로그인|주소)", r"개인\s*정보\s*유출",
    r"(새|다른)\s*기기\S*\s*로그인.{0,30}(저|제가|본인)\S{0,2}\s*(아니|안\s*했)",
    # changed by someone else: "닉네임이 제가 안 바꿨는데 바뀌어 있어요"
    r"(제가|저는|내가|본인이)\s*안\s*(바꿨|바꾼|변경했|변경한|지웠|지운|삭제했|삭제한|올렸|올린)",
    r"다른\s*사람\s*(이름|정보|주문)", r"hacked", r"someone\s+(else\s+)?(logged|accessed|used)",
    r"someone\s+(else\s+)?(is\s+)?(placing|making|using)\b.{0,30}\bmy\s+account", r"data\s+leak")
CARD_LOST = _cues(r"카드\S*\s*(분실|도난|잃어버)", r"지갑\S*\s*(분실|도난|잃어버|잃었).{0,30}카드",
                  r"(lost|stolen)\s+(my\s+)?(credit\s+|debit\s+)?card", r"(lost|stole)\s+my\s+wallet")
# The customer was defrauded: a scam, phishing or impersonation they fell for, money sent to a fraudster. Hearsay
# ("보이스피싱이 많다던데"), a question about reporting a post seen elsewhere ("사기 거래 신고는 어떻게 해요?") and a
# feature request ("보이스피싱 예방 기능") are no victim: the cues need the customer's own loss or having been deceived.
_SCAM = r"(보이스\s*피싱|메신저\s*피싱|피싱|스미싱|사기)"
_SENT = (r"(보냈|보내\s*버렸|송금(했|해\s*버렸|한|을\s*해)|이체(했|해\s*버렸|한)|입금(했|해\s*버렸|한)"
         r"|알려\s*(줬|주었|드렸))")
FRAUD_VICTIM = _cues(
    _SCAM + r"\S{0,3}\s*(을|를|에|에게|한테)?\s*(당했|당한\s*(것|거|듯)|당해\s*(서|버렸)|속았|속아|걸렸)",
    _SCAM + r"\s*피해\s*(를|가)?\s*(당했|입었|봤|받았|신고|접수|자)",
    r"(스미싱|피싱)\s*피해(?!\S{0,3}\s*(많|흔|늘|예방|막|조심|주의|사례|뉴스|기사))",
    r"사기꾼\S{0,4}\s*(돈|송금|이체|입금|보냈)", _SENT + r".{0,40}사기\s*(꾼|였|더라|인\s*(것|거)|같)",
    # the money went out, then the person turned out not to be who they said: "보냈는데 전화해 보니 아니래요"
    _SENT + r".{0,40}((전화|통화|연락|확인)해\s*보니|알고\s*보니).{0,20}(아니래|아니라고|아니었|아니더|사칭|가짜)",
    r"(보이스|메신저)\s*피싱.{0,40}" + _SENT, _SENT + r".{0,40}(보이스|메신저)\s*피싱",
    # a scam text acted on: "스미싱 문자 링크를 눌렀어요", "이상한 문자 보고 앱을 깔았어요" (both written policies: P1)
    r"(스미싱|피싱|사기|사칭|이상한|수상한|가짜)\S{0,3}\s*(문자|메시지|링크|카톡|톡|앱|사이트)[^.?!\n]{0,30}"
    r"(눌렀|눌러\s*(서|버렸)|클릭(했|해\s*버렸)|설치\S{0,2}\s*(했|해\s*버렸)|깔았|입력(했|해\s*버렸)"
    r"|알려\s*(줬|주었|드렸))",
    # money sent, then the other side vanished: "계약금을 보냈는데 안 나오고 번호도 차단했어요"
    r"(돈|원|계약금|선입금|입금|송금|이체)[^.?!\n]{0,20}" + _SENT + r"[^\n]{0,60}(차단(했|당했|해\s*버렸|됐)|잠수|잠적"
    r"|연락\S{0,3}\s*(이|가)?\s*(두절|끊)|안\s*나오|안\s*나왔|탈퇴|계정\S{0,3}\s*(을|를)?\s*(지웠|삭제))",
    r"\bclicked\b.{0,30}\b(phishing|smishing|scam|fake|suspicious)\b|\b(phishing|smishing|scam|fake|suspicious)\b"
    r".{0,30}\b(clicked|installed)\b",
    # impersonation: "아들이라고 해서 돈을 보냈어요", "검찰을 사칭한 전화에 속아 송금했어요"
    r"(아들|딸|자녀|엄마|아빠|가족|지인|친구|검사|검찰|경찰|금감원|은행|택배|사장)\S{0,3}\s*(이라고|라고|라며|인\s*줄|사칭)"
    r".{0,80}" + _SENT,
    r"\b(i|we)\s*(was|were|got|have\s+been|'ve\s+been|am|'m)\s+(just\s+)?(scammed|defrauded|phished|conned)",
    r"\b(sent|transferred|wired|paid|gave)\b.{0,40}\bscammers?\b", r"\bscammers?\b.{0,40}\b(took|stole|got)\b",
    r"victim\s+of\s+(a\s+|an\s+)?(scam|fraud|phishing|smishing)", r"fell\s+for\s+(a\s+|an\s+)?(scam|phishing|smishing)")
# Money missing past the time it was due: the customer says a stated time has passed (their word is enough; the KB's
# own time is not looked up) and the refund, deposit or transfer has not arrived. "어제 신청했는데 아직" names no
# time that has passed: that stays something blocked.
_WAITED = (r"(\d+\s*(~\s*\d+\s*)?(영업일|일|주|주일|개월|달|시간)|하루|이틀|사흘|나흘|닷새|일주일|보름|한\s*달"
           r"|며칠|몇\s*일|기간|날짜|기한|예정일)")
_MONEY = r"(환불|환급|입금|송금|이체|돈|금액|결제\s*취소|취소\s*금액|정산)"
_MISSING = r"(안\s*(들어|와|왔|옴|됐|되었|돼|보여)|못\s*받|들어오지\s*않|받지\s*못|없어요|없네요|그대로)"
MONEY_OVERDUE = _cues(
    _WAITED + r"\S{0,3}\s*(이|가|나|이나)?\s*(지났|넘었|지나도|넘어도|지나서|넘게|째|이\s*됐|가\s*됐|인데|됐는데)"
    r".{0,40}" + _MONEY + r".{0,20}" + _MISSING,
    _MONEY + r".{0,40}" + _MISSING + r".{0,30}" + _WAITED + r"\S{0,3}\s*(이|가|나|이나)?\s*(지났|넘었|째)",
    _MONEY + r"\S*\s*(한|된|신청한|받은)\s*지\s*" + _WAITED + r".{0,40}" + _MISSING,
    _MONEY + r".{0,40}(이라더니|라더니|라고\s*했는데|준다더니|된다더니|들어온다더니).{0,30}" + _MISSING,
    r"\b(refund|deposit|transfer|payment|money)\b.{0,40}\b(still\s+)?(not|never|hasn'?t|haven'?t|didn'?t|isn'?t)\s+"
    r"(been\s+)?(received|arrived|come|came|show(n|ed)?\s+up|credited|reached|in)\b.{0,30}"
    r"\b(after|in|for|over|past|it'?s\s+been)\s+(\d+|a|one|two|three|four|five|several)\s+(business\s+)?"
    r"(days?|weeks?|months?)",
    r"\b(\d+|two|three|four|five|several)\s+(business\s+)?(days?|weeks?)\s+(later|ago|have\s+passed|now)\b.{0,40}"
    r"\b(refund|deposit|transfer|money)\b.{0,30}\b(not|never|hasn'?t|still)\b")
# A lost or stolen phone: as urgent as a card (someone may use it to pay or to reach the customer's accounts)
PHONE_LOST = _cues(
    r"(휴대폰|핸드폰|휴대전화|스마트폰|폰|전화기|갤럭시|아이폰)\S{0,2}\s*(을|를|이|가)?\s*(분실|도난|잃어버|잃었|도둑|소매치기)",
    r"(분실|도난)\s*(당한|된|한)\s*(휴대폰|핸드폰|폰|스마트폰)",
    # left behind getting off a vehicle: "택시에 폰을 두고 내렸어요"
    r"(휴대폰|핸드폰|휴대전화|스마트폰|폰|전화기)\S{0,2}\s*([^\s.?!]+\s+){0,2}?(두고|놓고)\s*내렸",
    r"(lost|stolen)\s+(my\s+)?(mobile\s+|cell\s+)?(phone|iphone|smartphone)",
    r"\bphone\s+(was|got|has\s+been)\s+(stolen|lost)")
# Not live: an urgent situation the customer names that is not happening to them now (``_settled``, by kind).
# resolved: over, said right after the situation's words: "지난주 카드 분실 건 잘 해결됐어요, 감사합니다" (thanks for
# something solved), "환불 잘 받았어요"; for a loss, "잃어버린 폰을 찾았어요"
RESOLVED = _cues(r"해결(이\s*)?(됐|되었|해\s*주셔서|해\s*줘서)(?!는지|나요|을까)",
                 r"잘\s*(처리|마무리)\s*(됐|되었|해\s*주)", r"(잘|무사히)\s*(받았|돌려\s*받았|들어왔)",
                 r"\b(was|is|got|been)\s+(resolved|sorted(\s+out)?)\b")
FOUND = _cues(r"(?<!못\s)(?<!못)(?<!안\s)(다시\s*)?찾았|(?<!못\s)찾아서|돌려\s*받았|\bfound\s+(it|my)")
SETTLED_WITHIN = 30  # characters after the situation's words where "해결됐어요" or "찾았어요" closes it
CONTEXT = 60  # characters before and after the situation's words read for a condition, prevention or hearsay
# hypothetical: a condition on the situation's own word ("잃어버리면", "두 번 되면", "도난당하면", "분실 시", "도용될까
# 봐", "분실했을 경우"), or a clause opened by 만약 or "if I/my …"; "잃어버렸으면 어떡하죠" (a loss feared now) is live
IF_AFTER = _cues(r"^(?!\s*\S*(었|았|렸|했|됐|였)으면)(\s*(당|안\s*당|되|돼|나|생기))?\S{0,4}?면(?=[\s,.?!~]|$)",
                 r"^\s*시(에|엔|에는)?(?=[\s,.?!]|$)", r"^\S{0,5}\s*(때|경우)(에|엔|에는|는)?(?=[\s,.?!]|$)",
                 r"^\S{0,5}\s*(까\s*봐|까\s*걱정|지\s*않(게|도록|으려면))")
IF_BEFORE = _cues(r"(만약|만일|혹시라도)[^.?!\n]{0,20}$",
                  r"\b(if|in\s+case|what\s+if|suppose)\s+(i|my|we|our|someone|somebody|it)\b[^.?!,\n]{0,30}$")
# denied: said and denied in one breath ("모르는 기기는 없는데", "해킹은 아닌 것 같은데", "사기는 아니고"); "이거 사기
# 아니에요?" asks, and accuses
DENIED_AFTER = _cues(r"^\S{0,2}\s*(은|는|도)?\s*(없(는데|어요|고|습니다|으니)|아니(고|에요|예요|지만|라)"
                     r"|아닌\s*(데|것|거))(?![^.?!\n]{0,12}\?)", r"^\s*(is|was)\s*n[o']t\b(?![^.?!\n]{0,20}\?)")
# prevention or hearsay: guarding against it, how common it is, attempts that only reached the customer ("피싱
# 예방", "도용 방지 서비스", "명의도용 조회", "해킹이 많다던데", "스미싱 문자가 자꾸 와요"), unless the message says
# the harm happened (HARM: a link clicked, an app installed, a code told, money sent, a login or line they do not know)
GUARD_AFTER = _cues(
    r"^\S{0,3}\s*(예방|방지|대비|막(는|으려면|으려고|을\s*수)|안\s*당하|조심|주의|보호\s*서비스|차단\s*서비스|조회)",
    r"^(\S{0,3}\s*){0,2}?(이|가|도)?\s*(많|흔하|흔한|늘었|늘어|늘고|유행|기승|급증|판치)",
    r"^[^.?!\n]{0,25}?(다던데|다더라|다길래|대서|다고\s*(해서|하던데|들었|하더라|하니)|라던데|라길래|뉴스|기사)",
    r"^[^.?!\n]{0,6}?(전화|문자|메시지|연락|카톡|링크|메일)\S{0,2}\s*(가|이|를|을|도)?\s*"
    r"(자꾸|계속|하도|또|많이|자주|매일|여러\s*번)?\s*(와|오|왔|옵|받았|받아|받고)",
    r"^\s*(prevention|protection)\b")
GUARD_BEFORE = _cues(r"\b(prevent\w*|protect\w*|avoid\w*)\b[^.?!\n]{0,25}$")
HARM = _cues(r"(눌렀|눌러\s*(버렸|봤)|클릭(했|해\s*(버렸|봤))|설치(했|됐|해\s*버렸|돼\s*버렸)|깔았|깔렸"
             r"|입력(했|해\s*버렸)|알려\s*(줬|주었|드렸|줘\s*버렸)|보냈|송금|이체|입금|빠져\s*나갔|털렸|당했|속았|피해를?\s*(입었|봤)"
             r"|(모르는|안\s*한|한\s*적\s*없는|낯선)\s*\S{0,6}\s*(결제|로그인|기기|회선|개통|주문|출금|번호))",
             r"\b(clicked|installed|entered|sent|paid|transferred|wired|charged|hacked|scammed)\b")
# handled: the protective step already taken, anywhere in the message: a loss stopped, locked or reported ("정지는
# 이미 걸어 뒀어요", "분실 신고는 지난주에 했고요"); a fraud or a takeover reported, with papers asked for ("경찰 신고는
# 마쳤고 확인서는 어디서 받아요?", "분실 잠금 걸어 둔 폰", "정지 후에"). "분실 신고했는데 해결이 안 됐어요",
# "정지했나요?" are not handled.
_DONE = (r"(했|해\s*(뒀|놨|두었|놓았|버렸|둔|놓은)|걸었|걸어\s*(뒀|놨|두었|둔|놓은)|마쳤|끝냈|완료|접수(했|됐|되었)"
         r"|(한\s*)?(뒤|후|다음)(에|로)?(?=\s))"
         r"(?!\S*(는지|나요|을까|냐|니)(?=[\s?]|$))"
         r"(?![^.?!\n]{0,15}(안\s*(돼|되|됐|걸|풀|잠|와|들어)|못\s|못했|아직|그대로))")
STOPPED = _cues(r"((분실|도난)\s*(신고|정지|처리|등록)|정지|잠금|차단|신고)\S{0,2}\s*(은|는|도|를|을|까지)?\s*"
                r"([^\s.?!]+\s+){0,3}?(이미\s*|벌써\s*|미리\s*|바로\s*|다\s*)?" + _DONE,
                r"(잠갔|잠궜|잠가\s*(뒀|놨|두었|놓았))(?![^.?!\n]{0,15}(안\s*(돼|되|됐|풀)|못\s|못했|아직))",
                r"\balready\s+(reported|blocked|locked|froze|frozen|suspended|cancell?ed)\b")
REPORTED = _cues(r"신고\S{0,2}\s*(은|는|도|를|을)?\s*([^\s.?!]+\s+){0,3}?(이미\s*|벌써\s*|다\s*)?" + _DONE,
                 r"\b(already\s+)?(reported|filed\s+a\s+(police\s+)?report)\b")
PAPERS = _cues(r"(서류|확인서|확인원|증명서|증빙|사건\s*번호|접수\s*번호|발급)",
               r"\b(report\s+number|documents?|certificate|paperwork)\b")
# past: an outage that was, or its compensation ("장애 보상", "장애에 대한 보상", "장애 났던 날", "어제 장애 때")
PAST_OUTAGE = _cues(r"^\s*(에\s*대한\s*|관련\s*)?(보상|배상)",
                    r"^\S{0,4}?\s*(났던|있었던|됐던|났었|있었|났을\s*때|당시)", r"^\s*(credit|compensation|refund)\b")
PAST_BEFORE = _cues(r"(어제|그제|그저께|지난\s*(주|달|번|주말)|저번(\s*(주|달))?|며칠\s*전|예전)(에|의)?\s+"
                    r"((?!\S*(부터|째|동안|내내)\s)\S{1,4}\s+)?$",
                    r"\b(last\s+(week|month)|yesterday)('s)?\s+$")
# "장애" is an outage, not a disability ("장애인 할인", "청각 장애", "장애 등급")
OUTAGE = _cues(r"(?<!청각\s)(?<!청각)(?<!시각\s)(?<!시각)(?<!지체\s)(?<!지체)(?<!발달\s)(?<!발달)"
               r"장애(?!인(?!데|가요|가\?|지|\s*것|\s*거)|\s*(등급|아동|수당|진단|복지|판정|정도|유형))",
               r"먹통", r"(다들|모두|전부|친구들도\s*다)\s*안\s*(돼|되)",
               r"서버\s*(가|이)?\s*(다운|터졌|안)", r"outage", r"(site|app|service)\s+is\s+down")
BLOCKED = _cues(
    r"(실패|오류|에러|오작동|튕겨|튕기|꺼져|꺼지|멈춰(요|서|있|버)|멈추고|멈춤|먹통|하얀\s*화면|안\s*열려|안\s*넘어가|잠겼|잠겨)",
    r"(결제|로그인|인증|해지|취소|환불|적용)\S*\s*(이|가)?\s*안\s*(돼|되|됨|와|들어)", r"(안|못)\s*받았",
    # a service that does not work at all, in any business: "전화가 아예 안 걸려요", "앱 접속이 안 돼요"
    r"(전화|통화|문자|데이터|인터넷|와이파이|앱|어플|접속|연결|송금|이체|출금|충전|서비스)\S*\s*(이|가)?\s*"
    r"(아예|전혀|계속|다)?\s*안\s*(돼|되|됨|걸려|걸리|터져|터지)",
    r"아직\s*(도\s*)?(안\s*(와|왔|옴|들어)|못\s*받|출고\s*안|그대로)",
    r"(지났|늦어|지연|누락|빠져\s*있|파손|깨져|터져|벌레)",
    r"\bfail(ed|s|ing)?\b", r"\berror\b", r"declined", r"\bstuck\b", r"crash", r"(doesn'?t|does\s+not|not)\s+work",
    r"can'?t\s+log\s*in", r"no\s+service", r"can'?t\s+(make|receive)\s+calls",
    r"(hasn'?t|never)\s+(arrived|come)", r"cracked|broken|damaged|missing")
HOW_TO = _cues(r"어떻게", r"(되|될)(나요|까요)", r"방법", r"하려면", r"어디(서|에서|로)",
               r"(수|게)\s*있(나요|어요|을까요)", r"가능(한가요|해요|할까요)", r"\bhow\s+(do|can|to)\b", r"\bcan\s+i\b",
               r"\bwhere\b")
INFO_OR_PRAISE = _cues(r"좋겠어요", r"(만들어|추가해|생기면|생겼으면|늘려)\s*(주|좋)", r"제안", r"건의", r"칭찬",
                       r"감사\s*인사", r"친절(해서|하셔서|했어요)", r"최고(예요|에요|입니다)",
                       r"궁금해요", r"언제\s*다시",
                       r"feature\s+request", r"would\s+be\s+(nice|great)", r"\bthank(s| you)\b", r"\blove\b")
# Nouns ending in 화 (전화가 안 돼요, 통화나 문자, 영화가, 초기화가 …) are not anger: 화가/화나 right after one of them
# is skipped. A report is a threat only to an authority: 분실 신고, 스팸 신고 are what customers are asked to do.
NOUN_BEFORE_HWA = "(?<![전통영대변문소강동만기성적심평조국])"
ANGER_OR_URGENCY = _cues(r"당장", r"빨리\s*(좀|요|해|처리|주세요|보내|답|연락|확인|부탁)",
                         r"급해|급합니다|급하게", NOUN_BEFORE_HWA + r"화\s*(나|가\s*(\S+\s+)?(나|치밀))", r"열받",
                         r"짜증", r"어이없|어이가\s*없",
                         r"사기", r"장난\s*해|장난하", r"최악", r"실망", r"ㅡㅡ|-_-|;;", r"!{3,}",
                         r"소비자\s*(원|보호)|고소|(방통위|공정위|금감원|경찰)\S*\s*(에|에다)?\s*(신고|민원|고발)",
                         r"민원\s*(넣|제기|접수)",
                         r"\basap\b", r"immediately", r"urgent", r"furious|angry|unacceptable|ridiculous|scam",
                         r"worst")
SAYS_REPEAT = _cues(r"(두|세|네|다섯|2|3|4|5)\s*번째\s*(문의|연락|전화|요청|말씀|누락)",
                    r"(다시|또)\s*(문의|연락|전화)", r"몇\s*번(을|이나|째)", r"(답|연락|답변)\S*\s*(이|도)?\s*없",
                    r"(again|second|third)\s+time",
                    r"no\s+(one|reply|response)")


# (name, pattern, level), most urgent first; the name selects the reply draft's empathy, and the reason that
# names it (``fact.situation.<name>`` in prompts/reasons)
SITUATIONS: tuple[tuple[str, re.Pattern[str], Priority], ...] = (
    ("fraud_victim", FRAUD_VICTIM, "P1"),
    ("money_at_risk", MONEY_AT_RISK, "P1"),
    ("money_overdue", MONEY_OVERDUE, "P1"),
    ("account_taken", ACCOUNT_TAKEN, "P1"),
    ("card_lost", CARD_LOST, "P1"),
    ("phone_lost", PHONE_LOST, "P1"),
    ("outage", OUTAGE, "P1"),
    ("blocked", BLOCKED, "P2"),
    ("how_to", HOW_TO, "P3"),
    ("info_or_praise", INFO_OR_PRAISE, "P4"),
)
# situation → the situation it refines: a policy file that does not name it gives it that one's rule
REFINES: dict[str, str] = {"fraud_victim": "money_at_risk", "money_overdue": "money_at_risk", "phone_lost": "card_lost"}
# money at risk or missing, an account taken over, a lost or stolen card or phone, a fraud victim: a person must act,
# so the bot never answers them (unless the KB marks the entry as the situation's self-service answer)
URGENT: frozenset[str] = frozenset({"fraud_victim", "money_at_risk", "money_overdue", "account_taken", "card_lost",
                                    "phone_lost"})
LOSSES = frozenset({"card_lost", "phone_lost"})  # over once what was lost is found
# the situations that may be over or not happening: those that call for P1 (an outage too)
SETTLES = frozenset(name for name, _, level in SITUATIONS if level == "P1")
# words a situation shares with the anger cues, said of it however they are placed ("돈을 보냈는데 사기였어요")
OWN_WORDS: dict[str, re.Pattern[str]] = {"fraud_victim": _cues(r"사기|scam")}
# Words that name an urgent situation without describing it ("잃어버린 폰", "스미싱", "명의도용"): said only where
# it is not live (``_settled``), they tell that the situation is over or not happening (``Signals.settled``)
_HANDSET = r"(휴대폰|핸드폰|휴대전화|스마트폰|폰|전화기|갤럭시|아이폰|유심)"
MENTIONS: dict[str, re.Pattern[str]] = {
    "fraud_victim": _cues(_SCAM, r"사칭", r"\b(scam\w*|phishing|smishing|fraud\w*)\b"),
    "account_taken": _cues(r"도용|해킹|해커|부정\s*(사용|로그인|접속|결제)", r"\bhack(ed|ing|er)?\b|identity\s+theft"),
    "card_lost": _cues(r"(카드|지갑)\S{0,3}\s*(분실|도난|잃어버|잃었|없어졌)",
                       r"(분실|도난|잃어버린)\S{0,2}\s*(된|한|당한)?\s*카드",
                       r"\b(lost|lose|losing|stolen)\b[^.?!\n]{0,15}\b(cards?|wallet)\b",
                       r"\b(cards?|wallet)\b[^.?!\n]{0,15}\b(lost|stolen)\b"),
    "phone_lost": _cues(_HANDSET + r"\S{0,2}\s*(을|를|이|가)?\s*(분실|도난|잃어버|잃었|없어졌|도둑)",
                        r"(분실|도난)\s*(정지|신고|잠금|처리|등록)",
                        r"(분실|도난|잃어버린|잃어버렸던)\S{0,2}\s*(된|한|당한)?\s*" + _HANDSET,
                        r"\b(lost|lose|losing|stolen)\b[^.?!\n]{0,15}\b(phone|sim)\b",
                        r"\b(phone|sim)\b[^.?!\n]{0,15}\b(lost|stolen)\b"),
}


def _settled(situation: str, text: str, start: int, end: int) -> tuple[str, str] | None:
    """How a situation that calls for P1, named at ``text[start:end]``, is not live, with the customer's words that
    show it; None when it is live. ``resolved``: solved, or for a loss found, said right after it;
    ``hypothetical``: a condition on it ("잃어버리면", "분실 시", "만약 …"); ``denied``: denied right after it ("모르는
    기기는 없는데"); ``prevention``: guarding against it or
    hearsay about it, where the message says no harm happened; ``handled``: a loss already stopped or reported, a
    fraud or takeover reported with papers asked for; ``past``: an outage that was, or its compensation."""
    if situation not in SETTLES:
        return None
    after, before = text[end:end + CONTEXT], text[max(0, start - CONTEXT):start]
    said = text[start:end]
    near = after[:SETTLED_WITHIN]
    if (m := RESOLVED.search(near) or (FOUND.search(near) if situation in LOSSES else None)) is not None:
        return "resolved", said + after[:m.end()]
    if (m := IF_AFTER.search(after)) is not None:
        return "hypothetical", said + after[:m.end()]
    if (m := IF_BEFORE.search(before)) is not None:
        return "hypothetical", before[m.start():] + said
    if (m := DENIED_AFTER.search(after)) is not None:
        return "denied", said + after[:m.end()]
    if situation == "outage":
        if (m := PAST_OUTAGE.search(after)) is not None:
            return "past", said + after[:m.end()]
        return ("past", before[m.start():] + said) if (m := PAST_BEFORE.search(before)) is not None else None
    harms, stopped, reported = _message_wide(text)
    guarded = GUARD_AFTER.search(after)
    if (guarded or GUARD_BEFORE.search(before)) and all(start <= s and e <= end for s, e in harms):
        return "prevention", said + after[:guarded.end()] if guarded else said
    if situation in LOSSES and stopped is not None:
        return "handled", stopped
    if situation in ("fraud_victim", "account_taken") and reported is not None:
        return "handled", reported
    return None


@lru_cache(maxsize=16)
def _message_wide(text: str) -> tuple[tuple[tuple[int, int], ...], str | None, str | None]:
    """What ``_settled`` reads in the whole message, once per message: where it says harm happened, a loss's
    protective step taken, a report made with papers asked for."""
    stopped, reported = STOPPED.search(text), REPORTED.search(text)
    return (tuple(m.span() for m in HARM.finditer(text)), stopped.group(0) if stopped else None,
            reported.group(0) if reported and PAPERS.search(text) else None)


@dataclass(frozen=True)
class Signals:
    """``situation``: the name of the most urgent situation described (a ``SITUATIONS`` name) or None, with the
    level it calls for and ``cue``, the customer's words that show it; ``anger`` and ``says_repeat``: the
    customer's words, or None. ``settled``: where no situation that calls for P1 is live, one the message names
    only as not live (``_settled``: resolved, hypothetical, prevention, handled or past, the ``settled_kind``), with
    ``settled_cue``, the customer's words that show it; the situation then is the one that still applies."""

    situation: str | None
    level: Priority | None
    cue: str | None
    anger: str | None
    says_repeat: str | None
    settled: str | None = None
    settled_kind: str | None = None
    settled_cue: str | None = None

    @classmethod
    def read(cls, text: str) -> Signals:
        name: str | None = None
        level: Priority | None = None
        cue: str | None = None
        own: list[tuple[int, int]] = []  # where the message says its situation
        over: dict[str, list[tuple[str, str] | None]] = {}  # P1 situation → how each time it is named is not live
        for candidate, pattern, candidate_level in SITUATIONS:
            match = None
            for m in pattern.finditer(text):
                if (how := _settled(candidate, text, m.start(), m.end())) is None:
                    match = m
                    break
                over.setdefault(candidate, []).append(how)
                own.append(m.span())
            if match is not None:
                name, level, cue = candidate, candidate_level, match.group(0).strip()
                own += [m.span() for m in pattern.finditer(text)]
                if candidate in OWN_WORDS:
                    own += [m.span() for m in OWN_WORDS[candidate].finditer(text)]
                break
        settled: tuple[str, str, str] | None = None
        for candidate in (n for n, _, _ in SITUATIONS if n in SETTLES and level != "P1"):
            named = [(m, _settled(candidate, text, m.start(), m.end()))
                     for m in (MENTIONS[candidate].finditer(text) if candidate in MENTIONS else ())]
            hows = over.get(candidate, []) + [how for _, how in named]
            if hows and all(hows) and (first := hows[0]) is not None:
                settled = (candidate, *first)
                own += [m.span() for m, _ in named]
                break
        # the situation's own words are not anger: "사기를 당했어요" is a fraud victim, not an angry customer, nor is
        # "사기 예방" (a situation named as not live)
        anger = next((m for m in ANGER_OR_URGENCY.finditer(text)
                      if all(m.end() <= start or m.start() >= end for start, end in own)), None)
        repeat = SAYS_REPEAT.search(text)
        return cls(name, level, cue, anger.group(0).strip() if anger else None,
                   repeat.group(0).strip() if repeat else None,
                   *(settled if settled else (None, None, None)))

    @property
    def urgent(self) -> bool:
        """The message describes a situation only a person can act on (``URGENT``), or one such situation already
        handled (a fraud reported, a loss stopped: a person still follows it up)."""
        return self.situation in URGENT or (self.settled in URGENT and self.settled_kind == "handled")

    @property
    def fact(self) -> Reason | None:
        """The situation as a reason names it, or None."""
        if self.situation is None or self.cue is None:
            return None
        return Reason(code=f"fact.situation.{self.situation}", params={"cue": self.cue})


def situation(text: str) -> tuple[Priority | None, str | None]:
    """The level the message's situation calls for, and the customer's words that show it, or (None, None)."""
    signals = Signals.read(text)
    return signals.level, signals.cue


# What the customer says they went through beyond the situation: the empathy a reply draft owes them
# (``triage.stages.empathy``). Generic: none of these name a product, a menu or a company's wording.
# A time the customer must meet soon (today, tomorrow, a clock time) or an event of theirs near it.
_SOON = (r"(오늘|내일|모레|이따|당장|오늘\s*(밤|저녁|오후|아침|중)|내일\s*(아침|새벽|오전|오후|저녁)|아침|저녁"
         r"|\d{1,2}\s*시(\s*반)?)")
_EVENT = (r"(출국|출발|출장|여행|비행기|결혼식|이사|시험|행사|마감|면접|입학|개학|수술|제사|차례|티켓팅|생일|파티|잔치"
          r"|손님\s*(이\s*)?(오|와))")
# what the customer must go to now, said with no time: "출근해야 되는데 연락이 안 돼요"
_DUTY = r"(출근|등교|회의|미팅|수업|근무|업무|영업)"
DEADLINE = _cues(
    _SOON + r"\S{0,2}\s*(이|가|은|는)?\s*(\S+\s+){0,2}\S*" + _EVENT,
    _SOON + r"\s*(까지|안에|전에|전까지)\s*(\S+\s+){0,3}\S*(야|해야|내야|받아야|보내야|돼야|되어야|가야|필요)",
    _SOON + r"\s*(까지|전까지)\s*(꼭|반드시|무조건)",
    _EVENT + r"\S{0,3}\s*(이|가)?\s*(오늘|내일|모레|곧|코앞|얼마\s*안\s*남|임박)",
    _SOON + r".{0,25}(야\s*(하|되|돼)(는데|니까|거든|서)|해야\s*(하|되|돼)(는데|니까|거든|서))",
    _DUTY + r"\S{0,3}\s*(해야|가야|들어가야|나가야)\s*(하|되|돼)(는데|니까|거든|서)",
    r"\b(by|before)\s+(tomorrow|tonight|today|this\s+(evening|afternoon|weekend)"
    r"|(mon|tues|wednes|thurs|fri|satur|sun)day)\b",
    r"\b(flight|trip|wedding|deadline|exam|interview|move|party|event|guests?)\b.{0,25}"
    r"\b(tomorrow|tonight|today|this\s+(morning|evening|weekend))\b",
    r"\b(leaving|flying|travel+ing|moving)\s+(tomorrow|tonight|today)\b", r"\bdue\s+(today|tomorrow|tonight)\b")
_FAILS = (r"(튕겨|튕기|튕김|꺼져|꺼지|멈춰|멈추|실패|오류|에러|안\s*(돼|되|됨|열려|눌려|떠|와|들어)|로그아웃|끊겨|끊기"
          r"|누락|오배송)")
# A failure the customer describes as repeated: tried again and again, every time, again after reinstalling
RETRIED = _cues(
    r"(두|세|네|다섯|여러|몇|\d+)\s*번(이나|을|씩|째)?\s*(해|시도|눌러|결제|입력|재시도|껐다\s*켜|지웠|깔|설치|하|했)\S{0,3}"
    r"(도|는데|니까)(?=\s|$|[.,!?])",
    r"(두|세|네|다섯|\d+)\s*번째\s*(시도|결제|실패|오류|에러|누락|오배송|배송\s*누락|배송\s*사고|이에요|예요|네요|입니다)",
    r"(계속|자꾸|매번|번번이|또)\s*" + _FAILS, r"(할|열|켤|들어갈|누를|갈)\s*때마다",
    r"(다시|새로)\s*(깔|설치|해|시도|받)\S*\s*(도|봐도|봤는데)\s*(똑같|안|마찬가지|그대로|계속)",
    r"(어제|그제|지난주|며칠|일주일|한\s*달|\d+\s*일)\S*\s*(부터|째)\s*계속",
    r"\b(again\s+and\s+again|over\s+and\s+over|every\s+(single\s+)?time|repeatedly)\b",
    r"\b(keeps?|kept)\s+(failing|crashing|freezing|logging|declining|getting\s+declined|happening|showing)",
    r"\b(tried|failed)\b.{0,20}\b(\d+|two|three|four|five|several|multiple|many)\s+times\b",
    r"\b(second|third|fourth|fifth)\s+time\b(?!\s+(i'?m\s+|i\s+am\s+)?(contacting|writing|asking|calling|e-?mail|messag))",
    r"\b(\d+|two|three|four|five)\s+times\s+(now|already|this\s+(week|month))\b")
# something failed or did not change: "다섯 번 했는데도 안 돼요"; "이번 달 출금 5번 했는데 한 번 더 하면 얼마예요?" is a
# count, not a repeated failure
FAILED = _cues(_FAILS, r"(안|못)\s*(돼|되|됨|해|하|받|와|열|떠|들어)|똑같|그대로|마찬가지|소용\s*없",
               r"\b(fail\w*|declined|error|crash\w*|(doesn'?t|didn'?t|won'?t|not)\s+work\w*|still|same)\b")
# Having contacted the company before on this: narrower than SAYS_REPEAT, which also reads a repeated failure ("the
# third time this month") or a request to be called back ("다시 연락 주세요") as asking before
CONTACTED = _cues(
    r"(두|세|네|다섯|2|3|4|5)\s*번째\s*(문의|연락|전화|요청|말씀|채팅|메일|글)",
    r"(다시|또|재)\s*(문의|연락|전화)\s*(드려|드립|드리|합니다|했|해요|하네요|하게|하는)",
    r"(몇|여러)\s*번(을|이나|째|씩)?\s*(문의|연락|전화|말씀|요청|얘기|이야기)",
    r"(아까|어제|그제|지난번|저번|지난주|전에|며칠\s*전)\S{0,2}\s*(전화|문의|연락|채팅|상담)\S{0,2}\s*(했|드렸|한|남겼|넣었)",
    # "어제 정산 계좌 바꾸는 거 문의했던 사람인데요"
    r"(문의|연락|상담|전화|채팅)\S{0,2}\s*(했던|드렸던|드린|남겼던)\s*(사람|고객|회원|사용자|사업자|판매자)",
    r"(문의|요청|신청|접수|채팅|메일|글)\S{0,3}\s*(도|를|을)?\s*(남겼|드렸|넣었|했|보냈)\S{0,4}\s*.{0,20}"
    r"(답|연락|답변|회신|처리)\S{0,2}\s*(이|도|가)?\s*(없|안\s*(와|오|왔|됐))",
    r"\b(contact(ed)?|e-?mail(ed)?|call(ed)?|messag(e|ed)|wr(ote|itten)|ask(ed)?|reach(ed)?)\s+(you|us|your\s+\w+)\s+"
    r"(again|before|already|twice|(\d+|two|three|several|multiple)\s+times)\b",
    r"\b(already|previously)\s+(contacted|e-?mailed|called|wrote|asked|reported|messaged)\b",
    r"\b(second|third|fourth|\d+(st|nd|rd|th))\s+(time\s+)?(i'?m\s+|i\s+am\s+)?(contacting|writing|asking|calling|e-?mail"
    r"|message)",
    r"\bno\s+(one|reply|response|answer)\s+(from|to)\s+(you|your|my)",
    r"\bstill\s+(no|haven'?t\s+(had|got|heard))\s+(reply|response|answer|back)")
# Someone other than the company wronged the customer: a fraudster, an impostor, a seller on a marketplace
OTHERS_FAULT = _cues(
    r"(보이스\s*피싱|메신저\s*피싱|스미싱|피싱|사기꾼|사기\s*(를|을)?\s*(당|치)|사칭)",
    r"(판매자|셀러|입점\s*업체|가맹점|상점|스토어|업체|숙소|호스트|호텔|펜션|항공사|가게|식당|매장)\S{0,2}\s*"
    r"(가|이|께서|한테서?|에게서?|쪽에서|측에서)?\s*.{0,25}"
    r"(안\s*(보내|줘|주|해|와|받)|연락\S{0,2}\s*(이|가)?\s*(안|없|두절)|잠수|환불\s*(을|를)?\s*안|사기|거부|거절"
    r"|(일방적으로|갑자기|마음대로)?\s*취소\s*(했|해\s*버렸|됐다|시켰|한다|하래|하자|통보))",
    r"\b(scam(mer)?s?|phishing|smishing|fraudster|impersonat\w*)\b",
    r"\b(seller|vendor|merchant|shop|host|hotel|airline|restaurant)\b.{0,30}"
    r"\b(never|didn'?t|won'?t|hasn'?t|refus\w*|stopped|cancel+ed)\b")
# The company failed the customer, by kind, the first found in this order naming it: an item damaged or spoiled (on
# arrival), wrong or missing; an employee rude or careless; a request ignored; something broken since an update; a
# delay. A damage denied right after ("상한 건 아니고") is none.
OUR_FAULTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("damaged", _cues(
        r"(깨져|깨진|깨졌|파손|찌그러|(?<!안\s)(?<!안)터져\s*(서|있|왔)|(?<!안\s)(?<!안)터진|(?<!안\s)(?<!안)터졌|젖어|젖은|젖었|곰팡이|상해\s*(서|있)|상한|상했|곯아|곯은"
        r"|물러|무른|벌레|이물질|변질|녹아\s*(서|있|왔)|색이\s*이상|냄새가\s*(나|이상))",
        r"\b(soaked|damaged|broken|cracked|smashed|crushed|dented|spoiled|spoilt|mou?ldy|rotten|leaking|leaked)\b")),
    ("delivered_missing", _cues(r"배송\s*완료.{0,25}(없|못\s*받|안\s*왔|(우리|저희|제)\s*집이\s*아니)",
                                r"\b(shows?|says?|marked)\s+(as\s+)?delivered\b.{0,40}\b(not|never|didn'?t|no)\b")),
    ("wrong", _cues(
        r"(오배송|잘못\s*(온|왔|와서|배송|보내)|(또\s*)?(다른|엉뚱한)\s*(색|상품|물건|사이즈|제품)\S{0,2}\s*(이|가)?\s*(왔|와|들어"
        r"|배송)|시킨\s*(건|것은|게)\s*\S+\s*인데)",
        r"\bwrong\s+(item|order|product|size|colou?r)\b|\bsomeone\s+else'?s\s+(name|order|parcel|package)")),
    ("missing", _cues(r"(누락|빠져\s*있|(박스|상자|택배|봉투)\S{0,2}\s*(에|안에|엔)?\s*\S+\s*(이|가)\s*없)",
                      r"\bmissing\b")),
    ("careless", _cues(r"(불친절|무례|반말|태도가|말을\s*(계속\s*)?끊|무시(하시|하셨|하더|당)|던지고|던져|함부로)",
                       r"\b(rude|disrespectful|impolite|threw|left\s+(my|the)\s+\w+\s+(outside|in\s+the\s+rain))\b")),
    ("ignored", _cues(r"((요청|부탁|메모)\S{0,4}\s*(에|에다|란에)?\s*(분명히\s*)?(적었|남겼|썼|했|드렸)는데"
                      r"|(라고|달라고)\s*(했|말했|적었|부탁했)는데)",
                      r"\bi\s+(asked|requested|wrote)\b.{0,40}\b(but|still)\b")),
    # since an update of the app, something that worked does not: the company's change broke it
    ("after_update", _cues(
        r"업데이트\s*(하고\s*(나서|난\s*(뒤|후|다음))?|한\s*(뒤|후|다음|이후)|된\s*(뒤|후|다음|이후)|(후|뒤|이후))\S{0,3}\s*.{0,40}"
        r"(사라|없어|안\s*(돼|되|보|열|와|떠|나와|켜)|꺼|튕|멈|작아|커져|깨|오류|에러|이상해|먹통)",
        r"\b(since|after)\s+(the\s+)?(latest\s+|last\s+|new\s+)?update\b")),
    ("late", _cues(
        r"(늦어|늦게\s*(와|왔|도착)|늦는|지연|아직도\s*(안|못)|(\d+\s*(일|주|시간|분)|며칠|일주일|한\s*달|이틀|사흘)\s*째"
        r"(인데|예요|이에요|네요|\s*(그대로|안\s*(와|왔|돼|되|들어|바뀌|갔)|못|소식|연락|답|멈춰|기다리|품절))"
        r"|\d{1,2}\s*시\s*(반|\d+\s*분)?\S{0,3}\s*(인데|넘었|지났).{0,20}(아직|안\s*(와|왔))|출고\s*(가|도)?\s*안(?!\S*\s*\S*면)"
        r"|예정일.{0,10}(지났|넘)|(배송|택배|출고|환불|답변|처리)\S{0,3}\s*(이|가|은|는)?\s*(왜\s*)?(이렇게\s*)?(너무\s*)?느려"
        # a time the customer was given has passed: "반품 접수한 지 5영업일이 지났는데 아직도 회수하러 안 오셨어요"
        r"|(\d+\s*(영업일|일|주|시간)|며칠|일주일|이틀|사흘|한\s*달)\S{0,3}\s*(이|가)?\s*(지났|넘었)\S*\s*.{0,20}(아직|안\s|못\s)"
        r"|아직도\s*\S+\s+(안|못)\s|계속\s*\S+\s*(에서|에)\s*(안\s*넘어가|그대로|멈춰)"
        r"|(연결|상담)\S{0,2}\s*(이|가)?\s*\S*째\s*안\s*(돼|되))",
        r"\b(late|delayed)\b|\bhasn'?t\s+(arrived|come)\b|\bstill\s+(not\s+here|hasn'?t|waiting)\b")),
)
# an item arrives: "깨진 채로 왔어요" is a damaged delivery, "폰 액정이 깨졌는데 보험 돼요?" is no fault of ours
ARRIVED = _cues(r"(받았|받은|받아\s*보|받자마자|왔|와서|와\s*있|서\s*온(\s|$)|도착|배송|택배|주문|상품|물건|제품"
                r"|개봉|열어\s*보|뜯어|포장|박스|상자)",
                r"\b(arrived|delivered|received|order(ed)?|packages?|parcels?|box(es)?|bags?|items?|deliver(y|ies)|came)\b")
ARRIVALS = ("damaged", "missing")  # faults of something delivered: read only where something arrived
DENIED = _cues(r"^\S{0,3}\s*(건|것은|게|거)\s*아니", r"^\S{0,3}\s*(것|건)\s*(같지는|같진)\s*않", r"^\s*\w*\s+isn'?t\b")


def _said(pattern: re.Pattern[str], text: str) -> str | None:
    """The customer's words matching ``pattern`` that they do not deny right after ("상한 건 아니고"), or None."""
    match = next((m for m in pattern.finditer(text) if not DENIED.search(text[m.end():m.end() + 12])), None)
    return match.group(0).strip() if match else None


@dataclass(frozen=True)
class Hardship:
    """What the customer says they went through, read once per draft; each field is their words or None.
    ``deadline``: a time they must meet soon ("내일 출국", "오늘까지 꼭"); ``retried``: a failure they describe as
    repeated ("세 번 했는데도", "계속 튕겨요"); ``contacted``: that they contacted the company before on this ("세 번째
    문의", "문의도 남겼는데 답이 없어요"); ``others_fault``: someone else wronged them (a fraudster, an impostor, a
    seller); ``our_fault``: the company failed them (an item damaged, wrong or missing, a rude or careless employee,
    a request ignored, something broken since an update, a delay), of the kind ``fault``."""

    deadline: str | None = None
    retried: str | None = None
    contacted: str | None = None
    others_fault: str | None = None
    our_fault: str | None = None
    fault: str | None = None  # the kind of ``our_fault``: an ``OUR_FAULTS`` name

    @classmethod
    def read(cls, text: str) -> Hardship:
        fault, words = next(((kind, said) for kind, pattern in OUR_FAULTS if (said := _said(pattern, text))
                             and (kind not in ARRIVALS or ARRIVED.search(text))), (None, None))
        retried = _said(RETRIED, text) if fault or FAILED.search(text) else None
        return cls(deadline=_said(DEADLINE, text), retried=retried, contacted=_said(CONTACTED, text),
                   others_fault=_said(OTHERS_FAULT, text), our_fault=words, fault=fault)


# What the message already gives, by the words of an ask ("주문번호", "결제 일시와 금액", "휴대폰 기종"): an ask is
# left out when every kind of thing it names is in the message. Generic: the asks themselves come from the
# deployment's taxonomy (``ask_for``).
GIVEN: tuple[tuple[re.Pattern[str], re.Pattern[str]], ...] = (
    (re.compile(r"번호|number|\bid\b|아이디", re.IGNORECASE),
     re.compile(r"(?<![0-9])[A-Za-z]{0,4}-?[0-9][0-9-]{5,}|<[A-Z_]+_[0-9]+>|번호\s*[:：]?\s*[A-Za-z0-9-]{4,}"
                r"|#\s?[A-Za-z0-9-]{4,}", re.IGNORECASE)),
    (re.compile(r"금액|amount", re.IGNORECASE),
     re.compile(r"[0-9][0-9,]*\s*(?:만\s*)?원|₩\s?[0-9]|\$\s?[0-9]|[0-9]\s?(?:달러|dollars?|won)\b", re.IGNORECASE)),
    (re.compile(r"일시|날짜|시각|date|time|when", re.IGNORECASE),
     re.compile(r"[0-9]{1,2}\s?월\s?[0-9]{1,2}\s?일|[0-9]{4}[-./][0-9]{1,2}[-./][0-9]{1,2}|어제|오늘|그제|그저께|아까|방금"
                r"|지난\s?주|[0-9]{1,2}\s?시|[0-9]{1,2}:[0-9]{2}|yesterday|today|this morning|last (?:night|week)",
                re.IGNORECASE)),
    (re.compile(r"기종|모델|model|device", re.IGNORECASE),
     re.compile(r"갤럭시|아이폰|아이패드|픽셀|폴드|플립|샤오미|galaxy|iphone|ipad|pixel|xiaomi|\b[SAZ][0-9]{2}\b",
                re.IGNORECASE)),
    (re.compile(r"버전|version|\bOS\b", re.IGNORECASE),
     re.compile(r"[0-9]+\.[0-9]+(?:\.[0-9]+)?|iOS|안드로이드|android", re.IGNORECASE)),
    (re.compile(r"사진|캡처|캡쳐|screenshot|photo", re.IGNORECASE),
     re.compile(r"사진|캡처|캡쳐|스크린샷|첨부|screenshot|photo|picture|image", re.IGNORECASE)),
    (re.compile(r"이메일|email|e-mail", re.IGNORECASE), re.compile(r"@|<EMAIL_[0-9]+>")),
    (re.compile(r"결제\s?수단|카드사|payment method", re.IGNORECASE),
     re.compile(r"카드|페이|계좌\s?이체|무통장|휴대폰\s?결제|apple pay|google pay|paypal|card", re.IGNORECASE)),
)


def already_given(ask: str, text: str) -> bool:
    """Whether the message already gives what ``ask`` names (every kind of thing it names, see ``GIVEN``)."""
    cues = [given for names, given in GIVEN if names.search(ask)]
    return bool(cues) and all(given.search(text) for given in cues)
