"""Urgent situations (a fraud victim, money at risk or past its time, an account taken over, a lost card or phone):
read from the customer's words, never answered by the bot (whatever the entry's confidence) unless the KB marks the
entry as the situation's self-service answer, drafted with the protective step first; a bot's answer never promises
a person's action; a policy file written before the refining situations existed still loads and means the same."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.samples import DEMO_DIR, SAMPLES_DIR
from triage.models import Message, TriageResult
from triage.stages.signals import Signals

# ---------------------------------------------------------------- the cues and their hard negatives


@pytest.mark.parametrize(("text", "situation"), [
    ("보이스피싱 당했어요 어떡하죠", "fraud_victim"),
    ("메신저피싱으로 돈을 보냈어요", "fraud_victim"),
    ("스미싱 피해 신고하려고요", "fraud_victim"),
    ("중고거래에서 사기 당했어요. 돈 보냈는데 연락이 안 돼요", "fraud_victim"),
    ("사기꾼에게 송금했는데 돌려받을 수 있나요?", "fraud_victim"),
    ("아들이라고 해서 돈을 보냈는데 아니었어요", "fraud_victim"),
    ("검찰을 사칭한 전화에 속아서 이체했어요", "fraud_victim"),
    # the messenger-phishing story: a relative's name, a long tale, the money, then "it wasn't them"
    ("엄마라고 문자가 왔는데 폰이 고장 나서 급하게 상품권을 사야 한다길래 계좌로 30만원을 보냈어요. "
     "통화해 보니 아니래요", "fraud_victim"),
    ("임시폰이라고 연락이 와서 50만원 송금했는데 전화해 보니 자기 아니래요", "fraud_victim"),
    ("돈을 보냈는데 사기 같아요", "fraud_victim"),
    ("I was scammed. What now?", "fraud_victim"),
    ("I think I sent money to a scammer", "fraud_victim"),
    ("3영업일이 지났는데 환불이 안 들어왔어요", "money_overdue"),
    ("송금한 지 이틀인데 상대가 못 받았대요", "money_overdue"),
    ("환불 신청한 지 일주일이 넘었는데 아직 돈이 안 들어왔어요", "money_overdue"),
    ("My refund still not received after 10 days", "money_overdue"),
    ("휴대폰을 잃어버렸어요", "phone_lost"),
    ("폰 도난당했어요 ㅠㅠ 정지해 주세요", "phone_lost"),
    ("My phone was stolen on the subway", "phone_lost"),
    ("I lost my phone, can someone use my account?", "phone_lost"),
    ("카드를 잃어버렸어요", "card_lost"),
    ("카드 분실 신고했는데 해결이 안 됐어요", "card_lost"),
    ("휴대폰을 잃어버렸는데 아직 못 찾았어요", "phone_lost"),
    ("결제가 두 번 됐어요", "money_at_risk"),  # the refined situation is read as before
])
def test_the_situation_is_read_from_the_customers_words(text, situation):
    assert Signals.read(text).situation == situation


@pytest.mark.parametrize("text", [
    "요즘 보이스피싱이 많다던데 보안 설정은 어디서 해요?",  # hearsay, and a question
    "지난주 카드 분실 건 잘 해결됐어요, 감사합니다",  # thanks for something solved
    "보이스피싱 예방 기능이 있으면 좋겠어요",  # a feature request
    "스미싱 피해가 많다던데 조심해야겠네요",
    "사기 거래 신고는 어떻게 해요? 게시판에서 이상한 글을 봤어요",  # a post seen on the board
    "잃어버린 휴대폰을 찾았어요. 분실 정지는 어떻게 풀어요?",  # found: no longer lost
    "어제 송금받기로 한 환불이 아직 안 들어왔어요",  # no stated time has passed: blocked, not overdue
    "How do I report a scam?",
    "친구한테 돈 보냈는데 전화해 보니 잘 받았대요",  # it was them
])
def test_what_is_not_the_situation(text):
    signals = Signals.read(text)
    assert not signals.urgent, (text, signals)


def test_a_fraud_victims_words_are_not_anger():
    assert Signals.read("아들이라고 해서 돈을 보냈는데 사기였어요").anger is None
    assert Signals.read("I was scammed by a scammer").anger is None
    assert Signals.read("보이스피싱 당했어요 너무 화나요").anger == "화나"  # anger said as well still counts
    assert Signals.read("이거 사기 아니에요? 환불해 주세요").anger == "사기"  # no fraud victim: as before


# ---------------------------------------------------------------- a situation that is not happening now: not P1

# (not live, how, live, situation): the first names the situation as over or not happening to the customer now (how:
# Signals.settled_kind), the second describes the same situation happening now
NOT_LIVE = [
    # hypothetical: a condition on the situation's own word, or a clause opened by 만약 or "if"
    ("폰을 잃어버리면 어떻게 해야 돼요?", "hypothetical", "폰을 잃어버렸어요. 어떻게 해야 돼요?", "phone_lost"),
    ("카드 분실 시 재발급은 며칠 걸려요?", "hypothetical", "카드 분실했어요. 재발급은 며칠 걸려요?", "card_lost"),
    ("만약 카드를 도난당하면 바로 정지되나요?", "hypothetical", "카드를 도난당했어요. 바로 정지되나요?", "card_lost"),
    ("결제가 두 번 되면 어떻게 처리돼요?", "hypothetical", "결제가 두 번 됐어요. 어떻게 처리돼요?", "money_at_risk"),
    ("해킹당할까 봐 걱정돼서 2단계 인증을 켜고 싶어요", "hypothetical", "해킹당했어요. 2단계 인증도 켜 뒀는데요",
     "account_taken"),
    ("If I lost my card, how would I report it?", "hypothetical", "I lost my card, please block it", "card_lost"),
    # prevention or hearsay: guarding against it, attempts that only reached the customer; with the harm, live
    ("명의도용 방지 서비스는 어떻게 신청해요?", "prevention", "명의도용 당했어요. 모르는 회선이 개통됐어요",
     "account_taken"),
    ("스미싱 문자가 자꾸 와서 번호를 차단하고 싶어요", "prevention", "스미싱 문자 링크를 눌렀는데 앱이 깔렸어요",
     "fraud_victim"),
    # denied in the same breath
    ("해킹은 아닌 것 같은데 비밀번호를 바꾸고 싶어요", "denied", "해킹당한 것 같아요. 비밀번호를 바꾸고 싶어요",
     "account_taken"),
    # handled: a loss already stopped or reported; a fraud reported, with papers asked for
    ("휴대폰을 잃어버렸는데 분실 정지는 어제 이미 걸어 뒀어요. 새 유심은 어디서 받아요?", "handled",
     "휴대폰을 잃어버렸는데 분실 정지가 아직 안 됐어요", "phone_lost"),
    ("분실 신고 해 둔 휴대폰 요금은 계속 나가요?", "handled", "휴대폰을 잃어버렸는데 요금은 계속 나가요?",
     "phone_lost"),
    ("중고거래 사기를 당했어요. 경찰 신고는 마쳤고 사건 사실확인원은 어디서 받아요?", "handled",
     "중고거래 사기를 당했어요. 경찰 신고는 어떻게 해요?", "fraud_victim"),
    # past: an outage that was, or its compensation
    ("지난주 통신 장애 보상은 언제 들어와요?", "past", "지금 통신 장애인가요? 전화가 아예 안 돼요", "outage"),
    ("어제 장애 났을 때 못 쓴 만큼 보상되나요?", "past", "어제부터 장애예요. 다들 안 된대요", "outage"),
    # resolved, said right after it
    ("지난번 이중 결제 건은 환불 잘 받았어요. 감사해요", "resolved", "이중 결제됐어요. 환불해 주세요", "money_at_risk"),
]


@pytest.fixture(scope="module")
def market():
    from triage.policy import load_policy
    from triage.taxonomy import load_taxonomy

    folder = SAMPLES_DIR / "market"
    return load_taxonomy(folder / "taxonomy.yaml"), load_policy(folder / "policy.yaml")


@pytest.mark.parametrize(("not_live", "how", "live", "situation"), NOT_LIVE)
def test_a_situation_not_happening_now_is_not_p1_and_the_live_one_still_is(market, not_live, how, live, situation):
    from triage.stages.priority import assign_priority

    over, now = Signals.read(not_live), Signals.read(live)
    assert (over.settled, over.settled_kind) == (situation, how) and over.level != "P1", over
    assert now.situation == situation and now.settled is None, now
    # under a P1 tag (a policy whose how-to never lowers one): its base falls to P3 only where the situation is not live
    taxonomy, policy = market
    assert taxonomy.priority("account_security") == "P1"
    not_p1 = assign_priority("account_security", taxonomy, over, None, policy=policy)
    assert not_p1.priority != "P1" and "base:settled" in not_p1.rules
    p1 = assign_priority("account_security", taxonomy, now, None, policy=policy)
    assert p1.priority == "P1" and "base:settled" not in p1.rules


def test_a_handled_fraud_or_loss_still_goes_to_a_person():
    # a victim who already reported is still followed up by a person (never auto-answered), at P3
    assert Signals.read("중고거래 사기를 당했어요. 경찰 신고는 마쳤고 사건 사실확인원은 어디서 받아요?").urgent
    assert not Signals.read("폰을 잃어버리면 어떻게 해야 돼요?").urgent  # a hypothetical is not


@pytest.mark.parametrize(("text", "situation"), [
    ("휴대폰을 잃어버렸으면 어떡하죠? 아무리 찾아도 없어요", "phone_lost"),  # a loss feared now is live
    ("카드 분실 신고했는데 아직 정지가 안 됐어요", "card_lost"),  # reported, not yet stopped
    ("스미싱 피해가 많다던데 저도 어제 문자 링크를 눌렀어요. 돈이 빠져나갔어요", "money_at_risk"),  # the harm happened
    ("지금 장애인가요? 다들 결제가 안 된대요", "outage"),
])
def test_words_that_look_past_or_hypothetical_but_are_live(text, situation):
    signals = Signals.read(text)
    assert signals.situation == situation and signals.settled is None, signals


@pytest.mark.parametrize(("text", "situation"), [
    ("지하철에 휴대폰을 두고 내렸어요", "phone_lost"),
    ("사칭 문자에 있던 링크 눌러서 앱을 설치해 버렸어요", "fraud_victim"),
    ("물건값 20만원을 먼저 보냈는데 판매자가 저를 차단했어요", "fraud_victim"),
    ("제가 안 바꿨는데 배송지랑 전화번호가 바뀌어 있어요", "account_taken"),
    ("같은 주문이 두 건 들어가 있어요", "money_at_risk"),
    ("관리비가 두 번 나간 것 같아요", "money_at_risk"),
])
def test_live_situations_read_where_only_the_tag_read_them_before(text, situation):
    # a message no tag is sure of is P1 only through its situation: these now name theirs
    assert Signals.read(text).situation == situation


def test_a_disability_is_no_outage():
    assert Signals.read("장애인 요금 할인 받으려면 뭐가 필요해요?").situation != "outage"
    assert Signals.read("청각 장애가 있어서 채팅으로만 상담하고 싶어요").situation != "outage"


def test_a_past_outages_compensation_is_no_p2_raised_to_p1_for_a_preferred_customer():
    from triage.models import Customer
    from triage.policy import load_policy
    from triage.stages.priority import assign_priority
    from triage.taxonomy import load_taxonomy

    folder = SAMPLES_DIR / "telecom"
    taxonomy, policy = load_taxonomy(folder / "taxonomy.yaml"), load_policy(folder / "policy.yaml")
    vip = Customer(segment="VIP")
    assert taxonomy.priority("network_issue") == "P2"
    text = "지난주 통신 장애 보상은 요금 할인 말고 다른 걸로 받을 수 없나요?"
    past = assign_priority("network_issue", taxonomy, text, vip, policy=policy)
    assert past.priority == "P3" and past.rules[:2] == ["base:tag", "base:settled"]
    assert "P3로 낮춤" in past.reasons[1] and "장애 보상" in past.reasons[1]
    now = assign_priority("network_issue", taxonomy, "동네 전체가 장애인가요? 전화가 아예 안 돼요", vip, policy=policy)
    assert now.priority == "P1"


# ---------------------------------------------------------------- the priority policy


def test_a_policy_file_without_the_refining_situations_loads_and_gives_them_their_parents_rule(tmp_path):
    from triage.policy import load_policy
    from triage.stages.priority import assign_priority
    from triage.taxonomy import load_taxonomy

    taxonomy = load_taxonomy(DEMO_DIR / "taxonomy.yaml")
    text = (DEMO_DIR / "policy.yaml").read_text(encoding="utf-8")
    assert "fraud_victim:" not in text.split("situations:", 1)[1]  # the file names only the original seven
    policy = load_policy(DEMO_DIR / "policy.yaml")
    fraud = assign_priority("membership_points", taxonomy, "보이스피싱 당해서 돈을 보냈어요", None, policy=policy)
    charged = assign_priority("membership_points", taxonomy, "결제가 두 번 됐어요", None, policy=policy)
    assert fraud.priority == charged.priority == "P1"
    assert fraud.rules == ["base:tag", "situation:fraud_victim"]
    assert fraud.why[1].params["rule"] == "money_at_risk_p1"  # the rule the file has, by its id
    assert fraud.reasons[1] == "P1: 사기·피싱 피해를 입은 상황이에요 ('보이스피싱 당해서') (규칙: money_at_risk_p1)"
    phone = assign_priority("membership_points", taxonomy, "휴대폰을 잃어버렸어요", None, policy=policy)
    assert phone.priority == "P1" and phone.why[1].params["rule"] == "card_lost_p1"
    # the telecom sample's file (money at risk is P2 there) loads unchanged and its fraud victims follow it
    telecom = load_policy(SAMPLES_DIR / "telecom" / "policy.yaml")
    assert telecom.situations["fraud_victim"].set_to == telecom.situations["money_at_risk"].set_to == "P2"

    # a file may give a refining situation a rule of its own, or have it change nothing like its parent
    own = text.replace("situations:\n", "situations:\n  fraud_victim:\n    rule: fraud_p1\n    set_to: P1\n"
                                        "    when_base: [P1, P2, P3, P4]\n", 1)
    (tmp_path / "own.yaml").write_text(own, encoding="utf-8")
    assert load_policy(tmp_path / "own.yaml").situations["fraud_victim"].rule == "fraud_p1"
    rule = "  money_at_risk:\n    rule: money_at_risk_p1\n    set_to: P1\n    when_base: [P2, P3, P4]\n"
    ignoring = text.replace(rule, "").replace("never_changes_priority: []", "never_changes_priority: [money_at_risk]")
    (tmp_path / "ignoring.yaml").write_text(ignoring, encoding="utf-8")
    ignored = load_policy(tmp_path / "ignoring.yaml")
    assert {"money_at_risk", "fraud_victim", "money_overdue"} <= ignored.ignored
    assert "fraud_victim" not in ignored.situations


# ---------------------------------------------------------------- answering and drafting on a real KB

URGENT_FAQ = """
- id: pass-cancel
  question: 하루패스 멤버십은 어떻게 해지하나요?
  answer: >-
    마이페이지 > 하루패스 > 멤버십 관리 > 해지하기에서 해지할 수 있어요.
    해지해도 이미 결제한 기간의 마지막 날까지는 혜택이 그대로 유지돼요.
  examples: ["하루패스 해지 방법", "멤버십 그만 쓰고 싶어요 해지 어떻게 해요"]
  tags: [membership_points]
