"""Priority P1–P4 with reasons, customer segments and the customer context (pure functions, demo taxonomy)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from triage.models import Customer
from triage.stages.customer import customer_context, customer_segment
from triage.stages.priority import RepeatContact, assign_priority
from triage.stages.signals import Signals, situation
from triage.taxonomy import Taxonomy, load_taxonomy

DEMO_TAXONOMY = Path(__file__).parents[2] / "knowledge" / "samples" / "demo" / "taxonomy.yaml"
HANGUL = re.compile(r"[\uac00-\ud7a3]")


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return load_taxonomy(DEMO_TAXONOMY)


# ---------------------------------------------------------------- customer_segment

@pytest.mark.parametrize(("customer", "expected"), [
    (Customer(segment="vip"), "VIP"),
    (Customer(segment=" Champions "), "VIP"),
    (Customer(segment="휴면"), "sleeping"),
    (Customer(recency=5, frequency=5, monetary=5), "VIP"),
    (Customer(recency=1, frequency=4, monetary=2), "at risk"),
    (Customer(recency=1, frequency=1, monetary=1), "sleeping"),
    (Customer(tenure_days=3), "new"),
    (Customer(tenure_days=3, recency=5, frequency=5, monetary=5), "new"),
    (Customer(tenure_days=400), None),
    (Customer(recency=4, frequency=1, monetary=2), "new"),  # few purchases, tenure unknown
    (Customer(tenure_days=1400, recency=4, frequency=1, monetary=2), "promising"),  # four years: occasional, not new
    (None, None),
])
def test_customer_segment(customer, expected):
    assert customer_segment(customer) == expected


def test_given_segment_wins_over_rfm_scores():
    assert customer_segment(Customer(segment="sleeping", recency=5, frequency=5, monetary=5)) == "sleeping"


# ---------------------------------------------------------------- situation

@pytest.mark.parametrize(("text", "level"), [
    ("결제가 두 번 됐어요", "P1"),
    ("누가 제 계정으로 로그인했어요", "P1"),
    ("카드를 잃어버렸어요", "P1"),
    ("I was charged twice", "P1"),
    ("결제 버튼 누르면 오류가 나요", "P2"),
    ("현금영수증 어떻게 신청해요?", "P3"),
    ("이런 기능 있으면 좋겠어요", "P4"),
])
def test_situation_levels(text, level):
    found, cue = situation(text)

    assert found == level
    assert cue and cue.lower() in text.lower()  # the customer's own words


def test_message_with_no_situation_cue():
    assert situation("배송비 얼마예요") == (None, None)


# ---------------------------------------------------------------- assign_priority

def test_money_at_risk_makes_a_p3_tag_p1(taxonomy):
    assert taxonomy.priority("refund_status") == "P3"

    decision = assign_priority("refund_status", taxonomy, "결제가 두 번 됐어요", None)

    assert decision.priority == "P1"
    assert any(r.startswith("P1") and "결제가 두 번" in r for r in decision.reasons)


def test_vip_customer_raises_one_level(taxonomy):
    text = "현금영수증 어떻게 신청해요?"

    plain = assign_priority("payment_info", taxonomy, text, Customer(segment="promising"))
    vip = assign_priority("payment_info", taxonomy, text, Customer(segment="vip"))

    assert plain.priority == "P3"
    assert vip.priority == "P2"
    assert any("VIP" in r for r in vip.reasons)
    assert not any("VIP" in r for r in plain.reasons)


def test_anger_alone_never_makes_p1(taxonomy):
    decision = assign_priority("payment_failed", taxonomy, "결제 버튼 누르면 오류가 나요. 당장 처리해 주세요!!!", None)

    assert decision.priority == "P2"
    assert any("당장" in r for r in decision.reasons)  # the cue is still shown to the agent


def test_loyalty_adds_no_level_but_lets_urgency_reach_p1(taxonomy):
    loyal = Customer(segment="loyal")
    calm = assign_priority("payment_failed", taxonomy, "결제 버튼 누르면 오류가 나요", loyal)
    angry = assign_priority("payment_failed", taxonomy, "결제 버튼 누르면 오류가 나요. 당장 해결해 주세요", loyal)
    assert calm.priority == "P2" and any("loyal" in r for r in calm.reasons)
    assert angry.priority == "P1"


@pytest.mark.parametrize(("text", "level"), [
    ("카드사 앱 보니까 승인은 됐는데 하루마켓 주문 목록엔 없어요", "P1"),
    ("결제는 됐는데 주문내역이 안 보여요", "P1"),
    ("어제 하루패스 결제됐는데 그 사이에 무료배송으로 주문했거든요. 이것도 환불 되나요?", "P3"),
    ("한동안 앱 안 쓸 건데 계정을 잠깐 멈춰 둘 수 있어요?", "P3"),
])
def test_paid_but_no_order_is_p1_and_a_paid_refund_question_is_not(text, level):
    assert situation(text)[0] == level


def test_anger_raises_a_p3_question_to_p2(taxonomy):
    decision = assign_priority("payment_info", taxonomy, "현금영수증 어떻게 신청해요? 당장 알려주세요!!!", None)

    assert decision.priority == "P2"


def test_vip_and_repeat_contact_take_a_p2_issue_to_p1(taxonomy):
    repeat = RepeatContact(72, "chat", "m-17")

    decision = assign_priority("payment_failed", taxonomy, "결제 버튼 누르면 오류가 나요", Customer(segment="vip"),
                               repeat_of=repeat)

    assert decision.priority == "P1"
    joined = " ".join(decision.reasons)
    assert "VIP" in joined
    assert "72시간 안에 같은 문의가 다시 왔어요 (이전 chat 문의 m-17)" in joined


def test_raises_are_capped_at_two_levels(taxonomy):
    decision = assign_priority("feedback", taxonomy, "다크모드 있었으면 좋겠어요. 당장 만들어 주세요!!!",
                               Customer(segment="vip"), repeat_of=RepeatContact(72, None, "m-1"))

    assert decision.priority == "P2"  # P4 with three reasons to rise, at most two levels


def test_compliment_on_feedback_stays_p4(taxonomy):
    decision = assign_priority("feedback", taxonomy, "기사님이 너무 친절하셔서 감사 인사 드려요", None)

    assert decision.priority == "P4"


def test_compliment_about_fast_delivery_stays_p4(taxonomy):
    decision = assign_priority("feedback", taxonomy, "새벽배송이 빨리 와서 너무 좋아요. 감사해요", None)

    assert decision.priority == "P4"


def test_message_without_customer_gets_its_base_priority(taxonomy):
    decision = assign_priority("delivery_info", taxonomy, "배송비 얼마예요", None)

    assert decision.priority == "P3"
    assert decision.reasons


@pytest.mark.parametrize(("tag", "text", "customer", "repeat_of"), [
    ("refund_status", "결제가 두 번 됐어요", None, None),
    ("payment_info", "현금영수증 어떻게 신청해요?", Customer(segment="vip"), None),
    ("payment_failed", "결제 버튼 누르면 오류가 나요. 당장 처리해 주세요!!!", None, None),
    ("payment_failed", "결제가 또 실패했어요", Customer(recency=5, frequency=5, monetary=5),
     RepeatContact(72, None, "m-3")),
    ("delivery_info", "배송비 얼마예요", None, None),
])
def test_reasons_are_korean_sentences(taxonomy, tag, text, customer, repeat_of):
    decision = assign_priority(tag, taxonomy, text, customer, repeat_of)

    assert decision.reasons
    for reason in decision.reasons:
        assert isinstance(reason, str) and reason.strip()
        assert HANGUL.search(reason), reason


# ---------------------------------------------------------------- customer_context

def test_new_customer_gets_step_by_step_explanations():
    context = customer_context(Customer(tenure_days=5), [], None)

    assert context.segment == "new"
    assert context.explanation_level == "step_by_step"
    assert context.notes


def test_long_time_customer_gets_concise_answers():
    context = customer_context(Customer(tenure_days=800), [], None)

    assert context.explanation_level == "concise"
    assert any("2년" in n for n in context.notes)


def test_customer_in_between_gets_the_standard_level():
    context = customer_context(Customer(tenure_days=120), [], None)

    assert context.explanation_level == "standard"
    assert context.notes == []


def test_old_app_version_gets_an_update_note():
    context = customer_context(Customer(app_version="5.2.3"), [], "5.4.0")

    assert any("5.4.0" in n and "5.2.3" in n for n in context.notes)


@pytest.mark.parametrize("app", ["5.10.0", "5.4.0", "6.0"])
def test_current_or_newer_app_gets_no_update_note(app):
    context = customer_context(Customer(app_version=app), [], "5.4.0")

    assert not any("5.4.0" in n for n in context.notes)  # 5.10 > 5.4: compared as numbers, not strings


def test_same_version_written_shorter_gets_no_update_note():
    context = customer_context(Customer(app_version="5.4"), [], "5.4.0")

    assert context.notes == []


def test_no_customer_gives_an_empty_context():
    context = customer_context(None, [], "5.4.0")

    assert context.segment is None
    assert context.explanation_level == "standard"
    assert context.notes == []


def test_bot_path_is_copied_and_shown():
    path = ["홈", "주문 조회", "상담원 연결"]

    context = customer_context(Customer(tenure_days=120), path, None)
    path.append("later")

    assert context.bot_path == ["홈", "주문 조회", "상담원 연결"]
    assert any("홈 → 주문 조회 → 상담원 연결" in n for n in context.notes)


@pytest.mark.parametrize(("text", "anger"), [
    ("어제 저녁부터 전화가 아예 안 걸려요", None), ("전화나 문자 둘 다 안 돼요", None), ("통화가 자꾸 끊겨요", None),
    ("초기화가 안 돼요", None), ("분실 신고하면 요금 나가요?", None), ("스팸 신고는 어디서 해요", None),
    ("진짜 화가 나네요", "화가 나"), ("화가 너무 나요", "화가 너무 나"), ("너무 화나요", "화나"),
    ("소비자원에 신고할거에요", "소비자원"), ("방통위에 신고하겠습니다", "방통위에 신고"),
])
def test_anger_cues_are_words_not_parts_of_words(text, anger):
    # "전화가" holds "화가", "분실 신고" is what customers are told to do: neither is anger or a threat
    assert Signals.read(text).anger == anger


@pytest.mark.parametrize("text", [
    "포인트로 요금 내는 방법도 궁금한데 그건 나중에 하고요, 어제 저녁부터 전화가 아예 안 걸려요",
    "앱 접속이 안 돼요", "데이터가 계속 안 터져요", "송금이 안 돼요", "I have no service since this morning",
])
def test_a_service_that_does_not_work_is_blocked_even_beside_a_how_to_question(text):
    assert Signals.read(text).situation == "blocked"


def test_a_message_no_tag_was_sure_of_is_raised_to_p1_only_by_its_situation(taxonomy):
    vip = Customer(id="c", segment="VIP")
    # the catch-all with a P2 candidate: a VIP raises it, but not past P2 (the base is a guess)
    guessed = assign_priority("needs_review", taxonomy, "결제가 계속 안 돼요", vip, competing=["payment_failed"])
    assert guessed.priority == "P2" and "cap:uncertain_tag" in guessed.rules
    # the same raise on a tag that was given reaches P1, as the policy says
    given = assign_priority("payment_failed", taxonomy, "결제가 계속 안 돼요", vip)
    assert given.priority == "P1" and "modifier:VIP" in given.rules
    # a situation the message describes makes it P1 whatever the tag
    charged = assign_priority("needs_review", taxonomy, "결제가 두 번 됐어요", None, competing=["payment_failed"])
    assert charged.priority == "P1" and "situation:money_at_risk" in charged.rules


def test_a_tag_whose_situation_is_over_or_not_happening_falls_to_p3_before_the_situation_applies(taxonomy):
    assert taxonomy.priority("account_hacked") == "P1"
    prevention = assign_priority("account_hacked", taxonomy, "명의도용 방지 서비스 같은 거 있나요?", None)
    assert prevention.priority == "P3" and prevention.rules[:2] == ["base:tag", "base:settled"]
    live = assign_priority("account_hacked", taxonomy, "누가 제 계정으로 주문했어요", None)
    assert live.priority == "P1" and "base:settled" not in live.rules
    # what still applies moves it from P3: a login that fails is P2
    blocked = assign_priority("account_hacked", taxonomy, "해킹은 아닌 것 같은데 로그인이 안 돼요", None)
    assert blocked.priority == "P2" and blocked.rules == ["base:tag", "base:settled", "situation:blocked"]
