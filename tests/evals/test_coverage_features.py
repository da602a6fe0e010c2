"""Coverage features: which of a message's words and which action an FAQ entry never mentions."""

from __future__ import annotations

import pytest

from evals.coverage_features import COVERAGE_FEATURES, coverage_features

POINTS = ["포인트는 어떻게 적립하나요?", "포인트 적립 방법"]
CANCEL = ["예약 취소는 어떻게 하나요?", "예약을 취소하고 싶어요"]
APPLY = ["멤버십 신청은 어떻게 하나요?"]


def test_keys_are_stable_floats():
    feats = coverage_features("포인트 선물할 수 있나요?", POINTS)
    assert tuple(feats) == COVERAGE_FEATURES
    assert all(isinstance(v, float) for v in feats.values())


@pytest.mark.parametrize("message,entry", [
    ("포인트 선물할 수 있나요?", POINTS),  # gifting where the entry covers earning
    ("예약 날짜를 변경하고 싶어요", CANCEL),  # changing a date where it covers cancelling
    ("멤버십 신청 후에 주소를 바꿀 수 있나요?", APPLY),  # an address change after applying
])
def test_near_miss_has_an_uncovered_action(message, entry):
    feats = coverage_features(message, entry)
    assert feats["action_uncovered"] == 1.0
    assert feats["uncovered_share"] > 0 and feats["uncovered_count"] >= 1


@pytest.mark.parametrize("message,entry", [
    ("포인트 적립은 어떻게 해요?", POINTS),
    ("예약한 거 취소하려면 어떻게 해야 돼요?", CANCEL),
    ("멤버십 신청하고 싶어요", APPLY),
])
def test_paraphrase_is_covered(message, entry):
    feats = coverage_features(message, entry)
    assert feats["action_uncovered"] == 0.0
    assert feats["entry_action_missing"] == 0.0
    assert feats["uncovered_share"] == 0.0


def test_entry_action_missing_reads_the_phrasings_not_the_answer():
    answer = "포인트는 선물할 수 없으며 구매 금액의 1%가 적립됩니다."
    feats = coverage_features("포인트 선물할 수 있나요?", POINTS, answer=answer)
    assert feats["action_uncovered"] == 0.0  # the answer speaks of gifting: the message's action is covered
    assert feats["entry_action_missing"] == 1.0  # but the entry asks about earning, which the message does not
    assert coverage_features("포인트 적립", POINTS, answer=answer)["entry_action_missing"] == 0.0


def test_compounds_split_differently_still_match():
    feats = coverage_features("비밀번호를 바꾸고 싶어요", ["비밀 번호 바꾸는 법"])
    assert feats["uncovered_share"] == 0.0 and feats["action_uncovered"] == 0.0


def test_negation_mismatch():
    assert coverage_features("결제가 안 돼요", ["결제는 어떻게 하나요?"])["negation_mismatch"] == 1.0
    assert coverage_features("결제가 안 돼요", ["결제가 안 될 때"])["negation_mismatch"] == 0.0


def test_empty_inputs():
    feats = coverage_features("", POINTS)  # nothing asked: nothing uncovered, all the entry asks is missing
    assert feats["uncovered_share"] == feats["action_uncovered"] == 0.0
    assert feats["entry_action_missing"] == feats["entry_uncovered_share"] == 1.0
    feats = coverage_features("포인트 선물", [])
    assert feats["uncovered_share"] == 1.0 and feats["entry_action_missing"] == 0.0
