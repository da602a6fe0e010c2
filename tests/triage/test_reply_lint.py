"""Reply lint: each rule fires on the draft it is meant for, and a good draft passes."""

from __future__ import annotations

import pytest

from triage.reply_lint import lint_reply

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
