"""Korean-aware keyword matching: Kiwi morphemes (content words only) scored with BM25 (``bm25s``).

Dense embeddings miss exact terms (error codes, product names); this side catches them. Kiwi is created once
per process (about 2 s to start and 0.5 GB warm).
"""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import bm25s
import numpy as np

if TYPE_CHECKING:
    from kiwipiepy import Kiwi
    from numpy.typing import NDArray

# Nouns, numbers, foreign words, verb/adjective stems, roots and adverbs carry the meaning; particles,
# endings and punctuation do not.
CONTENT_TAGS = ("NNG", "NNP", "NR", "SN", "SL", "SH", "VV", "VA", "XR", "MAG", "W_SERIAL")


@lru_cache(maxsize=1)
def _kiwi() -> Kiwi:
    from kiwipiepy import Kiwi

    return Kiwi()


_kiwi_lock = threading.Lock()  # one Kiwi per process, not documented as safe to share: milliseconds a query


def tokenize(texts: list[str]) -> list[list[str]]:
    """Content morphemes of each text, lower-cased (``'배송이 늦어요'`` → ``['배송', '늦']``)."""
    out = []
    with _kiwi_lock:
        analysed = _kiwi().tokenize(texts)
    for tokens in analysed:
        out.append([t.form.lower() for t in tokens if t.tag.startswith(CONTENT_TAGS)])
    return out


class LexicalIndex:
    """BM25 over the same units as the dense index, row for row."""

    def __init__(self, bm25: bm25s.BM25, size: int) -> None:
        self._bm25 = bm25
        self.size = size

    @classmethod
    def build(cls, texts: list[str]) -> LexicalIndex:
        return cls.from_tokens(tokenize(texts))

    @classmethod
    def from_tokens(cls, tokens: list[list[str]]) -> LexicalIndex:
        """From units already tokenized (``tokenize``), e.g. a subset of a KB's units."""
        bm25 = bm25s.BM25()
        bm25.index([t or [""] for t in tokens], show_progress=False)
        return cls(bm25, len(tokens))

    def tokens(self, query: str) -> list[str]:
        return tokenize([query])[0]

    def save(self, folder: Path) -> None:
        self._bm25.save(str(folder))

    @classmethod
    def load(cls, folder: Path, size: int) -> LexicalIndex:
        return cls(bm25s.BM25.load(str(folder)), size)

    def scores(self, query: str) -> NDArray[np.float32]:
        """BM25 score of every unit for the query (zeros when the query has no content words)."""
        tokens = [t for t in self.tokens(query) if t in self._bm25.vocab_dict]
        if not tokens:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)