- id: card-lost-freeze
  question: 하루페이 카드를 잃어버렸어요. 어떻게 정지하나요?
  answer: >-
    앱 > 하루페이 > 카드 관리 > 분실 신고에서 바로 카드를 정지할 수 있어요.
    정지한 뒤에는 같은 화면에서 새 카드를 신청해 주세요.
  examples: ["카드 분실했는데 정지 어떻게 해요", "하루페이 카드 잃어버림 사용 정지"]
  tags: [payment_info]
  urgent_self_service: true
- id: fraud-payment-stop
  question: 보이스피싱에 속아서 하루페이로 돈을 보냈어요.
  answer: 하루페이 송금은 앱 > 하루페이 > 송금 내역 > 사기 신고에서 지급정지를 요청할 수 있어요.
  examples: ["메신저피싱으로 하루페이 송금했어요", "사기꾼에게 하루페이로 이체했어요"]
  tags: [payment_info]
  protective_step: 지금 바로 앱 > 하루페이 > 송금 내역 > 사기 신고에서 지급정지를 요청해 주세요.
- id: refund-card
  question: 카드 결제를 취소하면 환불은 언제 돼요?
  answer: 카드 결제는 취소 후 3~5영업일 안에 카드사에서 승인 취소돼요.
  examples: ["카드로 결제한 거 환불 며칠 걸려요?", "신용카드 환불 기간 알려주세요"]
  tags: [refund_status]
