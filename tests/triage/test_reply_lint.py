"""Reply lint: each rule fires on the draft it is meant for, and a good draft passes."""

from __future__ import annotations

import pytest

from triage.stages.reply_lint import LintContext, bot_promises, lint_reply

KB = ["카드 결제를 취소하면 영업일 기준 3~5일 안에 카드사를 통해 환불돼요. https://help.example/faq/refund"]
GOOD = ("결제 취소 후 환불이 아직 안 보여서 걱정되셨겠어요.\n\n카드 환불 시점을 물어보신 거죠?\n\n"
        "카드 결제를 취소하면 영업일 기준 3~5일 안에 카드사를 통해 환불돼요. (참고: https://help.example/faq/refund)\n\n"
        "더 필요하신 것은 없으실까요?")


def codes(draft: str, language: str = "ko", message: str = "") -> set[str]:
    return {f.code for f in lint_reply(draft, language, KB, message)}


def test_a_specific_grounded_draft_passes():
    assert lint_reply(GOOD, "ko", KB, "환불 언제 돼요?") == []


@pytest.mark.parametrize(("draft", "code"), [
    ("불편을 드려 죄송합니다. 확인 후 안내해 드리겠습니다. 더 필요하신 것은 없으실까요?", "boilerplate"),
    ("불 편 을 드 려 죄송합니다 고객님. 환불은 카드사를 통해 돼요. 더 필요하신 것은 없으실까요?", "boilerplate"),
    ("늦어져서 죄송해요. 다시 한번 죄송합니다. 환불은 카드사를 통해 돼요. 더 필요하신 것은 없으실까요?",
     "repeated_apology"),
    ("010-1234-5678로 연락드릴게요. 환불은 카드사를 통해 돼요. 더 필요하신 것은 없으실까요?", "personal_data"),
    ("<PHONE_1>로 연락드릴게요. 환불은 카드사를 통해 돼요. 더 필요하신 것은 없으실까요?", "placeholder"),
    ("기다리게 해서 보상해 드릴게요. 환불은 카드사를 통해 돼요. 더 필요하신 것은 없으실까요?", "unsupported_promise"),
    ("환불은 2일 안에 들어와요. 카드사를 통해 돼요. 더 필요하신 것은 없으실까요?", "unsupported_claim"),
    ("환불은 내일 들어와요. 카드사를 통해 돼요. 더 필요하신 것은 없으실까요?", "unsupported_claim"),
    ("자세한 건 https://evil.example/refund 를 보세요. 환불은 카드사를 통해 돼요. 더 필요하신 것은 없으실까요?",
     "link_not_in_kb"),
    ("Your refund goes back to the card through the card company. Anything else I can help with?", "wrong_language"),
    ("환불은 카드사를 통해 영업일 기준 3~5일 안에 들어와요. 확인해 보세요.", "no_closing_question"),
    ("네?", "too_short"),
    ("환불은 카드사를 통해 돼요. " * 80 + "더 필요하신 것은 없으실까요?", "too_long"),
])
def test_each_rule_fires(draft, code):
    assert code in codes(draft)


def test_numbers_from_the_message_and_numbered_steps_are_not_claims():
    draft = ("주문하신 지 2일 됐는데 아직 못 받으셨군요.\n\n1. 일반택배 배송 조회에서 확인해 보세요.\n\n"
             "더 필요하신 것은 없으실까요?")
    assert "unsupported_claim" not in codes(draft, message="주문한 지 2일 됐어요")
    assert "unsupported_claim" in codes(draft, message="주문했는데 아직 안 왔어요")


def test_english_rules():
    assert "boilerplate" in codes("We apologize for any inconvenience. Is there anything else?", "en")
    assert "unsupported_promise" in codes("I will refund you right away. Anything else I can do?", "en")
    assert lint_reply("I'm sorry the refund has not shown up yet; card refunds go back through the card company. "
                      "Is there anything else I can help you with?", "en", KB) == []


# ---------------------------------------------------------------- fit: what a well-formed draft can still get wrong

