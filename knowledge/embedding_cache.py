"""An embedder wrapper that remembers vectors by text, so an eval re-run or a service restart does not
re-embed texts it has seen (the file is keyed by the model name)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from knowledge.embedders import Embedder


class CachedEmbedder:
    def __init__(self, inner: Embedder, folder: Path) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self._file = folder / (hashlib.sha256(inner.name.encode()).hexdigest()[:12] + ".npz")
        self._cache: dict[str, NDArray[np.float32]] = {}
        self._unsaved = False
        if self._file.is_file():
            data = np.load(self._file)
            self._cache = dict(zip(data["keys"].tolist(), data["vectors"], strict=True))

    def _encode(self, kind: str, texts: list[str], encode) -> NDArray[np.float32]:
        keys = [hashlib.sha256(f"{kind}\x00{t}".encode()).hexdigest() for t in texts]
        missing = [i for i, k in enumerate(keys) if k not in self._cache]
        if missing:
            fresh = encode([texts[i] for i in missing])
            for i, v in zip(missing, fresh, strict=True):
                self._cache[keys[i]] = v
            self._unsaved = True
        return np.stack([self._cache[k] for k in keys]) if keys else np.zeros((0, self.dim), np.float32)

    def encode_queries(self, texts: list[str]) -> NDArray[np.float32]:
        return self._encode("q", texts, self.inner.encode_queries)

    def encode_passages(self, texts: list[str]) -> NDArray[np.float32]:
        return self._encode("p", texts, self.inner.encode_passages)

    def save(self) -> None:
        """Write the cache file, when texts were embedded since it was read or last written."""
        if not self._unsaved:
            return
        self._file.parent.mkdir(parents=True, exist_ok=True)
        keys = list(self._cache)
        np.savez(self._file, keys=np.array(keys), vectors=np.stack([self._cache[k] for k in keys]))
        self._unsaved = False
