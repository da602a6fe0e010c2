"""The question-pairs eval reads the set's own label convention: is_duplicate 0 means the same question."""

from __future__ import annotations

from evals.question_pairs import bigram_dice, read_pairs


def test_is_duplicate_zero_means_same(tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_text("\ufefftest_id,question1,question2,is_duplicate,\n1,허리가 아파,허리 아프다,0,\n"
                    "2,노래 좋다,꿈과 현실,1,\n", encoding="utf-8")
    pairs = read_pairs(path)
    assert [(p.message, p.entry, p.same) for p in pairs] == [("허리가 아파", "허리 아프다", True),
                                                             ("노래 좋다", "꿈과 현실", False)]


def test_bigram_dice():
    assert bigram_dice("포인트 적립", "포인트적립") == 1.0
    assert bigram_dice("포인트", "배송") == 0.0
    assert 0 < bigram_dice("포인트 선물", "포인트 적립") < 1