def _codes(draft, message="", **context):
    return {f.code for f in lint_reply(draft, "ko", [], message, LintContext(**context))}


def test_a_category_name_used_as_empathy_is_flagged():
    assert "category_empathy" in _codes("배송 관련 문의 주셨네요. 더 필요하신 것은 없으실까요?",
                                        tag_names=("배송", "환불"))
    assert "category_empathy" in _codes("분실·파손이 막혀서 답답하셨겠어요. 더 필요하신 것은 없으실까요?",
                                        tag_names=("분실·파손",))
    specific = "새벽배송이 늦어서 아침 준비가 어려우셨겠어요. 더 필요하신 것은 없으실까요?"
    assert "category_empathy" not in _codes(specific, tag_names=("배송",))


def test_asking_for_what_the_message_gives_is_flagged():
    draft = "빠르게 확인할 수 있게 주문번호, 상품 사진을 알려 주시겠어요? 더 필요하신 것은 없으실까요?"
    assert "asks_for_given" in _codes(draft, "주문번호 20261108123456 인데 계란이 깨졌어요")
    assert "asks_for_given" not in _codes(draft, "계란이 깨졌어요")
    english = lint_reply("Could you send me your order number? Is there anything else I can help you with?", "en",
                         [], "order #A1234567 never arrived", LintContext())
    assert "asks_for_given" in {f.code for f in english}


def test_putting_off_what_a_kb_entry_answers_is_flagged():
    draft = "말씀하신 내용은 제가 직접 확인해서 정확하게 다시 알려 드릴게요. 더 필요하신 것은 없으실까요?"
    assert "puts_off_answer" in _codes(draft, entry_answers=True)
    assert "puts_off_answer" not in _codes(draft, entry_answers=False)


def test_money_or_an_account_at_risk_needs_a_protective_step():
    bare = "많이 놀라셨겠어요. 확인해 볼게요. 더 필요하신 것은 없으실까요?"
    assert "no_protective_step" in _codes(bare, at_risk=True)
    assert "no_protective_step" not in _codes("바로 비밀번호를 바꾸고 모든 기기에서 로그아웃해 주세요. " + bare,
                                              at_risk=True)
    assert "no_protective_step" not in _codes("추가 피해가 없도록 담당자가 지금 바로 조치하고 있어요. " + bare,
                                              at_risk=True)
    assert "no_protective_step" not in _codes(bare, at_risk=False)


@pytest.mark.parametrize("promise", [
    "추가 피해가 없도록 제가 바로 확인하고 조치할게요.", "제가 확인하고 조치할게요.", "담당자가 연락드릴게요.",
    "담당자가 곧 연락드리겠습니다.", "이번에는 제가 끝까지 챙길게요.", "말씀해 주신 의견은 검토 목록에 올려 둘게요.",
    "I'll check and fix this for you.", "Our team will contact you shortly.", "An agent will call you back.",
])
def test_the_bots_answer_never_promises_a_persons_action(promise):
    answer = "카드 분실 신고는 앱 > 카드 관리에서 바로 할 수 있어요. " + promise + " 더 필요하신 것은 없으실까요?"
    assert "bot_promises_action" in _codes(answer, bot_answer=True)
    assert "bot_promises_action" not in _codes(answer, bot_answer=False)  # an agent's draft: the agent keeps it


def test_a_process_the_kb_describes_is_no_promise():
    for text in ("상담 신청을 남겨 주시면 담당자가 2영업일 안에 연락드려요. 더 필요하신 것은 없으실까요?",
                 "가장 급한 것부터 안내해 드릴게요. 카드사에 분실 신고를 해 주세요. 더 필요하신 것은 없으실까요?",
                 "고객센터로 전화하시면 상담원이 도와드려요. 더 필요하신 것은 없으실까요?"):
        assert "bot_promises_action" not in _codes(text, bot_answer=True), text
    assert bot_promises("If you call us, an agent can help. You will receive the refund within 3 days.") == []
