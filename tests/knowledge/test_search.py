from __future__ import annotations

import pytest

from knowledge import search as search_module
from knowledge.index import load_snapshot
from knowledge.search import Searcher


@pytest.fixture(scope="module")
def searcher(small_kb, embedder):
    return Searcher(load_snapshot(small_kb, embedder), embedder, section_window=0.5)


@pytest.mark.parametrize("text,expected", [
    ("비번이 생각이 안 나요 ㅠㅠ", "password-reset"),
    ("새벽 배송 받으려면 언제까지 시켜야 돼요?", "dawn-delivery-cutoff"),
    ("how much is the haru pass membership per month?", "membership-price"),
    ("카드 환불 며칠 걸리나요", "refund-card"),
])
def test_paraphrases_find_their_entry(searcher, text, expected):
    result = searcher.search(text)
    assert result.faq_hits[0].entry_id == expected
    assert result.faq_hits == sorted(result.faq_hits, key=lambda h: h.score, reverse=True)
    assert set(result.timings_ms) == {"embed", "search"}


def test_one_hit_per_entry_with_its_answer(searcher):
    hits = searcher.search("환불 기간이 궁금해요", k=10).faq_hits
    ids = [h.entry_id for h in hits]
    assert len(ids) == len(set(ids))
    card = next(h for h in hits if h.entry_id == "refund-card")
    assert card.text.startswith("카드 결제는 취소 후") and card.kind == "faq" and card.section == "payment"


def test_manual_passages_are_hits_with_chunk_ids(searcher):
    docs = searcher.search("반품 배송비는 얼마예요?", k=10).doc_hits
    assert docs[0].entry_id == "returns.html" and docs[0].kind == "doc"
    assert docs[0].chunk_id.startswith("returns.html#") and "6,000원" in docs[0].text
    assert docs == sorted(docs, key=lambda h: h.dense, reverse=True)


def test_exact_terms_agree_lexically(searcher):
    top = searcher.search("E-1023").faq_hits[0]
    assert top.entry_id == "error-e1023" and top.lexical == pytest.approx(1.0)


def test_classifier_ranks_and_similarity_is_kept(searcher):
    assert searcher.snapshot.classifier is not None
    hits = searcher.search("비번 까먹음", k=10).faq_hits
    # probabilities over the 6 entries, plus a little keyword agreement
    probabilities = [h.score - search_module.LEXICAL_WEIGHT * h.lexical for h in hits]
    assert sum(probabilities) == pytest.approx(1.0, abs=1e-3)
    assert all(-1.0 <= h.dense <= 1.0 for h in hits)
    assert hits[0].matched in ("비밀번호를 잊어버렸어요", "비번 까먹었는데 어떻게 해요", "비밀번호 재설정 방법")


def test_the_pages_plausible_entries_rank_first(searcher):
    plain = [h.entry_id for h in searcher.search("얼마예요?", k=10).faq_hits]
    assert plain[0] == "membership-price"
    on_account_page = searcher.search("얼마예요?", k=10, section="account").faq_hits
    account = [h for h in on_account_page if h.section == "account"]
    assert on_account_page[0].section == "account" and account[0].score >= 0.5 * on_account_page[1].score
    # an entry of the page that is not plausible stays where it was
    refund = [h.entry_id for h in searcher.search("환불은 언제 들어와요?", k=10, section="delivery").faq_hits]
    assert refund[0] == "refund-card"