- id: double-charge
  question: 같은 결제가 두 번 빠져나갔어요.
  answer: 중복으로 결제된 건은 확인 후 한 건을 취소해 드려요. 카드 결제는 취소 후 3~5영업일 안에 승인 취소돼요.
  examples: ["한 번 샀는데 카드 결제가 두 번 됐어요", "이중 결제된 것 같아요"]
  tags: [refund_status]
- id: password-reset
  question: 비밀번호를 잊어버렸어요
  answer: 로그인 화면의 '비밀번호 찾기'에서 휴대폰 본인인증 후 새 비밀번호를 설정할 수 있어요.
  examples: ["비번 까먹었는데 어떻게 해요", "비밀번호 재설정 방법"]
  tags: [login_problem]
- id: delivery-cutoff
  question: 새벽배송은 몇 시까지 주문해야 다음날 받아요?
  answer: 밤 11시까지 주문하면 다음날 아침 7시 전에 문 앞에 도착해요.
  examples: ["새벽배송 마감 시간이 언제예요", "몇시 전에 시켜야 내일 아침에 와요?"]
  tags: [delivery_info]
"""
CHARGED_AFTER_CANCELLING = "하루패스 해지했는데 또 돈이 빠져나갔어요. 하루패스 멤버십은 어떻게 해지하나요?"
CARD_LOST = "하루페이 카드를 잃어버렸어요. 어떻게 정지하나요?"


@pytest.fixture(scope="module")
def urgent_kb(embedder, tmp_path_factory):
    """A KB of its own (the demo's answer model): a how-to that a charged customer's words match closely, a card
    loss's self-service entry, a fraud entry with its protective step."""
    from knowledge.index import build_snapshot
    from tests.conftest import demo_model
    from triage.config import Settings
    from triage.kb import KnowledgeBase

    folder = Path(tmp_path_factory.mktemp("urgent"))
    (folder / "faq.yaml").write_text(URGENT_FAQ, encoding="utf-8")
    build_snapshot(folder / "index", embedder, [folder / "faq.yaml"], None, finish=demo_model)
    settings = Settings(kb_dir=folder / "index", var_dir=folder / "var", taxonomy=DEMO_DIR / "taxonomy.yaml",
                        max_message_chars=2000)
    return settings, KnowledgeBase.open(settings)


@pytest.mark.parametrize("draft", [True, False])  # False: the support bot's path (/v1/bot/answer, the widget)
def test_an_urgent_message_is_handed_off_whatever_the_entrys_confidence(urgent_kb, draft):
    from triage.pipeline import Pipeline

    _, kb = urgent_kb
    confident = kb.answerer.decide(kb.searcher.search(CHARGED_AFTER_CANCELLING, k=8))
    assert confident.decision == "auto_answer" and confident.hit.entry_id == "pass-cancel"  # how to cancel
    out = Pipeline(kb).assess(Message(id="m", text=CHARGED_AFTER_CANCELLING), draft=draft)[0]
    assert (out.decision, out.handoff_reason) == ("handoff", "urgent_situation")
    assert out.candidate_faq_id == "pass-cancel" and out.faq_id is None and out.answer is None
    assert "money_at_risk" in out.decision_reason and out.priority == "P1"
    if draft:  # the agent acts: never the candidate's how-to to someone charged after cancelling
        assert "나간 결제는 제가 바로 확인하고 조치할게요." in out.draft.split("\n\n")[0]
        assert "해지하기" not in out.draft


def test_an_entry_the_kb_marks_as_the_self_service_answer_is_answered_without_a_persons_promise(urgent_kb):
    from triage.pipeline import Pipeline

    _, kb = urgent_kb
    out = Pipeline(kb).run(Message(id="m", text=CARD_LOST))
    assert Signals.read(CARD_LOST).situation == "card_lost"
    assert (out.decision, out.faq_id, out.handoff_reason) == ("auto_answer", "card-lost-freeze", None)
    assert out.answer.startswith("앱 > 하루페이 > 카드 관리 > 분실 신고")
    assert "조치할게요" not in out.draft and "제가" not in out.draft and out.lint == []


def test_the_bot_route_hands_an_urgent_message_off(urgent_kb):
    from fastapi.testclient import TestClient

    from tests.conftest import api_key
    from triage.api.app import create_app

    settings, kb = urgent_kb
    with TestClient(create_app(settings, kb_loaded=kb)) as client:
        client.headers["Authorization"] = f"Bearer {api_key(settings.store_url, 'bot')}"
        body = client.post("/v1/bot/answer", json={"text": CHARGED_AFTER_CANCELLING}).json()
        assert (body["decision"], body["handoff_reason"], body["candidate_faq_id"]) == (
            "handoff", "urgent_situation", "pass-cancel")
        assert client.post("/v1/bot/answer", json={"text": CARD_LOST}).json()["decision"] == "auto_answer"


def draft_for(urgent_kb, text: str, language: str = "ko", without: tuple[str, ...] = ()):
    """The hand-off draft of an urgent message, the KB's hits without ``without``."""
    from triage.stages.drafting import Drafter

    _, kb = urgent_kb
    search = kb.searcher.search(text, k=8)
    search.faq_hits = [h for h in search.faq_hits if h.entry_id not in without]
    result = TriageResult(id="m", decision="handoff", handoff_reason="urgent_situation", confidence=0.9,
                          candidate_faq_id=search.faq_hits[0].entry_id, language=language)
    return Drafter(kb.snapshot, None, kb.tagger.taxonomy).draft(text, result, search)


def test_a_fraud_victims_draft_opens_with_the_payment_stop(urgent_kb):
    text = "아들이라고 해서 돈을 보냈는데 사기였어요. 너무 화나요 어떡하죠"
    from_kb = draft_for(urgent_kb, text)  # the KB's own step where it has one
    # one line naming the scam, then the payment stop: the first thing they are told to do
    assert from_kb.draft.startswith("사기 피해를 입으셨다니 많이 놀라셨겠어요.\n가장 급한 것부터 안내해 드릴게요.\n"
                                    "지금 바로 앱 > 하루페이 > 송금 내역 > 사기 신고에서 지급정지를 요청해 주세요.")
    assert from_kb.info.cited_ids[0] == "fraud-payment-stop"
    # where it has none, the step that holds at any company; never an apology as if we had wronged them
    generic = draft_for(urgent_kb, text, without=("fraud-payment-stop",))
    assert generic.draft.startswith("사기 피해를 입으셨다니 많이 놀라셨겠어요.\n"
                                    "돈을 보내셨다면 지금 바로 112나 돈을 보낸 은행 고객센터에 전화해서 지급정지를 "
                                    "요청해 주세요.")
    for draft in (from_kb.draft, generic.draft):
        assert "죄송" not in draft and "불편을 드려" not in draft
    assert "no_protective_step" not in {f.code for f in generic.lint}
    english = draft_for(urgent_kb, "I was scammed and sent money to a scammer an hour ago. What do I do?", "en")
    assert english.draft.split("\n")[1].startswith("If you sent money, call the police (112) or your bank's helpline "
                                                   "right now and ask them to stop the payment.")
    assert "sorry" not in english.draft.lower()


def test_the_fraud_entrys_payment_stop_is_no_step_for_money_charged_twice(urgent_kb):
    charged = draft_for(urgent_kb, "하루페이로 결제가 두 번 됐어요. 돈이 두 번 빠져나갔어요")
    assert "fraud-payment-stop" not in charged.info.cited_ids and "지급정지" not in charged.draft


def test_money_at_risk_is_answered_from_an_entry_about_that_very_situation(urgent_kb):
    # a double charge: the apology, the agent acting, then the KB's entry on double charges, never a how-to
    out = draft_for(urgent_kb, "한 번 결제했는데 카드에서 두 번 빠져나갔어요. 어떻게 된 거예요?")
    opening, *rest = out.draft.split("\n\n")
    assert opening == "같은 결제가 두 번 잡혀서 정말 죄송해요.\n나간 결제는 제가 바로 확인하고 조치할게요."
    assert out.info.cited_ids == ["double-charge"] and "중복으로 결제된 건은" in rest[0]
    assert {f.code for f in out.lint} <= {"puts_off_answer"} and "no_protective_step" not in {f.code for f in out.lint}
    # charged after cancelling: the how-to entry is about cancelling, not about this situation
    assert "해지하기" not in draft_for(urgent_kb, CHARGED_AFTER_CANCELLING).draft


def test_money_past_its_time_is_acknowledged_and_checked_not_told_the_time_again(urgent_kb):
    out = draft_for(urgent_kb, "카드 결제 취소한 지 일주일이 지났는데 환불이 안 들어왔어요")
    assert out.draft.startswith("받으셔야 할 돈이 안내받은 때가 지나도록 들어오지 않아 많이 답답하셨겠어요.\n"
                                "처리 상태와 입금 내역을 제가 바로 확인해서")
    assert "3~5영업일" not in out.draft and out.info.cited_ids == []


def test_a_rephrased_answer_that_promises_a_persons_action_is_rejected(urgent_kb):
    from tests.triage.test_drafting import fake_llm
    from triage.pipeline import Pipeline

    _, kb = urgent_kb
    text = "새벽배송 몇 시까지 주문해야 다음날 와요?"
    promising, _ = fake_llm([{"answer": "밤 11시까지 주문하시면 돼요. 제가 배송 상황도 확인해 드릴게요."}])
    out = Pipeline(kb, llm=promising, rephrase_answers=True).run(Message(text=text), draft=False)
    assert out.decision == "auto_answer" and out.answer_source == "kb" and "확인해 드릴게요" not in out.answer


def test_an_answer_to_a_message_with_an_urgent_tag_made_p1_goes_to_a_person(urgent_kb):
    from triage.pipeline import Pipeline

    _, kb = urgent_kb
    pipeline = Pipeline(kb)

    def answered(faq_id: str, tag: str, priority: str) -> TriageResult:
        out = TriageResult(id="m", decision="auto_answer", faq_id=faq_id, candidate_faq_id=faq_id, answer="…",
                           answer_source="kb", tag=tag, priority=priority)
        pipeline._hand_off_urgent_tag(out)
        return out

    # the cues read no situation, but the company's own urgent tag and the P1 say a person must act
    urgent = answered("password-reset", "account_hacked", "P1")
    assert (urgent.decision, urgent.handoff_reason, urgent.faq_id, urgent.answer) == (
        "handoff", "urgent_situation", None, None)
    assert urgent.candidate_faq_id == "password-reset" and "account_hacked" in urgent.decision_reason
    # the KB's self-service answer to the situation, a P1 tag brought down (a prevention question), a P1 from a
    # segment raise on an ordinary tag: still answered
    assert answered("card-lost-freeze", "account_hacked", "P1").decision == "auto_answer"
    assert answered("password-reset", "account_hacked", "P3").decision == "auto_answer"
    assert answered("password-reset", "login_problem", "P1").decision == "auto_answer"
